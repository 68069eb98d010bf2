"""Outputs a user can hand to VASP unchecked, and no silent reinterpretation of the input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import rutile
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifParser
from pymatgen.io.vasp import Incar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from core.cli import main
from core.crystal.composition import parse_formula
from core.crystal.matching import same_structure
from core.crystal.symmetry import SPACEGROUP_SYMPREC, space_group
from core.errors import FormulaError, StructureFileError
from core.io.read import read_structure
from core.io.vasp import write_vasp_inputs
from core.io.write import write_cif, write_poscar
from core.predict.run_folder import RunFolder
from core.predict.scope import z_from_formula

ROOT = Path(__file__).resolve().parents[1]


def rattled_rutile(seed: int = 0, amplitude: float = 0.01) -> Structure:
    s = rutile()
    noise = np.random.default_rng(seed).normal(0, amplitude, (len(s), 3))
    return Structure(s.lattice, s.species, s.cart_coords + noise, coords_are_cartesian=True)


def test_the_symmetrised_cif_has_the_group_the_result_reports(tmp_path):
    s = rattled_rutile()
    number, _ = space_group(s)
    assert number == 136  # reported at SPACEGROUP_SYMPREC
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() != 136  # the rattle is real
    path = write_cif(s, tmp_path / "TiO2.cif", symmetrize=True)
    cif = CifParser(path).parse_structures(primitive=False)[0]
    assert SpacegroupAnalyzer(cif, symprec=0.01).get_space_group_number() == 136
    assert "P4_2/mnm" in path.read_text()


def test_incar_floats_read_as_vasp_users_write_them_and_magmom_is_the_input_sets(tmp_path):
    mno = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.45), ["Mn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    mno = mno.get_primitive_structure()
    mno.add_site_property("magmom", [0.05, 0.01])  # as a potential's predicted moments would be
    plain = Structure(mno.lattice, mno.species, mno.frac_coords)  # what the relaxer hands on: no moments
    folder = write_vasp_inputs(plain, tmp_path / "vasp")
    text = (folder / "INCAR").read_text()
    assert not re.search(r"\d\.\d{9,}", text), text  # no 0.00030000000000000003
    incar = Incar.from_file(folder / "INCAR")
    assert incar["EDIFF"] == pytest.approx(1e-4) and "EDIFF = 0.0001" in text
    assert incar["MAGMOM"] == [5.0, 0.6]  # MPRelaxSet's defaults: Mn 5 μB, O 0.6 μB


def test_the_relaxer_hands_on_no_calculator_moments():
    from core.relax.relaxer import Relaxer, RelaxSettings

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.45), ["Mn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    result = Relaxer(RelaxSettings(steps=3)).relax(s.get_primitive_structure())
    assert result.ok and result.structure.site_properties == {}


def test_duplicate_test_is_symmetric():
    class OneWay:
        """A matcher for which fit(a, b) != fit(b, a), as pymatgen's can be."""

        def fit(self, a, b, symmetric=False):
            one_way = a is first
            return (one_way or a is not first and b is first) if symmetric else one_way

    first, second = rutile(), rutile()
    assert same_structure(OneWay(), first, second) == same_structure(OneWay(), second, first) is True


def _entries(names, fail_at=None):
    def writer(name):
        def write(folder: Path) -> None:
            if name == fail_at:
                raise RuntimeError("killed")
            (folder / "x.cif").write_text(name)
            (folder / "result.json").write_text(json.dumps({"folder": name}))
        return write
    return [(n, writer(n)) for n in names]


def test_publishing_never_leaves_a_summary_listing_missing_folders(tmp_path, monkeypatch):
    folder = RunFolder(tmp_path / "run")
    folder.prepare()
    folder.publish(_entries(["01_A", "02_A"]), [{"folder": "01_A"}, {"folder": "02_A"}], {})
    # a failure while the new results are built leaves the old ones, summary included
    with pytest.raises(RuntimeError):
        folder.publish(_entries(["01_B", "02_B"], fail_at="02_B"), [{"folder": "01_B"}], {})
    assert sorted(p.name for p in folder.path.iterdir() if p.name[0].isdigit()) == ["01_A", "02_A"]
    assert json.loads((folder.path / "summary.json").read_text())["structures"][0]["folder"] == "01_A"
    # a kill in the middle of the swap: whatever summary exists lists only folders that exist
    calls = {"n": 0}
    real = os.replace

    def dying(a, b):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(os, "replace", dying)
    with pytest.raises(KeyboardInterrupt):
        folder.publish(_entries(["01_C", "02_C", "03_C"]), [{"folder": f"0{k}_C"} for k in (1, 2, 3)], {})
    monkeypatch.setattr(os, "replace", real)
    summary = folder.path / "summary.json"
    if summary.exists():
        for row in json.loads(summary.read_text())["structures"]:
            assert (folder.path / row["folder"]).is_dir()
    # the next run removes what a killed one left behind
    (folder.path / ".staging.x1").mkdir(exist_ok=True)
    RunFolder(folder.path).prepare()
    assert not list(folder.path.glob(".staging.*")) and not list(folder.path.glob(".retired.*"))


def test_a_zero_count_is_an_error_and_a_typed_multiple_is_said():
    with pytest.raises(FormulaError, match="Na has amount 0"):
        parse_formula("Na0Cl")
    assert z_from_formula(parse_formula("Ag4F8"), None) == (4, "Ag4F8 read as AgF2 with Z = 4 (12 atoms per "
                                                               "cell), as typed")
    z, line = z_from_formula(parse_formula("Ag5F10"), None)  # 15 atoms
    from core.predict.scope import contact_model_max_atoms

    if contact_model_max_atoms() >= 15:  # the 20-atom models are shipped: the typed cell runs as typed
        assert z == 5 and line == "Ag5F10 read as AgF2 with Z = 5 (15 atoms per cell), as typed"
    else:
        assert z is None and "beyond the contact route's 12 atoms (Z = 5, given, runs that cell on templates)" in line
    z, line = z_from_formula(parse_formula("C60H120"), None)
    assert z is None and "180 atoms" in line and "beyond the 20-atom limit" in line
    assert z_from_formula(parse_formula("AgF2"), None) == (None, None)


def test_cli_predict_says_how_it_read_the_formula(tmp_path, capsys):
    args = ["predict", "Ag2F4", "--out", str(tmp_path / "run"), "--sources", "templates", "--no-relax",
            "--templates-top-k", "1", "--jobs", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "note: Ag2F4 read as AgF2 with Z = 2 (6 atoms per cell), as typed"
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())["structures"]
    assert rows and all(r["z"] == 2 for r in rows)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["symprec"] == SPACEGROUP_SYMPREC and summary["device"] in ("cpu", "cuda:0")
    assert main(["predict", "Na0Cl", "--out", str(tmp_path / "bad")]) == 2
    assert "Na has amount 0" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_poscar_counts_must_match_the_coordinate_lines(tmp_path):
    good = write_poscar(Structure(Lattice.cubic(4), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                        tmp_path / "POSCAR")
    lines = good.read_text().splitlines()
    assert len(read_structure(good)) == 2
    zero = tmp_path / "POSCAR_zero"
    zero.write_text("\n".join(lines[:6] + ["1 0"] + lines[7:]) + "\n")
    with pytest.raises(StructureFileError, match=r"POSCAR_zero, line 7: atom counts '1 0'"):
        read_structure(zero)
    short = tmp_path / "short.vasp"
    short.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(StructureFileError, match=r"short.vasp, line 7: .* 2 atoms but 1 coordinate lines"):
        read_structure(short)


WORKERS_SCRIPT = """
import os, sys, time
from core.runtime.parallel import spawn_pool
def main():
    with spawn_pool(2) as pool:
        pids = list(pool.map(_pid, range(8)))
        print(" ".join(map(str, sorted(set(pids)))), flush=True)
        time.sleep(600)
def _pid(_):
    time.sleep(0.2)
    return os.getpid()
if __name__ == "__main__":
    main()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(WORKERS_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60  # the watchdog polls every second; generous under load
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers)
    finally:
        parent.kill()


def test_sigterm_stops_predict_like_ctrl_c(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "predict", "TiO2", "--out", str(out), "--jobs", "1",
                             "--generations", "100000", "--population", "60", "--top-k", "1", "--assignments", "1",
                             "--sources", "contact", "--no-relax"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        for line in proc.stderr:  # wait for the event, not for a time: the GA has started
            if line.startswith("reconstruction"):
                break
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=300) == 143
        assert "terminated: stopping after the current step" in rest and "finished steps are kept" in rest
    finally:
        proc.kill()


@pytest.mark.parametrize("args, words", [
    (["predict", "NaCl", "--spacegroup", "231"], "231 is not a space-group number"),
    (["predict", "NaCl", "--spacegroup", "Fm-3x"], "'Fm-3x' is neither a space-group number (1 to 230) nor a Hermann"),
    (["predict", "NaCl", "--jobs", "0"], "argument --jobs: 0 is not allowed"),
    (["predict", "NaCl", "--top-k", "0"], "argument --top-k: 0 is not allowed"),
    (["candidates", "NaCl", "--top-k", "-3"], "argument --top-k: -3 is not allowed"),
])
def test_bad_numbers_are_usage_errors_naming_the_option(args, words, capsys):
    """(A space group is also taken by its symbol: see test_a_space_group_is_taken_by_number_or_symbol.)"""
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and words in capsys.readouterr().err


def test_empty_contact_map_argument_and_a_closed_pipe(capsys):
    assert main(["contact-map", ""]) == 2
    assert "the formula or file name is empty" in capsys.readouterr().err
    done = subprocess.run(f"{sys.executable} -m core.cli contact-map Ag4F8 --probabilities | head -1",
                          shell=True, capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_device_names_and_a_missing_gpu_are_clear_errors(tmp_path, capsys):
    import torch

    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionSettings
    from core.runtime.device import DeviceError, resolve_device

    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        PredictionSettings(device="gpu")
    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "cuda:0")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the missing-GPU error cannot be shown")
    with pytest.raises(DeviceError, match="no CUDA device"):
        predict_structures("NaCl", PredictionSettings(device="cuda", relax=False))
    assert main(["predict", "NaCl", "--device", "cuda:1", "--out", str(tmp_path / "run")]) == 2
    assert "PyTorch sees no CUDA device" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_every_option_has_help_and_the_program_says_what_it_does():
    import argparse

    from core.cli import build_parser

    parser = build_parser()
    assert "alphacrystal predict" in parser.description and parser.description.startswith("AlphaCrystal Studio: crystal")
    missing = []

    def walk(p, path):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif action.option_strings and action.help is None:
                missing.append(" ".join([*path, action.option_strings[0]]))

    walk(parser, [])
    assert missing == []


def test_publishing_leaves_a_users_own_numbered_folder_alone(tmp_path):
    folder = RunFolder(tmp_path)
    folder.prepare()
    notes = tmp_path / "2024_notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("keep")
    folder.publish(_entries(["01_A"]), [{"folder": "01_A"}], {})
    folder.publish(_entries(["01_B"]), [{"folder": "01_B"}], {})
    assert (notes / "mine.txt").read_text() == "keep" and not (tmp_path / "01_A").exists()


def test_a_ragged_contact_map_is_named_not_a_numpy_riddle(tmp_path):
    from core.errors import AlphaCrystalError
    from core.reconstruction.inputs import read_target

    path = tmp_path / "target.json"
    path.write_text(json.dumps({"species": ["Na", "Cl"], "spacegroup": 225, "lattice": [5.6, 5.6, 5.6, 90, 90, 90],
                                "contact_map": [[0, 1], [1]]}))
    with pytest.raises(AlphaCrystalError, match=r"target.json: contact_map rows differ in length .*row 2 has 1"):
        read_target(path)


def test_magmom_from_the_potential_only_when_asked(tmp_path):
    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionError, PredictionSettings

    with pytest.raises(PredictionError, match="needs CHGNet relaxation"):
        PredictionSettings(magmom="potential", potential="sevennet")
    with pytest.raises(PredictionError, match=r"SevenNet-MF-0 \(PBE\) predicts no magnetic moments"):
        PredictionSettings(magmom="potential", potential="sevennet-mf-0")  # named, not "SevenNet-0"
    with pytest.raises(PredictionError, match="--no-relax relaxes nothing"):
        PredictionSettings(magmom="potential", relax=False)
    mno = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.45), ["Mn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    folder = write_vasp_inputs(mno.get_primitive_structure(), tmp_path / "vasp", magmoms=[4.2, 0.05])
    assert Incar.from_file(folder / "INCAR")["MAGMOM"] == [4.2, 0.05]
    settings = PredictionSettings(sources=("templates",), template_top_k=1, relax_steps=5, prerelax_steps=3,
                                  fmax=0.5, jobs=1, magmom="potential")
    result = predict_structures("MnO", settings, out_dir=tmp_path / "run")
    best = result.ranked[0]
    assert best.relaxation.magmoms and len(best.relaxation.magmoms) == len(best.structure)
    incar = Incar.from_file(best.folder / "vasp" / "INCAR")
    poscar_order = Structure.from_file(best.folder / "vasp" / "POSCAR")
    assert len(incar["MAGMOM"]) == len(poscar_order)
    assert sorted(incar["MAGMOM"]) == pytest.approx(sorted(best.relaxation.magmoms), abs=1e-3)
    assert "CHGNet's predicted moments" in json.loads((tmp_path / "run" / "summary.json").read_text())["magmom"]


def test_rows_carry_the_crystallography():
    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionSettings

    result = predict_structures("NaCl", PredictionSettings(sources=("templates",), template_top_k=1, relax=False,
                                                           jobs=1))
    row = result.ranked[0].record().to_row()
    assert row["relaxed_symbol"] == "Fm-3m" and row["a"] == row["b"] == row["c"]  # the conventional cube
    assert 5.2 < row["a"] < 6.2 and (row["alpha"], row["beta"], row["gamma"]) == (90.0, 90.0, 90.0)
    assert row["volume"] == pytest.approx(row["a"] ** 3, rel=1e-3)
    assert 1.8 < row["density"] < 2.6  # NaCl: 2.16 g/cm³


def test_one_result_record_for_the_summary_the_folder_the_window_and_projects(tmp_path):
    """The typed record round-trips through summary.csv (strings), result.json (JSON) and a
    project (with structures); the summary cell is the CIF's cell; a bad value is named."""
    import csv
    import io

    from core.predict.export import export_records
    from core.predict.pipeline import predict_structures
    from core.predict.record import ResultRecord, ResultRecordError
    from core.predict.result_folder import read_run_folder
    from core.predict.settings import PredictionSettings

    result = predict_structures("NaCl", PredictionSettings(sources=("templates",), template_top_k=2, relax=False,
                                                           jobs=1), out_dir=tmp_path / "run")
    records = result.records()
    assert [r.rank for r in records] == list(range(1, len(records) + 1)) and records[0].structure is not None
    assert list(records[0].to_row()) == list(ResultRecord.columns())  # no reference compared: no such column
    lines = list(csv.DictReader(io.StringIO((tmp_path / "run" / "summary.csv").read_text())))
    assert list(lines[0]) == list(ResultRecord.columns())
    from_csv = [ResultRecord.from_row(line) for line in lines]  # CSV strings back to typed values
    assert [r.to_row() for r in from_csv] == [r.to_row() for r in records]
    formula, opened, _ = read_run_folder(tmp_path / "run")
    assert formula == "NaCl" and [r.to_row() for r in opened] == [r.to_row() for r in records]
    assert all(r.initial is not None and r.structure is not None for r in opened)
    project = ResultRecord.from_dict(records[0].to_dict())
    assert project.to_row() == records[0].to_row() and project.structure == records[0].structure
    written, _ = export_records(opened[:1], tmp_path / "export", "NaCl")
    assert [p.name for p in written] == [records[0].folder]
    assert (written[0] / "template.cif").is_file() and (written[0] / "NaCl.cif").is_file()
    with pytest.raises(ResultRecordError, match="column 'energy_per_atom' has the value 'low'"):
        ResultRecord.from_row({"rank": 1, "energy_per_atom": "low"}, where="x")
    with pytest.raises(ResultRecordError, match="no rank"):
        ResultRecord.from_row({"source": "template mp-1"})
    loose = ResultRecord.from_row({"rank": "2", "source": None, "energy_per_atom": "None", "converged": ""})
    assert (loose.rank, loose.source, loose.energy_per_atom, loose.converged) == (2, "", None, None)


def test_exporting_all_results_writes_a_summary_but_never_over_a_users(tmp_path):
    """The window's Export all: summary.csv/json as predict writes them; a summary that is not this
    program's, or another formula's, stays as it is and a note says why no summary was written."""
    from core.predict.export import export_records
    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionSettings

    result = predict_structures("NaCl", PredictionSettings(sources=("templates",), relax=False, template_top_k=2,
                                                          jobs=1))
    records = [e.record() for e in result.ranked]
    out = tmp_path / "export"
    paths, notes = export_records(records, out, "NaCl", summary=True)
    assert {"summary.csv", "summary.json"} <= {p.name for p in paths} and notes == []
    assert len(json.loads((out / "summary.json").read_text())["structures"]) == len(records)
    from core.predict.result_folder import read_run_folder

    formula, reopened, _ = read_run_folder(out)  # the export opens as a run folder (its rows name their folders)
    assert formula == "NaCl" and [r.rank for r in reopened] == [r.rank for r in records]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.csv").write_text("my own table\n")
    paths, notes = export_records(records, mine, "NaCl", summary=True)
    assert (mine / "summary.csv").read_text() == "my own table\n" and "summary.csv not written" in notes[0]
    from core.predict.run_folder import ForeignResultsError

    with pytest.raises(ForeignResultsError, match="holds the results of NaCl, not KCl"):  # as predict refuses it
        export_records(records, out, "KCl", summary=True)
    assert json.loads((out / "summary.json").read_text())["formula"] == "NaCl"
    assert not any("KCl" in p.name for p in out.iterdir())  # nothing of KCl's written beside NaCl's


def test_a_space_group_is_taken_by_number_or_symbol():
    """A crystallographer writes Fm-3m: --spacegroup Fm-3m was refused (numbers only)."""
    from core.cli.options import spacegroup_number

    written = ("225", "Fm-3m", "P6_3/mmc", "P63/mmc", "P2_1/c", "P21/c", "Fm3m", "fm-3m", "Pbnm", "P23", "I4132")
    assert [spacegroup_number(t) for t in written] == [225, 225, 194, 194, 14, 14, 225, 225, 62, 195, 214]
    # the monoclinic settings crystallographers write (P2_1/n and I2/a were refused while Pbnm was taken)
    settings = ("P2_1/n", "P21/n", "P 1 21/n 1", "P2_1/a", "I2/a", "C2/c", "A2/m", "Cmca", "Cmma", "Bbcm", "Abma")
    assert [spacegroup_number(t) for t in settings] == [14, 14, 14, 14, 15, 15, 12, 64, 67, 64, 64]
