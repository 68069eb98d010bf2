"""The engine calls the window makes, as plain functions (no Qt): they run in a
worker thread or in the engine process (:mod:`alphacrystal_gui.engine_process`),
so they must be importable top-level functions with picklable arguments.
"""

from __future__ import annotations

import core
from core import (
    cell_size_note,
    compare_with_reference,
    export_rows,
    loaded_resources,
    predict_structures,
    propose_inputs,
    warm_up,
)

__all__ = ["export_rows", "hull_picture_of", "inputs_with_note", "run_folder_results", "live_geometry", "loaded_resources",
           "propose_inputs", "provisional_rows", "result_view", "run_and_compare", "run_live", "warm_up"]


def run_folder_results(path, progress=None, cancel=None):
    """:func:`core.read_run_folder` as a worker call (formula, rows, meta)."""
    return core.read_run_folder(path)


def hull_picture_of(rows, progress=None, cancel=None):
    """(:func:`core.hull_picture` of a run's rows, why there is none): the picture of the hull
    plot, made off the GUI thread (the first call reads the reference phases, about a second)."""
    try:
        picture = core.hull_picture(rows)
    except core.StabilityError as exc:
        return None, str(exc)
    return picture, "" if picture is not None else "no result has an energy above the hull (not relaxed)"


def inputs_with_note(formula, z=None, top_k=5, model=None, device="auto", progress=None, cancel=None):
    """``propose_inputs`` plus the engine's one-line remark on the formula's cell sizes
    (:func:`core.cell_size_note`; None when there is nothing to say)."""
    candidates, maps, templates = propose_inputs(formula, z, top_k, model, device, progress=progress, cancel=cancel)
    note = cell_size_note(core.parse_formula(formula), core.PredictionSettings(z=z))
    return candidates, maps, templates, note


def run_and_compare(formula, settings, candidates, contact_maps, reference=None, progress=None, cancel=None,
                    on_generation=None, on_reconstruction=None, templates=None, on_relaxed=None):
    """``predict_structures`` plus, when a reference structure is open, its match and RMSD
    against every result (StructureMatcher at CSP tolerances; the paper's RMSD)."""
    result = predict_structures(formula, settings, progress=progress, cancel=cancel, candidates=candidates,
                                contact_maps=contact_maps, on_generation=on_generation,
                                on_reconstruction=on_reconstruction, templates=templates, on_relaxed=on_relaxed)
    comparisons = compare_with_reference(result, reference) if reference is not None else None
    rows = []
    for k, entry in enumerate(result.ranked):
        rows.append(result_row(entry) | (comparisons[k] if comparisons else {}))
    return result, rows, [result_view(entry.structure) for entry in result.ranked]


def result_row(entry) -> dict:
    """A ranked (or provisional) entry as the window keeps it: its row plus both structures."""
    return entry.row() | {"structure": entry.structure.as_dict(), "reconstructed": entry.initial.as_dict()}


def provisional_rows(on_relaxed):
    """Wrap the GUI's ``on_relaxed(key, row, view)``: each structure relaxed so far becomes a
    result row and its view (contact map, 3D geometry), made here, off the GUI thread; the
    key is ``sg225-z1/0`` or ``mp-22862/0``."""

    def callback(item, entry):
        try:
            row, view = result_row(entry), result_view(entry.structure)
        except Exception:  # noqa: BLE001 - a preview must never stop the run; the final ranking has it
            return
        on_relaxed(f"{item[0]}/{item[1]}", row, view)

    return callback


def result_view(structure):
    """Contact map (primitive cell) and 3D geometry of a result, made in the worker thread
    so that selecting a row costs the GUI thread only the drawing."""
    from alphacrystal_gui.view3d.geometry import scene_geometry

    try:
        cmap = core.compute_contact_map(core.primitive_cell(structure))
    except core.AlphaCrystalError:
        cmap = None
    return cmap, scene_geometry(structure)


def live_geometry(on_reconstruction):
    """Wrap the GUI's ``on_reconstruction`` so the 3D geometry of an improved
    structure is computed in the worker thread (pymatgen neighbour search and
    cylinder meshes took ~180 ms, too long for the GUI thread)."""
    from alphacrystal_gui.view3d.geometry import scene_geometry

    best = [-1.0]

    def callback(name, result):
        if result.fitness > best[0]:
            best[0] = result.fitness
            on_reconstruction(name, result, scene_geometry(result.structure))

    return callback


def run_live(formula, settings, candidates, contact_maps, reference=None, progress=None, cancel=None,
             on_generation=None, on_reconstruction=None, templates=None, on_relaxed=None):
    """:func:`run_and_compare` with 3D geometry of improving structures, and the rows of
    structures relaxed so far (:func:`provisional_rows`), made off the GUI thread."""
    return run_and_compare(formula, settings, candidates, contact_maps, reference, progress, cancel,
                           on_generation, live_geometry(on_reconstruction) if on_reconstruction else None,
                           templates, provisional_rows(on_relaxed) if on_relaxed else None)
