"""Re-create ``resources/element_features.csv``, the per-element feature table.

Run from the repository root (needs the ``dev`` extra for ``mendeleev``)::

    python scripts/build_element_features.py            # writes the file
    python scripts/build_element_features.py --check    # exit 1 if the file differs

Sources, one per feature (the paper's 11 features, in the paper's order):

==============================  ==========================================================
mendeleev_number                pymatgen ``Element.mendeleev_no`` (Pettifor's scale)
unpaired_electrons              computed here from pymatgen's ground-state configuration
                                (``Element.full_electronic_structure``, Hund's rule)
first_ionization_energy_eV      pymatgen ``Element.ionization_energies[0]`` (eV)
covalent_radius_A               Cordero et al. 2008 as shipped by pymatgen
                                (``CovalentRadius.radius``, Å)
heat_of_formation_kJ_mol        ``mendeleev`` ``heat_of_formation`` (gaseous atom, kJ/mol)
dipole_polarizability_bohr3     ``mendeleev`` ``dipole_polarizability`` (bohr³)
average_ionic_radius_A          pymatgen ``Element.average_ionic_radius`` (Å; 0 = none)
group                           pymatgen ``Element.group`` (1-18; f-block elements get 3)
row                             pymatgen ``Element.row``
electronegativity_pauling       pymatgen ``Element.X`` (Pauling)
atomic_number                   pymatgen ``Element.Z``
==============================  ==========================================================

Missing values (noble-gas electronegativity, heavy-element radii, ...) are filled
with the mean of the elements of the same group that have the value, else of the
same row, else the median over all elements; the ``imputed`` column lists which
features of an element were filled, so nothing is silently invented.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.crystal.elements import FEATURE_NAMES  # noqa: E402  (the column order lives in one place)

OUT = Path(__file__).resolve().parents[1] / "resources" / "element_features.csv"
MAX_Z = 103
FEATURES = list(FEATURE_NAMES)
_SUBSHELL_CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}


def unpaired_electrons(configuration: list[tuple[int, str, int]]) -> int:
    """Unpaired electrons of a ground-state configuration by Hund's rule."""
    total = 0
    for _, orbital, occupancy in configuration:
        capacity = _SUBSHELL_CAPACITY[orbital]
        total += occupancy if occupancy <= capacity // 2 else capacity - occupancy
    return total


def _clean(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def raw_rows() -> list[dict[str, float | str]]:
    """Per-element raw features from pymatgen and mendeleev, NaN where unknown."""
    from mendeleev.fetch import fetch_table
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.core import Element

    table = fetch_table("elements").set_index("atomic_number")
    rows: list[dict[str, float | str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, MAX_Z + 1):
            el = Element.from_Z(z)
            ionic = _clean(el.average_ionic_radius)
            energies = el.ionization_energies
            rows.append(
                {
                    "symbol": el.symbol,
                    "mendeleev_number": _clean(el.mendeleev_no),
                    "unpaired_electrons": float(unpaired_electrons(el.full_electronic_structure)),
                    "first_ionization_energy_eV": _clean(energies[0] if energies else None),
                    "covalent_radius_A": _clean(CovalentRadius.radius.get(el.symbol)),
                    "heat_of_formation_kJ_mol": _clean(table.loc[z, "heat_of_formation"]),
                    "dipole_polarizability_bohr3": _clean(table.loc[z, "dipole_polarizability"]),
                    "average_ionic_radius_A": ionic if ionic > 0 else math.nan,
                    "group": float(el.group),
                    "row": float(el.row),
                    "electronegativity_pauling": _clean(el.X),
                    "atomic_number": float(z),
                    "is_metal": int(bool(el.is_metal)),
                }
            )
    return rows


def impute(rows: list[dict[str, float | str]]) -> None:
    """Fill NaNs in place: same-group mean, else same-row mean, else global median."""
    for name in FEATURES:
        known = [r for r in rows if not math.isnan(float(r[name]))]
        values = sorted(float(r[name]) for r in known)
        median = values[len(values) // 2]
        for row in rows:
            if not math.isnan(float(row[name])):
                continue
            filled = median
            for key in ("group", "row"):
                peers = [float(r[name]) for r in known if r[key] == row[key]]
                if peers:
                    filled = sum(peers) / len(peers)
                    break
            row[name] = filled
            row["imputed"] = ";".join(filter(None, [str(row.get("imputed", "")), name]))


def render(rows: list[dict[str, float | str]]) -> str:
    buf = io.StringIO()
    columns = ["symbol", *FEATURES, "is_metal", "imputed"]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        out = {k: row.get(k, "") for k in columns}
        for k in FEATURES:
            out[k] = f"{float(row[k]):.6g}"
        writer.writerow(out)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args(argv)
    rows = raw_rows()
    impute(rows)
    text = render(rows)
    if args.check:
        same = OUT.read_text() == text
        print("element_features.csv is up to date" if same else "element_features.csv differs")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(rows)} elements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
