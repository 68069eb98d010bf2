"""The picture of a convex hull for the window's hull plot: the known phases of a formula's
chemical system (stable ones joined by the hull's tie lines) and where each result lies
(:class:`HullPicture`, made by :func:`hull_picture` from summary rows; drawn by
``alphacrystal_gui/widgets/hull_plot.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.core import Composition

from core.relax.potentials import DEFAULT_POTENTIAL
from core.stability.hull import (
    DEFAULT_FRAME,
    ON_HULL_EV,
    HullJudge,
    e_hull_words,
    hull_judge,
    phase_label,
)


@dataclass
class HullPicture:
    """What a hull plot of one chemical system draws (plain data for a view; energies eV/atom).

    Attributes
    ----------
    elements : tuple of str
        The system's elements; the plot can be drawn for two or three of them (:attr:`drawable`).
    phases : list of dict
        Every known phase of the system: ``name`` (formula), ``label`` (with its Materials Project
        entry), ``fractions`` (atom fractions in the order of
        ``elements``), ``formation_energy``, ``e_above_hull`` and ``stable``.
    edges : list of (str, str)
        Tie lines of the hull between stable phases (names).
    predictions : list of dict
        The results placed on the hull: ``index`` (into the rows given), ``name``, ``fractions``,
        ``formation_energy``, ``e_above_hull``, ``hull_text`` (E_hull in words: from this run's
        lowest structure where that lies below the known hull, :func:`core.stability.hull.e_hull_words`).
    """

    elements: tuple[str, ...]
    phases: list[dict]
    edges: list[tuple[str, str]]
    predictions: list[dict]

    @property
    def drawable(self) -> bool:
        """A binary (energy against composition) or a ternary (Gibbs triangle)."""
        return len(self.elements) in (2, 3)


def hull_picture(rows: list[dict], judge: HullJudge | None = None) -> HullPicture | None:
    """The hull of the chemical system of ``rows`` (summary rows of one formula with the
    :data:`STABILITY_COLUMNS`) and where each of them lies, against ``judge`` (default: the
    shipped references of the rows' ``hull_frame``); None when no row has a place on the hull.

    Raises
    ------
    StabilityError
        When the rows' references are not shipped.
    """
    placed = [(k, r) for k, r in enumerate(rows) if r.get("formation_energy_per_atom") is not None]
    if not placed:
        return None
    if judge is None:
        potential, _, frame = str(placed[0][1].get("hull_frame") or "").partition(":")
        judge = hull_judge(potential or DEFAULT_POTENTIAL, frame or DEFAULT_FRAME)
    comp = Composition(placed[0][1]["formula"])
    elements = tuple(sorted((str(e) for e in comp.elements), key=lambda el: Composition(el).average_electroneg))
    diagram = judge.phase_diagram(frozenset(elements))

    def fractions(c: Composition) -> tuple[float, ...]:
        return tuple(float(c.get_atomic_fraction(el)) for el in elements)

    phases = []
    for entry in diagram.all_entries:
        above = diagram.get_e_above_hull(entry)
        if above is None:  # an entry of the diagram always has one; pymatgen's type allows None
            continue
        e_hull = float(above)
        phases.append({"name": entry.name, "label": phase_label(entry), "fractions": fractions(entry.composition),
                       "formation_energy": float(diagram.get_form_energy_per_atom(entry)),
                       "e_above_hull": e_hull, "stable": e_hull <= ON_HULL_EV})  # as a result is labelled
    edges = set()
    for facet in diagram.facets:
        names = sorted(diagram.qhull_entries[k].name for k in facet)
        edges |= {(a, b) for i, a in enumerate(names) for b in names[i + 1:]}
    floor = min(float(r["e_above_hull_meV"]) / 1000 for _, r in placed)
    predictions = [{"index": k, "name": f"#{r.get('rank', k + 1)} {r['formula']}", "fractions": fractions(comp),
                    "formation_energy": float(r["formation_energy_per_atom"]),
                    "e_above_hull": float(r["e_above_hull_meV"]) / 1000,
                    "hull_text": e_hull_words(float(r["e_above_hull_meV"]) / 1000, floor)} for k, r in placed]
    return HullPicture(elements, phases, sorted(edges), predictions)
