"""Oracle-mode evaluation: reconstruct known structures from their true map, space group
and lattice, and compare with the truth.

Per structure the one reconstruction loop runs (:func:`core.reconstruction.loop.reconstruct`,
as in ``predict``: top N Wyckoff assignments × restarts) and the result with the highest fitness is
kept (ties: the assignment ranked higher by the Wyckoff prior, then bond lengths
closest to r_i + r_j; ``ReconstructionResult.rank_key``). With ``escalate_to``,
structures whose runs all end below fitness 1 try further assignments. Reported: StructureMatcher match rate (CSP tolerances stol 0.5,
angle_tol 10, ltol 0.3), matched Dice of the reconstructed map against the
true one, the paper's RMSD and MAE of fractional coordinates, GA throughput.

With ``relax`` settings, the method's last step is evaluated too (energy
ranking): the best ``relax_top`` distinct sound results of each structure are
relaxed as ``predict`` relaxes (:func:`core.relax.rounds.relax_in_rounds`: all for
60 steps, the 3 lowest to the end) and the lowest in energy is compared with the truth
(``match_rate_energy``). The true structure is relaxed as well, so each miss can
be told apart: the true structure is lower in energy than the one chosen (the
search never found it) or higher (the potential ranks it wrongly).
"""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
from pymatgen.core import Structure

from core.crystal.matching import CSP_TOLERANCES, fractional_rmsd_mae, structure_match
from core.reconstruction.ga import GASettings
from core.reconstruction.job import ReconstructionResult, oracle_target
from core.reconstruction.loop import LoopSettings, reconstruct
from core.reconstruction.selection import distinct_results
from core.relax.relaxer import RelaxSettings
from core.relax.rounds import PRERELAX_STEPS, REFINE_TOP, REFINE_WINDOW, relax_in_rounds


def evaluate_reconstruction(structures: list[tuple[str, Structure]], n_assignments: int = 5, restarts: int = 1,
                            settings: GASettings | None = None, workers: int | None = None, seed: int = 0,
                            progress=None, relax: RelaxSettings | None = None, relax_top: int = 3,
                            escalate_to: int = 0, rule: str = "paper") -> dict:
    """Reconstruct every structure in oracle mode; returns the summary and per-structure rows.

    ``rule``: the contact rule of the true maps and the GA (:mod:`core.contact.contact_rule`).

    ``relax``: also relax the best ``relax_top`` distinct results and the true
    structure with CHGNet and rank by energy (see the module docstring).
    ``escalate_to``: structures whose ``n_assignments`` runs all end below
    fitness 1 go on with the assignments ranked up to ``escalate_to``
    (:func:`core.reconstruction.job.escalate`).
    """
    targets = {name: oracle_target(structure, name=name, rule=rule) for name, structure in structures}
    done = [0, 0]

    def planned(total: int) -> None:
        done[1] = total

    def collect(name: str, result: ReconstructionResult) -> None:
        done[0] += 1
        if progress:
            progress(done[0], done[1])  # escalation adds jobs

    start = time.perf_counter()
    loop = LoopSettings(n_assignments, restarts, settings or GASettings(), seed, 0.0, escalate_to, workers)
    outcome = reconstruct(targets, loop, on_planned=planned, on_result=collect)
    by_structure = outcome.results
    escalated = outcome.escalated
    skipped = [{"id": name, "reason": reason} for name, reason in outcome.skipped.items()]
    rows = {name: {"id": name, "formula": structure.composition.reduced_formula,
                   "n_atoms": len(targets[name].species), "spacegroup": targets[name].spacegroup,
                   "n_jobs": len(by_structure[name])}
            for name, structure in structures if name in by_structure}
    wall = time.perf_counter() - start
    reference = dict(structures)
    energy_rows = _energy_ranking(by_structure, reference, relax, relax_top, workers) if relax else {}
    out_rows = []
    for name, row in rows.items():
        best = by_structure[name][0]  # best first (the loop's order)
        match = structure_match(best.structure, reference[name], CSP_TOLERANCES)
        try:
            rmsd, mae = fractional_rmsd_mae(best.structure, reference[name])
        except Exception:  # noqa: BLE001 - the paper's metric is undefined for some pairs
            rmsd, mae = float("nan"), float("nan")
        out_rows.append({**row, "fitness": best.fitness, "dice": best.dice, "valid_fraction": best.valid_fraction,
                         "matched": match.matched, "rms": match.rms, "rmsd": rmsd, "mae": mae,
                         "assignment": best.assignment.label, "seconds": sum(r.seconds for r in by_structure[name]),
                         "evaluations": sum(r.evaluations for r in by_structure[name]),
                         "escalated": name in escalated,
                         **energy_rows.get(name, {})})
    settings_dict = (settings or GASettings()).to_dict() | {"n_assignments": n_assignments, "restarts": restarts,
                                                            "escalate_to": escalate_to, "rule": rule, "seed": seed}
    if relax:
        settings_dict["relax"] = relax.to_dict() | {"relax_top": relax_top}
    return summarise(out_rows, wall, settings_dict, skipped)


def summarise(rows: list[dict], wall_seconds: float, settings: dict, skipped: list[dict]) -> dict:
    """The evaluation's figures from its per-structure rows: match rate, mean Dice,
    fraction at fitness 1, RMSD/MAE (fractional, the paper's metric), speed
    (evaluations per CPU second; seconds per structure of ``wall_seconds`` and of
    CPU) and, when the rows carry them, the energy-ranked figures."""
    n = len(rows)
    evals = sum(r["evaluations"] for r in rows)
    cpu_seconds = sum(r["seconds"] for r in rows)
    finite = [r for r in rows if np.isfinite(r["rmsd"])]
    relax = settings.get("relax")
    return {
        "n": n,
        "match_rate": float(np.mean([r["matched"] for r in rows])) if n else float("nan"),
        "dice_mean": float(np.mean([r["dice"] for r in rows])) if n else float("nan"),
        "fitness_1_fraction": float(np.mean([r["fitness"] >= 1 - 1e-9 for r in rows])) if n else float("nan"),
        "rmsd_mean": float(np.mean([r["rmsd"] for r in finite])) if finite else float("nan"),
        "mae_mean": float(np.mean([r["mae"] for r in finite])) if finite else float("nan"),
        "rms_mean_matched": float(np.mean([r["rms"] for r in rows if r["matched"]]))
        if any(r["matched"] for r in rows) else float("nan"),
        "evals_per_s_per_core": evals / cpu_seconds if cpu_seconds else float("nan"),
        "seconds_per_structure": wall_seconds / n if n else float("nan"),
        "cpu_seconds_per_structure": cpu_seconds / n if n else float("nan"),
        **(_energy_summary(rows, relax) if relax else {}),
        "escalated": sum(bool(r.get("escalated")) for r in rows),
        "settings": settings,
        "skipped": skipped,
        "structures": rows,
    }


def merge(evaluations: list[dict]) -> dict:
    """One evaluation from several of disjoint samples run with the same settings
    (e.g. a second seeded sample drawn with ``--exclude-from`` the first): rows
    pooled, figures recomputed by :func:`summarise`, wall time added.

    Raises ``ValueError`` when the settings differ or a structure is in two of them."""
    if not evaluations:
        raise ValueError("nothing to merge")
    settings = [_full_settings(e) for e in evaluations]
    if any(s != settings[0] for s in settings[1:]):
        raise ValueError("the evaluations were run with different settings: "
                         + "; ".join(json.dumps(s, sort_keys=True) for s in settings))
    samples = [e.get("sample") for e in evaluations]
    pool = [{k: v for k, v in sample.items() if k not in ("n", "exclude_from")} for sample in samples if sample]
    if any(p != pool[0] for p in pool[1:]):
        raise ValueError("the evaluations drew from different pools: "
                         + "; ".join(json.dumps(p, sort_keys=True) for p in pool))
    rows = [row for e in evaluations for row in e["structures"]]
    skipped = [s for e in evaluations for s in e["skipped"]]
    twice = sorted(i for i, k in Counter(str(row["id"]) for row in rows + skipped).items() if k > 1)
    if twice:
        raise ValueError(f"structures in more than one evaluation: {', '.join(twice)}")
    # wall time: the runs' own, added (they may have run with different worker counts)
    wall = sum(e["seconds_per_structure"] * e["n"] for e in evaluations if e["n"])
    merged = summarise(rows, wall, settings[0], skipped)
    if pool:
        merged["sample"] = pool[0] | {"n": len(rows) + len(skipped)}  # structures drawn
    return merged


def _full_settings(evaluation: dict) -> dict:
    """The GA, loop, rule, seed and (when relaxed) relaxation settings an evaluation
    recorded (files before 2026-12-02 keep the relaxation in ``relax_settings``)."""
    out = dict(evaluation["settings"])
    if "relax_settings" in evaluation and "relax" not in out:
        out["relax"] = evaluation["relax_settings"]
    return out


def _energy_ranking(by_structure: dict[str, list[ReconstructionResult]], reference: dict[str, Structure],
                    relax: RelaxSettings, relax_top: int, workers: int | None) -> dict[str, dict]:
    """Per structure: relax the best ``relax_top`` distinct sound results and the truth,
    keep the lowest CHGNet energy, and compare it with the truth."""
    items: list[tuple[tuple[str, int], Structure]] = []
    for name, results in by_structure.items():
        kept, _ = distinct_results(sorted(results, key=lambda r: r.rank_key), relax_top)
        items += [((name, k), r.structure) for k, r in enumerate(kept)]
        items.append(((name, -1), reference[name]))
    # predict's relaxation policy (core.relax.rounds): every structure briefly, the lowest
    # in energy fully; per structure, with the truth in a pool of its own
    relaxed, _ = relax_in_rounds(dict(items), relax, PRERELAX_STEPS, REFINE_TOP, max(1, workers or 1),
                                 group=lambda key: (key[0], key[1] < 0), refine_window=REFINE_WINDOW)
    out: dict[str, dict] = {}
    for name in by_structure:
        truth = relaxed.get((name, -1))
        tried = sorted((k, r) for (n, k), r in relaxed.items() if n == name and k >= 0)
        ok = [(k, r) for k, r in tried if r.ok]
        row: dict = {"relaxed": len(tried), "true_energy": truth.energy_per_atom if truth and truth.ok else None}
        if ok:
            k, chosen = min(ok, key=lambda kr: kr[1].energy_per_atom)
            matches = [structure_match(r.structure, reference[name], CSP_TOLERANCES) for _, r in ok]
            chosen_match = matches[[i for i, _ in ok].index(k)]
            row.update({"energy_choice": k, "energy": chosen.energy_per_atom,
                        "matched_energy": chosen_match.matched, "rms_energy": chosen_match.rms,
                        "matched_any_relaxed": any(m.matched for m in matches)})
        else:
            row.update({"energy_choice": None, "energy": None, "matched_energy": False, "rms_energy": None,
                        "matched_any_relaxed": False})
        out[name] = row
    return out


def _energy_summary(rows: list[dict], relax: dict) -> dict:
    n = len(rows)
    if not n:
        return {}
    misses = [r for r in rows if not r["matched_energy"]]
    truth_lower = [r for r in misses if r["true_energy"] is not None and r["energy"] is not None
                   and r["true_energy"] < r["energy"] - 1e-3]
    return {
        "match_rate_energy": float(np.mean([r["matched_energy"] for r in rows])),
        "match_rate_any_relaxed": float(np.mean([r["matched_any_relaxed"] for r in rows])),
        "energy_misses_truth_lower": len(truth_lower),
        "energy_misses": len(misses),
        "relax_settings": relax,
    }
