"""Reconstruction targets from files: a structure (oracle mode) or a JSON description.

JSON (``.json`` or ``.input``)::

    {"formula": "TiO2", "z": 2, "spacegroup": 136,
     "lattice": [4.594, 4.594, 2.959, 90, 90, 90],
     "contact_map": [[0, 1, ...], ...]}

``lattice`` is the conventional cell (Å, degrees; rhombohedral groups in
hexagonal axes), obeying the group's crystal system (a hexagonal group's γ is 120°; a
lattice that does not is an error, not silently changed); the map rows follow the contact-map order of the formula's
atoms (elements by Mendeleev number, e.g. Ti Ti O O O O), or give ``species``
explicitly instead of ``formula`` and ``z``. An optional ``name`` names the output
files (default: the reduced formula). The map may be given as ``contact`` instead, as
``alphacrystal contact-map FORMULA --json`` writes it (with its ``formula``, ``z`` and
``species``; add ``spacegroup`` and ``lattice``). An optional ``"rule": "metallic"``
says the map follows the metallic contact rule (:mod:`core.contact.contact_rule`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Structure

from core.contact.contact_rule import DEFAULT_RULE, RULES
from core.contact.matrix_check import check_species_of_formula, checked_contact_matrix
from core.crystal.composition import formula_unit_text, parse_formula
from core.crystal.spacegroups import constrain_lattice, satisfies_constraints
from core.crystal.symmetry import crystal_system, hm_symbol, spacegroup_setting
from core.errors import AlphaCrystalError
from core.io.read import read_structure
from core.reconstruction.job import ReconstructionTarget, oracle_target

JSON_SUFFIXES = (".json", ".input")
LATTICE_KEYS = ("a", "b", "c", "alpha", "beta", "gamma")
"""A lattice given by name in a JSON target (Å, degrees)."""


def read_target(path: str | Path, rule: str | None = None) -> tuple[ReconstructionTarget, Structure | None]:
    """``(target, reference structure or None)`` from a structure file (its map by ``rule``,
    default the paper's) or a JSON description (its ``rule`` key, else ``rule``; both
    given and different is an error).

    Raises
    ------
    AlphaCrystalError
        Naming the file and the problem (missing key, wrong map size, bad numbers).
    """
    p = Path(path)
    if not p.exists():
        raise AlphaCrystalError(f"{p}: no such file")
    if p.suffix.lower() not in JSON_SUFFIXES:
        structure = read_structure(p)
        return oracle_target(structure, name=p.stem, rule=rule or DEFAULT_RULE), structure
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise AlphaCrystalError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return target_from_dict(data, where=str(p), rule=rule), None


def _whole_z(data: dict, where: str) -> int | None:
    """The target's ``z`` as a whole number >= 1 (None when not given): 2.5 was read as 2, true as 1."""
    if "z" not in data or data["z"] is None:
        return None
    z = data["z"]
    if isinstance(z, bool) or not isinstance(z, (int, float)) or z != int(z) or z < 1:
        raise AlphaCrystalError(f"{where}: z must be a whole number of formula units (1, 2, ...), got {z!r}")
    return int(z)


def _species(values, where: str) -> tuple[str, ...]:
    """``species`` as element symbols, each checked (``Xx``, ``ag`` and 47 gave tracebacks)."""
    from core.crystal.elements import element_table

    if not isinstance(values, list) or not values:
        raise AlphaCrystalError(f"{where}: species must be a list of element symbols, e.g. [\"Ag\", \"F\", \"F\"]")
    table = element_table()
    bad = [repr(v) for v in values if not isinstance(v, str) or not table.is_element(v)]
    if bad:
        raise AlphaCrystalError(f"{where}: species {', '.join(bad[:5])} {'is not an element symbol' if len(bad) == 1 else 'are not element symbols'} "
                                "(write them as Ag, F, O: a capital then a small letter)")
    return tuple(values)


def _check_labels(labels, species: tuple[str, ...], where: str) -> None:
    """Labels, where given (``contact-map --json`` writes them: Ag1, Ag2, F1, ...), must name the
    species row by row: a label of another element was ignored, so a hand-edited row order or a
    relabelled file ran silently on other atoms than the labels said."""
    if labels is None:
        return
    if not isinstance(labels, list) or len(labels) != len(species):
        raise AlphaCrystalError(f"{where}: labels must be one per atom ({len(species)}), got {labels!r}")
    for k, (label, element) in enumerate(zip(labels, species), 1):
        text = str(label)
        if not (text.startswith(element) and text[len(element):len(element) + 1] in ("", *"0123456789_")):
            raise AlphaCrystalError(f"{where}: label {k} is {text!r} but atom {k} is {element} (species "
                                    f"{' '.join(species)}): the map's rows follow the species; correct the labels "
                                    "or leave them out")


def _check_cell(lattice: tuple[float, ...], n_atoms: int, where: str) -> None:
    """Refuse at once a cell no structure of ``n_atoms`` fits (a 0.1 Å cell, an angle of 179.9°): the GA
    ran for minutes before every structure failed for atoms too close."""
    from pymatgen.core import Lattice

    from core.io.read import MIN_CELL_LENGTH, MIN_CELL_SHAPE, MIN_CELL_VOLUME

    a, b, c = lattice[:3]
    volume = Lattice.from_parameters(*lattice).volume
    if min(a, b, c) < MIN_CELL_LENGTH or not volume >= MIN_CELL_VOLUME * n_atoms or volume / (a * b * c) < MIN_CELL_SHAPE:
        raise AlphaCrystalError(f"{where}: lattice {list(lattice)} gives a cell of {volume:.3g} Å³ for {n_atoms} atoms: "
                                f"no structure fits it (lengths of at least {MIN_CELL_LENGTH} Å and at least "
                                f"{MIN_CELL_VOLUME:g} Å³ per atom are needed; check its units and angles)")


def target_from_dict(data: dict, where: str = "input", rule: str | None = None) -> ReconstructionTarget:
    """A target from the JSON form described in the module docstring (``rule``: the
    caller's contact rule, used when the data names none)."""
    if not isinstance(data, dict):
        raise AlphaCrystalError(f"{where}: expected a JSON object")
    if rule is not None and "rule" in data and str(data["rule"]) != rule:
        raise AlphaCrystalError(f"{where}: the file's map follows the '{data['rule']}' contact rule, not "
                                f"'{rule}' as asked")
    if "contact_map" not in data and "contact" in data:  # the map as `alphacrystal contact-map --json` writes it
        data = {**data, "contact_map": data["contact"]}
    missing = [k for k in ("spacegroup", "lattice", "contact_map") if k not in data]
    if missing:
        if "contact_map" in data and "probabilities" in data:
            hint = " (the output of contact-map FORMULA --json needs a space group and a lattice added)"
        elif "matrix" in data and "spacegroup_number" in data:
            hint = (f" (this is the output of contact-map FILE --json: reconstruct {data.get('file') or 'that file'} "
                    "itself, or name its map contact_map and its space group spacegroup and add a lattice)")
        else:
            hint = ""
        raise AlphaCrystalError(f"{where}: missing key(s) {', '.join(missing)}{hint}")
    if isinstance(data["lattice"], dict):  # {"a": 4.6, ..., "gamma": 90}: the six by name
        absent = [k for k in LATTICE_KEYS if k not in data["lattice"]]
        if absent:
            raise AlphaCrystalError(f"{where}: lattice given by name lacks {', '.join(absent)} "
                                    f"(give {', '.join(LATTICE_KEYS)}, or a list of the six)")
        data = {**data, "lattice": [data["lattice"][k] for k in LATTICE_KEYS]}
    z = _whole_z(data, where)
    if "species" in data:
        species = _species(data["species"], where)
        if "formula" in data:  # both given (contact-map FORMULA --json writes both): they must agree
            check_species_of_formula(species, str(data["formula"]), z, where,
                                     "correct one of them, or give only 'species'")
    elif "formula" in data:
        formula = parse_formula(str(data["formula"]))
        species = tuple(formula.atom_elements(z if z is not None else formula.typed_z))
    else:
        raise AlphaCrystalError(f"{where}: give 'formula' (and 'z') or 'species'")
    try:
        lattice = tuple(float(v) for v in data["lattice"])
    except (TypeError, ValueError):
        raise AlphaCrystalError(f"{where}: lattice must be six numbers [a, b, c, alpha, beta, gamma] (Å, degrees), "
                                f"got {data['lattice']!r}") from None
    try:  # a number or a symbol, as --spacegroup takes them (Fm-3m, P21/c)
        given = data["spacegroup"]
        if isinstance(given, float) and given.is_integer():
            given = int(given)
        if isinstance(given, bool) or not isinstance(given, (int, str)):
            raise TypeError
        spacegroup, standard = spacegroup_setting(str(given))
    except (TypeError, ValueError):
        raise AlphaCrystalError(f"{where}: spacegroup must be a number 1-230 or a symbol such as Fm-3m, "
                                f"got {data['spacegroup']!r}") from None
    if not standard:  # the lattice would be read in the standard setting's axes: another cell
        raise AlphaCrystalError(f"{where}: spacegroup {given!r} is group {spacegroup} in a non-standard setting; the "
                                f"lattice is read in the standard setting {hm_symbol(spacegroup)}: give the group as "
                                f"{spacegroup} or {hm_symbol(spacegroup)} and the lattice in its axes")
    n = len(species)
    _check_labels(data.get("labels"), species, where)
    matrix = checked_contact_matrix(data["contact_map"], n, where)
    if len(lattice) != 6 or not all(np.isfinite(lattice)):
        raise AlphaCrystalError(f"{where}: lattice must be six finite numbers [a, b, c, alpha, beta, gamma] "
                                f"(Å, degrees), got {list(lattice)}")
    if min(lattice[:3]) <= 0 or not all(0 < a < 180 for a in lattice[3:]):
        raise AlphaCrystalError(f"{where}: lattice must be [a, b, c, alpha, beta, gamma] (Å, degrees)")
    _check_cell(lattice, len(species), where)
    if not 1 <= spacegroup <= 230:
        raise AlphaCrystalError(f"{where}: spacegroup must be 1-230, got {spacegroup}")
    if not satisfies_constraints(spacegroup, np.asarray(lattice), tol_length=1e-3, tol_angle=1e-2):
        system = crystal_system(spacegroup)
        if system in ("trigonal", "hexagonal"):  # rhombohedral groups too: the conventional cell is hexagonal
            wanted = "hexagonal axes (a = b, α = β = 90°, γ = 120°; rhombohedral groups too)"
        else:
            fitted = [round(float(v), 4) for v in constrain_lattice(spacegroup, np.asarray(lattice))]
            wanted = f"{'an' if system[0] in 'aeiou' else 'a'} {system} lattice (the nearest: {fitted})"
        raise AlphaCrystalError(f"{where}: lattice {list(lattice)} does not fit space group {spacegroup} "
                                f"({system}); give {wanted}")
    rule = str(data.get("rule", rule or DEFAULT_RULE))
    if rule not in RULES:
        raise AlphaCrystalError(f"{where}: rule must be one of {', '.join(RULES)}, got {rule!r}")
    name = str(data.get("name") or formula_unit_text(Composition(" ".join(species))))  # names the output files
    return ReconstructionTarget(species, matrix.astype(np.uint8), spacegroup, lattice, name, rule)
