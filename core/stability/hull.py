"""Is a predicted compound stable? Formation energy and energy above the convex hull.

A prediction's energy says which arrangement of a formula is lowest; whether the
formula exists at all depends on its competing phases. Here a relaxed result is
placed on the convex hull of the known phases of its chemical system
(:mod:`core.stability.references`, pymatgen :class:`~pymatgen.analysis.phase_diagram.PhaseDiagram`):

- formation energy per atom, eV/atom: ``E - Σ x_i μ_i`` with the potential's
  elemental chemical potentials μ of the frame;
- energy above the hull, eV/atom (negative: below every known combination of
  phases), and the decomposition products with their fractions (by atom);
- a label: ``stable`` (on or below the known hull), ``metastable`` (above it by at
  most the threshold) or ``unstable``.

A frame (:data:`FRAMES`) says where the references' formation energies come from
(Materials Project's, or the potential's at the stored geometry) and which
chemical potentials turn the prediction's energy into a formation energy. The
default frame and threshold were chosen on validation formulas
(``benchmarks/stability_frames.py``, docs/stability.md).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

from core.crystal.composition import MP20_MAX_ATOMS, formula_unit_text
from core.errors import AlphaCrystalError
from core.stability.references import ReferencePhases, formation_energy, reference_file


@dataclass(frozen=True)
class StabilityFrame:
    """Where the energies of the hull come from.

    Attributes
    ----------
    references : str
        ``mp``: Materials Project's formation energies; ``potential``: the potential's
        energies at the stored geometry, with the chemical potentials below.
    mu : str
        The potential's chemical potentials (:data:`core.stability.references.MU_KINDS`) that
        turn the prediction's (and, for ``potential``, the references') energies into
        formation energies.
    """

    references: str
    mu: str


FRAMES: dict[str, StabilityFrame] = {
    "mp-fitted": StabilityFrame("mp", "fitted"),
    "mp-crystal": StabilityFrame("mp", "crystal"),
    "potential": StabilityFrame("potential", "static"),
}
DEFAULT_FRAME = "auto"
"""The frame of :data:`FRAME_FOR_POTENTIAL` for the run's potential."""
FRAME_FOR_POTENTIAL = {"chgnet": "mp-fitted", "sevennet": "potential", "sevennet-l3i5": "potential",
                       "sevennet-mf-0": "potential"}
"""Chosen on validation for each potential (docs/stability.md): the smallest error of E_hull
against Materials Project's own energies on the same hull (CHGNet 20 meV/atom with fitted
chemical potentials; SevenNet-0 24 meV/atom with its own reference energies, 67 with fitted
ones: its energies carry no Materials Project correction that a per-element shift can absorb;
SevenNet-l3i5 21 with its own, 66 with fitted ones; SevenNet-MF-0 27 and 68)."""
DEFAULT_EHULL_THRESHOLD_EV = 0.1
"""Above the hull by at most this (eV/atom): ``metastable``; chosen on validation so that a
known compound is rarely called ``unstable`` (docs/stability.md)."""
ON_HULL_EV = 0.001
"""Within this of the hull (eV/atom, numerical noise of the hull construction): ``stable``."""
MAX_ANCHOR_SHIFT_EV = 0.15
"""eV/atom: the largest correction made when a run's structure is the known phase. The default
frame's E_hull error on 3,567 validation compounds (CHGNet at the DFT geometry, against MP's own
energies on the same hull) has a mean of 20 meV/atom, a 99th percentile of 101 and a 99.5th of 142
(``benchmarks/stability_frames.py``, docs/stability.md): a larger correction means a wrong match
more likely than the frame's error, and it is not made. In frames with larger errors (SevenNet-0
in ``mp-crystal``) it refuses some right matches, and the note says so."""
FRAME_EHULL_ERROR_EV: dict[tuple[str, str], float] = {
    ("chgnet", "mp-fitted"): 0.020, ("chgnet", "mp-crystal"): 0.035, ("chgnet", "potential"): 0.023,
    ("sevennet", "mp-fitted"): 0.067, ("sevennet", "mp-crystal"): 0.123, ("sevennet", "potential"): 0.024,
    ("sevennet-l3i5", "mp-fitted"): 0.066, ("sevennet-l3i5", "mp-crystal"): 0.121,
    ("sevennet-l3i5", "potential"): 0.021,
    ("sevennet-mf-0", "mp-fitted"): 0.068, ("sevennet-mf-0", "mp-crystal"): 0.125,
    ("sevennet-mf-0", "potential"): 0.027,
}
"""(potential, frame) -> mean absolute error of E_hull against Materials Project's own energies on
the same hull, eV/atom: 3,567 validation compounds, the potential's energy at the DFT geometry
(``benchmarks/stability_frames.py``, tables of docs/stability.md). A result closer to the hull
than this cannot be told ``stable`` or ``metastable`` by the potential (:attr:`Stability.near_hull`)."""
ANCHORED_EHULL_ERROR_EV: dict[str, float] = {"chgnet": 0.014}
"""potential -> mean absolute error of E_hull, eV/atom, of a known formula's other polymorphs placed by
their energy difference to the known phase (:func:`place_polymorphs`, ``mp`` frames): 85 validation
polymorphs relaxed by CHGNet, against Materials Project's own energies on the same hull (14.3
meV/atom; the frame's estimate of the same structures 17.9; ``python benchmarks/ehull_polymorph_anchor.py
--data ../shared/data/mp/structures.csv.gz --relaxed 150 --potentials chgnet``, docs/stability.md).
Not measured for the other potentials, whose default frame (``potential``) holds their own energy of
the known phase already: their frame's error stands."""
UNCERTAIN = "uncertain"
"""The label of a result far below the known hull, beyond the frame's error (:func:`far_below`):
the references most likely lack a phase of its system (MgO, withheld from them, reads 1,550
meV/atom below Mg + MgO2), so neither ``stable`` nor the figure can be trusted; its
``hull_warning`` says why."""
LABELS = ("stable", "metastable", "unstable", UNCERTAIN)
def whole_mev(value_mev: float) -> int:
    """An energy in meV/atom as the program shows it in whole numbers: the stored value (0.1 meV/atom)
    rounded half away from zero, so that -4.5 reads -5 in the table, the notes and the CLI alike
    (Python's round-half-to-even gave -4 in one place and 5 below in another)."""
    tenths = round(value_mev, 1)
    return int(math.copysign(math.floor(abs(tenths) + 0.5), tenths))


STABILITY_COLUMNS = ("formation_energy_per_atom", "e_above_hull_meV", "decomposition", "stability", "hull_frame",
                     "hull_note", "hull_warning")
"""The summary columns of :meth:`Stability.row` (None where a result has no place on the hull)."""


class StabilityError(AlphaCrystalError):
    """No reference phases for the potential, or an unknown frame."""


@dataclass(frozen=True)
class Stability:
    """A result placed on the hull of its chemical system.

    Attributes
    ----------
    formation_energy_per_atom : float
        eV/atom, in the frame's chemical potentials.
    e_above_hull : float
        eV/atom above the hull of the known phases (negative: below it).
    decomposition : tuple of (str, float)
        The phases of the hull at this composition and their fractions by atom, largest first.
    label : str
        ``stable``, ``metastable``, ``unstable`` or, far below the known hull, ``uncertain``
        (:data:`LABELS`).
    frame : str
        The frame's name (:data:`FRAMES`).
    threshold : float
        The ``metastable`` threshold used, eV/atom.
    potential : str
        The potential whose reference phases made the hull.
    """

    formation_energy_per_atom: float
    e_above_hull: float
    decomposition: tuple[tuple[str, float], ...]
    label: str
    frame: str
    threshold: float
    potential: str = ""
    note: str = ""
    """How the run's own structures entered the figure (:func:`place_polymorphs`), or empty."""
    warning: str = ""
    """The part of :attr:`note` that puts the figure in doubt (far below the known hull: the
    references may lack phases; the known phase found but off its place), or empty: what a
    report flags, where the rest of the note only explains."""
    error: float = math.nan
    """The frame's mean E_hull error on validation, eV/atom (:data:`FRAME_EHULL_ERROR_EV`; nan
    where not measured; 0 for the known phase found again, whose place on the hull is Materials
    Project's own)."""

    @property
    def near_hull(self) -> bool:
        """E_hull within the frame's error of 0: ``stable`` and ``metastable`` are not told apart."""
        return (math.isfinite(self.error) and self.error > 0 and abs(self.e_above_hull) <= self.error
                and self.e_above_hull <= self.threshold)  # an "unstable" figure is not a stable/metastable call

    def full_note(self) -> str:
        """:attr:`note` and :meth:`caveat`, as the summary's ``hull_note`` reads."""
        return "; ".join(text for text in (self.note, self.caveat()) if text)

    def caveat(self) -> str:
        """``within the frame's error of the hull (about ±20 meV/atom on validation): ...`` when
        :attr:`near_hull`, else empty."""
        if not self.near_hull:
            return ""
        return (f"within the frame's error of the hull (about ±{1000 * self.error:.0f} meV/atom on validation): "
                "on it or near it, stable and metastable are not told apart here")

    def decomposition_text(self) -> str:
        """``0.500 NaF + 0.500 ZnF2`` (fractions by atom)."""
        return " + ".join(f"{fraction:.3f} {formula}" for formula, fraction in self.decomposition)

    def row(self) -> dict:
        """Columns of a summary row: formation energy (eV/atom), E_hull (meV/atom), decomposition, label,
        frame and note (:meth:`full_note`)."""
        values = (round(self.formation_energy_per_atom, 5), round(1000 * self.e_above_hull, 1),
                  self.decomposition_text(), self.label, f"{self.potential}:{self.frame}", self.full_note(),
                  self.warning)
        return dict(zip(STABILITY_COLUMNS, values))

    def describe(self) -> str:
        """One sentence for a tooltip or a report."""
        where = ("below the hull of the known phases" if self.e_above_hull < -ON_HULL_EV else
                 "on the hull" if self.e_above_hull <= ON_HULL_EV else "above the hull")
        return (f"{self.label}: {whole_mev(1000 * self.e_above_hull):+d} meV/atom, {where}; the hull at this composition "
                f"is {self.decomposition_text()} (formation energy {self.formation_energy_per_atom:.3f} eV/atom, "
                f"frame {self.frame}, metastable up to {1000 * self.threshold:.0f} meV/atom)"
                + (f"; {self.full_note()}" if self.full_note() else ""))


def resolved_frame(frame: str, potential: str) -> str:
    """``frame``, or for ``auto`` the one chosen on validation for ``potential``
    (:data:`FRAME_FOR_POTENTIAL`; ``potential`` for one not measured)."""
    return FRAME_FOR_POTENTIAL.get(potential, "potential") if frame == "auto" else frame


def measured_from_run_lowest(floor: float) -> bool:
    """Whether a run whose lowest structure lies ``floor`` eV/atom above the known hull (negative:
    below it) measures its other structures from that lowest one (:func:`place_on_hull`)."""
    return floor < -ON_HULL_EV


def e_hull_words(e_above_hull: float, floor: float) -> str:
    """A result's E_hull (eV/atom) in words beside a drawn hull of the known phases, ``floor`` being
    the run's lowest E_hull: where that lowest lies below the known hull, the others are measured
    from it, not from the hull drawn (a point drawn under the line read "+23 meV/atom above the hull")."""
    if not measured_from_run_lowest(floor):
        return f"{whole_mev(1000 * e_above_hull):+d} meV/atom above the hull"
    if e_above_hull <= floor:
        return f"{-whole_mev(1000 * e_above_hull)} meV/atom below the known hull (this run's lowest structure)"
    return (f"{whole_mev(1000 * e_above_hull):+d} meV/atom above this run's lowest structure, which lies "
            f"{-whole_mev(1000 * floor)} meV/atom below the known hull")


def label_for(e_above_hull: float, threshold: float) -> str:
    """``stable`` / ``metastable`` / ``unstable`` for an energy above the hull (eV/atom)."""
    if e_above_hull <= ON_HULL_EV:
        return "stable"
    return "metastable" if e_above_hull <= threshold else "unstable"


class HullJudge:
    """The hulls of one potential's reference phases in one frame (one per chemical system, cached).

    ``exclude`` (reduced formulas) leaves phases out, as for the validation of the
    frames, where a formula's own polymorphs must not judge it
    (:meth:`~core.stability.references.ReferencePhases.held_out`).
    """

    def __init__(self, references: ReferencePhases, frame: str = DEFAULT_FRAME,
                 threshold: float = DEFAULT_EHULL_THRESHOLD_EV, exclude: frozenset[str] = frozenset()) -> None:
        frame = resolved_frame(frame, references.potential)
        if frame not in FRAMES:
            raise StabilityError(f"unknown stability frame {frame!r}: choose from {', '.join(FRAMES)}")
        self.references, self.frame_name, self.frame = references, frame, FRAMES[frame]
        self.threshold, self.exclude = threshold, exclude
        self.error = FRAME_EHULL_ERROR_EV.get((references.potential, frame), math.nan)
        self.mu = references.chemical_potentials(self.frame.mu)
        self._element_mu = references.chemical_potentials("crystal")  # an element's own reference (assess)
        # the entry each formula's energy belongs to: MP's lowest, or the potential's own lowest polymorph
        ids = references.mp_ids if self.frame.references == "mp" else references.potential_ids
        self._entry_ids = np.asarray(ids).astype(str)
        # Each formula is parsed here once and its Composition dropped: 36k of them held about
        # 40 MB and 130k objects that every full garbage collection walked (20 ms each time in
        # the window's process). The index holds strings and tuples of ints only, which the
        # collector does not track; phase_diagram parses the few formulas of one system again.
        by_system: dict[str, list[int]] = {}
        formation = np.asarray(references.mp_formation, dtype=float).copy()
        for k, (formula, energy) in enumerate(zip(references.formulas, references.potential_energy)):
            comp = Composition(str(formula))
            elements = frozenset(str(e) for e in comp.elements)
            by_system.setdefault(system_key(elements), []).append(k)
            if self.frame.references != "mp":
                formation[k] = formation_energy(comp, energy, self.mu) if elements <= self.mu.keys() else np.nan
        self._by_system = {key: tuple(rows) for key, rows in by_system.items()}
        self._formation = formation
        # a formula is a known phase of the hull only with a finite formation energy in this frame
        self._ids = {str(f): str(i) for f, i, ef in zip(references.formulas, self._entry_ids, self._formation)
                     if math.isfinite(ef)}
        self._diagrams: dict[frozenset[str], PhaseDiagram] = {}
        # the potential's stored energy (eV/atom, DFT geometry) of the entry the hull holds, where the
        # file has it: in an ``mp`` frame only where the potential's lowest polymorph is MP's lowest
        self._stored_energy = {str(f): float(e) for f, i, own, e in zip(references.formulas, self._entry_ids,
                                                                         np.asarray(references.potential_ids).astype(str),
                                                                         references.potential_energy)
                               if i == own and math.isfinite(float(e))}

    def stored_energy(self, formula: str) -> float | None:
        """The potential's energy per atom (eV/atom) of the known phase of ``formula`` at its stored
        (DFT-relaxed) geometry, or None: no known phase (or left out by ``exclude``), or, in an ``mp``
        frame, the file holds the energy of another polymorph (the potential's lowest is not MP's)."""
        return None if self.reference_id(formula) is None else self._stored_energy.get(reference_formula(formula))

    def known_place(self, formula: str) -> float | None:
        """E_hull of the known phase of ``formula`` on its system's hull in this frame (eV/atom; 0 for
        a phase on it), or None when it has none."""
        reference_id = self.reference_id(formula)
        if reference_id is None:
            return None
        formula = reference_formula(formula)
        comp = Composition(formula)
        diagram = self.phase_diagram(frozenset(str(e) for e in comp.elements))
        entry = next((e for e in diagram.all_entries if e.name == formula and e.attribute == reference_id), None)
        return None if entry is None else float(diagram.get_e_above_hull(entry) or 0.0)

    def reference_id(self, formula: str) -> str | None:
        """The Materials Project id of the known phase of ``formula`` (a reduced formula) whose
        energy the hull holds (in the ``potential`` frame the potential's lowest polymorph), or
        None (no known phase, or left out by ``exclude``)."""
        formula = reference_formula(formula)
        return None if formula in self.exclude else self._ids.get(formula)

    def phase_diagram(self, elements: frozenset[str]) -> PhaseDiagram:
        """The hull of the reference phases whose elements all lie in ``elements`` (eV/atom
        formation energies; every element at 0)."""
        if elements not in self._diagrams:
            entries = [PDEntry(Composition(el), 0.0, name=el, attribute=self._ids.get(el)) for el in sorted(elements)]
            for subsystem in chemical_subsystems(elements):
                for k in self._by_system.get(system_key(subsystem), ()):
                    formula, ef = str(self.references.formulas[k]), self._formation[k]
                    if math.isfinite(ef) and formula not in self.exclude:
                        comp = Composition(formula)
                        entries.append(PDEntry(comp, ef * comp.num_atoms, name=formula,
                                               attribute=str(self._entry_ids[k])))
            self._diagrams[elements] = PhaseDiagram(entries)
        return self._diagrams[elements]

    def assess(self, composition: Composition | str, energy_per_atom: float) -> Stability:
        """Place a structure of ``composition`` with the potential's energy ``energy_per_atom``
        (eV/atom) on the hull of its chemical system.

        Raises
        ------
        StabilityError
            When an element has no chemical potential in the references.
        """
        comp = Composition(composition)
        elements = frozenset(str(e) for e in comp.elements)
        missing = sorted(elements - set(self.mu))
        if missing:
            raise StabilityError(f"no reference energy for {', '.join(missing)} in the reference phases of "
                                 f"{self.references.potential}")
        # an element is measured from the potential's own energy of its elemental crystal (the fitted
        # μ is a compromise over compounds: Fe's lies 73 meV/atom below CHGNet's bcc Fe)
        mu = self.mu if len(elements) > 1 else self._element_mu
        ef = formation_energy(comp, energy_per_atom, mu)
        diagram = self.phase_diagram(elements)  # of the known phases only: the prediction is not on it
        e_hull = ef - diagram.get_hull_energy_per_atom(comp)
        # the diagram is built of PDEntry objects (phase_diagram), so its decomposition is too
        products = sorted(((phase_label(cast(PDEntry, e)), float(x))
                           for e, x in diagram.get_decomposition(comp).items()),
                          key=lambda p: -p[1])
        return Stability(ef, float(e_hull), tuple(products), label_for(float(e_hull), self.threshold),
                         self.frame_name, self.threshold, self.references.potential, error=self.error)


def place_polymorphs(judge: HullJudge, composition: Composition | str, energies: list[float],
                     known_ids: list[set[str]] | None = None, known_symbol: str | None = None) -> list[Stability]:
    """Stabilities of several structures of one composition from one run (``energies``:
    the potential's energies, eV/atom), each judged against the known phases *and* the
    run's other structures, which compete with it.

    1. **The known phase found again.** When structures are the reference phase of their own
       formula (its Materials Project id, :meth:`HullJudge.reference_id`, is in ``known_ids[i]``:
       the caller found them to be that phase, :func:`core.stability.identity.is_same_phase`),
       the lowest of them sits at that phase's own place on the hull of the references (0 for
       a phase on it), not at the frame's estimate, which is off by the frame's error (about
       20 meV/atom, docs/stability.md); the others keep their energy differences to it. A
       shift beyond :data:`MAX_ANCHOR_SHIFT_EV` is not made (it would mean a wrong match, not
       the frame's error) and the note says so. When the formula has a known phase that no
       structure is, the note names it (``known_symbol``: its space group) and says that the
       figures are the frame's estimate.
    2. **The run's own polymorphs.** When the lowest structure lies below the known hull,
       it becomes part of the hull: the others are measured from it (a polymorph 0.4
       eV/atom above the run's best is not ``stable`` because the known phases are far
       above both). The lowest keeps its (negative) distance to the known hull.

    Raises
    ------
    StabilityError
        When an element has no chemical potential in the references.
    """
    comp = Composition(composition)
    placed = [judge.assess(comp, e) for e in energies]
    if not placed:
        return placed
    formula = comp.reduced_formula
    reference_id = judge.reference_id(formula)
    if reference_id is None:  # a new compound, or one held out of the references
        placed = [replace(s, note=f"{formula_unit_text(comp)} is not among the reference phases (our Materials Project structures of "
                                  f"up to {MP20_MAX_ATOMS} atoms, about 4 % of formulas withheld for independent evaluation): a new "
                                  "compound for this hull, judged against its system's other known phases "
                                  "(docs/stability.md)") for s in placed]
    found = [i for i, ids in enumerate(known_ids or []) if reference_id and reference_id in ids]
    anchor = min(found, key=lambda i: energies[i]) if found else None
    named = f"{reference_id} ({known_symbol})" if known_symbol else str(reference_id)
    place = judge.known_place(formula)
    # measured in the mp frames; in the potential frame a figure from the known phase is the frame's
    polymorph_error = (ANCHORED_EHULL_ERROR_EV.get(judge.references.potential, judge.error)
                       if judge.frame.references == "mp" else judge.error)
    if anchor is not None:
        shift = place - placed[anchor].e_above_hull if place is not None else math.nan
        if abs(shift) <= MAX_ANCHOR_SHIFT_EV:
            placed = [replace(s, formation_energy_per_atom=s.formation_energy_per_atom + shift,
                              e_above_hull=s.e_above_hull + shift,
                              label=label_for(s.e_above_hull + shift, s.threshold),
                              error=0.0 if i == anchor else polymorph_error,
                              note=(f"the known phase {named}" if i == anchor else
                                    f"{1000 * (s.e_above_hull - placed[anchor].e_above_hull):+.0f} meV/atom from "
                                    f"the known phase {named}, which this run found as well"))
                      for i, s in enumerate(placed)]
        elif math.isfinite(shift):
            # "taken for": the identity test is bonds and coordination shells, looser than StructureMatcher
            off = (f"one of this run's structures was taken for the known phase {named} (same bonds and "
                   "coordination shells), but lies "
                   f"{1000 * abs(shift):.0f} meV/atom from its place on the hull, beyond the frame's error")
            placed = [replace(s, note=f"{off}: not used; the frame's estimate", warning=off) for s in placed]
    elif reference_id is not None:
        placed = _placed_from_stored_known(judge, comp, placed, named, place, polymorph_error)
    lowest = min(range(len(placed)), key=lambda i: placed[i].e_above_hull)
    floor = placed[lowest].e_above_hull
    if measured_from_run_lowest(floor):
        below = f"{-whole_mev(1000 * floor)} meV/atom below the known hull"
        # the decomposition-energy convention: the lowest reads its distance below the hull of the
        # others, the others their distance above the hull it joins; every figure is the potential's
        placed = [_noted(replace(s, error=judge.error), f"this run's lowest structure, {below} (its distance below "
                         "the known phases' hull; the run's other structures are measured from it)")
                  if i == lowest else
                  _noted(replace(s, e_above_hull=s.e_above_hull - floor,
                                 label=label_for(s.e_above_hull - floor, s.threshold), error=judge.error,
                                 decomposition=((f"{formula_unit_text(comp)} (this run's lowest)", 1.0),)),
                         f"measured from this run's lowest structure, {below}")
                  for i, s in enumerate(placed)]
        if -floor > far_below(judge.error):
            known = " + ".join(name for name, _ in placed[lowest].decomposition)
            doubt = (f"far below the known hull ({known}), beyond the frame's error: the references may lack "
                     "this system's phases near this composition; check against a complete phase diagram before "
                     "trusting the figure")
            placed[lowest] = doubted(replace(placed[lowest], label=UNCERTAIN), doubt)
    return placed


def _placed_from_stored_known(judge: HullJudge, comp: Composition, placed: list[Stability], named: str,
                              place: float | None, polymorph_error: float) -> list[Stability]:
    """A run of a known formula that did not find its known phase: in an ``mp`` frame, every structure
    is placed by its energy difference to the potential's stored energy of that phase (its Materials
    Project geometry) from that phase's own place on the hull, so that the same structure reads the
    same E_hull whether or not the run found the known phase (the frame's estimate is off by the
    known phase's own frame error, about 20 meV/atom). Where the file holds no such energy (the
    potential's lowest polymorph is another one), or in the ``potential`` frame (its hull already holds
    the potential's own energy of the known phase), the frame's estimate stays."""
    formula = comp.reduced_formula
    stored = judge.stored_energy(formula) if judge.frame.references == "mp" else None
    shift = (place - judge.assess(comp, stored).e_above_hull
             if stored is not None and place is not None else math.nan)
    if abs(shift) <= MAX_ANCHOR_SHIFT_EV:
        error = f"about ±{1000 * polymorph_error:.0f} meV/atom, " if math.isfinite(polymorph_error) else ""
        how = (f"no structure of this run was found to be the known phase {named}; placed by the "
               f"{judge.references.potential} energy difference to that phase at its Materials Project geometry "
               f"({error}docs/stability.md)")
        return [replace(s, formation_energy_per_atom=s.formation_energy_per_atom + shift,
                        e_above_hull=s.e_above_hull + shift, label=label_for(s.e_above_hull + shift, s.threshold),
                        error=polymorph_error, note=how) for s in placed]
    error = f"about ±{1000 * judge.error:.0f} meV/atom, " if math.isfinite(judge.error) else ""
    lowest_by = "Materials Project's" if judge.frame.references == "mp" else f"{judge.references.potential}'s"
    why = ("" if judge.frame.references != "mp" else
           f": the reference file holds {judge.references.potential}'s energy of another polymorph, not of this one"
           if stored is None else "")
    off = (f"{judge.references.potential}'s stored energy of the known phase {named} lies "
           f"{1000 * abs(shift):.0f} meV/atom from its place on the hull, beyond the frame's error: not used"
           if math.isfinite(shift) else "")
    placed = [replace(s, note=f"no structure of this run was found to be the known phase {named}, "
                              f"{lowest_by} lowest-energy {formula_unit_text(comp)}{why}; the frame's estimate ({error}"
                              "docs/stability.md)") for s in placed]
    return [doubted(s, off) for s in placed] if off else placed


def far_below(error: float) -> float:
    """eV/atom below the known hull beyond which a result says the references may be incomplete:
    :data:`MAX_ANCHOR_SHIFT_EV` (the default frame's 99.5th-percentile error), or 3 times the
    frame's mean error where that is larger (SevenNet-0 in ``mp-crystal``: 123 meV/atom)."""
    return max(MAX_ANCHOR_SHIFT_EV, 3 * error) if math.isfinite(error) else MAX_ANCHOR_SHIFT_EV


def doubted(stability: Stability, text: str) -> Stability:
    """``stability`` with ``text`` added to its note and its warning (a reason to doubt the figure)."""
    return replace(_noted(stability, text), warning=f"{stability.warning}; {text}" if stability.warning else text)


def _noted(stability: Stability, text: str) -> Stability:
    """``stability`` with ``text`` added to its note."""
    return replace(stability, note=f"{stability.note}; {text}" if stability.note else text)


def phase_label(entry: PDEntry) -> str:
    """``ZnO (mp-2133)``: a known phase's formula and its Materials Project entry."""
    return f"{entry.name} ({entry.attribute})" if entry.attribute else entry.name


def reference_formula(formula: str) -> str:
    """``formula`` as the references name it: an element by its symbol (pymatgen's reduced formula of
    nitrogen is ``N2``, of hydrogen ``H2``: their known phases were not found), a compound as given."""
    try:
        elements = Composition(formula).elements
    except (ValueError, KeyError):
        return formula
    return str(elements[0]) if len(elements) == 1 else formula


def system_key(elements: frozenset[str]) -> str:
    """A chemical system as one string (``Cl-Na``): the judge's index keys (a string, unlike a
    frozenset, is not tracked by the garbage collector)."""
    return "-".join(sorted(elements))


def chemical_subsystems(elements: frozenset[str]) -> list[frozenset[str]]:
    """Every subset of ``elements`` with at least two of them (the compounds' chemical systems)."""
    ordered = sorted(elements)
    return [frozenset(el for bit, el in enumerate(ordered) if mask >> bit & 1)
            for mask in range(1, 1 << len(ordered)) if bin(mask).count("1") >= 2]


@functools.lru_cache(maxsize=4)
def shipped_references(potential: str) -> ReferencePhases:
    """The shipped reference phases of ``potential`` (read once).

    Raises
    ------
    StabilityError
        When none are shipped for it.
    """
    path = reference_file(potential)
    if not path.is_file():
        shipped = sorted(p.name.removeprefix("reference_phases_").removesuffix(".npz")
                         for p in path.parent.glob("reference_phases_*.npz"))
        raise StabilityError(f"no E_hull with potential {potential!r}: every frame places its energies against the "
                             f"known phases computed with the same potential, and those ship for "
                             f"{', '.join(shipped) or 'none'} only; `alphacrystal build-references --data STRUCTURES.csv.gz "
                             f"--potential {potential}` makes them from Materials Project structures (11 minutes on 2 "
                             "cores for CHGNet, hours for the slower potentials; docs/stability.md)")
    return ReferencePhases.load(path)


@functools.lru_cache(maxsize=8)
def hull_judge(potential: str, frame: str = DEFAULT_FRAME,
               threshold: float = DEFAULT_EHULL_THRESHOLD_EV) -> HullJudge:
    """A :class:`HullJudge` of the shipped references of ``potential`` (built once per process)."""
    return HullJudge(shipped_references(potential), frame, threshold)
