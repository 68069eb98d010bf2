"""How often retrieval alone finds a held-out structure (before any relaxation).

For each held-out structure (formula and true Z given) the top-k substituted
templates are compared with the known structure by StructureMatcher at the CSP
tolerances (which rescale volumes, so this measures the structure type and the
substitution, not the volume). The volume of the best matching substitution is
compared with the true one for the volume schemes of :mod:`core.templates.volume`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pymatgen.core import Structure

from core.crystal.matching import CSP_TOLERANCES, structure_match
from core.templates.library import TemplateLibrary
from core.templates.retrieval import retrieve_templates
from core.templates.volume import model_volume

VOLUME_SCHEMES = ("template ratio", "element volumes", "template unscaled", "radius cubes")


def radius_volume(template_volume: float, template_numbers, query_numbers) -> float:
    """Template volume scaled by Σ r³ (pymatgen's average ionic radius, atomic radius when none), Å³."""
    from pymatgen.core import Element

    def r3(numbers) -> float:
        total = 0.0
        for z in numbers:
            el = Element.from_Z(int(z))
            r = float(el.average_ionic_radius) or float(el.atomic_radius or 1.5)
            total += r ** 3
        return total

    return template_volume * r3(query_numbers) / r3(template_numbers)


def evaluate_one(structure: Structure, z: int, library: TemplateLibrary, scorer: str, top_k: int = 5) -> dict:
    """Retrieval of one known structure: rank of the first match, volume errors."""
    formula = structure.composition.reduced_formula
    start = time.perf_counter()
    found = retrieve_templates(formula, z=z, top_k=top_k, library=library, scorer=scorer,
                               exclude_formulas=(formula,))
    row = {"formula": formula, "z": z, "n_atoms": len(structure), "n_templates": len(found),
           "seconds": time.perf_counter() - start, "match_rank": None}
    for rank, cand in enumerate(found, 1):
        if structure_match(cand.structure, structure, CSP_TOLERANCES).matched:
            row["match_rank"] = rank
            true_volume = structure.volume
            k = library.find(cand.template_id)
            assert k is not None  # the candidate came from this library
            s = library.atom_slice(k)
            t_numbers, t_volume = library.numbers[s], abs(float(np.linalg.det(library.lattices[k])))
            q_numbers = [site.specie.Z for site in cand.structure]  # substituted, in the template's atom order
            estimates = {"template ratio": cand.volume,
                         "element volumes": model_volume(library.element_volumes, np.asarray(q_numbers)),
                         "template unscaled": t_volume,
                         "radius cubes": radius_volume(t_volume, t_numbers, q_numbers)}
            row["volume_error"] = {name: abs(v / true_volume - 1.0) for name, v in estimates.items()}
            break
    return row


def evaluate_retrieval(items: list[tuple[Structure, int]], library: TemplateLibrary, scorer: str,
                       top_k: int = 5, progress: Callable[[int, int], None] | None = None) -> dict:
    """Match rates at 1 and ``top_k``, attempted fraction and volume errors over ``items``."""
    rows = []
    for k, (structure, z) in enumerate(items):
        rows.append(evaluate_one(structure, z, library, scorer, top_k))
        if progress:
            progress(k + 1, len(items))
    ranks = [r["match_rank"] for r in rows]
    volumes = [r["volume_error"] for r in rows if "volume_error" in r]
    return {
        "scorer": scorer, "n": len(rows), "top_k": top_k,
        "match_rate_top1": float(np.mean([r == 1 for r in ranks])),
        f"match_rate_top{top_k}": float(np.mean([r is not None for r in ranks])),
        "attempted_fraction": float(np.mean([r["n_templates"] > 0 for r in rows])),
        "seconds_per_formula": float(np.mean([r["seconds"] for r in rows])),
        "volume_mape_of_matches": {name: float(np.mean([v[name] for v in volumes])) if volumes else None
                                   for name in VOLUME_SCHEMES},
        "rows": rows,
    }
