"""Speed of the shipped contact-map model on the CPU: load time, one formula, batched throughput.

Usage (from the repository root)::

    python benchmarks/bench_contact_model.py [--model PATH] [--threads N]

Prints a table of wall times (median of repeats).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMULAS = ["AgF2", "MgP4", "RuF4", "IrAs2", "GeF2", "PdS2", "DyClS", "PtSiSe", "TaON", "SrTiO3",
            "LiFePO4", "NaCl", "ZnO", "TiO2", "CsPbI3", "BaTiO3", "Li2O", "GaN", "SiC", "CaF2"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from core.contact_model.inference import DEFAULT_MODEL_PATH, predict_contact_map
    from core.contact_model.model import ContactModel
    from core.crystal.composition import parse_formula
    from core.crystal.elements import atomic_numbers

    path = args.model or DEFAULT_MODEL_PATH
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        model = ContactModel.load(path, device="cpu")
        loads.append(time.perf_counter() - start)
    single = []
    for formula in FORMULAS:
        start = time.perf_counter()
        predict_contact_map(formula, model=model)
        single.append(time.perf_counter() - start)
    batch = np.stack([atomic_numbers(parse_formula("SrTiO3").atom_elements(2))] * 1000)
    start = time.perf_counter()
    model.predict_probabilities(batch)
    batched = (time.perf_counter() - start) / len(batch)
    rows = [
        ("load model file", f"{1000 * statistics.median(loads):.0f} ms", f"{Path(path).stat().st_size / 1e6:.1f} MB"),
        ("predict_contact_map, one formula", f"{1000 * statistics.median(single):.1f} ms",
         f"median over {len(FORMULAS)} formulas"),
        ("batched, 1000 x 10-atom SrTiO3 (Z=2)", f"{1000 * batched:.2f} ms", "per formula"),
    ]
    print(f"{'step':<40}{'time':>12}  note   (torch threads: {torch.get_num_threads()})")
    for name, value, note in rows:
        print(f"{name:<40}{value:>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
