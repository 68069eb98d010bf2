"""Wyckoff assignments of a composition in a space group, with their free parameters.

An assignment puts every species on one or more Wyckoff orbits of the
conventional cell (pyxtal's enumeration, :func:`core.wyckoff.wyckoff_assignments`).
Its degrees of freedom are the free coordinates of its orbits (x, y, z of a
general position; x of (x, 0, 0); x and z of (x, x, z)...). Assignments are
ranked by a prior: fewer free parameters first (the paper's observation that
ground states favour special positions, and a smaller search space), then more
orbits with site symmetry (fewer atoms on general positions), then pyxtal order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.wyckoff import DEFAULT_MAX_COMBINATIONS, wyckoff_assignments


@cache
def _group(number: int):
    from pyxtal.symmetry import Group

    return Group(int(number))


@cache
def orbit_dof(number: int, label: str) -> int:
    """Free coordinates of the Wyckoff orbit ``label`` (e.g. ``"4c"``) of a group."""
    return int(_group(number).get_wyckoff_position(label.lstrip("0123456789")).get_dof())


@dataclass(frozen=True)
class Assignment:
    """Species on Wyckoff orbits of a space group.

    Attributes
    ----------
    spacegroup : int
    species : tuple of str
        Element of each entry of ``orbits``.
    orbits : tuple of tuple of str
        Orbit labels (multiplicity + letter, conventional cell) per species.
    dof : int
        Total free coordinates.
    """

    spacegroup: int
    species: tuple[str, ...]
    orbits: tuple[tuple[str, ...], ...]
    dof: int

    @property
    def label(self) -> str:
        """E.g. ``Ti 2a, O 4f``."""
        return ", ".join(f"{el} {' '.join(orb)}" for el, orb in zip(self.species, self.orbits))

    def to_dict(self) -> dict:
        return {"spacegroup": self.spacegroup, "species": list(self.species),
                "orbits": [list(o) for o in self.orbits], "dof": self.dof, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict) -> Assignment:
        return cls(int(data["spacegroup"]), tuple(data["species"]), tuple(tuple(o) for o in data["orbits"]),
                   int(data["dof"]))


def enumerate_assignments(spacegroup: int, species_counts: dict[str, int], limit: int | None = None,
                          max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> list[Assignment]:
    """Every assignment of a primitive cell's species counts, best prior first.

    Parameters
    ----------
    spacegroup : int
    species_counts : dict
        Atoms of each element in the **primitive** cell, e.g. ``{"Ti": 2, "O": 4}``.
    limit : int, optional
        Return only the first ``limit`` assignments of the ranking.
    """
    elements = tuple(species_counts)
    combos = wyckoff_assignments(spacegroup, tuple(species_counts[e] for e in elements), max_combinations)
    out = []
    for combo in combos:
        dof = sum(orbit_dof(spacegroup, label) for orbits in combo.orbits for label in orbits)
        out.append(Assignment(spacegroup, elements, combo.orbits, dof))
    general = {lab for lab in (_general_label(spacegroup),)}
    out.sort(key=lambda a: (a.dof, sum(lab in general for o in a.orbits for lab in o), len(_flat(a))))
    return out[:limit] if limit else out


def _general_label(number: int) -> str:
    wp = _group(number).Wyckoff_positions[0]
    return f"{wp.multiplicity}{wp.letter}"


def _flat(a: Assignment) -> list[str]:
    return [lab for o in a.orbits for lab in o]
