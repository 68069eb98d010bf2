"""Materials Project's own place on the hull for a result that is one of its known polymorphs.

E_hull is measured with the potential's energies (:mod:`core.stability.hull`): a result that is a
known polymorph of the formula, but not the lowest, was told only the potential's figure. NaCl in
P6_3/mmc, mp-1120767, read +33 meV/atom where Materials Project has it at +59 (DFT); rutile TiO2
+23 against +37. Where the template library (the training formulas' structures, with their
formation energies) holds the structure of a result, its note now says where Materials Project
places it. Held-out formulas are not in the library, so nothing of them is looked up.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Composition, Structure

from core.crystal.matching import reference_match
from core.stability.hull import ON_HULL_EV, HullJudge, whole_mev

VOLUME_WINDOW = 0.15
"""A result is compared with a polymorph only when its volume per atom is within this fraction of
the polymorph's DFT volume (the potentials' relaxed volumes differ from DFT's by a few per cent)."""


def known_polymorph_notes(structures: list[Structure], formula: str, judge: HullJudge) -> list[str | None]:
    """For each of ``structures`` (relaxed results of the reduced ``formula``) a note when it is a
    Materials Project polymorph of the formula above MP's hull (``the structure of mp-1120767, which
    Materials Project places 59 meV/atom above its hull``), else None. The hull is Materials
    Project's formation energies (``judge``'s diagram in an ``mp`` frame); a structure is the
    polymorph when pymatgen's StructureMatcher at its default tolerances says so (what a user checking
    by hand gets; not by space group or cell size: MP's 12-atom P-62m mp-1120767 is the P6_3/mmc NaCl
    a run relaxes). The bond-topology test of the known phase (:mod:`core.stability.identity`) is not
    used here: it took most SiO2 frameworks for one another."""
    from core.templates.library import load_library

    comp = Composition(formula)
    if len(comp.elements) == 1:  # an element sits at 0 on the hull by definition, whichever MP's lowest
        return [None] * len(structures)  # structure (P mp-157 has +37 meV/atom in MP): no MP figure to add
    library = load_library()
    polymorphs = [int(k) for k in np.flatnonzero(library.formulas == formula) if np.isfinite(library.energies[k])]
    if not polymorphs:
        return [None] * len(structures)
    diagram = judge.phase_diagram(frozenset(str(e) for e in comp.elements))
    hull = float(diagram.get_hull_energy_per_atom(comp))
    notes: list[str | None] = []
    known = {k: library.structure(k) for k in polymorphs}
    for structure in structures:
        volume = structure.volume / len(structure)
        matches = []  # (rms, energy, polymorph): MP holds near-duplicates; the closest (then the lowest) speaks
        for k in polymorphs:
            if abs(volume / (known[k].volume / len(known[k])) - 1) > VOLUME_WINDOW:
                continue  # not this polymorph (a formula such as SiO2 has 38 of them: only plausible ones compared)
            found = reference_match(structure, known[k])
            if found.matched:
                rms = round(found.rms, 2) if found.rms is not None else float("inf")
                matches.append((rms, float(library.energies[k]), k))
        note = None
        if matches:
            k = min(matches)[2]
            above = float(library.energies[k]) - hull  # eV/atom, Materials Project's formation energies
            if above > ON_HULL_EV:  # the ground state itself is the known phase: said already
                note = (f"the structure of {library.material_ids[k]}, which Materials Project places "
                        f"{whole_mev(1000 * above)} meV/atom above its hull (DFT)")
        notes.append(note)
    return notes
