"""The engine calls the window makes, as plain functions (no Qt): they run in a
worker thread or in the engine process (:mod:`alphacrystal_gui.engine_process`),
so they must be importable top-level functions with picklable arguments.
"""

from __future__ import annotations

import core
from core import (
    compare_with_reference,
    composition_notes,
    export_records,
    loaded_resources,
    predict_structures,
    propose_inputs,
    summary_meta,
    warm_up,
)

__all__ = ["export_records", "hull_picture_of", "inputs_with_note", "run_folder_results", "live_geometry", "loaded_resources",
           "project_contents", "propose_inputs", "provisional_records", "reference_comparison", "reference_structure", "result_view", "run_and_compare", "run_live", "warm_up"]


def reference_comparison(records, reference):
    """:func:`core.compare_records` as a worker call: a reference opened after a run, compared with
    its results (StructureMatcher per result: seconds)."""
    return core.compare_records(records, reference)


def run_folder_results(path):
    """:func:`core.read_run_folder` as a worker call (formula, records, meta)."""
    return core.read_run_folder(path)


def project_contents(path):
    """A project file read and every object in it built (:meth:`core.Project.contents`), and the
    engine's notes on its formula (as a Predict gives them), as a worker call."""
    contents = core.Project.load(path).contents(path)
    sources = contents.settings.sources if contents.settings is not None else core.PredictionSettings.sources
    return contents, formula_note(contents.formula, contents.z, sources)


def formula_note(formula: str, z: int | None, sources: tuple[str, ...] = core.PredictionSettings.sources) -> str | None:
    """The engine's remarks on the formula, one per line, as every command says them first
    (:func:`core.composition_notes` for the run's ``sources``: larger known cells, elements the
    models never saw, a formula withheld from the templates), or None: nothing to say, or a formula
    the notes cannot read."""
    if not formula:
        return None
    try:
        return "\n".join(composition_notes(core.parse_formula(formula), z, tuple(sources))) or None
    except core.AlphaCrystalError:
        return None


def reference_structure(path):
    """:func:`core.read_reference` as a worker call (a structure opened for comparison)."""
    return core.read_reference(path)


def hull_picture_of(records):
    """(:func:`core.hull_picture` of a run's records, why there is none): the picture of the hull
    plot, made in the engine process (the first call there reads the reference phases, about a second)."""
    try:
        picture = core.hull_picture([r.to_row() for r in records])
    except core.StabilityError as exc:
        return None, str(exc)
    if picture is not None:
        return picture, ""
    if not any(r.energy_per_atom is not None for r in records):
        return None, "no result has an energy above the hull (not relaxed)"
    notes = [r.hull_note for r in records if r.hull_note]
    return None, ("no result was placed on the hull: " + (notes[0] if notes else
                  "the potential has no shipped reference phases, the stability frame is 'none', or the run was "
                  "cancelled before the hull step (the run's notes say which)"))


def inputs_with_note(formula, z, settings, model=None, progress=None, cancel=None):
    """``propose_inputs`` with the run settings' candidate and template counts, template scorer and
    device (:class:`core.PredictionSettings`: the CLI's defaults, or a project's), plus the engine's
    remarks on the formula (:func:`formula_note`; None when there is nothing to say)."""
    candidates, maps, templates = propose_inputs(formula, z, settings.top_k, model, settings.device, progress=progress,
                                                 cancel=cancel, template_top_k=settings.template_top_k,
                                                 template_scorer=settings.template_scorer)
    return candidates, maps, templates, formula_note(formula, z, settings.sources)


def run_and_compare(formula, settings, candidates, contact_maps, reference=None, progress=None, cancel=None,
                    on_generation=None, on_reconstruction=None, templates=None, on_relaxed=None):
    """``predict_structures``, its records (:class:`core.ResultRecord`), with, when a
    reference structure is open, their match and RMSD against it (StructureMatcher at its
    default tolerances; the paper's RMSD), their views and the run's summary metadata
    (:func:`core.summary_meta`, made here: it asks torch for the device)."""
    result = predict_structures(formula, settings, progress=progress, cancel=cancel, candidates=candidates,
                                contact_maps=contact_maps, on_generation=on_generation,
                                on_reconstruction=on_reconstruction, templates=templates, on_relaxed=on_relaxed)
    records = compare_with_reference(result, reference) if reference is not None else result.records()
    return result, records, [result_view(r.structure) for r in records], summary_meta(result)


def provisional_records(on_relaxed):
    """Wrap the GUI's ``on_relaxed(key, record, view)``: each structure relaxed so far becomes a
    record and its view (contact map, 3D geometry), made here, off the GUI thread; the key is
    ``sg225-z1/0`` or ``mp-22862/0``."""

    def callback(item, entry):
        try:
            record = entry.record()
            view = result_view(record.structure)  # the cell the record holds (its primitive cell)
        except Exception:  # noqa: BLE001 - a preview must never stop the run; the final ranking has it
            return
        on_relaxed(f"{item[0]}/{item[1]}", record, view)

    return callback


def result_view(structure):
    """Contact map (primitive cell) and 3D geometry of a result, made in the worker thread
    so that selecting a row costs the GUI thread only the drawing."""
    from alphacrystal_gui.view3d.geometry import scene_geometry

    return core.structure_contact_map(structure), scene_geometry(structure)


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
    """:func:`run_and_compare` with 3D geometry of improving structures, and the records of
    structures relaxed so far (:func:`provisional_records`), made off the GUI thread."""
    return run_and_compare(formula, settings, candidates, contact_maps, reference, progress, cancel,
                           on_generation, live_geometry(on_reconstruction) if on_reconstruction else None,
                           templates, provisional_records(on_relaxed) if on_relaxed else None)
