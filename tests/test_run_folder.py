"""A prediction's output folder never removes what the user wrote (core.predict.run_folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.predict.run_folder import ForeignResultsError, OutputFolderError, RunFolder


def _result(name: str, formula: str, poscar: str):
    """A writer of a result folder as the pipeline writes it (core.predict.result_folder.write_structure_folder:
    symmetrised CIF, POSCAR whose comment names the rank, vasp/, result.json); ``poscar`` names the
    structure ("H one", "H two", ...: a different cell for each)."""
    from pymatgen.core import Composition, Lattice, Structure

    from core.predict.record import ResultRecord
    from core.predict.result_folder import write_structure_folder

    elements = [str(e) for e in Composition(formula).elements]
    a = 3.0 + sum(map(ord, poscar)) % 97 / 50  # one cell per name
    structure = Structure(Lattice.cubic(a), elements, [[k / (len(elements) + 1)] * 3 for k in range(len(elements))])
    rank = int(name.split("_")[0])
    record = ResultRecord(rank=rank, formula=formula, structure=structure)
    return name, lambda folder: write_structure_folder(folder, record, formula)


def _publish(path: Path, formula: str, poscars: dict[str, str]) -> RunFolder:
    folder = RunFolder(path, formula)
    folder.prepare()
    folder.publish([_result(name, formula, text) for name, text in poscars.items()],
                   [{"folder": name} for name in poscars], {"formula": formula})
    return folder


def test_a_rerun_moves_the_users_files_along_with_the_same_structure(tmp_path):
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "OUTCAR").write_text("my DFT run")
    (tmp_path / "01_H_P6_3-mmc" / "mynotes.txt").write_text("notes")
    # the same structures again, ranked the other way round
    folder = _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    moved = tmp_path / "02_H_P6_3-mmc"
    assert (moved / "vasp" / "OUTCAR").read_text() == "my DFT run"
    assert (moved / "mynotes.txt").read_text() == "notes"
    assert not (tmp_path / "01_H_Fm-3m" / "mynotes.txt").exists()
    assert any("moved along" in note and "02_H_P6_3-mmc" in note for note in folder.notes)
    # and the summary says so too (a screen prints no notes: it was said nowhere)
    assert any("moved along" in note for note in json.loads((tmp_path / "summary.json").read_text())["notes"])
    # still the user's on the run after that (the manifest lists what the program wrote)
    _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    assert (moved / "vasp" / "OUTCAR").read_text() == "my DFT run"


def test_a_narrower_rerun_says_which_earlier_folders_it_removed(tmp_path):
    """--top-k 3 after --top-k 5 removed 04_ and 05_ without a word (a new user's trial)."""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n", "03_H_Pnma": "H three\n"})
    (tmp_path / "03_H_Pnma" / "mynotes.txt").write_text("notes")
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    assert not (tmp_path / "02_H_Fm-3m").exists()
    removed = [note for note in folder.notes if note.startswith("removed ")]
    assert removed == ["removed 1 result folder of the earlier run that this run did not make again: "
                       "02_H_Fm-3m (they held only files the program wrote)"], folder.notes
    assert any("03_H_Pnma" in note and "kept" in note for note in folder.notes)  # the user's notes kept it
    # the same structures ranked the other way round: renamed, none removed
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    swapped = _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    assert not [note for note in swapped.notes if note.startswith("removed ")], swapped.notes


def test_a_summary_the_user_edited_is_kept_not_replaced(tmp_path):
    """A column added to summary.csv was silently overwritten by the next run (a new user's trial)."""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})  # the program's own summary: replaced
    assert not folder.notes and not list(tmp_path.glob("kept_*"))
    edited = (tmp_path / "summary.csv").read_text().replace("folder", "folder,my_note", 1) + "first,\n"
    (tmp_path / "summary.csv").write_text(edited)
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    assert (tmp_path / "kept_summary.csv").read_text() == edited
    assert "my_note" not in (tmp_path / "summary.csv").read_text()
    assert any("kept your edited summary.csv as kept_summary.csv" in note for note in folder.notes)
    (tmp_path / "summary.csv").write_text(edited)  # edited again: the second copy keeps its suffix
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    assert (tmp_path / "kept_summary-2.csv").read_text() == edited


def test_a_run_killed_while_swapping_its_summaries_in_does_not_take_its_own_for_the_users(tmp_path, monkeypatch):
    """Killed after the new summaries were renamed in but before the manifest was saved, the next
    run saw its own summary with a hash it did not know and kept it as if the user had edited it."""
    import core.predict.run_folder as run_folder

    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})

    saves = []

    def killed(self, written):  # the save during the swap happens, the final one after it never does
        saves.append(written)
        if len(saves) > 1:
            raise KeyboardInterrupt
        return real(self, written)

    real = run_folder.RunFolder._save_manifest
    monkeypatch.setattr(run_folder.RunFolder, "_save_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H two\n"})
    monkeypatch.setattr(run_folder.RunFolder, "_save_manifest", real)
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H two\n"})
    assert not list(tmp_path.glob("kept_summary*")) and not any("summary" in note for note in folder.notes)


def test_a_folder_whose_structure_is_gone_is_kept_whole_and_said(tmp_path):
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "INCAR").write_text("ENCUT = 700\n")  # the user edited ours
    before = (tmp_path / "01_H_P6_3-mmc" / "POSCAR").read_text()
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H other\n"})
    kept = tmp_path / "kept_01_H_P6_3-mmc"
    assert (kept / "vasp" / "INCAR").read_text() == "ENCUT = 700\n" and (kept / "POSCAR").read_text() == before
    assert (tmp_path / "01_H_P6_3-mmc" / "POSCAR").read_text() != before
    assert any("kept 01_H_P6_3-mmc as kept_01_H_P6_3-mmc" in note and "no new result has exactly its POSCAR" in note
               for note in folder.notes)
    # a folder without the user's files is replaced as before
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H third\n"})
    assert folder.notes == [] and not (tmp_path / "kept_01_H_P6_3-mmc-2").exists()


def test_another_formulas_results_are_refused_unless_overwrite(tmp_path):
    _publish(tmp_path, "ZnO", {"01_ZnO_P6_3mc": "ZnO\n"})
    with pytest.raises(ForeignResultsError, match="holds the results of ZnO, not NaCl.*--overwrite"):
        RunFolder(tmp_path, "NaCl").prepare()
    assert (tmp_path / "01_ZnO_P6_3mc" / "POSCAR").is_file()
    RunFolder(tmp_path, "Zn2O2").prepare()  # the same compound
    (tmp_path / "01_ZnO_mybackup").mkdir()  # a copy the user made of a result folder: never retired
    (tmp_path / "01_ZnO_mybackup" / "result.json").write_text('{"formula": "ZnO"}')
    (tmp_path / "01_ZnO_P6_3mc" / "mine.txt").write_text("mine")
    _publish_over = RunFolder(tmp_path, "NaCl", overwrite=True)
    _publish_over.prepare()
    _publish_over.publish([_result("01_NaCl_Fm-3m", "NaCl", "NaCl\n")], [{"folder": "01_NaCl_Fm-3m"}],
                          {"formula": "NaCl"})
    assert (tmp_path / "kept_01_ZnO_P6_3mc" / "mine.txt").read_text() == "mine"
    assert (tmp_path / "01_ZnO_mybackup" / "result.json").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["formula"] == "NaCl"


def test_files_the_program_did_not_write_stop_it_before_anything_is_touched(tmp_path):
    (tmp_path / "summary.csv").write_text("my,own\n1,2\n")
    (tmp_path / "01_NaCl_Fm-3m").mkdir()
    with pytest.raises(OutputFolderError, match="summary.csv was not written by alphacrystal"):
        RunFolder(tmp_path, "NaCl").prepare()
    (tmp_path / "summary.csv").unlink()
    with pytest.raises(OutputFolderError, match="01_NaCl_Fm-3m is named like a result folder"):
        RunFolder(tmp_path, "NaCl").prepare()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_NaCl_Fm-3m"]  # nothing made, nothing removed


def test_cli_predict_refuses_another_formulas_folder_before_work(tmp_path, capsys):
    _publish(tmp_path, "ZnO", {"01_ZnO_P6_3mc": "ZnO\n"})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["predict", "NaCl", "--fast", "--no-relax", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphacrystal: error:") and "holds the results of ZnO" in err and err.count("\n") == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_predict_and_screen_refuse_each_others_folders_before_work(tmp_path, capsys, monkeypatch):
    """`predict ZnO --out SCREEN` wrote its results at the top of a screen's folder, and `screen --out
    RUN` put a screen.csv and formula folders into a prediction's run folder (a new user's trial):
    each is refused with one line, nothing written."""
    screen = tmp_path / "screen"
    screen.mkdir()
    (screen / "screen.csv").write_text("formula,status\n")
    assert main(["predict", "ZnO", "--fast", "--no-relax", "--out", str(screen), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a screen's folder (it holds screen.csv)" in err
    assert sorted(p.name for p in screen.iterdir()) == ["screen.csv"]
    # nor into one formula's folder of it: that replaced the formula's results behind screen.csv
    (screen / "NaCl" / ".alphacrystal").mkdir(parents=True)  # the screen's run of NaCl
    assert main(["predict", "NaCl", "--fast", "--no-relax", "--out", str(screen / "NaCl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a formula's folder of the screen" in err and "re-run the screen" in err
    assert sorted(p.name for p in (screen / "NaCl").iterdir()) == [".alphacrystal"]
    from core.cli.predict import _refuse_a_screens_formula_folder

    _refuse_a_screens_formula_folder(screen / "KBr", overwrite=False)  # no run of the screen there: allowed
    run = tmp_path / "run"
    _publish(run, "NaCl", {"01_NaCl_Fm-3m": "NaCl\n"})
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("NaCl\nZnO\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for out, words in ((run, "is a prediction's run folder"), (run / "sub", "lies inside")):
        assert main(["screen", str(formulas), "--out", str(out), "--fast"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "give a screen a folder of its own" in err
    monkeypatch.chdir(run)  # a relative --out inside a run folder is found too
    assert main(["screen", str(formulas), "--out", "sub", "--fast"]) == 2
    assert "lies inside" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    from core.screen.screening import check_screen_folder

    other = tmp_path / "node-project"
    other.mkdir()
    (other / "summary.json").write_text('{"name": "my tool"}')  # another program's summary: not a run folder
    check_screen_folder(other / "screens")


def test_writing_vasp_inputs_again_keeps_the_users_vasp_outputs(tmp_path):
    from pymatgen.core import Lattice, Structure

    from core.io.vasp import write_vasp_inputs

    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    folder = write_vasp_inputs(rock_salt, tmp_path / "vasp")
    (folder / "OUTCAR").write_text("my DFT run")
    (folder / "runs").mkdir()
    (folder / "runs" / "job.sh").write_text("#!/bin/sh")
    write_vasp_inputs(rock_salt, folder)
    assert (folder / "OUTCAR").read_text() == "my DFT run" and (folder / "runs" / "job.sh").is_file()
    assert (folder / "INCAR").is_file() and not list(tmp_path.glob(".vasp*"))


def test_an_edited_file_of_a_structure_found_again_keeps_the_old_folder_and_says_why(tmp_path):
    """MAGMOM added to vasp/INCAR, then the same structure again: the old folder is kept (the
    new run writes its own INCAR), and the note says the structure is there, not that it is gone."""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "INCAR").write_text("MAGMOM = 2*1\n")
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    assert (tmp_path / "kept_01_H_P6_3-mmc" / "vasp" / "INCAR").read_text() == "MAGMOM = 2*1\n"
    assert folder.notes == ["kept 01_H_P6_3-mmc as kept_01_H_P6_3-mmc: it holds 1 file of yours (vasp/INCAR); the "
                            "same structure is now 01_H_P6_3-mmc, but the run writes vasp/INCAR there anew, so your "
                            "version stays with the old folder"]


def test_a_run_killed_before_the_users_files_moved_keeps_them(tmp_path):
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    (tmp_path / "01_H_P6_3-mmc" / "mynotes.txt").write_text("notes")
    (tmp_path / ".retired.x").mkdir()  # where a killed re-run left the old folder
    (tmp_path / "01_H_P6_3-mmc").rename(tmp_path / ".retired.x" / "01_H_P6_3-mmc")
    (tmp_path / ".staging.y").mkdir()
    folder = RunFolder(tmp_path, "H")
    folder.prepare()
    assert (tmp_path / "kept_01_H_P6_3-mmc" / "mynotes.txt").read_text() == "notes"
    assert any("kept 01_H_P6_3-mmc as kept_01_H_P6_3-mmc" in note for note in folder.notes)
    assert not list(tmp_path.glob(".retired.*")) and not list(tmp_path.glob(".staging.*"))


def test_vasp_inputs_that_cannot_replace_the_folder_leave_the_users_files_in_it(tmp_path, monkeypatch):
    import os

    from pymatgen.core import Lattice, Structure

    from core.errors import StructureFileError
    from core.io.vasp import write_vasp_inputs

    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    folder = write_vasp_inputs(rock_salt, tmp_path / "vasp")
    (folder / "OUTCAR").write_text("my DFT run")
    (folder / "WAVECAR.link").symlink_to(folder / "OUTCAR")
    real = os.replace

    def failing(a, b):
        if str(a).startswith(str(tmp_path / ".vasp.")) and ".old." not in str(a) and str(b) == str(folder):
            raise OSError(13, "Permission denied")  # the new inputs cannot take the folder's place
        return real(a, b)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(StructureFileError, match="Permission denied"):
        write_vasp_inputs(rock_salt, folder)
    monkeypatch.setattr(os, "replace", real)
    assert (folder / "OUTCAR").read_text() == "my DFT run" and (folder / "WAVECAR.link").is_symlink()
    write_vasp_inputs(rock_salt, folder)  # and when it works, the link moves along too
    assert (folder / "OUTCAR").read_text() == "my DFT run" and (folder / "WAVECAR.link").is_symlink()
    assert not list(tmp_path.glob(".vasp*")) and not list(tmp_path.glob("vasp.kept*"))


def _export(path: Path, poscars: dict[str, str]) -> RunFolder:
    """The desktop app's export: result folders written in place (RunFolder.write_in_place)."""
    folder = RunFolder(path)
    folder.write_in_place([_result(name, "H", text) for name, text in poscars.items()])
    return folder


def test_a_re_export_keeps_a_file_the_user_edited(tmp_path):
    _export(tmp_path, {"01_H_P6_3-mmc": "H one\n"})
    poscar = tmp_path / "01_H_P6_3-mmc" / "POSCAR"
    edited = poscar.read_text().replace("rank 1", "rank 1, my MAGMOM set")
    poscar.write_text(edited)
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "OUTCAR").write_text("my DFT run")
    folder = _export(tmp_path, {"01_H_P6_3-mmc": "H other\n"})  # another structure took rank 1
    kept = tmp_path / "kept_01_H_P6_3-mmc"
    assert (kept / "POSCAR").read_text() == edited and (kept / "vasp" / "OUTCAR").read_text() == "my DFT run"
    assert (tmp_path / "01_H_P6_3-mmc" / "POSCAR").read_text() != edited
    assert folder.notes == ["kept 01_H_P6_3-mmc as kept_01_H_P6_3-mmc: you edited POSCAR"]


def test_a_re_export_replaces_its_own_files_and_leaves_the_users_added_ones(tmp_path):
    _export(tmp_path, {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "OUTCAR").write_text("my DFT run")
    before = (tmp_path / "01_H_P6_3-mmc" / "POSCAR").read_text()
    folder = _export(tmp_path, {"01_H_P6_3-mmc": "H other\n"})  # only the selected one, changed
    assert folder.notes == [] and not list(tmp_path.glob("kept_*"))
    assert (tmp_path / "01_H_P6_3-mmc" / "POSCAR").read_text() != before  # ours: replaced
    assert (tmp_path / "01_H_P6_3-mmc" / "vasp" / "OUTCAR").read_text() == "my DFT run"
    assert (tmp_path / "02_H_Fm-3m" / "POSCAR").exists()  # another export's folder: left as it was


def test_an_export_over_a_folder_it_did_not_record_keeps_every_difference(tmp_path):
    from core.io.outputs import MANIFEST, STATE_DIR

    _export(tmp_path, {"01_H_P6_3-mmc": "H one\n"})
    (tmp_path / STATE_DIR / MANIFEST).unlink()  # written by an older version, or copied here
    assert _export(tmp_path, {"01_H_P6_3-mmc": "H one\n"}).notes == []  # the same files: nothing to keep
    (tmp_path / STATE_DIR / MANIFEST).unlink()
    folder = _export(tmp_path, {"01_H_P6_3-mmc": "H other\n"})
    assert (tmp_path / "kept_01_H_P6_3-mmc" / "POSCAR").exists() and "kept 01_H_P6_3-mmc" in folder.notes[0]


def test_an_old_result_folder_that_cannot_be_moved_leaves_everything_as_it_was(tmp_path, monkeypatch):
    """A result folder the system would not let go (chattr +i): the summaries were deleted first, then a
    traceback; now one error names the folder and the old summaries and folders are all still there."""
    import os

    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    before = {p.name: p.read_bytes() for p in tmp_path.glob("summary.*")}
    stuck = tmp_path / "02_H_Fm-3m"
    real_replace = os.replace

    def refusing(src, dst):
        if Path(src) == stuck:
            raise PermissionError(1, "Operation not permitted")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refusing)
    with pytest.raises(OutputFolderError, match=r"cannot move .*02_H_Fm-3m aside to replace it \(Operation not "
                                                r"permitted\); the earlier results are left as they were"):
        _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.glob("summary.*")} == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "01_H_P6_3-mmc", "02_H_Fm-3m", "summary.csv", "summary.json"]
    assert (tmp_path / "01_H_P6_3-mmc" / "POSCAR").is_file()


def test_the_programs_own_summary_csv_without_its_json_is_still_its_own(tmp_path):
    """summary.json deleted by hand: the folder was refused ("summary.csv was not written by alphacrystal"),
    even with --overwrite, though the manifest lists that summary.csv as written by the program."""
    from core.predict.run_folder import our_summary_formula

    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    (tmp_path / "summary.json").unlink()
    assert our_summary_formula(tmp_path) == ""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})  # runs again into it
    assert (tmp_path / "summary.json").is_file()
    (tmp_path / "summary.json").unlink()
    (tmp_path / "summary.csv").write_text("my own table\n")  # the user's: refused as before
    with pytest.raises(OutputFolderError, match="summary.csv was not written by alphacrystal"):
        our_summary_formula(tmp_path)


def test_an_empty_folder_the_user_made_in_a_result_folder_moves_along(tmp_path):
    """mkdir 01_.../vasp/run1 for a DFT run: a re-run removed it without a word (only files counted)."""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    (tmp_path / "01_H_P6_3-mmc" / "vasp" / "run1").mkdir()
    folder = _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    assert (tmp_path / "02_H_P6_3-mmc" / "vasp" / "run1").is_dir()
    assert any("vasp/run1/" in note for note in folder.notes)


def test_an_emptied_program_folder_is_not_the_users_and_an_edited_summary_is_noted_in_the_new_one(tmp_path):
    """An emptied vasp/ (the program's own folder) kept the old result folder whole as kept_ with
    "1 file of yours"; the note on a kept edited summary.csv was missing from summary.json."""
    import shutil

    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    vasp = tmp_path / "01_H_P6_3-mmc" / "vasp"
    shutil.rmtree(vasp)
    vasp.mkdir()
    with open(tmp_path / "summary.csv", "a") as table:
        table.write("my note\n")
    folder = _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n"})
    assert not any(p.name.startswith("kept_01") for p in tmp_path.iterdir())
    assert not any("of yours" in note or "you added" in note for note in folder.notes)
    notes = json.loads((tmp_path / "summary.json").read_text())["notes"]
    assert any("kept_summary.csv" in note for note in notes) and (tmp_path / "kept_summary.csv").is_file()


def test_files_that_moved_along_leave_no_kept_copy_behind(tmp_path):
    """A user's dft/OUTCAR moved along with its structure, and the old folder, now holding only the empty
    dft/, was also kept whole as kept_02_... ('it holds 1 file of yours'), one more on every re-run."""
    _publish(tmp_path, "H", {"01_H_P6_3-mmc": "H one\n", "02_H_Fm-3m": "H two\n"})
    (tmp_path / "02_H_Fm-3m" / "dft").mkdir()
    (tmp_path / "02_H_Fm-3m" / "dft" / "OUTCAR").write_text("my run")
    (tmp_path / "01_H_P6_3-mmc" / "emptydir").mkdir()
    folder = _publish(tmp_path, "H", {"01_H_Fm-3m": "H two\n", "02_H_P6_3-mmc": "H one\n"})
    assert (tmp_path / "01_H_Fm-3m" / "dft" / "OUTCAR").read_text() == "my run"
    assert (tmp_path / "02_H_P6_3-mmc" / "emptydir").is_dir()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("kept_")]
    assert not any(" as kept_" in note for note in folder.notes)
