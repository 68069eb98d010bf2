"""The Qt-free session model: one truth for the desktop app (no display needed)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import nacl

from core.app.project import Project
from core.app.session import RunState, Session, SessionError
from core.predict.pipeline import predict_structures, propose_inputs
from core.predict.settings import PredictionSettings
from core.runtime.terminal import counted

TINY = PredictionSettings(top_k=1, n_assignments=1, population=20, generations=15, patience=5, relax=False, jobs=1)


@pytest.fixture(scope="module")
def nacl_inputs():
    return propose_inputs("NaCl")


def session_with(inputs, formula="NaCl") -> Session:
    s = Session()
    candidates, maps, templates = inputs
    s.set_inputs(formula, None, candidates, maps, templates)
    return s


def run(session: Session):
    """A real (tiny) run of what the session would start, finished into the session."""
    from dataclasses import replace

    request = session.begin_run()
    result = predict_structures(request.formula, replace(TINY, sources=("contact", "templates")),
                                candidates=request.candidates[:1], contact_maps=request.maps,
                                templates=request.templates[:1])
    session.run.finish(result, result.records())
    return request, result


def test_every_z_has_its_own_map_and_edits_reach_their_candidates(nacl_inputs):
    s = session_with(nacl_inputs)
    zs = sorted({c.z for c in s.inputs.candidates})
    assert len(zs) >= 2 and s.inputs.zs == sorted(nacl_inputs[1])
    edited = []
    s.inputs.map_edited.connect(edited.append)
    first, second = zs[0], zs[1]
    s.inputs.document(first).toggle(0, 1)
    s.select_z(second)
    assert s.inputs.current_z == second and s.inputs.document() is s.inputs.document(second)
    s.inputs.document().toggle(0, 1)
    assert edited == [first, second] and s.inputs.edited_zs() == [first, second]
    request = s.begin_run()
    for z in (first, second):
        original = nacl_inputs[1][z].contact
        assert request.maps[z].contact[0, 1] == 1 - original[0, 1]  # each Z runs on its own edited map
    assert f"Z={first}, Z={second} map edited by hand" in request.describe()


def test_a_new_formula_clears_the_results_of_the_previous_one(nacl_inputs):
    s = session_with(nacl_inputs)
    run(s)
    assert s.run.records and s.run.results.formula == "NaCl" and s.run.state == RunState.DONE
    rows, formula = s.run.export_selection()
    assert formula == "NaCl"
    s.set_inputs("KBr", None, [], {}, nacl_inputs[2])
    assert s.run.results is None and s.run.records == []
    with pytest.raises(SessionError, match="no results"):
        s.run.export_selection()


def test_viewing_a_result_leaves_the_input_map_untouched(nacl_inputs):
    s = session_with(nacl_inputs)
    s.inputs.document().toggle(0, 1)
    before = s.inputs.document().matrix.copy()
    run(s)
    s.run.view_result(0)
    assert s.run.viewing == 0 and s.run.result_document.n > 0
    s.run.result_document.toggle(0, 1)  # whatever happens to the result's map...
    s.run.back_to_input()
    assert s.run.viewing is None
    assert np.array_equal(s.inputs.document().matrix, before)  # ...the input map is byte for byte the same
    assert s.begin_run().maps[s.inputs.current_z].contact.tobytes() == before.tobytes()


def test_run_states_and_cancel(nacl_inputs):
    s = session_with(nacl_inputs)
    states = []
    s.run.state_changed.connect(states.append)
    s.begin_run()
    assert s.run.state == RunState.STARTING and "starting" in s.run.message
    with pytest.raises(SessionError, match="run is going on"):
        s.set_inputs("KBr", None, [], {}, [])
    s.run.add_generation("c1-sg225-a1-r0", {"generation": 1, "best_fitness": 0.5, "mean_fitness": 0.2})
    assert s.run.state == RunState.RUNNING and s.run.histories["c1-sg225-a1-r0"] == [(1, 0.5, 0.2)]
    assert s.run.request_cancel() and s.run.state == RunState.CANCELLING
    assert states == ["starting", "running", "cancelling"]


def test_nothing_ticked_or_a_missing_map_is_a_clear_error(nacl_inputs):
    s = session_with(nacl_inputs)
    s.inputs.set_candidates(s.inputs.candidates, [False] * len(s.inputs.candidates))
    s.inputs.set_template_ticked([False] * len(s.inputs.templates))
    with pytest.raises(SessionError, match="tick at least one"):
        s.begin_run()
    s.set_inputs("NaCl", None, nacl_inputs[0], {}, [])
    with pytest.raises(SessionError, match="no contact map for Z"):
        s.begin_run()


def test_project_round_trip_keeps_every_map_results_and_histories(nacl_inputs, tmp_path):
    s = session_with(nacl_inputs)
    zs = s.inputs.zs
    s.inputs.document(zs[0]).toggle(0, 1)
    s.select_z(zs[1])
    s.inputs.document().toggle(0, 1)
    s.inputs.set_template_ticked([False] + [True] * (len(s.inputs.templates) - 1))
    run(s)
    s.run.add_generation("c1", {"generation": 3, "best_fitness": 0.9, "mean_fitness": 0.4})
    s.run.view_result(0)
    assert s.dirty and s.title().startswith("NaCl *")
    s.set_run_settings(**TINY.to_dict())
    path = s.save(tmp_path / "nacl.acproj")
    assert not s.dirty and s.title() == "nacl — AlphaCrystal Studio"

    other = Session()
    other.load_project(Project.load(path), path)
    assert not other.dirty and other.inputs.formula == "NaCl" and other.inputs.zs == zs
    for z in zs:
        assert np.array_equal(other.inputs.document(z).matrix, s.inputs.document(z).matrix)
    assert other.inputs.current_z == zs[1] and other.inputs.edited_zs() == s.inputs.edited_zs()
    assert other.inputs.template_ticked == s.inputs.template_ticked and other.inputs.candidate_ticked == s.inputs.candidate_ticked
    assert other.run.results.formula == "NaCl" and len(other.run.records) == len(s.run.records)
    assert other.run.results.discarded == s.run.results.discarded
    assert other.run.histories == s.run.histories and other.run.viewing == 0
    assert other.begin_run().maps[zs[0]].contact.tobytes() == s.inputs.document(zs[0]).matrix.tobytes()  # re-runs


def test_a_project_of_the_first_format_still_opens(nacl_inputs, tmp_path):
    candidates, maps, templates = nacl_inputs
    z = candidates[0].z
    edited = maps[z].contact.copy()
    edited[0, 1] = edited[1, 0] = 1 - edited[0, 1]
    old = Project(formula="NaCl", candidates=[c.to_dict() for c in candidates], prediction=maps[z].to_dict(),
                  edited_map=edited.tolist(), threshold=maps[z].threshold, results=[],
                  reference={"name": "nacl.cif", "structure": nacl().as_dict()})
    s = Session()
    s.load_project(old)
    assert s.inputs.zs == [z] and np.array_equal(s.inputs.document().matrix, edited)
    assert s.reference_name == "nacl.cif" and s.inputs.document().reference is not None


def test_discarded_structures_are_explained(nacl_inputs):
    s = session_with(nacl_inputs)
    _, result = run(s)
    merged = [e for e in result.pool if e.duplicate_of is not None]
    assert len(s.run.results.discarded) == len(merged) + len(result.rejected)
    for line, e in zip(s.run.results.discarded, merged):
        assert f"the same structure as #{e.duplicate_of.rank}" in line and e.source in line


def test_opening_a_project_without_a_reference_drops_the_previous_one(nacl_inputs, tmp_path):
    s = session_with(nacl_inputs)
    s.set_run_settings(**TINY.to_dict())
    plain = s.save(tmp_path / "plain.acproj")
    s.set_reference(nacl(), "nacl.cif", None)
    assert s.reference is not None
    s.load_project(Project.load(plain), plain)
    assert s.reference is None and s.reference_name == ""


def test_a_reference_is_compared_only_with_results_of_its_own_compound(nacl_inputs):
    """One rule for both paths of the window (a run's own comparison, a reference opened after
    it): a KCl reference opened before a NaCl run marked every result "no match"."""
    s = session_with(nacl_inputs)
    assert s.comparable_reference() is None  # no reference
    s.set_reference(nacl(), "nacl.cif", None)
    assert s.comparable_reference() is s.reference and s.comparable_reference("Na2Cl2") is s.reference
    kcl = nacl()
    kcl.replace_species({"Na": "K"})
    s.set_reference(kcl, "kcl.cif", None)
    assert s.comparable_reference() is None and s.comparable_reference("KCl") is s.reference


def test_a_broken_project_changes_nothing(nacl_inputs, tmp_path):
    from core.app.project import ProjectFileError

    s = session_with(nacl_inputs)
    s.inputs.document().toggle(0, 1)
    before = s.inputs.document().matrix.copy()
    bad = Project(formula="KBr", results=[{"rank": 1, "structure": {"not": "a structure"}}])
    with pytest.raises(ProjectFileError, match="broken.acproj: not a readable project"):
        s.load_project(bad, tmp_path / "broken.acproj")
    assert s.inputs.formula == "NaCl" and np.array_equal(s.inputs.document().matrix, before)
    from core.app.run import run_meta as _meta

    assert _meta("x") == {} and _meta(5) == {} and _meta({"notes": 5, "settings": {}}) == {"settings": {}}
    assert _meta({"notes": ["a note"]}) == {"notes": ["a note"]}  # optional information: never refuses a project
    missing = Project(formula="NaCl", maps={"1": {"edited_map": [[0, 1], [1, 0]]}})  # no "prediction"
    with pytest.raises(ProjectFileError, match="not a readable project \\(the field 'prediction' is missing\\)"):
        s.load_project(missing, tmp_path / "missing.acproj")
    binary = tmp_path / "pickled.acproj"
    binary.write_bytes(b"\x80\x04\x95\xf7\x00binary")
    with pytest.raises(ProjectFileError, match="pickled.acproj is not an AlphaCrystal Studio project: a binary file"):
        Project.load(binary)  # it read "'utf-8' codec can't decode byte 0xf7 in position 2"


def test_a_rerun_starts_from_a_results_assignment_on_the_current_map(nacl_inputs):
    s = session_with(nacl_inputs)
    run(s)
    record = s.run.records[0]
    z = s.inputs.current_z
    s.inputs.document(z).toggle(0, 1)  # edited after the run: the re-run takes the map as it is now
    request = s.begin_rerun(0)
    assert s.run.state == RunState.STARTING and request.templates == []
    [candidate] = request.candidates
    from core.crystal.symmetry import space_group

    assert candidate.assignment and candidate.spacegroup == space_group(record.structure)[0]
    assert request.maps[candidate.z].contact.tobytes() == s.inputs.document(candidate.z).matrix.tobytes()
    assert f"re-run of result #1 in {candidate.symbol}" in request.describe()
    assert candidate.assignment["label"] in request.describe()
    from dataclasses import replace

    result = predict_structures(request.formula, replace(TINY, sources=("contact",)), candidates=request.candidates,
                                contact_maps=request.maps)
    assert result.ranked and all(r.reconstruction.assignment.label == candidate.assignment["label"]
                                 for r in result.ranked)
    with pytest.raises(SessionError, match="a run is going on"):
        s.begin_rerun(0)


def test_a_rerun_says_why_it_cannot_start(nacl_inputs):
    s = session_with(nacl_inputs)
    with pytest.raises(SessionError, match="no result #1"):
        s.begin_rerun(0)
    run(s)
    s.show_run_folder("/tmp/elsewhere", "KCl", list(s.run.records), {})
    with pytest.raises(SessionError, match="press Predict for KCl first"):
        s.begin_rerun(0)
    assert "press Predict for KCl first" in s.rerun_problem(0)  # the menu asks the same question


def test_a_rerun_needs_the_map_of_the_results_own_z(nacl_inputs, monkeypatch):
    """A result whose relaxation halved its cell has another Z: the menu offers no re-run, and says
    which map it would need and that a Predict replaces the current (edited) maps."""
    from dataclasses import replace

    from conftest import nacl

    s = session_with(nacl_inputs)
    run(s)
    doubled = nacl() * (2, 1, 1)  # 16 atoms, one Na moved 0.36 Å (beyond 0.1 Å): Pm, Z = 8, a Z with no map here
    doubled.translate_sites([0], [0.3 / 11.28, 0.2 / 5.64, 0.0], frac_coords=True)
    s.run.results.records[0] = replace(s.run.records[0], structure=doubled)
    assert 8 not in s.inputs.zs
    z = s.inputs.current_z
    s.inputs.documents[z].toggle(0, 1)
    def no_model(*args, **kwargs):
        raise AssertionError("the menu's check loaded the candidate model (on the GUI thread)")

    with monkeypatch.context() as m:
        m.setattr("core.candidates.propose.spacegroup_prior", no_model)
        problem = s.rerun_problem(0)
    assert problem and "has Z = 8" in problem and "Predict with Z = 8" in problem and "save the project" in problem
    with pytest.raises(SessionError, match="has Z = 8"):
        s.begin_rerun(0)


# ---------------------------------------------------------------- issue 27: only the current run
def test_a_new_predict_or_run_clears_the_whole_previous_run_with_one_event(nacl_inputs):
    s = session_with(nacl_inputs)
    run(s)
    s.run.add_generation("c1", {"generation": 1, "best_fitness": 0.5, "mean_fitness": 0.2})
    s.run.view_result(0)
    cleared = []
    s.run.cleared.connect(lambda: cleared.append((s.run.results, s.run.histories, s.run.viewing, s.run.state, s.run.message)))
    s.set_inputs("NaCl", None, *nacl_inputs[:2], nacl_inputs[2])
    assert cleared == [(None, {}, None, RunState.IDLE, "")]
    assert s.run.result_document.n == 0
    run(s)
    before = len(cleared)
    s.begin_run()  # the next run starts: the previous one's results go with one event
    assert len(cleared) == before + 1 and s.run.results is None and s.run.state == RunState.STARTING


def provisional_row(energy, structure):
    from core import ResultRecord

    return ResultRecord(rank=0, source="template mp-1", energy_per_atom=energy, spacegroup=225, symbol="Fm-3m", z=1,
                        structure=structure, initial=structure)


def test_provisional_results_rank_by_energy_so_far_until_the_final_ranking_replaces_them(nacl_inputs, tmp_path):
    s = session_with(nacl_inputs)
    s.run.add_provisional("a/0", provisional_row(-3.0, nacl()))
    assert s.run.results is None  # no run going on: a late event changes nothing
    request = s.begin_run()
    events = []
    s.run.results_changed.connect(lambda: events.append([(r.key, r.rank) for r in s.run.records]))
    s.run.add_provisional("a/0", provisional_row(-3.0, nacl()))
    s.run.add_provisional("b/0", provisional_row(-3.5, nacl()))
    assert events[-1] == [("b/0", 1), ("a/0", 2)] and s.run.provisional and all(r.provisional for r in s.run.records)
    s.run.view_result(1)  # a/0
    s.run.add_provisional("c/0", provisional_row(-3.2, nacl()))
    assert s.run.records[s.run.viewing].key == "a/0" and s.run.viewing == 2  # the viewed one stays on view
    s.run.add_provisional("a/0", provisional_row(-3.9, nacl()))  # relaxed further: it replaces its row
    assert [r.key for r in s.run.records] == ["a/0", "b/0", "c/0"] and s.run.viewing == 0
    with pytest.raises(SessionError, match="provisional"):
        s.run.export_selection()
    project = s.to_project()
    assert project.results == [] and project.run is None  # never saved as if final
    assert s.has_unsaved_work  # results are work to lose
    assert s.work_at_stake() == "a run in progress (it is cancelled), 3 provisional results"
    from dataclasses import replace

    result = predict_structures(request.formula, replace(TINY, sources=("contact",)),
                                candidates=request.candidates[:1], contact_maps=request.maps)
    records = result.records()
    s.run.finish(result, records)
    assert not s.run.provisional and s.run.records == records and s.run.viewing is None
    s.run.add_provisional("d/0", provisional_row(-4.0, nacl()))  # after the end: ignored
    assert s.run.records == records


def test_only_work_that_would_be_lost_is_unsaved(nacl_inputs, tmp_path):
    s = session_with(nacl_inputs)
    changes = []
    s.dirty_changed.connect(lambda _: changes.append(s.has_unsaved_work))
    assert not s.has_unsaved_work and "*" not in s.title()  # a bare prediction can be made again
    s.inputs.document().toggle(0, 1)
    assert s.has_unsaved_work and "*" in s.title() and changes[-1] is True
    assert s.work_at_stake() == "edited maps, candidates or template ticks"  # what the Quit question names
    s.inputs.document().undo()
    assert not s.has_unsaved_work and changes[-1] is False
    s.inputs.set_template_ticked([False] + s.inputs.template_ticked[1:])
    assert s.has_unsaved_work
    s.inputs.set_template_ticked([True] * len(s.inputs.templates))
    assert not s.has_unsaved_work
    s.set_reference(nacl(), "nacl.cif", None)
    assert not s.has_unsaved_work  # a reference is a file that can be opened again
    run(s)
    assert s.has_unsaved_work  # results
    assert s.work_at_stake() == counted(len(s.run.records), "result")
    s.set_run_settings(**TINY.to_dict())
    s.save(tmp_path / "nacl.acproj")
    assert not s.has_unsaved_work
    s.inputs.set_template_ticked([False] + s.inputs.template_ticked[1:])
    s.inputs.set_template_ticked([True] * len(s.inputs.templates))
    assert s.has_unsaved_work and "*" in s.title()  # back to the prediction, but no longer what was saved
    assert s.work_at_stake() == "changes since nacl.acproj was saved"  # its saved results are not at stake
    s.set_inputs("NaCl", None, *nacl_inputs[:2], nacl_inputs[2])  # a new Predict: no saved project's
    assert not s.has_unsaved_work and s.project_path is None and "*" not in s.title()
    s.inputs.document().toggle(0, 1)
    assert s.has_unsaved_work and changes[-1] is True


def test_a_run_that_fails_or_finishes_nothing_gives_the_previous_results_back(nacl_inputs):
    s = session_with(nacl_inputs)
    run(s)
    before = s.run.records
    shown = []
    s.run.results_changed.connect(lambda: shown.append(len(s.run.records)))
    s.begin_run()
    assert s.run.results is None
    s.run.fail("engine stopped")
    assert s.run.records == before and s.run.state == RunState.FAILED and "previous results" in s.run.message
    assert shown[-1] == len(before)
    s.begin_run()  # a cancelled run with nothing finished

    class Nothing:
        cancelled, seconds = True, 1.0
        pool, rejected = [], []

    s.run.request_cancel()
    s.run.finish(Nothing(), [])
    assert s.run.records == before and s.run.state == RunState.CANCELLED


def test_saving_during_a_run_keeps_the_results_it_replaced_and_stays_unsaved(nacl_inputs, tmp_path):
    """Save while a run went on wrote a project without results (the provisional ones are not
    saved) and marked the session clean, so that Quit asked nothing: the results the run replaced
    and their fitness curves are saved, and the session stays unsaved until the run's own are."""
    s = session_with(nacl_inputs)
    s.run.add_generation("c1", {"generation": 1, "best_fitness": 0.7, "mean_fitness": 0.3})
    run(s)
    s.run.histories = {"c1": [(1, 0.7, 0.3)]}
    path = s.save(tmp_path / "nacl.acproj")
    before = [(r.rank, r.energy_per_atom) for r in s.run.records]
    s.begin_run()  # Start, then Ctrl+S before any structure finished
    s.run.add_generation("c9", {"generation": 1, "best_fitness": 0.1, "mean_fitness": 0.1})
    s.save(path)
    assert s.has_unsaved_work and "*" in s.title()  # Quit asks
    saved = Project.load(path)
    assert [(r["rank"], r["energy_per_atom"]) for r in saved.results] == before and set(saved.histories) == {"c1"}
    s.run.request_cancel()  # cancelled with nothing finished: the results and their curves come back

    class Nothing:
        cancelled, seconds = True, 1.0
        pool, rejected = [], []

    s.run.finish(Nothing(), [])
    assert [(r.rank, r.energy_per_atom) for r in s.run.records] == before and set(s.run.histories) == {"c1"}


def test_a_changed_run_setting_is_unsaved_work_in_a_saved_project(nacl_inputs, tmp_path):
    s = session_with(nacl_inputs)
    s.save(tmp_path / "nacl.acproj")
    assert not s.has_unsaved_work
    s.set_run_settings(generations=222)
    assert s.has_unsaved_work and "*" in s.title()
    s.save(tmp_path / "nacl.acproj")
    assert Project.load(tmp_path / "nacl.acproj").settings["generations"] == 222
    from core.app.preferences import Preferences

    s.set_preferences(Preferences(None, "cpu", 1, 150))  # a saved project keeps its own settings
    assert s.run_settings.generations == 222 and s.run_settings.device == "cpu" and not s.has_unsaved_work


def test_a_run_that_fails_after_relaxing_some_keeps_what_it_must(nacl_inputs):
    s = session_with(nacl_inputs)
    s.begin_run()  # no earlier results: the failed run's relaxed structures become its results
    s.run.add_provisional("a/0", provisional_row(-3.0, nacl()))
    s.run.fail("engine stopped")
    assert not s.run.provisional and len(s.run.records) == 1 and "kept" in s.run.message
    assert not s.run.records[0].provisional and "provisional" not in s.run.records[0].to_row()
    rows, _ = s.run.export_selection()  # exportable and saved
    assert len(rows) == 1 and s.to_project().results
    before = s.run.records
    s.begin_run()  # with earlier results: they come back, the failed run's partial rows go
    assert s.has_unsaved_work  # quitting now would lose the earlier results: it asks
    s.run.add_provisional("b/0", provisional_row(-3.5, nacl()))
    s.run.fail("engine stopped")
    assert s.run.records == before and not s.run.provisional and "previous results" in s.run.message


def test_the_session_owns_the_run_settings():
    import pytest

    from core.predict.settings import PredictionError

    s = Session()
    events = []
    s.run_settings_changed.connect(lambda: events.append(1))
    s.set_run_settings(population=40, jobs=1)
    s.set_run_settings(population=40)  # no change, no event
    assert s.run_settings.population == 40 and events == [1]
    with pytest.raises(PredictionError):
        s.set_run_settings(ranking="astrology")
    assert s.run_settings.ranking == "energy" and events == [1]  # refused: unchanged
    project = s.to_project()
    assert project.settings["population"] == 40
    other = Session()
    other.load_project(project)
    assert other.run_settings.population == 40 and other.run_settings.jobs == 1 and other.open_notes == []
    project.settings["ranking"] = "astrology"  # a hand-edited file: opened, that value's default, said
    project.settings["max_strain"] = 2.0  # beyond today's range: dropped alone, the rest kept
    other.load_project(project)
    assert other.run_settings.ranking == "energy" and other.run_settings.max_strain == PredictionSettings().max_strain
    assert other.run_settings.population == 40  # the project's other settings are kept
    assert "ranking 'astrology'" in other.open_notes[0] and "max_strain 2.0" in other.open_notes[0]


def test_an_all_metal_formula_with_templates_comes_with_cmcrystal_unticked():
    """The session ticks the inputs as ``predict`` would run them (one rule, not the window's)."""
    candidates, maps, templates = propose_inputs("Cu3Au")
    assert candidates and templates
    s = Session()
    s.set_inputs("Cu3Au", None, candidates, maps, templates)
    assert not any(s.inputs.candidate_ticked) and all(s.inputs.template_ticked)
    s.set_inputs("NaCl", None, *propose_inputs("NaCl"))
    assert all(s.inputs.candidate_ticked)


def test_the_session_holds_the_busy_state_of_the_windows_foreground_task(nacl_inputs):
    s = session_with(nacl_inputs)
    events = []
    s.busy_changed.connect(events.append)
    assert not s.busy
    s.begin_task("predicting NaCl")
    assert s.busy and s.busy_with == "predicting NaCl"
    with pytest.raises(SessionError, match="wait for predicting NaCl"):
        s.begin_task("a run")
    s.end_task()
    s.end_task()  # once is enough: one event
    assert not s.busy and events == ["predicting NaCl", ""]
    s.begin_run()
    assert s.busy and not s.busy_with  # a run is busy by its state


def test_a_reference_is_read_with_its_map_symmetry_and_the_readers_warnings(tmp_path):
    from core import AlphaCrystalError, read_reference

    path = tmp_path / "POSCAR"
    path.write_text("close\n1.0\n5 0 0\n0 5 0\n0 0 5\nNa Cl\n2 1\ndirect\n0 0 0\n0.02 0 0\n0.5 0.5 0.5\n")
    reference = read_reference(path)
    assert reference.name == "POSCAR" and len(reference.cell) == 3 and reference.contact_map.matrix.shape == (3, 3)
    assert reference.warnings and "closer than" in reference.warnings[0]
    assert reference.describe().startswith("POSCAR: Na2Cl, ")
    (tmp_path / "bad.cif").write_text("not a cif")
    with pytest.raises(AlphaCrystalError, match="bad.cif"):
        read_reference(tmp_path / "bad.cif")


def test_every_change_counts_in_the_sessions_revision(nacl_inputs):
    s = session_with(nacl_inputs)
    before = s.revision
    s.inputs.document().toggle(0, 1)
    assert s.revision > before  # a file read meanwhile can tell the session changed


def test_the_sessions_two_models_each_announce_their_own_changes(nacl_inputs, tmp_path):
    """Views subscribe to the model they show: an input edit is an ``inputs`` event, a run's
    results a ``run`` event; the session marks itself unsaved from either."""
    s = session_with(nacl_inputs)
    s.save(tmp_path / "p.acproj")
    heard: list[str] = []
    s.inputs.candidates_changed.connect(lambda: heard.append("candidates"))
    s.inputs.map_edited.connect(lambda z: heard.append(f"map {z}"))
    s.run.results_changed.connect(lambda: heard.append("results"))
    s.run.cleared.connect(lambda: heard.append("cleared"))
    s.inputs.set_template_ticked([False] * len(s.inputs.templates))
    assert heard == ["candidates"] and s.has_unsaved_work
    s.save(tmp_path / "p.acproj")
    z = s.inputs.current_z
    s.inputs.document().toggle(0, 1)
    assert heard[-1] == f"map {z}" and s.has_unsaved_work
    s.inputs.set_template_ticked([True] * len(s.inputs.templates))
    run(s)
    assert heard[-2:] == ["cleared", "results"] and s.run.records


def test_results_given_back_after_a_failed_run_are_unsaved_work(nacl_inputs, tmp_path):
    """Saved during a run (the file then holds the results the run replaced), then the run fails
    and the earlier results come back: the session stays unsaved (the file was written while the
    run went on), so Quit asks."""
    s = session_with(nacl_inputs)
    run(s)
    s.begin_run()
    s.save(tmp_path / "during.acproj")
    assert len(Project.load(tmp_path / "during.acproj").results) == len(s.run.previous_results.records)
    s.run.fail("engine stopped")
    assert s.run.records and s.has_unsaved_work


def test_candidate_edits_are_the_sessions_own_intents(nacl_inputs):
    """What the candidates table asks for, done by the session (the window only renders it):
    an edit of a lattice value follows the crystal system, another space group is checked,
    a bad value is refused by row and changes nothing; rows are added, ticked and removed."""
    from core.candidates.propose import CandidateEditError

    s = session_with(nacl_inputs)
    events = []
    s.inputs.candidates_changed.connect(lambda: events.append(1))
    first = s.inputs.candidates[0]
    s.inputs.edit_candidate(0, "a", "6.0")
    assert s.inputs.candidates[0].lattice[:3] == pytest.approx((6.0, 6.0, 6.0)) and s.dirty and events
    row = s.inputs.add_candidate_like(0)
    assert row == len(s.inputs.candidates) - 1 and s.inputs.candidate_ticked[row]
    s.inputs.edit_candidate(row, "spacegroup", "221")
    assert (s.inputs.candidates[row].spacegroup, s.inputs.candidates[row].symbol) == (221, "Pm-3m")
    s.inputs.edit_candidate(row, "spacegroup", "Fm-3m")  # a symbol, as crystallographers type it
    assert (s.inputs.candidates[row].spacegroup, s.inputs.candidates[row].symbol) == (225, "Fm-3m")
    s.inputs.edit_candidate(row, "spacegroup", "pm-3m")
    assert s.inputs.candidates[row].spacegroup == 221
    before = list(s.inputs.candidates)
    with pytest.raises(CandidateEditError, match=rf"row {row + 1}: 'abc' is neither a space-group number \(1 to 230\) "
                                                 "nor a Hermann-Mauguin symbol"):
        s.inputs.edit_candidate(row, "spacegroup", "abc")
    with pytest.raises(CandidateEditError, match=rf"row {row + 1}: "):
        s.inputs.edit_candidate(row, "spacegroup", "1000")
    for bad in ("nan", "inf", "-5", "0"):
        with pytest.raises(CandidateEditError, match="a positive finite number"):
            s.inputs.edit_candidate(row, "a", bad)
    # a value the group fixes, or a cell no atoms fit in, is refused with the reason (it snapped back silently)
    with pytest.raises(CandidateEditError, match=rf"row {row + 1}: α is fixed at 90° in a cubic cell \(Pm-3m\)"):
        s.inputs.edit_candidate(row, "alpha", "80")
    for bad, shown in (("0.5", "0.5"), ("500", "500")):
        with pytest.raises(CandidateEditError, match=rf"a = {shown} Å is out of range \(1-100 Å\)"):
            s.inputs.edit_candidate(row, "a", bad)
    assert s.inputs.candidates == before
    s.inputs.tick_candidate(row, False)
    assert 221 not in [c.spacegroup for c in s.inputs.ticked_candidates()]
    s.inputs.remove_candidate(row)
    assert len(s.inputs.candidates) == len(s.inputs.candidate_ticked) == row
    assert s.inputs.candidates[0].spacegroup == first.spacegroup
    s.inputs.tick_template(0, False)
    assert not s.inputs.template_ticked[0]


def test_a_project_saved_from_code_gets_the_project_suffix(nacl_inputs, tmp_path):
    """save(path) without the suffix writes NaCl.acproj, as the dialog does (and opens again);
    a name with another dot keeps it and gains the suffix."""
    s = session_with(nacl_inputs)
    written = s.save(tmp_path / "NaCl")
    assert written == tmp_path / "NaCl.acproj" and written.is_file() and not (tmp_path / "NaCl").exists()
    assert s.project_path == written and s.title().startswith("NaCl — ")
    assert s.save(tmp_path / "run.v2") == tmp_path / "run.v2.acproj"
    assert s.save(tmp_path / "kept.acproj") == tmp_path / "kept.acproj"
    other = Session()
    other.load_project(Project.load(written), written)
    assert other.inputs.formula == "NaCl"


def test_saving_into_a_missing_folder_is_refused_and_makes_nothing(nacl_inputs, tmp_path):
    """A mistyped folder is an error naming it (as for every output), not made; the session stays unsaved."""
    from core.app.project import ProjectFileError

    s = session_with(nacl_inputs)
    s._set_dirty(True)
    with pytest.raises(ProjectFileError, match="the folder .*typo.* does not exist"):
        s.save(tmp_path / "typo" / "NaCl.acproj")
    assert not (tmp_path / "typo").exists() and s.dirty and s.project_path is None
    (tmp_path / "dir.acproj").mkdir()
    with pytest.raises(ProjectFileError, match="is a folder, not a file"):
        s.save(tmp_path / "dir.acproj")


def test_opening_a_file_marks_the_session_unsaved_at_no_point(nacl_inputs, tmp_path):
    """A project or run folder replacing the session: the unsaved mark goes from the previous
    session's state to clean, never through a transient 'unsaved' of the new contents."""
    s = session_with(nacl_inputs)
    run(s)
    path = s.save(tmp_path / "p.acproj")
    other = Session()
    marks: list[bool] = []
    other.dirty_changed.connect(marks.append)
    other.load_project(Project.load(path), path)
    assert other.run.records and not other.dirty and marks.count(False) >= 1
    assert marks[-1] is False and marks.count(True) <= 1  # set_inputs' one mark, then clean
    folder = Session()
    folder_marks: list[bool] = []
    folder.dirty_changed.connect(folder_marks.append)
    folder.show_run_folder(tmp_path, "NaCl", s.run.records, {"seconds": 1.0})
    assert folder.run.records and not folder.dirty and folder_marks.count(True) <= 1 and folder_marks[-1] is False


def test_a_run_folders_results_come_with_the_settings_that_made_them(nacl_inputs):
    """Opening a `--fast` run folder left the run panel showing the defaults (population 100, 1000
    generations) beside its results (a new user's trial); where the machine runs stays this one's."""
    s = session_with(nacl_inputs)
    run(s)
    s.set_run_settings(jobs=1, device="cpu")
    stored = PredictionSettings(population=60, generations=300, second_potential=None, jobs=2, device="cuda", z=2,
                                sources=("templates",), seed=7)
    s.show_run_folder("/tmp/elsewhere", "NaCl", list(s.run.records), {"settings": stored.to_dict() | {"new_key": 1}})
    shown = s.run_settings
    assert (shown.population, shown.generations, shown.second_potential) == (60, 300, None)
    assert (shown.jobs, shown.device) == (1, "cpu") and not s.dirty
    # what the panel does not show would silently steer the next Predict: not taken
    assert (shown.z, shown.sources, shown.seed) == (PredictionSettings().z, PredictionSettings().sources,
                                                    PredictionSettings().seed)
    s.show_run_folder("/tmp/elsewhere", "NaCl", list(s.run.records), {"settings": {"population": -5}})
    assert s.run_settings.population == 60  # another version's unreadable settings leave them


def test_preferences_are_checked_and_become_the_run_settings_but_not_the_other_way(tmp_path, monkeypatch):
    from core.app.preferences import Preferences

    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="contact model file my.pt does not exist"):
        Preferences("my.pt", "cpu", 3, 250)
    (tmp_path / "my.pt").write_bytes(b"a model")
    s = Session()
    s.set_preferences(Preferences("my.pt", "cpu", 3, 250))
    assert (s.run_settings.device, s.run_settings.jobs, s.run_settings.generations) == ("cpu", 3, 250)
    s.set_run_settings(generations=40)  # the run panel: this run only
    assert s.preferences.generations == 250 and s.preferences.contact_model == "my.pt"
    for bad in ({"device": "gpu"}, {"jobs": 0}, {"generations": 0}, {"generations": 2_000_000}):
        with pytest.raises(Exception) as info:
            s.set_preferences(Preferences(**bad))
        assert str(next(iter(bad.values()))) in str(info.value)
    assert s.preferences.device == "cpu"  # unchanged by the refused ones
    assert Preferences(contact_model="  ").contact_model is None
    from core import COUNT_RANGES
    most = Preferences(jobs=COUNT_RANGES["jobs"][1], generations=COUNT_RANGES["generations"][1])
    s.set_preferences(most)  # every preference Preferences takes, the run settings take too
    assert s.run_settings.generations == COUNT_RANGES["generations"][1]


def test_settings_hold_a_project_to_the_limits_of_the_cli():
    """A project file or a script gets the limits of the CLI's options: one home, OTHER_RANGES."""
    from core import OTHER_RANGES, PredictionSettings

    for name, value in (("max_strain", 2.0), ("relax_steps", 0), ("top_k", 0), ("second_weight", 1.5),
                        ("near_tie", -0.001), ("ehull_threshold", float("nan")), ("stall", 0),
                        ("template_top_k", 0), ("fmax", 0.0), ("fmax", -1.0)):
        with pytest.raises(Exception, match="out of range|must be above 0") as info:
            PredictionSettings(**{name: value})
        assert name.replace("_", " ") in str(info.value) or "fmax" in str(info.value)
    assert PredictionSettings(max_strain=OTHER_RANGES["max_strain"][1], patience=0, refine_window=None).patience == 0


def test_a_run_with_more_processes_than_memory_holds_is_refused(nacl_inputs, monkeypatch):
    """The window's Processes box takes up to 1,024 (a project's value is never clipped): a run that
    would not fit this machine's memory is refused with the CLI's words, before anything starts."""
    import core.runtime.parallel as parallel
    from core.app.session import SessionError

    monkeypatch.setattr(parallel, "WORKER_MEMORY_GB", 1e9)
    s = session_with(nacl_inputs)
    s.set_run_settings(jobs=3)
    with pytest.raises(SessionError, match="Processes 3: 3 worker processes need about"):
        s.begin_run()
    assert not s.run.busy


def test_a_setting_refused_beside_the_defaults_is_kept_beside_its_own_values():
    """A project with SevenNet first and CHGNet second and one out-of-range value: the second potential
    was dropped with an untrue reason ("the second potential is the first one"), checked alone
    against the default first potential."""
    settings, refused = PredictionSettings.usable_from_dict(
        {"potential": "sevennet", "second_potential": "chgnet", "population": 10**9})
    assert (settings.potential, settings.second_potential) == ("sevennet", "chgnet")
    assert list(refused) == ["population"]


def test_a_projects_maps_are_checked_before_the_session_changes(nacl_inputs, tmp_path):
    """A map of the wrong size, with a -1 or 1e300 in it, one compound's map under another's formula or
    a threshold of 7.5 is refused naming the file; nothing of the session changes (a 3 × 3 map for two
    atoms opened half the project and then raised from the session; a -1 raised OverflowError)."""
    import json

    from core.app.project import ProjectFileError

    saved = session_with(nacl_inputs)
    path = tmp_path / "good.acproj"
    saved.save(path)
    good = json.loads(path.read_text())
    z = next(iter(good["maps"]))
    n = len(good["maps"][z]["prediction"]["species"])
    rows = good["maps"][z]["prediction"]["contact"]

    def damaged(change) -> Project:
        data = json.loads(path.read_text())
        change(data["maps"][z])
        return Project(**{k: v for k, v in data.items() if k in Project.__dataclass_fields__})

    s = session_with(nacl_inputs, "NaCl")
    s.inputs.document().toggle(0, 1)
    before = s.inputs.document().matrix.copy()
    cases = {
        "edited_map is 3x3, expected 2x2": lambda m: m.update(edited_map=[[0, 1, 0], [1, 0, 0], [0, 0, 0]]),
        "edited_map must hold 0 and 1 only \\(row 1 has -1\\)": lambda m: m.update(
            edited_map=[[0, -1] + [0] * (n - 2)] + [[0] * n for _ in range(n - 1)]),
        "edited_map must hold 0 and 1 only \\(row 2 has 1e\\+300\\)": lambda m: m.update(
            edited_map=[[0] * n, [1e300] + [0] * (n - 1)] + [[0] * n for _ in range(n - 2)]),
        "edited_map must be symmetric": lambda m: m.update(
            edited_map=[[0, 1] + [0] * (n - 2)] + [[0] * n for _ in range(n - 1)]),
        "threshold must be a probability in \\[0, 1\\], got 7.5": lambda m: m.update(threshold=7.5),
        "contact is 3x3, expected 2x2": lambda m: m["prediction"].update(contact=[[0, 1, 0], [1, 0, 0], [0, 0, 0]]),
        "species Na Cl Na Cl are not the atoms of formula NaCl with Z = 1": lambda m: m["prediction"].update(
            species=m["prediction"]["species"] * 2, labels=m["prediction"]["labels"] * 2),
        "is a map of KBr, not of the project's NaCl": lambda m: m["prediction"].update(
            formula="KBr", species=["K" if e == "Na" else "Br" for e in m["prediction"]["species"]]),
        "probabilities must lie in \\[0, 1\\]": lambda m: m["prediction"].update(
            probabilities=[[float("nan")] * n for _ in range(n)]),
    }
    assert len(rows) == n
    for message, change in cases.items():
        with pytest.raises(ProjectFileError, match=f"bad.acproj: not a readable project \\(the map of Z = {z}.*{message}"):
            s.load_project(damaged(change), tmp_path / "bad.acproj")
        assert s.inputs.formula == "NaCl" and np.array_equal(s.inputs.document().matrix, before)
        assert s.project_path is None
