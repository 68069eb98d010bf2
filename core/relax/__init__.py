"""Relaxation with ML interatomic potentials: the potentials and their loading
(:mod:`core.relax.potentials`), one relaxation (:mod:`core.relax.relaxer`) and the staged
relaxation of a pool of structures (:mod:`core.relax.rounds`).

Layer 5: may import :mod:`core.data` and the layers below it.
"""
