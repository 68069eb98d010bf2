"""The ``alphacrystal`` command line, as ``ase/cli``: a command table (:mod:`core.cli.main`)
and one module per command group that parses its arguments, calls the engine and prints.
Shared option types and limits live in :mod:`core.cli.options`.

Every sub-command that computes figures accepts ``--json PATH`` and writes them there.
Bad input ends with one ``alphacrystal: error: ...`` line and exit code 2; a ``predict`` that
produced no structure, with such a line and exit code 1.

Each command imports the engine modules it needs inside its function, by design: building
the parser and reporting a usage error must not import torch and the pipeline
(``import core.cli.main`` takes about 2.3 s; with torch, about 3.8 s).

Layer 9 (the top): may import every layer of ``core``; nothing in ``core`` imports it.
"""

from core.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
