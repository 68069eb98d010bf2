"""Which route can take a composition: the cell-size limits of the shipped models, Z as typed,
the all-metal rule, and the notes that tell the user why a route did not run.
"""

from __future__ import annotations

import functools

from core.crystal.composition import MP20_MAX_ATOMS, PAPER_MAX_ATOMS, Formula
from core.crystal.elements import TRAINING_DATA_ELEMENTS, all_metal, unseen_elements
from core.errors import FormulaError
from core.predict.settings import PredictionSettings
from core.templates.retrieval import TemplateCandidate
from resources import RESOURCE_DIR

# The model modules (core.candidates.propose, core.contact_model.inference: torch) and the template
# library are imported inside the functions that need them, so that importing this module (the
# CLI's checks of a formula and Z before any work) does not import torch (about 2 s).


# ---------------------------------------------------------------- scope
def check_scope(parsed: Formula, z: int | None) -> None:
    """Raise :class:`FormulaError` when no cell of ``parsed`` (with ``z``) fits :data:`core.crystal.composition.MP20_MAX_ATOMS` atoms."""
    per_unit = parsed.atoms_per_formula_unit
    if per_unit > MP20_MAX_ATOMS:
        raise FormulaError(f"'{parsed.text}' has {per_unit} atoms per formula unit; predictions cover cells of "
                           f"up to {MP20_MAX_ATOMS} atoms (MP-20's range)")
    if z is not None and (z < 1 or z * per_unit > MP20_MAX_ATOMS):
        raise FormulaError(f"'{parsed.text}' with Z={z} has {z * per_unit} atoms; predictions cover cells of "
                           f"up to {MP20_MAX_ATOMS} atoms (MP-20's range)")

def z_from_formula(parsed: Formula, z: int | None, contact_limit: int | None = None) -> tuple[int | None, str | None]:
    """The Z to run and, when the typed formula says more than its reduced form, the one
    line that tells the user how it was read (never a silent reinterpretation).

    ``Ag2F4`` means Z = 2 (as the contact-map command reads it) unless ``z`` is given;
    a typed multiple whose cell the contact route cannot take (``Na8Cl8``: 16 atoms;
    ``C60H120``: 180) is reduced, and Z is chosen automatically. ``contact_limit``: the contact
    route's largest cell (atoms), when known without loading the models (the window's formula box,
    :func:`shipped_contact_route_atoms`); by default :func:`contact_model_max_atoms`.
    """
    typed = parsed.typed_z
    if typed <= 1:
        return z, None
    unit = parsed.unit_formula
    if z is not None:
        return z, f"{parsed.text} is {typed} × {unit}; running Z = {z} as given by --z"
    atoms = typed * parsed.atoms_per_formula_unit
    contact = contact_limit if contact_limit is not None else contact_model_max_atoms()
    if atoms <= contact:
        return typed, f"{parsed.text} read as {unit} with Z = {typed} ({atoms} atoms per cell), as typed"
    limit = MP20_MAX_ATOMS if atoms > MP20_MAX_ATOMS else contact
    why = (f"beyond the {MP20_MAX_ATOMS}-atom limit" if atoms > MP20_MAX_ATOMS else
           f"beyond the contact route's {limit} atoms (Z = {typed}, given, runs that cell on templates)")
    return None, f"{parsed.text} is {typed} × {unit} ({atoms} atoms), {why}: predicting {unit} with Z chosen " \
                 "automatically"

def contact_model_max_atoms() -> int:
    """Largest cell (atoms) the shipped candidate and contact-map models handle (20 with the
    20-atom models shipped; 12 without)."""
    from core.candidates.propose import (
        load_default_candidate_model,
        load_large_cell_candidate_model,
    )
    from core.contact_model.inference import shipped_max_atoms

    large = load_large_cell_candidate_model()
    candidates = max(load_default_candidate_model().max_atoms, large.max_atoms if large else 0)
    return min(candidates, shipped_max_atoms())

def shipped_contact_route_atoms() -> int:
    """:func:`contact_model_max_atoms` without loading a model (file checks only: for the
    GUI thread): 20 when the 20-atom models are shipped, else the default 12."""
    from core.candidates.propose import LARGE_CELL_MODEL_NAME
    from core.contact_model.inference import LARGE_CELL_MODEL_PATH

    shipped = LARGE_CELL_MODEL_PATH.is_file() and (RESOURCE_DIR / LARGE_CELL_MODEL_NAME).is_file()
    return MP20_MAX_ATOMS if shipped else PAPER_MAX_ATOMS

def automatic_z_max_atoms() -> int:
    """Largest cell the contact route proposes when Z is automatic: 20 atoms with the
    20-atom models shipped (both candidate models pooled,
    :func:`core.candidates.propose.automatic_z_models`), else the default models' 12."""
    return contact_model_max_atoms()

def contact_route_fits(parsed: Formula, z: int | None) -> bool:
    """Whether some cell of ``parsed`` (with ``z`` when given) fits the contact route's models."""
    limit = contact_model_max_atoms()
    return (z or 1) * parsed.atoms_per_formula_unit <= limit

def is_all_metal(parsed: Formula) -> bool:
    """Whether every element of the formula is a metal (the element table the contact rule uses)."""
    return all_metal(list(parsed.counts))

ALL_METAL_NOTE = ("{formula} is all-metal and {n} known structures of its stoichiometry serve as templates: "
                  "CMCrystal is skipped (an all-metal contact map is empty by definition; on held-out "
                  "intermetallics the templates alone ranked better than pooled with it, docs/prediction.md); "
                  "--sources contact runs it")

def runs_cmcrystal_by_default(parsed: Formula, templates: list[TemplateCandidate]) -> bool:
    """Whether CMCrystal runs by default beside these templates: always, except for an
    all-metal composition that has templates.

    Measured on 20 held-out all-metal formulas of the validation split (at most 12
    atoms, true Z; ``benchmarks/intermetallic_routes.py``): templates alone top-1
    0.85 / top-5 1.00, pooled with CMCrystal 0.75 / 1.00 (its empty-map structures
    were lower in CHGNet energy and pushed correct templates down), CMCrystal alone
    0.55 / 0.55. Without a template CMCrystal is the only route and runs.
    """
    return not (templates and is_all_metal(parsed))

def cell_size_note(parsed: Formula, settings: PredictionSettings) -> str | None:
    """One line when the training data's common Z for ``parsed``'s stoichiometry is out of
    reach (``LiFePO4``: 80 % of the known ABCD4 cells have Z = 2, 14 atoms, and Z = 2 is
    the largest cell MP-20 holds, so some ABCD4 compounds have larger cells than it shows,
    beyond this program's limit; without the 20-atom models, Z = 2 is also beyond automatic
    Z's 12 atoms). None when nothing needs saying or the user chose Z (``settings.z``)."""
    from core.templates.library import load_library
    from core.templates.z_census import z_census

    if settings.z is not None:
        return None
    census = z_census(parsed, load_library(), MP20_MAX_ATOMS)
    common = census.common
    if not common:
        return None
    apfu = census.atoms_per_formula_unit
    contact_limit, cap = automatic_z_max_atoms(), census.largest_z_in_data
    beyond = [z for z in common if z * apfu > contact_limit]
    contact_part = ("contact" in settings.sources and beyond and contact_route_fits(parsed, None)
                    and contact_limit // apfu >= 1)  # a 13-20-atom unit runs on the 20-atom models already
    shown = beyond if contact_part else [cap] if census.crowds_the_cap else []
    if not shown:
        return None
    share = ", ".join(f"{census.share(z):.0%} have Z = {z} ({z * apfu} atoms)" for z in shown)
    parts = []
    if contact_part:
        templates = "; templates cover larger cells" if "templates" in settings.sources else ""
        larger = contact_model_max_atoms()
        given = (f"; --z {beyond[0]} runs it with the {larger}-atom models" if beyond[0] * apfu <= larger else "")
        parts.append(f"beyond the {contact_limit}-atom limit of automatic Z "
                     f"(CMCrystal runs Z \u2264 {contact_limit // apfu}{given}{templates})")
    if census.crowds_the_cap:
        parts.append(f"Z = {cap} is the largest cell MP-20 holds (\u2264 {MP20_MAX_ATOMS} atoms), so some "
                     f"{census.anonymous_formula} compounds have larger cells than it shows, beyond this program's "
                     f"{MP20_MAX_ATOMS}-atom limit; check this one's known cells")
    return (f"{parsed.unit_formula}: of the {census.total} {census.anonymous_formula} structures in the "
            f"training data, {share}: " + "; ".join(parts))

def held_out_note(parsed: Formula) -> str | None:
    """A note when ``parsed`` is one of the formulas withheld from the template library and the models'
    training to measure them honestly (the validation and test formulas of the split, about a fifth):
    ``templates TiO2`` listed baddeleyite-type HfO2 first without saying that rutile and anatase were
    left out. None for a training formula or one the data does not hold."""
    formula = parsed.reduced_formula
    partition = _reference_partitions().get(formula)
    if partition == "element":  # the references file elements apart; the library holds the training ones
        from core.templates.library import load_library

        partition = None if formula in load_library().formula_set else "held-out"
    if partition not in ("validation", "test", "held-out"):
        return None
    other = {"validation": "test", "test": "validation"}.get(partition)
    share = ("about a fifth of our formulas" if other is None else
             f"the {partition} split, about a tenth of our formulas, a fifth with the {other} split")
    return (f"{formula} is one of the formulas withheld from the template library and the models' "
            f"training ({share}, kept to measure the program on "
            "compounds it has not seen): its own known structures are not among the templates; its lowest-energy "
            "known structure (Materials Project's) is among the reference phases of the hull, so a relaxed result "
            "that is that structure is named as the known phase (other polymorphs are not named)")


@functools.lru_cache(maxsize=1)
def _reference_partitions() -> dict[str, str]:
    """Reduced formula -> partition of the shipped reference phases ({} without them): read from the
    file's two arrays only, not the whole resource."""
    import numpy as np

    from core.relax.potentials import DEFAULT_POTENTIAL
    from core.stability.references import reference_file

    path = reference_file(DEFAULT_POTENTIAL)
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as data:
        if "partitions" not in data:
            return {}
        return dict(zip(data["formulas"].astype(str).tolist(), data["partitions"].astype(str).tolist()))


def composition_notes(parsed: Formula, z: int | None, sources: tuple[str, ...] = ("contact", "templates")) -> list[str]:
    """What every command that proposes structures for ``parsed`` says first (``predict``,
    ``contact-map``, ``candidates``, ``templates``): larger known cells beyond the program's limit
    (:func:`cell_size_note`, only with automatic Z), elements the models never saw, and a formula
    withheld from the templates."""
    notes = [cell_size_note(parsed, PredictionSettings(z=z, sources=sources))]
    notes += [unseen_elements_note(parsed), held_out_note(parsed)]
    return [note for note in notes if note]


HULL_CAVEAT_SHARE = 0.5
"""A hull caveat needs at least this share of the stoichiometry's known cells at the largest Z the
data holds: ABC3 perovskites (39 % at Z = 4) would flag nearly every screen of them, AB2C4 (68 %)
and ABCD4 (80 %) are the cases where the ground state is often a larger cell."""


def large_cell_note(parsed: Formula, zs: list[int]) -> str | None:
    """Which contact model the cells of ``zs`` of more atoms than the default model takes run on,
    and how well it did on validation cells of that size (its own card's figure, from its metadata),
    or None: a user of a 14-atom MgAl2O4 could not tell from the output which models answered, nor
    that they are less reliable there."""
    from core.contact_model.inference import LARGE_CELL_MODEL_PATH, load_model

    small = load_model(None, "cpu")
    apfu = parsed.atoms_per_formula_unit
    large = sorted(z for z in zs if z * apfu > small.max_atoms)
    if not large or not LARGE_CELL_MODEL_PATH.is_file():
        return None
    model = load_model(str(LARGE_CELL_MODEL_PATH), "cpu")
    cells = ", ".join(f"Z = {z} ({z * apfu} atoms)" for z in large)
    dice_large, dice_small = model.metadata.get("val_dice_13_20"), small.metadata.get("val_dice_final")
    quality = (f": its maps' Dice on validation cells of {small.max_atoms + 1}-{model.max_atoms} atoms is "
               f"{dice_large:.2f}, against {dice_small:.2f} for the {small.max_atoms}-atom model on its cells, so "
               "CMCrystal's structures there miss more often and the templates carry more of the ranking"
               if isinstance(dice_large, float) and isinstance(dice_small, float) else "")
    return (f"{cells}: the contact map comes from the {model.max_atoms}-atom model "
            f"({LARGE_CELL_MODEL_PATH.name}){quality} (docs/contact-model.md)")


def hull_caveat(parsed: Formula) -> str | None:
    """Why E_hull may be too low for ``parsed``, or None: the known phases of the hull are cells of
    at most 20 atoms (MP-20), and when this stoichiometry's common cells reach that limit its real
    ground state may be a larger cell missing from the references (Mg2SiO4: forsterite, 28 atoms, is
    not there, and a 14-atom result read "stable" against a 14-atom known phase)."""
    from core.templates.library import load_library
    from core.templates.z_census import z_census

    census = z_census(parsed, load_library(), MP20_MAX_ATOMS)
    cap = census.largest_z_in_data
    if not census.crowds_the_cap or census.share(cap) < HULL_CAVEAT_SHARE:
        return None
    return (f"the hull's known phases are cells of at most {MP20_MAX_ATOMS} atoms, and {census.share(cap):.0%} of the "
            f"known {census.anonymous_formula}-type compounds take the largest cell of that size (Z = {cap}, "
            f"{cap * census.atoms_per_formula_unit} atoms): a ground state of {parsed.unit_formula} in a larger "
            "cell would be missing from the hull, so 'stable' may be too kind")


def unseen_elements_note(parsed: Formula) -> str | None:
    """A note when an element of ``parsed`` never occurs in the models' training data
    (:data:`core.crystal.elements.TRAINING_DATA_Z`): FmCl3's space groups were printed with
    confident probabilities."""
    unseen = unseen_elements(parsed.counts)
    if not unseen:
        return None
    from pymatgen.core import Element

    named = ", ".join(f"{s} (Z = {Element(s).Z})" for s in unseen)
    return (f"element{'s' if len(unseen) > 1 else ''} {named} never occur{'s' if len(unseen) == 1 else ''} in the "
            f"structures the models and templates were trained on (Materials Project, {TRAINING_DATA_ELEMENTS}): "
            "space groups, lattices and contact maps for it are extrapolations from element features alone")


def scope_notes(parsed: Formula, settings: PredictionSettings, templates: list[TemplateCandidate] | None = None,
                candidates_given: bool = False) -> list[str]:
    """What the user should know about the routes for this composition, in words
    (``templates``: those retrieved; ``candidates_given``: CMCrystal candidates chosen by the caller)."""
    notes = [note for note in (cell_size_note(parsed, settings), unseen_elements_note(parsed), held_out_note(parsed))
             if note]
    if "contact" not in settings.sources:
        return notes
    if not contact_route_fits(parsed, settings.z):
        limit = contact_model_max_atoms()
        atoms = (settings.z or 1) * parsed.atoms_per_formula_unit
        notes.append(f"contact route skipped: its models cover cells of up to {limit} atoms and "
                     f"{parsed.unit_formula}" + (f" with Z={settings.z}" if settings.z else "")
                     + f" has {atoms}; the structures come from templates")
    elif is_all_metal(parsed) and not candidates_given and not runs_cmcrystal_by_default(parsed, templates or []):
        notes.append(ALL_METAL_NOTE.format(formula=parsed.unit_formula, n=len(templates or [])))
    elif is_all_metal(parsed):
        notes.append(f"{parsed.unit_formula} is all-metal: its contact map is empty by definition (metal pairs "
                     "are never in contact), so CMCrystal places its atoms by the space-group and Wyckoff "
                     "priors alone")
    return notes
