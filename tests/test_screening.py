"""alphacrystal screen: input parsing, a real screen on a 2-worker LocalCluster, resume,
retries after a worker dies, and the report files."""

import csv
import json
from pathlib import Path

import pytest

from core.screen.inputs import ScreenInputError, ScreenItem, read_screen_input


# ---------------------------------------------------------------- input
def test_text_input_with_comments_z_space_groups_and_bad_lines(tmp_path):
    path = tmp_path / "formulas.txt"
    path.write_text("# a phase field\nLiCoO2  3  R-3m\n\nNaCl   -  225 221   # two groups\nXx2O\nMgO 0\n"
                    "TiO2 2 999\nNaCl\n")
    found = read_screen_input(str(path))
    assert found.items == [ScreenItem("LiCoO2", 3, (166,), None, 2), ScreenItem("NaCl", None, (225, 221), None, 4)]
    assert found.problems[0] == "formulas.txt line 5: unknown element 'Xx' in formula 'Xx2O'"
    assert found.problems[1].startswith("formulas.txt line 6: Z must be a positive whole number")
    assert found.problems[2] == "formulas.txt line 7: 999 is not a space-group number: they run from 1 to 230"
    assert len(found.problems) == 3 and found.notes == ["formulas.txt line 8: NaCl is already on line 4 (run once)"]


def test_a_screen_with_bad_lines_refuses_before_any_work(tmp_path, capsys):
    """A typo is not a shorter screen: bad lines are named and nothing runs (exit 2, no output
    folder) unless --skip-bad-lines; a formula listed twice is only a note."""
    from core.cli import main

    out = tmp_path / "out"
    assert main(["screen", "{Li,Na}{Cl,Brr}", "--out", str(out), "--fast", "--no-relax"]) == 2
    err = capsys.readouterr().err
    assert "2 bad lines, nothing was run: pattern: unknown element 'Brr' in formula 'LiBrr'" in err
    assert "--skip-bad-lines" in err and not out.exists()
    path = tmp_path / "list.txt"
    path.write_text("NaCl\nZn0\n")
    assert main(["screen", str(path), "--out", str(out)]) == 2
    assert "list.txt: 1 bad line, nothing was run: list.txt line 2:" in capsys.readouterr().err


def test_csv_input_with_a_reference_column(tmp_path):
    from conftest import nacl
    from pymatgen.io.cif import CifWriter

    CifWriter(nacl()).write_file(tmp_path / "nacl.cif")
    (tmp_path / "junk.cif").write_text("data_x\n")
    path = tmp_path / "screen.csv"
    path.write_text("formula,z,spacegroup,reference\nNaCl,1,225,nacl.cif\nKBr,,,\nCsCl,1,,missing.cif\n"
                    "KCl,,,nacl.cif\nLiF,,,junk.cif\n")
    found = read_screen_input(str(path))
    assert found.items[0] == ScreenItem("NaCl", 1, (225,), str(tmp_path / "nacl.cif"), 2)
    assert found.items[1] == ScreenItem("KBr", None, (), None, 3)
    # every reference is read with the input: a missing, another compound's or an unreadable one is a problem
    # of its line before any work (they were a 'match False' or a reason after the run)
    assert found.problems[:2] == ["screen.csv line 4: reference 'missing.cif': no such file",
                                  "screen.csv line 5: reference nacl.cif is NaCl, not KCl"]
    assert found.problems[2].startswith("screen.csv line 6: ") and "junk.cif" in found.problems[2]
    assert len(found.items) == 2
    (tmp_path / "bad.csv").write_text("compound,z\nNaCl,1\n")
    with pytest.raises(ScreenInputError, match="bad.csv line 1: no 'formula' column"):
        read_screen_input(str(tmp_path / "bad.csv"))


def test_one_formula_is_a_screen_of_one_and_a_missing_file_is_named(tmp_path):
    assert [i.formula for i in read_screen_input("NaCl").items] == ["NaCl"]
    with pytest.raises(ScreenInputError, match="no such file, and not a formula or a pattern"):
        read_screen_input(str(tmp_path / "formulas.txt"))


def test_pattern_expands_to_the_product_in_order():
    found = read_screen_input("{Li,Na,K}{Co,Ni}O2")
    assert [i.formula for i in found.items] == ["LiCoO2", "LiNiO2", "NaCoO2", "NaNiO2", "KCoO2", "KNiO2"]
    assert read_screen_input("{Li,Xx}F").problems == ["pattern: unknown element 'Xx' in formula 'XxF'"]
    for bad in ("{Li,Na}{Co", "{Li,{Na}}O", "{Li,}O"):
        with pytest.raises(ScreenInputError):
            read_screen_input(bad)
    with pytest.raises(ScreenInputError, match="no such file"):
        read_screen_input("formulas-that-are-not-here.txt")


def test_cluster_config_file_names_a_bad_line(tmp_path):
    from core.screen.cluster import read_cluster_config
    from core.screen.errors import ScreenError

    good = tmp_path / "slurm.cfg"
    good.write_text("# our partition\nqueue = short\ncores = 4\nmemory = 16GB\nwalltime = 02:00:00\naccount = csp\n")
    assert read_cluster_config(good) == {"queue": "short", "cores": 4, "memory": "16GB", "walltime": "02:00:00",
                                         "account": "csp"}
    bad = tmp_path / "bad.cfg"
    bad.write_text("queue = short\nnodes = 3\n")
    with pytest.raises(ScreenError, match="bad.cfg line 2: unknown setting 'nodes'"):
        read_cluster_config(bad)


# ---------------------------------------------------------------- screens on a real LocalCluster
@pytest.fixture(scope="module")
def client():
    from core.screen.cluster import ClusterSpec, start_cluster

    client, cluster = start_cluster(ClusterSpec("local", workers=2), retries=1)
    yield client
    client.close()
    cluster.close()


def test_a_three_formula_screen_writes_rows_folders_and_report(client, tmp_path, monkeypatch):
    from core.cli import main

    inp = tmp_path / "in.txt"
    inp.write_text("NaCl\nKBr 1\nMgO 1 225\n")
    monkeypatch.setattr("core.screen.cluster.start_cluster", lambda spec, retries=2: (client, None))
    monkeypatch.setattr(client, "close", lambda: None)  # the module's client outlives the command
    out = tmp_path / "screen"
    assert main(["screen", str(inp), "--out", str(out), "--fast", "--no-relax", "--sources", "templates"]) == 0
    rows = list(csv.DictReader((out / "screen.csv").open()))
    assert [r["formula"] for r in rows] == ["NaCl", "KBr", "MgO"]
    assert all(r["status"] == "done" and r["symbol"] == "Fm-3m" and Path(r["cif"]).is_file() for r in rows)
    assert {r["worker"] for r in rows} <= {w for w in client.scheduler_info()["workers"]}
    for r in rows:
        assert json.loads((out / r["formula"] / "summary.json").read_text())["structures"]
    html = (out / "report.html").read_text()
    assert html.count("<tr") == 1 + 3 and "NaCl/01_NaCl_Fm-3m/NaCl.cif" in html  # header + one per formula

    # resume: every formula is finished, so nothing runs again
    from screen_helpers import must_not_run

    from core.screen.inputs import read_screen_input
    from core.screen.screening import screen

    again = screen(read_screen_input(str(inp)).items, out, {}, client, task=must_not_run)
    assert [r["status"] for r in again] == ["done (earlier run)"] * 3


def test_a_worker_killed_mid_task_costs_a_retry_and_then_a_failure(tmp_path):
    """One worker, so that deaths never coincide (Dask charges a task for every worker that
    dies while it is assigned there; two workers killed at the same moment can charge a
    task twice for one try)."""
    from screen_helpers import dies_on_first_try

    from core.screen.cluster import ClusterSpec, start_cluster
    from core.screen.screening import screen

    items = [ScreenItem("NaCl", line=1), ScreenItem("KBr", line=2)]
    client, cluster = start_cluster(ClusterSpec("local", workers=1), retries=1)
    try:
        rows = screen(items, tmp_path, {}, client, retries=1, task=dies_on_first_try)
    finally:
        client.close()
        cluster.close()
    assert rows[0]["status"] == "done" and (tmp_path / "NaCl.attempts").read_text() == "2"
    assert rows[1]["status"] == "failed" and "KilledWorker" in rows[1]["reason"]
    assert int((tmp_path / "KBr.attempts").read_text()) == 2  # first try and one retry
    written = list(csv.DictReader((tmp_path / "screen.csv").open()))
    assert [(r["formula"], r["status"]) for r in written] == [("NaCl", "done"), ("KBr", "failed")]


def test_slurm_job_script_from_a_config_file(tmp_path):
    """--cluster slurm builds dask-jobqueue's SLURMCluster from the config file (no job is
    submitted here: the job script is what sbatch would get)."""
    from core.screen.cluster import ClusterSpec, jobqueue_cluster, read_cluster_config

    path = tmp_path / "slurm.cfg"
    path.write_text("queue = short\naccount = csp\nwalltime = 01:30:00\nmemory = 8GB\n")
    cluster = jobqueue_cluster(ClusterSpec("slurm", workers=4, config=read_cluster_config(path)))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -A csp" in script and "#SBATCH -t 01:30:00" in script
    assert "export OMP_NUM_THREADS=1" in script and "--nthreads 1" in script


def test_a_rerun_with_other_settings_is_not_skipped(tmp_path):
    """A finished folder counts as done only for the settings it was made with."""
    import dataclasses

    from core.predict.settings import PredictionSettings
    from core.screen.screening import finished, task_settings

    settings = dataclasses.asdict(PredictionSettings.fast())
    item = ScreenItem("NaCl", z=1)
    folder = tmp_path / item.name
    folder.mkdir()
    stored = {**task_settings(item, settings), "jobs": 2, "device": "cpu"}  # where it ran does not matter
    (folder / "summary.json").write_text(json.dumps({"settings": stored, "structures": []}))
    assert finished(folder, task_settings(item, settings))
    assert not finished(folder, task_settings(ScreenItem("NaCl", z=2), settings))  # another Z
    assert not finished(folder, task_settings(item, {**settings, "population": 100}))  # another GA budget


def test_a_screen_is_sorted_by_energy_above_the_hull_and_its_report_filters_by_it(tmp_path):
    from core.screen.report import report_html
    from core.screen.screening import screen_order, write_report

    rows = [{"formula": "LiCoO2", "status": "done", "e_above_hull_meV": 35.0, "stability": "metastable",
             "decomposition": "0.500 LiO + 0.500 CoO2"},
            {"formula": "NaCoO2", "status": "failed", "e_above_hull_meV": None},
            {"formula": "KCoO2", "status": "done", "e_above_hull_meV": "-4.0", "stability": "stable",
             "decomposition": "1.000 KCoO2"},
            {"formula": "LiNiO2", "status": "done", "e_above_hull_meV": 120.0, "stability": "unstable",
             "decomposition": "0.500 Li2O + 0.500 NiO2"}]
    assert [r["formula"] for r in screen_order(rows)] == ["KCoO2", "LiCoO2", "LiNiO2", "NaCoO2"]
    write_report(tmp_path, rows)
    written = list(csv.DictReader((tmp_path / "screen.csv").open()))
    assert [r["formula"] for r in written] == ["KCoO2", "LiCoO2", "LiNiO2", "NaCoO2"]
    assert written[1]["stability"] == "metastable" and written[1]["decomposition"] == "0.500 LiO + 0.500 CoO2"
    html = report_html(screen_order(rows), tmp_path)
    assert "id='hull-limit'" in html and "data-hull='35.0'" in html and "data-hull=''" in html
    rows[0]["seconds"] = 20.2
    assert "<td data-v='20.2'>20.2</td>" in report_html(rows, tmp_path)  # seconds as seconds, not 20.2000
    del rows[0]["seconds"]
    assert "Energy above the hull of the rank-1 structure (meV/atom)" in html  # rows without their lowest
    rows[0]["hull_note"] = "the known phase mp-23193 (Fm-3m)"  # an explanation, not a doubt: no flag
    assert "⚠ see note</span>" not in report_html(rows, tmp_path)
    rows[0]["hull_warning"] = "1,549 meV/atom below every known phase: the references may be incomplete"
    html = report_html(rows, tmp_path)  # the doubt is shown where "stable" is read, not only in screen.csv
    assert "⚠ see note" in html and "below every known phase: the references may be incomplete" in html
    del rows[0]["hull_note"], rows[0]["hull_warning"]
    # a formula whose rank 1 is not its lowest structure in the hull's energy is placed by its lowest
    for row, lowest in zip(rows, (35.0, None, -4.0, -10.0)):
        row["lowest_e_above_hull_meV"] = lowest
    assert [r["formula"] for r in screen_order(rows)] == ["LiNiO2", "KCoO2", "LiCoO2", "NaCoO2"]
    # far below a hull that lacks its system's phases (MgO, withheld: -1,549 meV/atom) is no best find
    uncertain = {"formula": "MgO", "status": "done", "e_above_hull_meV": -1549.0, "stability": "uncertain"}
    assert [r["formula"] for r in screen_order([*rows, uncertain])] == ["LiNiO2", "KCoO2", "LiCoO2", "MgO", "NaCoO2"]
    # no E_hull limit keeps an untrusted figure, and the plot does not squash the others to draw it
    page = report_html(screen_order([*rows, uncertain]), tmp_path)
    assert page.count("data-uncertain='1'") == 1 and "data-hull='-1549.0' data-uncertain='1'" in page
    assert "not drawn: MgO (uncertain" in page and ">-1549.0<" not in page.split("<table>")[0]
    assert "figures of MgO are uncertain" in report_html([uncertain], tmp_path)
    # re-ranked, rank 1 need not be the lowest: the row is placed by its lowest, and so by that one's label
    reranked = {"formula": "MgO", "status": "done", "e_above_hull_meV": 3.0, "stability": "metastable",
                "lowest_e_above_hull_meV": -1549.0, "lowest_stability": "uncertain"}
    assert [r["formula"] for r in screen_order([*rows, reranked])][-2:] == ["MgO", "NaCoO2"]
    html = report_html(screen_order(rows), tmp_path)
    # the lowest figure is shown only where it differs from rank 1's, and the E_hull filter reads it
    from core.screen.report import lower_than_rank1

    assert [lower_than_rank1(r) for r in rows] == [None, None, None, -10.0]  # equal to rank 1, none, equal, lower
    assert lower_than_rank1({"e_above_hull_meV": "12.0", "lowest_e_above_hull_meV": "12.0"}) is None  # screen.csv
    assert lower_than_rank1({"e_above_hull_meV": "12.0", "lowest_e_above_hull_meV": "3.5"}) == 3.5
    assert "<td data-v='-10.0'>-10.0</td>" in html and "data-hull='-10.0'" in html
    assert "Lowest E_hull of its structures" not in html
    assert "Lowest energy above the hull among each formula&#x27;s structures" in html or \
        "Lowest energy above the hull among each formula's structures" in html


def test_a_screen_row_finds_the_cif_of_a_formula_with_brackets(tmp_path):
    """The screen reads the rank-1 CIF by the result folder's own name for it (structure_cif_name):
    for H8S(NO2)2 the file is H8S-NO2-2.cif, and the row named none (no reference match either)."""
    from pymatgen.core import Lattice, Structure

    from core.predict.record import ResultRecord
    from core.predict.result_folder import write_structure_folder
    from core.predict.run_folder import RunFolder
    from core.screen.screening import row_from_folder

    formula = "H8S(NO2)2"
    structure = Structure(Lattice.cubic(7.0), ["N", "N", "H", "H", "H", "H", "H", "H", "H", "H", "S", "O", "O", "O", "O"],
                          [[k / 16, (k * 3 % 16) / 16, (k * 5 % 16) / 16] for k in range(15)])
    record = ResultRecord(rank=1, formula=formula, structure=structure, energy_per_atom=-5.0)
    folder = RunFolder(tmp_path / "screen-item", formula)
    folder.prepare()
    name = "01_H8S-NO2-2_P1"
    folder.publish([(name, lambda f: write_structure_folder(f, record, formula))],
                   [record.to_row() | {"folder": name}], {"formula": formula})
    row = row_from_folder(ScreenItem(formula), tmp_path / "screen-item")
    assert row["status"] == "done" and row["cif"].endswith(f"{name}/H8S-NO2-2.cif") and Path(row["cif"]).is_file()


def test_a_screen_names_folders_as_predict_does_and_resumes_an_earlier_name(tmp_path):
    """One rule makes a formula a folder name (safe_name): a screen named Ca3(PO4)2's folder
    `Ca3(PO4)2` where `predict` names it `Ca3-PO4-2`. A screen folder written by the earlier rule is
    still found, so that re-running that screen resumes it."""
    from core.io.outputs import STATE_DIR
    from core.predict.run_folder import safe_name

    item = ScreenItem("Ca3(PO4)2")
    assert item.name == safe_name("Ca3(PO4)2") == "Ca3-PO4-2"
    assert item.folder(tmp_path) == tmp_path / "Ca3-PO4-2"
    (tmp_path / "Ca3(PO4)2" / STATE_DIR).mkdir(parents=True)  # a screen of before 2026-12-05
    assert item.folder(tmp_path) == tmp_path / "Ca3(PO4)2"
    (tmp_path / "Ca3-PO4-2").mkdir()
    assert item.folder(tmp_path) == tmp_path / "Ca3-PO4-2"  # the new name, once it exists


def test_a_screen_task_leaves_the_vasp_remarks_in_the_files_not_on_the_terminal(tmp_path, monkeypatch):
    """Every worker printed pymatgen's 'Co ... low spin' remark (about ten lines for three Co formulas);
    it is in each vasp/README.txt. Other warnings of a prediction still reach the terminal."""
    import dataclasses
    import warnings

    import core.predict.pipeline as pipeline
    from core.errors import AlphaCrystalError, StructureWarning, VaspRemarkWarning
    from core.predict.settings import PredictionSettings
    from core.screen.screening import screen_task

    def predicting(formula, settings, out_dir):
        warnings.warn(VaspRemarkWarning("VASP inputs: Co without an oxidation state ..."), stacklevel=1)
        warnings.warn(StructureWarning("atoms 1 and 2 are 0.3 Å apart"), stacklevel=1)
        raise AlphaCrystalError("stopped here")  # the task's failed row: no files needed

    monkeypatch.setattr(pipeline, "predict_structures", predicting)
    monkeypatch.setattr("core.screen.screening.background_priority", lambda: None)  # not this test process's
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        row = screen_task(ScreenItem("CoO"), dataclasses.asdict(PredictionSettings.fast()), str(tmp_path))
    assert row["status"] == "failed" and "stopped here" in row["reason"]
    assert [str(w.message) for w in said] == ["atoms 1 and 2 are 0.3 Å apart"]


def test_a_screen_refuses_the_users_table_and_report_and_other_settings_results(tmp_path):
    """A screen replaced a user's own screen.csv and report.html, and a re-run with another potential
    replaced an earlier screen's results in place: both are refused before any work, naming why;
    --overwrite replaces the results; our own table and report are continued."""
    import dataclasses

    from core.predict.settings import PredictionSettings
    from core.screen.errors import ScreenError
    from core.screen.screening import check_screen_outputs, task_settings, write_report

    items = [ScreenItem("NaCl"), ScreenItem("KBr")]
    fast = dataclasses.asdict(PredictionSettings.fast())
    users = tmp_path / "users"
    users.mkdir()
    (users / "screen.csv").write_text("my,own,data\n")
    with pytest.raises(ScreenError, match="screen.csv is not a screen table of this program"):
        check_screen_outputs(users, items, fast)
    (users / "screen.csv").unlink()
    (users / "report.html").write_text("<html>my notes</html>")
    with pytest.raises(ScreenError, match="report.html is not a screen report of this program"):
        check_screen_outputs(users, items, fast)
    ours = tmp_path / "ours"
    ours.mkdir()
    write_report(ours, [])
    done = ours / items[0].name
    done.mkdir()
    (done / "summary.json").write_text(json.dumps({"settings": task_settings(items[0], fast), "structures": []}))
    check_screen_outputs(ours, items, fast)  # the same settings: that screen goes on
    other = {**fast, "potential": "sevennet"}
    with pytest.raises(ScreenError, match=r"1 formula \(NaCl\) was screened there with other settings "
                                          r"\(--potential chgnet -> sevennet\).*--overwrite"):
        check_screen_outputs(ours, items, other)
    check_screen_outputs(ours, items, other, overwrite=True)
    # in the command line's words and units (it said 'ehull_threshold 0.1 -> 0.05' to a user who typed 50) ...
    from core.screen.screening import settings_changes

    stored = task_settings(items[0], fast)
    assert settings_changes(stored, {**stored, "symmetry_prior": 0.002}) == [
        "--symmetry-prior 10 meV/atom -> 2 meV/atom"]
    default = task_settings(items[0], dataclasses.asdict(PredictionSettings()))
    assert settings_changes(stored, default) == ["--fast -> no --fast"]  # not six settings of the preset
    assert settings_changes(stored, {**stored, "population": 100}) == ["--population 60 -> 100"]  # one option
    assert settings_changes(stored, {**stored, "fmax": 0.1}) == ["fmax 0.2 -> 0.1 (a --fast setting)"]
    # ... and a threshold or frame alone is no loss: the same structures are placed on the hull again
    check_screen_outputs(ours, items, {**fast, "ehull_threshold": 0.05, "stability_frame": "potential"})


def test_the_report_names_the_metastable_limit_of_the_screen(tmp_path):
    """report.html said "metastable (above it by at most the threshold of the run)" without the value."""
    from core.screen.screening import write_report

    write_report(tmp_path, [], ehull_threshold=0.05)
    assert "by at most 50 meV/atom, this screen's --ehull-threshold" in (tmp_path / "report.html").read_text()


def test_a_bad_z_is_told_the_way_of_its_own_input_format(tmp_path):
    """A CSV's z = 0 was told to write '-', the text format's way of asking for automatic Z."""
    text = tmp_path / "f.txt"
    text.write_text("NaCl 0\n")
    assert "positive whole number or '-' for automatic Z" in read_screen_input(str(text)).problems[0]
    table = tmp_path / "f.csv"
    table.write_text("formula,z\nNaCl,0\n")
    assert "positive whole number or an empty cell for automatic Z" in read_screen_input(str(table)).problems[0]


def test_the_report_lists_the_input_lines_a_screen_skipped(tmp_path):
    """With --skip-bad-lines a bad line was said on the console only: report.html read '3 formulas:
    3 done' with no word of the fourth line."""
    from core.screen.screening import write_report

    write_report(tmp_path, [], skipped=("f.txt line 4: Xx2O: unknown element Xx",))
    page = (tmp_path / "report.html").read_text()
    assert "1 input line skipped (--skip-bad-lines), not screened" in page and "f.txt line 4: Xx2O" in page
    write_report(tmp_path, [])
    assert "skipped" not in (tmp_path / "report.html").read_text().split("<table")[0].split("<h1>")[1]
