"""How the engine runs: worker processes and cancellation (:mod:`core.runtime.parallel`),
the compute device (:mod:`core.runtime.device`), the terminal progress bar.

Layer 1 (the lowest, beside :mod:`core.crystal`): imports only :mod:`core.errors`.
"""
