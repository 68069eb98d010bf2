"""Ordering the relaxed pool: duplicates merged (the higher-symmetry twin represents them), the
learned ranker or the energy, the second potential's re-ranking, the hull, and each rank's reason.
The policies themselves are in :mod:`core.predict.ranking`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from types import MappingProxyType

from core.candidates.propose import spacegroup_prior
from core.crystal.composition import Formula
from core.crystal.matching import structure_matcher
from core.crystal.spacegroups import raises_symmetry
from core.errors import AlphaCrystalError
from core.io.read import MIN_ATOM_DISTANCE
from core.predict.ranking import (
    LinearRanker,
    merge_near_ties,
    ranker_features,
)
from core.predict.results import ENERGY_DECIMALS, RankedStructure
from core.predict.settings import LEARNED_TOP, PRIOR_FLOOR, SYMMETRY_PRIOR, PredictionSettings
from core.reconstruction.selection import same_reported_structure
from core.relax.potentials import POTENTIALS
from core.relax.relaxer import (
    RelaxResult,
    RelaxSettings,
    cached_relaxer,
    shortest_distance,
)
from core.stability.hull import (
    HullJudge,
    StabilityError,
    doubted,
    hull_judge,
    place_polymorphs,
)
from core.stability.identity import SAME_PHASE, UNDISTORTED_PARENT


def _rank(entries: dict[tuple[str, int], RankedStructure], relaxations: dict[tuple[str, int], RelaxResult],
          relaxed: bool, near_tie: float = 0.0, borrowed: frozenset = frozenset()
          ) -> tuple[list[RankedStructure], list[RankedStructure], list[dict]]:
    """Drop broken structures, order the rest, merge duplicates across both routes
    (keeping the better one) and, relaxed, near-ties onto the higher symmetry
    (``near_tie`` eV/atom, :func:`core.predict.ranking.merge_near_ties`). Returns (ranked, pool in
    order before merging, rejected); each ranked entry says why in ``rank_reason``.

    Order: by energy per atom; without relaxation the routes have no common
    scale, so their own orders (CMCrystal: fitness, then space-group probability;
    templates: substitution score) are interleaved, template first.

    ``borrowed``: items not relaxed themselves, given the relaxation of the structure they were
    before it (:func:`core.predict.ranking.duplicates_before_relaxation`): at equal energy the
    one relaxed represents them, so that its steps and time are reported with its own source."""
    sound, rejected = [], []
    for item, e in entries.items():
        relaxation = relaxations.get(item)
        if relaxed and relaxation is None:  # not relaxed (run cancelled)
            continue
        reason = None
        if relaxation is not None and not relaxation.ok:
            reason = f"relaxation failed: {relaxation.error}"
        elif shortest_distance(e.initial) < MIN_ATOM_DISTANCE:
            reason = f"atoms closer than {MIN_ATOM_DISTANCE} Å"
        if reason:
            r = e.reconstruction
            rejected.append({"candidate": item[0], "source": e.source,
                             "assignment": r.assignment.label if r is not None else
                             e.template.wyckoff if e.template is not None else "",
                             "fitness": None if r is None else round(r.fitness, 4), "reason": reason})
            continue
        e.relaxation = relaxation
        sound.append(e)
    sound = _ordered(sound, relaxed, {id(entries[item]) for item in borrowed if item in entries})
    matcher = structure_matcher()
    cells: dict[int, tuple] = {}
    kept: list[RankedStructure] = []
    for e in sound:
        twin = next((k for k in kept if same_reported_structure(matcher, e.structure, k.structure, cells)), None)
        if twin is not None and relaxed and _higher_symmetry_twin(e, twin, near_tie):
            _represent(e, twin, kept, sound)
        elif twin is not None:
            e.duplicate_of = twin
            twin.duplicates += 1
            if e.source not in twin.found_also_by and e.source != twin.source:
                twin.found_also_by.append(e.source)
        else:
            kept.append(e)
    if relaxed and near_tie > 0 and len(kept) > 1:
        kept = _merge_near_ties(kept, near_tie)
    for rank, e in enumerate(kept, 1):
        e.rank = rank
    _explain(kept, relaxed, near_tie)
    return kept, sound, rejected

def _higher_symmetry_twin(e: RankedStructure, twin: RankedStructure, window: float) -> bool:
    """Whether ``e``, the same structure as the lower-energy ``twin``, should represent it:
    its space group is a proper supergroup of the twin's and it is at most ``window`` eV/atom higher."""
    if window <= 0 or e.energy_per_atom - twin.energy_per_atom > window:
        return False
    mine, theirs = (x.crystallography()["relaxed_spacegroup"] for x in (e, twin))
    return raises_symmetry(theirs, mine)

def _represent(e: RankedStructure, twin: RankedStructure, kept: list[RankedStructure],
               sound: list[RankedStructure]) -> None:
    """``e`` takes the place of its lower-symmetry ``twin`` in ``kept``; the twin and the
    duplicates merged into it so far are merged into ``e``."""
    kept[kept.index(twin)] = e
    for other in sound:
        if other.duplicate_of is twin:
            other.duplicate_of = e
    e.duplicates, twin.duplicates = twin.duplicates + 1, 0
    e.found_also_by = [s for s in [*twin.found_also_by, twin.source] if s != e.source]
    twin.found_also_by = []
    twin.duplicate_of = e
    e.near_tie = (twin, e.energy_per_atom - twin.energy_per_atom)

def _learned_order(ranked: list[RankedStructure], settings: PredictionSettings) -> list[RankedStructure]:
    """The first :data:`LEARNED_TOP` of ``ranked`` re-ordered by the shipped learned ranker's
    score (highest first)."""
    rows = [{"energy_per_atom": e.energy_per_atom, "relaxed_spacegroup": e.crystallography()["relaxed_spacegroup"],
             "route": e.route, "template_score": e.template.score if e.template is not None else None,
             "sg_probability": e.candidate.probability if e.candidate is not None else None,
             "dice": e.reconstruction.dice if e.reconstruction is not None else None,
             "relaxed_dice": None if e.relaxed_score is None else e.relaxed_score[1],
             "volume_per_atom": e.structure.volume / len(e.structure),
             "initial_volume_per_atom": e.initial.volume / len(e.initial),
             "times_found": e.duplicates + 1,
             "converged": e.relaxation.converged if e.relaxation is not None else False} for e in ranked]
    scores = LinearRanker.load().score(ranker_features(rows))
    head = min(LEARNED_TOP, len(ranked))
    order = sorted(range(head), key=lambda k: -scores[k]) + list(range(head, len(ranked)))
    out = _renumbered([ranked[k] for k in order], settings.near_tie)
    for k, e in zip(order[:head], out):
        e.rank_reason += (f"; the first {head} ordered by the learned ranker's score, this one "
                          f"{scores[k]:.2f}")
    return out

def _rerank_first(ranked: list[RankedStructure], settings: PredictionSettings, device: str,
                    formula: Formula | None = None) -> tuple[list[RankedStructure], str | None]:
    """The ``second_top`` first of ``ranked`` re-ordered by the second potential's energy at the
    first one's relaxed geometry, weighted ``second_weight`` against the first's (each taken
    above its lowest among them), minus ``symmetry_prior`` × ln P(relaxed space group | ``formula``, Z)
    (:func:`_symmetry_penalties`); ranks and reasons renewed. Returns (ranked, the run's note, its parts
    joined by "; ": the second potential failed, so the first one's energies are used alone; the two
    potentials disagree on rank 1 beyond :data:`POTENTIALS_DISAGREE_EV`; the prior, not the energies,
    put rank 1 first (:func:`_first_by_the_prior`); None when there is nothing to say)."""
    potential = settings.reranking_potential
    if (potential is None and (formula is None or settings.symmetry_prior <= 0)) or len(ranked) < 2:
        return ranked, None
    head = ranked[:settings.second_top]
    first = POTENTIALS[settings.potential].label
    low1 = min(e.energy_per_atom for e in head)
    score = {id(e): e.energy_per_atom - low1 for e in head}
    second: dict[int, float] | str = {}
    above = {id(e): f"{first} {1000 * score[id(e)]:.1f}" for e in head}
    how, failure = f"{first}'s energy", None
    if potential is not None:
        second = _second_energies(head, potential, device)
        label = POTENTIALS[potential].label
        if isinstance(second, str):
            failure = f"re-ranking by {label} failed ({second}); the results are ranked by {first} alone"
            for f in head:
                f.second_energy = None
        else:
            w, low2 = settings.second_weight, min(second.values())
            score = {id(e): (1 - w) * score[id(e)] + w * (second[id(e)] - low2) for e in head}
            above = {id(e): f"{above[id(e)]}, {label} {1000 * (second[id(e)] - low2):.1f}" for e in head}
            how = (f"{label}'s energy at the {first} geometry" if w >= 1 else
                   f"{1 - w:g} × {first} + {w:g} × {label} energies")
    if settings.ranking == "learned":  # an ordering of its own: neither the second potential nor the prior
        for e in head:                  # overrides it (their energies are still shown, E 2nd)
            e.rank_reason += f"; {failure}" if failure else ""
        return ranked, failure
    penalties = _symmetry_penalties(head, formula, settings) if formula is not None else {}
    if not penalties and (failure or potential is None):  # nothing to re-order by: the first potential's order
        if failure:
            for e in head:  # the rows say it too (the window shows rows, not the run's notes)
                e.rank_reason += f"; {failure}"
        return ranked, failure
    energy_how = how
    if penalties:
        given = "composition, Z" if settings.z is not None else "composition, summed over Z"
        how += f" minus {1000 * settings.symmetry_prior:g} meV/atom × ln P(space group | {given})"
    total = {id(e): score[id(e)] + penalties.get(id(e), (0.0, 1.0))[0] for e in head}
    order = sorted(head, key=lambda e: total[id(e)])
    for e in head:
        e.rank_score = total[id(e)] - min(total.values())
    out = _renumbered(order + ranked[len(head):], settings.near_tie)
    for e in head:
        e.rank_reason += f"; the first {len(head)} ordered by {how}: {above[id(e)]} meV/atom above their lowest"
        if id(e) in penalties:
            penalty, probability = penalties[id(e)]
            given_z = "" if settings.z is None else f", Z = {settings.z}"
            e.rank_reason += (f"; P({e.crystallography()['relaxed_symbol']} | composition{given_z}) = "
                              f"{probability:.3g} (the relaxed group's; "
                              + ("summed over Z, " if settings.z is None else "")
                              + f"not the candidate's sg_probability), +{1000 * penalty:.1f} meV/atom")
        if failure:
            e.rank_reason += f"; {failure}"
    disagreement = None
    if potential is not None and not failure and isinstance(second, dict) and second:
        disagreement = _potentials_disagree(order[0], head, second, first, POTENTIALS[potential].label)
    if disagreement:
        order[0].rank_reason += f"; {disagreement}"
    # its record was measured at the default weight, with the second potential re-ranking
    measured = settings.symmetry_prior == SYMMETRY_PRIOR and potential is not None and not failure
    by_prior = _first_by_the_prior(order[0], head, score, energy_how, measured) if penalties else None
    if by_prior:
        order[0].rank_reason += f"; {by_prior}"
    notes = [note for note in (failure, disagreement, by_prior) if note]
    return out, "; ".join(notes) if notes else None


POTENTIALS_DISAGREE_EV = 0.1
"""eV/atom: where the re-ranking put first a structure the relaxing potential has this much above another
of the first few, the two potentials disagree beyond either's error on polymorph energies (E_hull MAE
20-27 meV/atom against Materials Project's, docs/stability.md), and the run says so. LaCrSe2O: SevenNet-0
put a Cmcm structure first that CHGNet has 162 meV/atom above a P2_1/m one (the known phase's type,
+7 meV/atom on the hull), which SevenNet-0 has 108 meV/atom above it."""


def _potentials_disagree(top: RankedStructure, head: list[RankedStructure], second: dict[int, float],
                         first: str, label: str) -> str | None:
    """Words for rank 1 when the relaxing potential has another of ``head`` more than
    :data:`POTENTIALS_DISAGREE_EV` below it, or None."""
    other = min(head, key=lambda e: e.energy_per_atom)
    gap = top.energy_per_atom - other.energy_per_atom
    preferred = second[id(other)] - second[id(top)]  # > 0: the second potential has #1 lower
    if other is top or gap <= POTENTIALS_DISAGREE_EV or preferred <= 0:
        return None  # agreement, or the symmetry prior's choice (its reach is the prior's, said in the reasons)
    symbol = (top.crystallography()["relaxed_symbol"], other.crystallography()["relaxed_symbol"])
    return (f"the potentials disagree on #1 ({symbol[0]}): {first} has #{other.rank} ({symbol[1]}) "
            f"{1000 * gap:.0f} meV/atom below it, {label} {1000 * preferred:.0f} meV/atom above it, beyond "
            f"either's error on polymorph energies: compare #1 and #{other.rank} in DFT "
            f"(--second-potential none orders them without {label})")

PRIOR_RECORD = ("gained the known structure for 11 test formulas and lost it for 5 (11 and 1 on the validation "
                "formulas its weight was chosen on)")
"""What changing rank 1 by the symmetry prior did on formulas the models never saw (docs/ranking.md,
"A symmetry prior": over both test samples, and on the validation pools that chose kT)."""


def _first_by_the_prior(top: RankedStructure, head: list[RankedStructure], energy_score: dict[int, float],
                        how: str, measured: bool = True) -> str | None:
    """Words for rank 1 when the symmetry prior, not the energies, put it first: by the energies alone
    (``energy_score``, eV/atom above their lowest, ordered by ``how``) another structure would be rank 1.
    CoAsS: a P2_13 structure 20 meV/atom above a Pmn2_1 one by CHGNet (and 1 above it by SevenNet-0) was
    rank 1 because the composition makes P2_13 likelier; the Pmn2_1 one was the known structure, and
    only a tooltip said why it stood third. ``measured``: the prior's held-out record applies (the
    default weight with a second potential); else the words say it was measured for those only."""
    lowest = min(head, key=lambda e: energy_score[id(e)])
    if lowest is top:
        return None
    gap = 1000 * (energy_score[id(top)] - energy_score[id(lowest)])
    symbols = (top.crystallography()["relaxed_symbol"], lowest.crystallography()["relaxed_symbol"])
    return (f"#1 ({symbols[0]}) is first by the symmetry prior, not by energy: by {how} #{lowest.rank} "
            f"({symbols[1]}) is {gap:.1f} meV/atom lower; the composition makes {symbols[0]} likelier. "
            + (f"Changing rank 1 this way {PRIOR_RECORD}" if measured else
               f"The prior's record was measured only at its default weight ({1000 * SYMMETRY_PRIOR:g} meV/atom) with "
               "a second potential re-ranking (docs/ranking.md)")
            + f": compare #1 and #{lowest.rank} in DFT "
            "(--symmetry-prior 0 orders by energy alone)")


def _second_energies(head: list[RankedStructure], potential: str, device: str) -> dict[int, float] | str:
    """The second potential's energy per atom (eV) of each of ``head`` at its relaxed geometry
    (also kept on the entry), or the failure's text."""
    relaxer = cached_relaxer(RelaxSettings(potential=potential, device=device))
    energies: dict[int, float] = {}
    for e in head:
        try:
            e.second_energy = energies[id(e)] = relaxer.energy_per_atom(e.structure)
        except Exception as exc:  # noqa: BLE001 - a failure of the second potential leaves the first one's order
            return f"{type(exc).__name__}: {exc}"
    return energies

def _symmetry_penalties(head: list[RankedStructure], formula: Formula, settings: PredictionSettings
                        ) -> dict[int, tuple[float, float]]:
    """-kT ln P (eV/atom) and P of each entry's relaxed space group under the candidate model
    (:func:`core.candidates.propose.spacegroup_prior`): P(group | composition, Z) with Z given,
    else the group's probability summed over Z (the relaxed cell's Z may differ from the start's,
    and validation measured the prior on the group alone); empty when the prior is off or the
    model cannot answer for the formula."""
    if settings.symmetry_prior <= 0:
        return {}
    try:
        prior = _group_prior(formula.text, settings.z)
    except AlphaCrystalError:
        return {}
    out = {}
    for e in head:
        probability = max(prior.get(e.crystallography()["relaxed_spacegroup"], 0.0), PRIOR_FLOOR)
        out[id(e)] = (-settings.symmetry_prior * math.log(probability), probability)
    return out

@lru_cache(maxsize=64)
def _group_prior(formula: str, z: int | None) -> MappingProxyType:
    """Space group -> probability (read-only: the cache shares it)."""
    groups: dict[int, float] = {}
    for (group, _), p in spacegroup_prior(formula, z).items():
        groups[group] = groups.get(group, 0.0) + p
    return MappingProxyType(groups)

def _place_on_hull(ranked: list[RankedStructure], settings: PredictionSettings,
                   caveat: str | None = None) -> str | None:
    """Give every relaxed entry its place on the hull of the known phases (:mod:`core.stability.hull`)
    in the frame of ``settings``, with ``caveat`` (:func:`core.predict.scope.hull_caveat`) as a
    warning on each; returns a note when it cannot be done (no reference phases for the
    potential, an element without a reference energy)."""
    try:
        judge = hull_judge(settings.potential, settings.stability_frame, settings.ehull_threshold)
        relaxed = [e for e in ranked if e.relaxation is not None and e.relaxation.ok]
        if relaxed:
            composition = relaxed[0].structure.composition
            relations, known_symbol = _known_phase_relations(relaxed, judge, composition.reduced_formula)
            known_ids = [{reference} if relation == SAME_PHASE else set() for reference, relation in relations]
            placed = place_polymorphs(judge, composition, [e.energy_per_atom for e in relaxed], known_ids,
                                      known_symbol)
            if not any(known_ids):  # a run that found only the parent of a distorted known phase says so
                placed = [_parent_said(e, stability, known_symbol) if relation == UNDISTORTED_PARENT else stability
                          for e, stability, (_, relation) in zip(relaxed, placed, relations)]
            placed = _with_known_polymorphs(relaxed, placed, settings, judge, composition.reduced_formula)
            for e, stability in zip(relaxed, placed):
                # only where it matters: a larger missing ground state would lower the hull, not raise it
                e.stability = doubted(stability, caveat) if caveat and stability.label != "unstable" else stability
    except StabilityError as exc:
        for e in ranked:
            e.stability = None
        return f"no energy above the hull: {exc}"
    return None

def _with_known_polymorphs(relaxed: list[RankedStructure], placed: list, settings: PredictionSettings,
                           judge: HullJudge, formula: str) -> list:
    """``placed`` with a note on each result that is a Materials Project polymorph of ``formula`` above
    MP's hull, giving MP's own figure (:func:`core.predict.known_polymorphs.known_polymorph_notes`)."""
    from dataclasses import replace as replaced

    from core.predict.known_polymorphs import known_polymorph_notes

    mp_judge = judge if judge.frame.references == "mp" else hull_judge(settings.potential, "mp-fitted")
    notes = known_polymorph_notes([e.structure for e in relaxed], formula, mp_judge)
    return [replaced(stability, note=f"{stability.note}; {note}" if stability.note else note) if note else stability
            for stability, note in zip(placed, notes)]


def _parent_said(entry: RankedStructure, stability, known_symbol: str | None):
    """``stability`` with a note that ``entry`` is the known phase's undistorted parent
    (:data:`core.stability.identity.UNDISTORTED_PARENT`): "not found" alone read as if the run had
    missed the phase's type altogether."""
    from dataclasses import replace as replaced

    own = entry.crystallography()["relaxed_symbol"]
    said = (f"this structure ({own}) is the known phase's undistorted parent: its bonds, without the "
            f"distortion of the known {known_symbol or 'phase'} (which the figure above is measured from)")
    return replaced(stability, note=f"{stability.note}; {said}" if stability.note else said)


def _known_phase_relations(relaxed: list[RankedStructure], judge: HullJudge,
                           formula: str) -> tuple[list[tuple[str, str | None]], str | None]:
    """For each relaxed entry, (the reference id of ``formula``'s known phase on ``judge``'s hull, what
    the entry is to it: :func:`core.stability.identity.phase_relation` with that Materials Project
    structure, the references' own for a validation or test formula, else the template library's):
    what the structure is decides, not which route found it. Also the known phase's space-group symbol.
    ("", None) entries and None when the formula has no known phase."""
    nothing: tuple[list[tuple[str, str | None]], str | None] = ([("", None) for _ in relaxed], None)
    reference_id = judge.reference_id(formula)
    if reference_id is None:
        return nothing
    from core.crystal.symmetry import space_group_or_p1
    from core.stability.identity import phase_relation
    from core.templates.library import load_library

    known = judge.references.known_structure(reference_id)
    if known is None:
        library = load_library()
        index = library.find(reference_id)
        if index is None:
            return nothing
        known = library.structure(index)
    return [(reference_id, phase_relation(e.structure, known)) for e in relaxed], space_group_or_p1(known)[1]


def _renumbered(ordered: list[RankedStructure], near_tie: float) -> list[RankedStructure]:
    """``ordered`` (relaxed, re-ordered) with ranks 1..n and their reasons written again."""
    for rank, e in enumerate(ordered, 1):
        e.rank = rank
    _explain(ordered, True, near_tie)
    return ordered

def _merge_near_ties(kept: list[RankedStructure], window: float) -> list[RankedStructure]:
    """``kept`` (distinct, by energy) with near-ties merged onto the higher symmetry."""
    order, ties = merge_near_ties([e.structure for e in kept], [e.energy_per_atom for e in kept],
                                  [e.crystallography()["relaxed_spacegroup"] for e in kept], window)
    for tie in ties:
        lower, higher = kept[tie.lower], kept[tie.higher]
        lower.duplicate_of = higher
        higher.near_tie = (lower, tie.gap)
    return [kept[i] for i in order]

def _explain(ranked: list[RankedStructure], relaxed: bool, near_tie: float) -> None:
    """Fill ``rank_reason`` of every ranked entry."""
    if not ranked:
        return
    if not relaxed:
        both = len({e.template is None for e in ranked}) == 2
        for e in ranked:
            if e.template is not None:
                how = f"template substitution score {e.template.score:.3f}"
            else:
                fitness, probability, _ = _ga_order(e)
                how = f"GA fitness {-fitness:.3f}, space-group probability {-probability:.3f}"
            e.rank_reason = (f"not relaxed: each route in its own order ({how}), the two routes interleaved, "
                             "template first" if both else f"not relaxed: in its route's order ({how})")
        return
    lowest = round(min(e.energy_per_atom for e in ranked), ENERGY_DECIMALS)
    for e in ranked:
        gap = 1000 * (round(e.energy_per_atom, ENERGY_DECIMALS) - lowest)  # as the tables compute it: 30.9, not 31.0
        if len(ranked) == 1:
            text = "the only distinct structure"
        elif e.rank == 1 and gap < 0.05:
            text = f"lowest energy of the {len(ranked)} distinct structures"
        else:
            text = f"{gap:.1f} meV/atom above the lowest"
        if e.near_tie is not None:
            lower, below = e.near_tie
            symbol = lower.crystallography()["relaxed_symbol"]
            own = e.crystallography()["relaxed_symbol"]
            text = (f"{own} in place of its {symbol} distortion ({lower.source}, {1000 * below:.1f} meV/atom "
                    f"lower): near-ties within {1000 * near_tie:.0f} meV/atom are merged onto the higher "
                    f"symmetry; " + text)
        if e.duplicates:
            text += (f"; found {e.duplicates + 1} times ({e.duplicates} duplicate{'s' if e.duplicates != 1 else ''} "
                     "merged into it: the duplicates column)")
        e.rank_reason = text

def _ordered(entries: list[RankedStructure], relaxed: bool, borrowed: set[int] | None = None) -> list[RankedStructure]:
    """Relaxed: by energy, then structures relaxed themselves before those given another's
    relaxation (``borrowed``: ids of entries), then by GA fitness."""
    if relaxed:
        def by_energy(e: RankedStructure):
            energy = e.energy_per_atom
            prior = -e.reconstruction.fitness if e.reconstruction is not None else -1.0
            return (0 if math.isfinite(energy) else 1, energy if math.isfinite(energy) else 0.0,
                    id(e) in (borrowed or ()), prior)
        return sorted(entries, key=by_energy)
    contact = sorted((e for e in entries if e.template is None), key=_ga_order)
    templates = sorted((e for e in entries if e.template is not None),
                       key=lambda e: -e.template.score if e.template is not None else 0.0)
    out = []
    for k in range(max(len(contact), len(templates))):
        out += [e[k] for e in (templates, contact) if k < len(e)]
    return out

def _ga_order(e: RankedStructure) -> tuple[float, float, float]:
    """Sort key of a CMCrystal result without relaxation: higher GA fitness (rounded, so that
    ties go on), then higher space-group probability, then bonds closer to r_i + r_j."""
    r, c = e.reconstruction, e.candidate
    if r is None or c is None:
        raise ValueError(f"{e.source}: a CMCrystal result without its candidate and GA run")
    return (-round(r.fitness, 9), -c.probability, r.bond_strain)
