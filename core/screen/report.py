"""``report.html`` of a screen: one self-contained page (no network, no files beside it).

A sortable table (click a header) with one row per formula, links to each formula's
run folder and best CIF (relative to the report, so the folder can be moved or
copied whole), and an inline SVG plot of the best energy per atom across the
screen. Written by :func:`core.screen.screening.write_report`.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path

from core.crystal.composition import MP20_MAX_ATOMS
from core.runtime.terminal import counted
from core.stability.hull import ON_HULL_EV

LOWER_COLUMN = "lower_e_above_hull_meV"
"""A view's column: :func:`lower_than_rank1` (not a column of screen.csv)."""
LOWER_TITLE = "Lower E_hull of another structure (meV/atom)"

COLUMNS = (("formula", "Formula"), ("status", "Status"), ("e_above_hull_meV", "E_hull (meV/atom)"),
           ("stability", "Stability"), (LOWER_COLUMN, LOWER_TITLE),
           ("decomposition", "Hull at this composition"), ("hull_note", "Hull note"),
           ("best_energy_per_atom", "Best E (eV/atom)"),
           ("symbol", "Space group"), ("source", "Source"), ("dice", "Dice"), ("match", "Match ref."),
           ("n_structures", "Structures"), ("seconds", "Seconds"), ("worker", "Worker"), ("reason", "Reason"))

FLOAT_FORMATS = {"e_above_hull_meV": ".1f", LOWER_COLUMN: ".1f", "best_energy_per_atom": ".4f",
                 "dice": ".3f", "seconds": ".1f"}
"""How each number is shown (its sort value keeps every digit); others: 4 decimals."""

def finite_number(value) -> float | None:
    """``value`` (a number, or a string of screen.csv) as a finite float, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def lower_than_rank1(row: dict) -> float | None:
    """The lowest E_hull among a formula's structures (meV/atom) where it lies below rank 1's (the
    ranking put another structure first: the second potential, the symmetry prior), else None: the
    two figures of a screen row (:data:`core.screen.screening.ROW_FIELDS`) are equal for most formulas,
    so a view shows the lowest only where it differs. ``row`` holds numbers or screen.csv's strings."""
    lowest, rank1 = finite_number(row.get("lowest_e_above_hull_meV")), finite_number(row.get("e_above_hull_meV"))
    return lowest if lowest is not None and (rank1 is None or lowest < rank1 - 0.05) else None


def uncertain(row: dict) -> bool:
    """Whether the figure a screen row is sorted by is ``uncertain`` (far below a hull that lacks
    phases of its system: no E_hull limit or plot should treat it as a trusted number)."""
    return (row.get("lowest_stability") or row.get("stability")) == "uncertain"


def sorted_hull(row: dict) -> float | None:
    """The figure a screen is sorted and filtered by: the lowest E_hull of the formula's structures
    (meV/atom), rank 1's for a row of an earlier version, None without either."""
    lowest = finite_number(row.get("lowest_e_above_hull_meV"))
    return lowest if lowest is not None else finite_number(row.get("e_above_hull_meV"))


_SORT_SCRIPT = """
function filterHull() {
  var limit = parseFloat(document.getElementById('hull-limit').value), shown = 0;
  document.querySelectorAll('tbody tr').forEach(function (r) {
    var v = parseFloat(r.dataset.hull), hide = !isNaN(limit) && (!(v <= limit) || r.dataset.uncertain === '1');
    r.style.display = hide ? 'none' : ''; shown += hide ? 0 : 1;
  });
  document.getElementById('hull-shown').textContent = shown + ' shown' +
    (isNaN(limit) ? '' : ' (formulas whose figure is uncertain are hidden while a limit is set)');
}
document.getElementById('hull-limit').addEventListener('input', filterHull);
document.querySelectorAll('th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def report_html(rows: list[dict], out: Path, ehull_threshold: float | None = None,
                skipped: tuple[str, ...] = ()) -> str:
    """The page for ``rows`` (screen rows, :data:`core.screen.screening.ROW_FIELDS`) of the screen in ``out``;
    ``ehull_threshold`` (eV/atom): the run's metastable limit, named where the labels are explained;
    ``skipped``: input lines left out (``--skip-bad-lines``), each with why, listed under the count."""
    limit = ("the threshold of the run" if ehull_threshold is None else
             f"{1000 * ehull_threshold:g} meV/atom, this screen's --ehull-threshold")
    done = sum(1 for r in rows if r.get("status", "").startswith("done"))
    failed = sum(1 for r in rows if r.get("status") == "failed")
    body = "\n".join(_row(r, out) for r in rows)
    head = "".join(f"<th title='click to sort'>{escape(title)}</th>" for _, title in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>AlphaCrystal screen: {escape(out.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }} table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #eef; cursor: pointer; }} tr.failed td {{ color: #b00020; }}
</style></head><body>
<h1>Screen {escape(out.name)}</h1>
{_skipped_html(skipped)}<p>{counted(len(rows), 'formula')}: {done} done, {failed} failed, sorted by the lowest E_hull of each formula's
structures: energy above the convex hull of the known phases of its chemical system (Materials Project
phases of up to {MP20_MAX_ATOMS} atoms per cell; negative: below every known combination of them), which compares across
formulas; the E_hull column is the rank-1 structure's, and where another of the formula's structures lies
lower on the hull (the ranking put rank 1 first by a second potential or the symmetry prior), that lower
figure is shown beside it. A lowest structure below the known hull reads its (negative) distance below it,
and the formula's other structures, rank 1 included, are then measured from that lowest one: rank 1 at
+0.9 beside a lower -4.5 lies 0.9 meV/atom above the lowest, 3.6 below the known phases. Stability: stable (on that hull within {1000 * ON_HULL_EV:g} meV/atom, or below it), metastable (above it by at most {limit}), unstable, or uncertain (far below every known phase, beyond the frame's error: the reference phases
of that system are most likely incomplete; such formulas are listed after those with a trusted figure);
"⚠ see note" where the hull warning puts a figure in doubt: check it against a complete phase diagram before
believing it. Best E is the CHGNet (or the chosen potential's) energy per atom; it compares only
within one composition. Match: StructureMatcher at pymatgen's default tolerances against the reference
given in the input.</p>
<p><label>Show E_hull ≤ <input id='hull-limit' type='number' step='10' size='6'> meV/atom</label>
<span id='hull-shown'></span></p>
{hull_plot(rows)}
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<script>{_SORT_SCRIPT}</script>
</body></html>
"""


def _skipped_html(skipped: tuple[str, ...]) -> str:
    """The input lines a screen left out, said before the table (they are in no row of it)."""
    if not skipped:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in skipped)
    return (f"<p class='skipped'>{counted(len(skipped), 'input line')} skipped (--skip-bad-lines), "
            f"not screened:</p><ul>{items}</ul>\n")


def _row(row: dict, out: Path) -> str:
    cells = []
    for key, _ in COLUMNS:
        value = lower_than_rank1(row) if key == LOWER_COLUMN else row.get(key)
        shown = ("" if value is None else format(value, FLOAT_FORMATS.get(key, ".4f")) if isinstance(value, float)
                 else str(value))
        sort_value = "" if value is None else str(value)
        text = escape(shown)
        if key == "formula":
            links = [f"<a href='{escape(_relative(row.get('folder'), out))}'>{text}</a>"] if row.get("folder") else [text]
            if row.get("cif"):
                links.append(f"<a href='{escape(_relative(row['cif'], out))}'>CIF</a>")
            text = " ".join(links)
        if key == "stability" and row.get("hull_warning"):  # far below every known phase: said where it is read
            text += f" <span title='{escape(str(row['hull_warning']))}' style='color:#b06000'>⚠ see note</span>"
        cells.append(f"<td data-v='{escape(sort_value)}'>{text}</td>")
    css = " class='failed'" if row.get("status") == "failed" else ""
    hull = sorted_hull(row)  # the filter reads the figure the rows are sorted by
    doubt = " data-uncertain='1'" if uncertain(row) else ""  # not a trusted figure: no limit keeps it
    return f"<tr{css} data-hull='{escape('' if hull is None else str(hull))}'{doubt}>{''.join(cells)}</tr>"


def _relative(path: str | None, out: Path) -> str:
    if not path:
        return ""
    try:
        return os.path.relpath(path, out).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return Path(path).as_uri()


def hull_plot(rows: list[dict], width: int = 720, height: int = 220) -> str:
    """Inline SVG: energy above the hull (meV/atom) of every finished formula, in screen order;
    the best energy per atom (eV/atom) where no formula has one (runs without reference phases)."""
    key, title, unit = ("lowest_e_above_hull_meV", "Lowest energy above the hull among each formula's structures "
                        "(meV/atom)", "meV/atom")
    doubtful = [r for r in rows if uncertain(r)]
    if doubtful:  # -3,844 meV/atom squashed every trusted point onto one line
        rows = [r for r in rows if not uncertain(r)]
        title += (f"; not drawn: {', '.join(str(r.get('formula')) for r in doubtful)} (uncertain: far below a hull "
                  "that lacks phases of its system)")
    points = _points(rows, key)
    if not points:  # rows of an earlier version
        key, title = "e_above_hull_meV", "Energy above the hull of the rank-1 structure (meV/atom)"
        points = _points(rows, key)
    if not points:
        key, title, unit = "best_energy_per_atom", "Best energy per atom (eV/atom)", "eV/atom"
        points = _points(rows, key)
    if not points:
        if doubtful:
            return (f"<p>(no energy plot: the figures of {escape(', '.join(str(r.get('formula')) for r in doubtful))} "
                    "are uncertain, far below a hull that lacks phases of their systems)</p>")
        if any(str(r.get("status", "")).startswith("done") for r in rows):
            return ("<p>(no energy plot: the finished formulas have no energies, as their structures were "
                    "not relaxed (--no-relax); they are ranked by contact-map fitness)</p>")
        return "<p>(no finished formula yet: no energy plot)</p>"
    lo, hi = min(e for _, e in points), max(e for _, e in points)
    span = (hi - lo) or 1.0
    left, right, top, bottom = 60, 10, 10, 40
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(e: float) -> float:
        return top + (hi - e) / span * (height - top - bottom)

    dots = "".join(f"<circle cx='{left + k * step:.1f}' cy='{y(e):.1f}' r='4' fill='#3060c0'>"
                   f"<title>{escape(f)}: {e:{'.1f' if unit == 'meV/atom' else '.4f'}} {unit}</title></circle>"
                   for k, (f, e) in enumerate(points))  # as the table shows it (0.0000 meV/atom read as noise)
    labels = "".join(f"<text x='{left + k * step:.1f}' y='{height - 5}' font-size='10' text-anchor='middle'>"
                     f"{escape(f)}</text>" for k, (f, _) in enumerate(points)) if len(points) <= 30 else ""
    digits = ".1f" if unit == "meV/atom" else ".3f"
    ticks = [hi] if f"{hi:{digits}}" == f"{lo:{digits}}" else [hi, lo]  # one label where all values are equal
    axis = ("".join(f"<text x='5' y='{y(v) + 4:.1f}' font-size='10'>{v:{digits}}</text>" for v in ticks)
            + f"<line x1='{left - 5}' y1='{top}' x2='{left - 5}' y2='{height - bottom}' stroke='#888'/>")
    return (f"<h2>{escape(title)}</h2><svg xmlns='http://www.w3.org/2000/svg' width='{width}' "
            f"height='{height}' role='img' aria-label='{escape(title)} of each formula'>{axis}{dots}{labels}</svg>")


def _points(rows: list[dict], key: str) -> list[tuple[str, float]]:
    """(formula, value) of the rows with a finite number under ``key`` (a string from screen.csv too)."""
    points = []
    for r in rows:
        try:
            value = float(r[key])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            points.append((str(r["formula"]), value))
    return points
