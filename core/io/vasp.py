"""VASP relaxation inputs (the Materials Project relax sets): POSCAR, INCAR, KPOINTS, POTCAR or its
spec, a README on what is missing or worth changing (POTCAR, pymatgen's remarks, the magnetic start),
written as a folder that is built beside its target and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pymatgen.core import SETTINGS, Structure
from pymatgen.io.vasp import Poscar
from pymatgen.io.vasp.sets import MPMetalRelaxSet, MPRelaxSet

from core.crystal.elements import all_metal
from core.crystal.symmetry import symmetrised_primitive
from core.errors import StructureFileError, VaspRemarkWarning
from core.io.files import UMASK
from core.io.outputs import _retire_keeping_other_files

_POTCAR_README = """\
POTCAR was not written: {why}.

POTCAR.spec lists the PAW datasets of the Materials Project input set ({input_set})
in the order of the species in POSCAR. To let AlphaCrystal Studio write POTCAR
itself, point pymatgen at your licensed VASP pseudopotentials once:

    pmg config -p /path/to/your/VASP/potentials /path/to/pymatgen_psp
    pmg config --add PMG_VASP_PSP_DIR /path/to/pymatgen_psp

or concatenate the POTCARs by hand in the order of POTCAR.spec:

    cat $VASP_PP/PAW_PBE/<symbol>/POTCAR ... > POTCAR
"""


def potcar_configured() -> bool:
    """True when pymatgen knows a VASP pseudopotential directory (PMG_VASP_PSP_DIR)."""
    psp = SETTINGS.get("PMG_VASP_PSP_DIR")
    return bool(psp) and Path(psp).is_dir()


def _write_input_set(input_set, staging: Path) -> str | None:
    """Write ``input_set`` into ``staging``, with POTCAR where pymatgen's pseudopotential directory has
    every dataset it needs, else with ``POTCAR.spec``; returns why no POTCAR was written (None: it was).
    A directory set up without one element's dataset, or with an empty or unreadable one, made a whole
    prediction end without results (pymatgen's FileNotFoundError, KeyError 'TITEL', after every
    relaxation): the POTCAR is built first, alone, and any failure of it falls back to the spec."""
    if not potcar_configured():
        input_set.write_input(str(staging), potcar_spec=True)
        given = SETTINGS.get("PMG_VASP_PSP_DIR")
        return (f"pymatgen's pseudopotential directory PMG_VASP_PSP_DIR={given} is not a folder" if given else
                "pymatgen's pseudopotential directory (PMG_VASP_PSP_DIR) is not configured")
    try:
        _ = input_set.potcar  # built from the datasets: the one part that reads the user's files
    except Exception as exc:  # noqa: BLE001 - missing, empty or damaged datasets fail in many ways in pymatgen
        first = str(exc).splitlines()[0].strip().rstrip(".") if str(exc).strip() else ""
        problem = first if isinstance(exc, FileNotFoundError) and first else (
            f"a POTCAR of PMG_VASP_PSP_DIR cannot be read ({type(exc).__name__}: {first or 'no message'})")
        input_set.write_input(str(staging), potcar_spec=True)
        return f"{problem} (PMG_VASP_PSP_DIR={SETTINGS.get('PMG_VASP_PSP_DIR')})"
    input_set.write_input(str(staging))
    return None


def write_vasp_inputs(structure: Structure, folder: str | os.PathLike, magmoms: list[float] | None = None,
                      symmetrize: bool = False) -> Path:
    """Write a VASP relaxation folder (Materials Project ``MPRelaxSet``).

    With ``symmetrize`` (a prediction's result) the structure is written symmetrised, in its
    primitive standard cell (:func:`core.crystal.symmetry.symmetrised_primitive`): the structure
    of the symmetrised CIF and of the space group the result is named by, not the potential's
    relaxed cell, which can be a slight distortion of it (VASP would keep the lower symmetry);
    not when ``magmoms`` differ between sites of one element (an antiferromagnetic order needs its
    cell). Without it (``export`` of the user's own file) the cell is written as given: a supercell
    or a small distortion may be meant.
    ``MAGMOM`` is the input set's default per element unless ``magmoms`` (μB per
    site, in the structure's site order) are given.

    The folder gets POSCAR, INCAR, KPOINTS and a ``README.txt`` naming the input set (and
    pymatgen's remarks, the magnetic start); POTCAR too when pymatgen's pseudopotential
    directory holds every dataset needed, otherwise ``POTCAR.spec``, the README saying why
    and how to add it (a warning too where the directory is set up but lacks a dataset).
    The folder is built next to the target and renamed into place, so it is never left
    half-written.
    """
    target = Path(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        if magmoms is not None:
            structure = structure.copy(site_properties={"magmom": [float(m) for m in magmoms]})
        if symmetrize and _one_moment_per_element(structure, magmoms):
            structure = symmetrised_primitive(structure)
        input_set = relaxation_input_set(structure)
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp makes 0700
        with warnings.catch_warnings(record=True) as said:  # pymatgen's remarks, e.g. Co started low spin
            warnings.simplefilter("always")
            no_potcar = _write_input_set(input_set, staging)
        remarks = list(dict.fromkeys(str(w.message).strip() for w in said if issubclass(w.category, UserWarning)))
        if no_potcar and potcar_configured():  # set up, but without this element's dataset: said, not fatal
            remarks.insert(0, f"{no_potcar}; POTCAR.spec was written instead")
        for message in remarks:
            warnings.warn(VaspRemarkWarning(f"VASP inputs: {message}"), stacklevel=2)
        readme = _input_set_words(input_set) + (
            "\n" + _POTCAR_README.format(why=no_potcar, input_set=type(input_set).__name__) if no_potcar else "")
        if no_potcar:
            spec = staging / "POTCAR.spec"
            # one symbol per line, the last one ended too (pymatgen leaves it open, and
            # `while read` loops then skip the last element)
            spec.write_text(spec.read_text().rstrip("\n") + "\n")
        if remarks:  # beside the INCAR they concern, where a screen's batch of them is not lost
            readme += "\nRemarks of pymatgen's input set on these inputs:\n" + "".join(f"- {m}\n" for m in remarks)
        # the files as written, each read once (the input set's incar property would compute it again, remarks too)
        magmom = _tidy_incar(staging / "INCAR").get("MAGMOM")
        magnetic = magnetic_start_text(magmom, _tidy_poscar(staging / "POSCAR"), magmoms is not None)
        if magnetic:
            readme += "\n" + magnetic
        (staging / "README.txt").write_text(readme.lstrip("\n"))
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / target.name)
            try:
                os.replace(staging, target)
            except OSError:
                os.replace(retired / target.name, target)  # the old folder back, the user's files in it
                shutil.rmtree(retired, ignore_errors=True)
                raise
            _retire_keeping_other_files(retired, target)
        else:
            os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


MAGNETIC_START_MU_B = 1.0
"""μB: a MAGMOM above this starts a site magnetic (the input set gives 0.6 to every non-magnetic one)."""


def ferromagnetic_start_note(elements: Iterable[str], from_potential: bool = False) -> str | None:
    """A run's note when its VASP inputs start some ions magnetic (the input set's default above
    :data:`MAGNETIC_START_MU_B`): all parallel, which each vasp/README.txt explains; None otherwise."""
    defaults = MPRelaxSet.CONFIG["INCAR"]["MAGMOM"]
    magnetic = [el for el in elements if float(defaults.get(el, 0.6)) > MAGNETIC_START_MU_B]
    if not magnetic:
        return None
    source = "the potential's moments, magnitudes only" if from_potential else "the Materials Project input set's"
    return (f"the VASP inputs start {', '.join(magnetic)} magnetic with all moments parallel (ferromagnetic; "
            f"MAGMOM: {source}); an antiferromagnetic order needs signed moments and, for some, a supercell: "
            "each vasp/README.txt says how")


def magnetic_start_text(magmom, structure: Structure, from_potential: bool) -> str | None:
    """README words on the magnetic start of VASP inputs, or None when no site starts magnetic: the
    moments all start parallel (ferromagnetic), which cannot describe the antiferromagnetic order of
    MnO, NiO, FeF2 or Fe2O3; what to change, and whether this cell can hold such an order."""
    if not magmom:
        return None
    moments = [float(np.linalg.norm(m)) if isinstance(m, (list, tuple)) else abs(float(m)) for m in magmom]
    if len(moments) != len(structure):  # not one moment per site (a non-collinear INCAR): nothing to name
        return None
    magnetic = [k for k, m in enumerate(moments) if m > MAGNETIC_START_MU_B]
    if not magnetic:
        return None
    counts: dict[str, list[float]] = {}
    for k in magnetic:
        counts.setdefault(structure[k].specie.symbol, []).append(moments[k])
    which = ", ".join(f"{len(v)} {el} at {max(v):.3g} μB" for el, v in counts.items())
    source = ("the potential's predicted moments (magnitudes only: it gives no signs)" if from_potential else
              "the Materials Project input set's defaults per element")
    metal = all_metal([str(element) for element in structure.composition.elements])
    example = "" if metal else " (e.g. MnO's rhombohedral AFM-II cell doubles the rock-salt cell along [111])"
    fits = (f"a cell of one magnetic site holds no antiferromagnetic order: build a supercell{example}"
            if len(magnetic) == 1 else
            f"this cell has {len(magnetic)} magnetic sites, so orders that alternate among them fit in it; others "
            "need a supercell")
    examples = ("In metals the order, if any, is the compound's own (ferromagnetic Fe3Al, antiferromagnetic FeRh "
                "at room temperature)" if metal else
                "Many compounds of these ions order antiferromagnetically (MnO, NiO, FeF2, Fe2O3)")
    return ("Magnetic start: MAGMOM (INCAR, ISPIN = 2) starts " + which + ", all parallel: a ferromagnetic "
            f"start, from {source}. {examples}. For such an order give the moments signs in MAGMOM, one per site "
            f"in POSCAR's order; {fits}. Relax each order and compare their energies.\n")


MOMENT_TOLERANCE = 0.2
"""μB: two sites' magnetic moments that agree within this are the same moment, the one rule of
whether a smaller or symmetrised cell may merge them (the written cell of a result,
:mod:`core.predict.results`, and the VASP POSCAR here: they used 0.2 and 0.05, so a CIF could be
symmetrised beside a POSCAR that was not)."""


def _one_moment_per_element(structure: Structure, magmoms: list[float] | None,
                            tolerance: float = MOMENT_TOLERANCE) -> bool:
    """Whether every site of an element carries the same moment (within ``tolerance`` μB), so that
    symmetrising the cell cannot merge sites of different moments; True without moments."""
    if magmoms is None:
        return True
    by_element: dict[str, list[float]] = {}
    for site, moment in zip(structure, magmoms):
        by_element.setdefault(site.specie.symbol, []).append(float(moment))
    return all(max(m) - min(m) <= tolerance for m in by_element.values())


def _input_set_words(input_set) -> str:
    """README's first lines: which of pymatgen's sets wrote these inputs and what sets it apart
    (a metal's README said MPRelaxSet beside an INCAR of MPMetalRelaxSet's smearing)."""
    import pymatgen.core

    what = ("every element is a metal: Methfessel-Paxton smearing (ISMEAR = 1, SIGMA = 0.2 eV) and a denser "
            "k-point mesh" if isinstance(input_set, MPMetalRelaxSet) else
            "the tetrahedron method (ISMEAR = -5), for a compound that is not all-metal")
    return (f"Materials Project relaxation inputs: pymatgen {pymatgen.core.__version__}'s "
            f"{type(input_set).__name__} ({what}).\n")


def relaxation_input_set(structure: Structure) -> MPRelaxSet | MPMetalRelaxSet:
    """The Materials Project relaxation set for ``structure``: ``MPMetalRelaxSet``
    (Methfessel-Paxton smearing, ISMEAR = 1 and SIGMA = 0.2 eV, and a denser k-point mesh)
    when every element is a metal (the element table of the contact rule), else
    ``MPRelaxSet`` (tetrahedron method, ISMEAR = -5), which VASP advises against for metals."""
    metal = all_metal([str(element) for element in structure.composition.elements])
    return MPMetalRelaxSet(structure) if metal else MPRelaxSet(structure)


POSCAR_DECIMALS = 10
"""Decimals of the VASP inputs' POSCAR (fractional coordinates; lattice in Å): a symmetrised cell's
0.4999999999999997 and 4e-16 are written 0.5000000000 and 0.0000000000."""


WRAP_TOLERANCE = 1e-8
"""A fractional coordinate this close below 1 is written as 0 (a relaxation leaves -2e-9 for 0)."""


def wrapped_fractions(frac) -> np.ndarray:
    """Fractional coordinates in [0, 1) at :data:`POSCAR_DECIMALS`: 0.99999999999 and -2e-9 are 0.0,
    never -0.0 (a relaxed cell had 1.0004 and -0.0000000018 among them). Every POSCAR's rule."""
    frac = np.round(np.asarray(frac, dtype=float), POSCAR_DECIMALS) % 1.0
    frac[frac > 1.0 - WRAP_TOLERANCE] = 0.0
    return frac + 0.0


def _tidy_poscar(path: Path) -> Structure:
    """Rewrite the POSCAR with :data:`POSCAR_DECIMALS` decimals, float noise gone (no -0.0), the
    sites and their order, the comment and the species lines kept; returns the structure written."""
    poscar = Poscar.from_file(path, check_for_potcar=False)
    structure = poscar.structure
    frac = wrapped_fractions(structure.frac_coords)
    lattice = np.round(np.asarray(structure.lattice.matrix, dtype=float), POSCAR_DECIMALS) + 0.0
    tidy = Structure(lattice, structure.species, frac, site_properties=structure.site_properties or None)
    path.write_text(Poscar(tidy, comment=poscar.comment).get_str(significant_figures=POSCAR_DECIMALS))
    return tidy


def _tidy_incar(path: Path):
    """Rewrite INCAR floats as VASP users write them (``EDIFF = 0.0003``, not the
    ``0.00030000000000000003`` of the input set's per-atom arithmetic); returns the ``Incar`` written."""
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(path)
    for key, value in incar.items():
        if isinstance(value, float):
            incar[key] = float(f"{value:.6g}")
        elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            incar[key] = [float(f"{v:.6g}") for v in value]
    incar.write_file(path)
    return incar
