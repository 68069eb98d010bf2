"""Error types raised by the engine for bad user input.

Every error a user can trigger with bad input (a formula, a file, a data set)
derives from :class:`AlphaCrystalError`; the CLI and the GUI print its message
without a traceback. Programming errors stay ordinary Python exceptions.
"""

from __future__ import annotations


class AlphaCrystalError(Exception):
    """Base class of all user-facing errors; ``str(err)`` is the message to show."""


class FormulaError(AlphaCrystalError, ValueError):
    """A chemical formula could not be parsed or does not fit the requested cell."""


class StructureFileError(AlphaCrystalError, OSError):
    """A structure file could not be read or written; the message names the file."""


class DatasetError(AlphaCrystalError, ValueError):
    """A data set file or folder is missing, malformed or empty."""


class AlphaCrystalWarning(UserWarning):
    """Base class of warnings about user input that does not stop the work (the CLI prints
    them as ``alphacrystal: warning: ...``)."""


class StructureWarning(AlphaCrystalWarning):
    """A structure file was read but looks wrong (atoms closer than
    :data:`core.io.read.MIN_ATOM_DISTANCE`); the message names the file."""


class VaspRemarkWarning(StructureWarning):
    """A remark of pymatgen's VASP input set on the inputs written (Co started low spin), also
    written to the folder's README.txt: a screen leaves it there rather than on the terminal."""


class ExportError(AlphaCrystalError, ValueError):
    """Export settings that cannot work (no or an unknown format, a file stem that is a path)."""
