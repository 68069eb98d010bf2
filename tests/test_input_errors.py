"""Bad input of every kind ends in one ``alphacrystal: error: ...`` line and exit code 2,
before any work and before anything is written (issue 27): GA population, structure files
(degenerate lattices, unknown elements, atoms on top of each other), batch clusters without
their submit command or without workers, numeric options, output paths."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import pytest
from conftest import nacl
from pymatgen.io.cif import CifWriter

from core.cli import build_parser, main
from core.cli import options as cli
from core.cli.predict import _worker_timeout as worker_timeout
from core.errors import AlphaCrystalError, StructureFileError, StructureWarning
from core.io.read import MIN_ATOM_DISTANCE, read_structure
from core.reconstruction.ga import MIN_POPULATION


def one_error_line(err: str, *words: str) -> None:
    """``err`` is one ``alphacrystal: error:`` line that names every word."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alphacrystal: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, err)


def usage_error(argv: list[str], capsys, *words: str) -> None:
    """``argv`` is refused while parsing (exit 2) with one line naming ``words``."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    one_error_line(capsys.readouterr().err, *words)


def poscar(lattice: list[str], species: str = "Na Cl", counts: str = "1 1",
           coords: tuple[str, ...] = ("0 0 0", "0.5 0.5 0.5"), scale: str = "1.0") -> str:
    return "test\n" + scale + "\n" + "\n".join(lattice) + f"\n{species}\n{counts}\nDirect\n" + "\n".join(coords) + "\n"


CUBIC = ["4 0 0", "0 4 0", "0 0 4"]


# ---------------------------------------------------------------- 1. the GA's population
@pytest.mark.parametrize("command", ["predict", "reconstruct"])
@pytest.mark.parametrize("value", ["1", "2", "3"])
def test_population_below_the_ga_minimum_is_one_rule_before_any_folder(command, value, tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    target = "NaCl" if command == "predict" else str(tmp_path / "in.json")
    usage_error([command, target, "--population", value], capsys, "--population", f"{value} is not allowed",
                f"from {MIN_POPULATION}")
    assert list(tmp_path.iterdir()) == []  # no .alphacrystal, no predictions/ folder


@pytest.mark.parametrize("field, value", [("population", 3), ("population", 10_001), ("generations", 0),
                                          ("restarts", 0), ("n_assignments", 1001), ("jobs", 0)])
def test_settings_out_of_the_engines_range_are_refused_by_the_settings(field, value):
    """The one home of the ranges (COUNT_RANGES): a script or a project gets the same refusal as the CLI."""
    from core.predict.settings import COUNT_RANGES, PredictionError, PredictionSettings

    low, high = COUNT_RANGES[field]
    with pytest.raises(PredictionError, match=rf"out of range: give {low} to {high}"):
        PredictionSettings(**{field: value})


def test_the_clis_setting_options_take_their_ranges_from_the_settings():
    """Each predict option of a PredictionSettings field allows exactly that field's range (COUNT_RANGES,
    OTHER_RANGES; meV/atom options × 1000): the CLI had its own literal copies of five of them."""
    from core.cli.main import build_parser
    from core.cli.options import Number
    from core.predict.settings import COUNT_RANGES, OTHER_RANGES, cli_scale

    predict = build_parser()._subparsers._group_actions[0].choices["predict"]
    fields = {"top_k": "top_k", "strain": "max_strain", "second_weight": "second_weight",
              "symmetry_prior": "symmetry_prior", "near_tie": "near_tie", "ehull_threshold": "ehull_threshold",
              "relax_per_candidate": "relax_per_candidate", "templates_top_k": "template_top_k",
              "patience": "patience", "stall": "stall", "population": "population", "generations": "generations",
              "restarts": "restarts", "assignments": "n_assignments", "escalate": "escalate_to"}
    checked = 0
    for action in predict._actions:
        if action.dest in fields and isinstance(action.type, Number):
            field = fields[action.dest]
            scale = cli_scale(field)
            low, high = {**COUNT_RANGES, **OTHER_RANGES}[field]
            assert (action.type.low, action.type.high) == pytest.approx((low * scale, high * scale)), action.dest
            checked += 1
    assert checked == len(fields)


def test_the_minimum_population_runs(tmp_path, capsys):
    spec = {"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": [5.64, 5.64, 5.64, 90, 90, 90],
            "contact_map": [[0, 1], [1, 0]], "name": "nacl"}
    inp = tmp_path / "nacl.json"
    inp.write_text(json.dumps(spec))
    assert main(["reconstruct", str(inp), "--out", str(tmp_path / "out"), "--population", str(MIN_POPULATION),
                 "--generations", "3", "--assignments", "1", "--escalate", "0", "--jobs", "1"]) == 0
    assert (tmp_path / "out" / "nacl-rank1-sg225.cif").is_file()


def test_a_prediction_that_offers_nothing_leaves_no_folder(tmp_path, monkeypatch, capsys):
    """NaCl with Z = 1 in Ia-3d: no Wyckoff assignment, an error before any folder is made."""
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "NaCl", "--sources", "contact", "--spacegroup", "230", "--z", "1", "--no-relax",
                 "--fast"]) == 2
    assert "Ia-3d (230) admit no Wyckoff assignment" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no predictions/NaCl/.alphacrystal


# ---------------------------------------------------------------- 2. structure files, checked once on reading
DEGENERATE = {
    "zero vector": (poscar(["0 0 0", "0 4 0", "0 0 4"]), "has length 0"),
    "coplanar": (poscar(["4 0 0", "0 4 0", "4 4 0"]), "degenerate cell"),
    "nan": (poscar(["nan 0 0", "0 4 0", "0 0 4"]), "non-finite"),
    "inf": (poscar(["inf 0 0", "0 4 0", "0 0 4"]), "non-finite"),
    "zero scale": (poscar(CUBIC, scale="0"), "degenerate cell"),
    "too long": (poscar(["1e300 0 0", "0 4 0", "0 0 4"]), "not a crystal's cell"),
    "nan coordinate": (poscar(CUBIC, coords=("nan 0 0", "0.5 0.5 0.5")), "atom 1 has a coordinate"),
    "unknown element": (poscar(CUBIC, species="Xx Cl"), "'Xx', not a known element"),
    "short lattice line": (poscar(["4 0 0", "0 4 0", "0 0"]), r"line 5: lattice vector '0 0' has 2 numbers, not 3"),
    "word in lattice": (poscar(["4 0 0", "0 four 0", "0 0 4"]), r"line 4: lattice vector '0 four 0' is not three"),
    "too few atoms": (poscar(CUBIC, counts="1 2"), r"line 7: the counts '1 2' add up to 3 atoms but 2 coordinate"),
}


@pytest.mark.parametrize("name", ["bad_POSCAR", "my.POSCAR", "CONTCAR_relaxed", "x.vasp"])
def test_every_name_read_as_a_poscar_is_checked_line_by_line(name, tmp_path):
    path = tmp_path / name
    path.write_text(poscar(CUBIC, counts="1 2"))
    with pytest.raises(StructureFileError, match="line 7: the counts"):
        read_structure(path)


def test_a_vasp4_poscar_without_element_names_is_an_error_not_hydrogen_and_helium(tmp_path, capsys):
    """No element line: pymatgen named the atoms H, He (rock salt became H4He4 with H/He VASP
    inputs). Elements are taken from the first line when it names one per count (the VASP 4
    habit), with a warning; otherwise an error naming line 6, and nothing is written."""
    vasp4 = poscar(CUBIC).replace("\nNa Cl\n", "\n")  # comment 'test', then the counts
    path = tmp_path / "old.POSCAR"
    path.write_text(vasp4)
    with pytest.raises(StructureFileError, match=r"line 6: the atom counts '1 1' follow the lattice with no line "
                                                 r"of element symbols .*add the element line"):
        read_structure(path)
    assert main(["export", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "VASP 4 format" in capsys.readouterr().err and not (tmp_path / "out").exists()
    (tmp_path / "POTCAR.spec").write_text("Na\nCl\n")  # what our vasp/ folders hold: not a POTCAR to read
    with pytest.raises(StructureFileError, match="neither a POTCAR beside it nor the first line"):
        read_structure(path)
    path.write_text("Na Cl" + vasp4[len("test"):])
    with pytest.warns(StructureWarning, match="elements were read from its first line: Na Cl"):
        structure = read_structure(path)
    assert structure.composition.reduced_formula == "NaCl"
    # export checks close atoms itself, and still says how the file was read (it said nothing)
    assert main(["export", str(path), "--out", str(tmp_path / "exported"), "--formats", "cif"]) == 0
    assert "elements were read from its first line: Na Cl" in capsys.readouterr().err
    # a formula as the title names the elements too ("NaCl" was refused although it names them)
    path.write_text("NaCl rock salt" + vasp4[len("test"):])
    with pytest.warns(StructureWarning, match="read from the formula NaCl on its first line: Na Cl"):
        assert read_structure(path).composition.reduced_formula == "NaCl"
    path.write_text("Na1 Cl1" + vasp4[len("test"):])  # the comment pymatgen (and our vasp/POSCAR) write
    with pytest.warns(StructureWarning, match="the formula Na1 Cl1 on its first line: Na Cl"):
        assert read_structure(path).composition.reduced_formula == "NaCl"
    path.write_text("NaCl 2" + vasp4[len("test"):])  # "NaCl2" is not the counts 1 1: the first word still names them
    with pytest.warns(StructureWarning, match="the formula NaCl on its first line: Na Cl"):
        assert read_structure(path).composition.reduced_formula == "NaCl"
    path.write_text("Fe2O3" + vasp4[len("test"):])  # counts 1 1 do not make Fe2O3: the title is not trusted
    with pytest.raises(StructureFileError, match="nor the first line names 2 elements"):
        read_structure(path)
    path.write_text("Fe2O3" + vasp4[len("test"):].replace("\n1 1\n", "\n2 3\n").replace(
        "0.5 0.5 0.5\n", "0.5 0.5 0.5\n0.1 0.2 0.3\n0.6 0.1 0.2\n0.3 0.7 0.1\n"))
    with pytest.warns(StructureWarning, match="the formula Fe2O3"):
        assert read_structure(path).composition.reduced_formula == "Fe2O3"
    path.write_text("NaClO" + vasp4[len("test"):])  # three elements for two counts: refused
    with pytest.raises(StructureFileError, match="nor the first line names 2 elements"):
        read_structure(path)


def test_a_cif_with_poscar_in_its_name_is_read_as_a_cif(tmp_path):
    from conftest import nacl

    path = tmp_path / "NaCl_from_POSCAR.cif"
    nacl().to(filename=str(path))
    assert read_structure(path).composition.reduced_formula == "NaCl"


@pytest.mark.parametrize("case", DEGENERATE)
def test_bad_structure_files_are_a_structure_file_error_naming_the_file(case, tmp_path):
    text, words = DEGENERATE[case]
    path = tmp_path / "POSCAR"
    path.write_text(text)
    with pytest.raises(StructureFileError, match=words) as err:
        read_structure(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("case", ["zero vector", "nan", "unknown element"])
@pytest.mark.parametrize("command", ["export", "contact-map", "reconstruct"])
def test_bad_structure_files_stop_every_command_before_it_writes(case, command, tmp_path, capsys):
    text, words = DEGENERATE[case]
    path = tmp_path / "POSCAR"
    path.write_text(text)
    out = tmp_path / "out"
    argv = {"export": ["export", str(path), "--out", str(out)],
            "contact-map": ["contact-map", str(path), "--json", str(tmp_path / "map.json")],
            "reconstruct": ["reconstruct", str(path), "--out", str(out), "--json", str(tmp_path / "r.json")]}[command]
    assert main(argv) == 2
    one_error_line(capsys.readouterr().err, str(path), words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["POSCAR"]  # nothing written, no partial files


def test_a_cif_with_a_flat_cell_is_refused(tmp_path):
    text = str(CifWriter(nacl())).replace("_cell_angle_alpha   90.00000000", "_cell_angle_alpha   0")
    path = tmp_path / "flat.cif"
    path.write_text(text)
    with pytest.raises(StructureFileError, match="flat.cif"):
        read_structure(path)


def test_atoms_on_top_of_each_other_give_a_warning(tmp_path, monkeypatch, capsys):
    path = tmp_path / "POSCAR"
    path.write_text(poscar(CUBIC, coords=("0 0 0", "0.0001 0.0001 0.0001")))  # 0.0007 Å apart
    with pytest.warns(StructureWarning, match=rf"atoms 1 \(Na\) and 2 \(Cl\) are 0.0007 Å apart, closer than "
                                              rf"{MIN_ATOM_DISTANCE} Å"):
        read_structure(path)
    monkeypatch.setattr("core.io.vasp.potcar_configured", lambda: False)
    # DFT input from overlapping atoms is refused, nothing written, unless asked for
    assert main(["export", str(path), "--out", str(tmp_path / "out"), "--formats", "poscar,vasp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphacrystal: error:") and "0.0007 Å apart" in err and "--allow-close-atoms" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "out").exists()
    assert main(["export", str(path), "--out", str(tmp_path / "out"), "--formats", "poscar,vasp",
                 "--allow-close-atoms"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("alphacrystal: warning:") and "0.0007 Å apart" in err and len(err.splitlines()) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good file gives no warning
        good = tmp_path / "good.vasp"
        good.write_text(poscar(CUBIC))
        read_structure(good)


def test_export_into_an_earlier_export_is_refused_until_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("core.io.vasp.potcar_configured", lambda: False)
    path = tmp_path / "POSCAR"
    path.write_text(poscar(CUBIC))
    out = tmp_path / "out"
    assert main(["export", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(["export", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphacrystal: error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert main(["export", str(path), "--out", str(out), "--overwrite"]) == 0


# ---------------------------------------------------------------- 3. batch clusters
@pytest.mark.parametrize("kind, command", [("slurm", "sbatch"), ("pbs", "qsub")])
def test_a_batch_cluster_without_its_submit_command_fails_at_once(kind, command, tmp_path, monkeypatch, capsys):
    pytest.importorskip("dask_jobqueue")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "screen"
    assert main(["screen", "{Li,Na}Cl", "--out", str(out), "--cluster", kind]) == 2
    one_error_line(capsys.readouterr().err, f"--cluster {kind}", f"'{command}'")
    assert not out.exists()


class _NoWorkers:
    """A Dask client whose cluster never gets a worker."""

    def nthreads(self) -> dict:
        return {}

    def submit(self, *args, **kwargs):
        raise AssertionError("nothing is submitted once the wait for a worker has run out")


def test_a_cluster_without_workers_is_an_error_after_the_worker_timeout(tmp_path):
    from core.screen.errors import ScreenError
    from core.screen.inputs import ScreenItem
    from core.screen.screening import screen

    with pytest.raises(ScreenError, match="no Dask worker in 0 s with 2 formulas left"):
        screen([ScreenItem("NaCl"), ScreenItem("KBr")], tmp_path / "out", {}, _NoWorkers(), worker_timeout=0)
    assert (tmp_path / "out" / "screen.csv").is_file()  # the report of what finished (nothing) is kept


def test_worker_timeout_option(capsys):
    usage_error(["screen", "NaCl", "--out", "x", "--worker-timeout", "0"], capsys, "--worker-timeout")
    args = build_parser().parse_args(["screen", "NaCl", "--out", "x"])
    from core.screen.cluster import DEFAULT_WORKER_TIMEOUT

    assert args.worker_timeout is None  # the cluster kind's default
    assert worker_timeout(None, "local") == DEFAULT_WORKER_TIMEOUT == 600
    assert worker_timeout(None, "slurm") is None and worker_timeout(None, "pbs") is None  # queues wait
    assert worker_timeout(30.0, "slurm") == 30.0


# ---------------------------------------------------------------- 4. numeric options and ignored options
@pytest.mark.parametrize("argv, option", [
    (["predict", "NaCl", "--strain", "-1"], "--strain"),
    (["predict", "NaCl", "--strain", "1"], "--strain"),
    (["predict", "NaCl", "--strain", "nan"], "--strain"),
    (["predict", "NaCl", "--escalate", "-1"], "--escalate"),
    (["predict", "NaCl", "--stall", "0"], "--stall"),
    (["evaluate", "prediction", "--data", "d.csv", "--patience", "-1"], "--patience"),
    (["predict", "NaCl", "--top-k", "231"], "--top-k"),
    (["predict", "NaCl", "--seed", "-1"], "--seed"),
    (["predict", "NaCl", "--z", "0"], "--z"),
    (["predict", "NaCl", "--jobs", "100000"], "--jobs"),
    (["predict", "NaCl", "--population", "1000000000"], "--population"),
    (["reconstruct", "x.json", "--strain", "-0.1"], "--strain"),
    (["reconstruct", "x.json", "--patience", "-1"], "--patience"),
    (["reconstruct", "x.json", "--keep", "0"], "--keep"),
    (["screen", "NaCl", "--out", "x", "--retries", "-1"], "--retries"),
    (["contact-map", "x.cif", "--tolerance", "-1"], "--tolerance"),
    (["contact-map", "x.cif", "--tolerance", "inf"], "--tolerance"),
    (["contact-map", "NaCl", "--z", "0"], "--z"),
    (["dataset-stats", "x.csv", "--max-atoms", "0"], "--max-atoms"),
    (["dataset-stats", "x.csv", "--top", "-1"], "--top"),
    (["candidates", "NaCl", "--top-k", "-1"], "--top-k"),
    (["candidates", "NaCl", "--z", "-2"], "--z"),
    (["templates", "NaCl", "--top-k", "-1"], "--top-k"),
    (["templates", "NaCl", "--z", "0"], "--z"),
    (["export", "x.cif", "--out", "o", "--formats", ""], "--formats"),
    (["export", "x.cif", "--out", "o", "--formats", ",,"], "--formats"),
    (["export", "x.cif", "--out", "o", "--stem", "../../x"], "--stem"),
    (["export", "x.cif", "--out", "o", "--stem", ".."], "--stem"),
    (["train", "contact-map", "--data", "d.csv", "--lr", "0"], "--lr"),
    (["train", "contact-map", "--data", "d.csv", "--time-limit-min", "-5"], "--time-limit-min"),
    (["train", "contact-map", "--data", "d.csv", "--dice-loss", "-1"], "--dice-loss"),
    (["train", "contact-map", "--data", "d.csv", "--patience", "0"], "--patience"),
    (["train", "candidates", "--data", "d.csv", "--sg-dropout", "1"], "--sg-dropout"),
    (["train", "candidates", "--data", "d.csv", "--threads", "0"], "--threads"),
    (["evaluate", "reconstruction", "--data", "d.csv", "--n", "-1"], "--n"),
    (["evaluate", "reconstruction", "--data", "d.csv", "--fmax", "0"], "--fmax"),
    (["evaluate", "contact-map", "--data", "d.csv", "--atoms", "20-13"], "--atoms"),
    (["evaluate", "prediction", "--data", "d.csv", "--min-atoms", "0"], "--min-atoms"),
])
def test_bad_option_values_are_usage_errors_naming_the_option(argv, option, capsys):
    usage_error(argv, capsys, f"argument {option}")


def test_every_numeric_option_has_a_checked_type():
    """No option of any command takes a bare int or float: each has a type that checks its range."""
    checked = (cli.Number,)
    named = {cli.spacegroup_number, cli.z_or_auto, cli.tolerance, cli.local_processes}  # the last: a Number, then memory
    numeric = 0
    for command, action in cli_actions():
        assert action.type not in (int, float), (command, action.option_strings)
        default = action.default
        if isinstance(default, (int, float)) and not isinstance(default, bool) or action.type in named:
            assert isinstance(action.type, checked) or action.type in named, (command, action.option_strings)
            numeric += 1
    assert numeric > 60


def test_output_options_are_checked_before_work():
    outputs = {"--json", "--plot", "--checkpoint"}
    for command, action in cli_actions():
        if set(action.option_strings) & outputs:
            expected = {"--json": cli.json_output, "--plot": cli.plot_output}.get(action.option_strings[0],
                                                                                   cli.output_file)
            assert action.type is expected, (command, action.option_strings)
        if "--out" in action.option_strings:
            assert action.type in (cli.output_file, cli.output_folder), (command, action.option_strings)


def test_a_report_file_never_replaces_a_structure_or_the_input(tmp_path, capsys):
    """``--json`` replaced any existing file, the command's own input too (``contact-map x.cif
    --json x.cif`` left JSON in the CIF): an existing file is replaced only when it is JSON (a
    report of before), ``--plot`` only a PNG, and never the file the command reads."""
    cif = tmp_path / "NaCl.cif"
    CifWriter(nacl()).write_file(str(cif))
    before = cif.read_text()
    usage_error(["contact-map", str(cif), "--json", str(cif)], capsys, "is a .cif file, not a JSON report: not replaced")
    with pytest.raises(argparse.ArgumentTypeError, match="a plot is written as .png, .pdf, .svg"):
        cli.plot_output(str(cif))  # evaluate ... --plot NaCl.cif
    png = tmp_path / "dice.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n...")
    with pytest.raises(argparse.ArgumentTypeError, match="is not a PDF image"):
        cli.plot_output(str(png))
    (tmp_path / "dice.svg").write_text("<?xml version='1.0'?><svg/>")
    assert cli.plot_output(str(tmp_path / "dice.svg"))  # a plot of before is replaced
    for name, text, words in (("structure.json", nacl().to_json(), "a pymatgen Structure, not a report"),
                              ("summary.json", "{}", "a run folder's own file"),
                              ("package.json", '{"name": "my-package"}', "a JSON file this program did not write"),
                              ("bom.json", '\ufeff{"written_by": "alphacrystal 0.1.0"}', ""),
                              ("report", '{"written_by": "alphacrystal 0.1.0"}', ""),  # our report, no suffix
                              ("project.acproj", '{"formula": "NaCl"}', "a .acproj file, not a JSON report")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        if words:
            with pytest.raises(argparse.ArgumentTypeError, match=words):
                cli.json_output(str(tmp_path / name))
        else:
            assert cli.json_output(str(tmp_path / name))  # a report with a byte-order mark is one
    assert cif.read_text() == before
    report = tmp_path / "map.json"
    assert main(["contact-map", str(cif), "--json", str(report)]) == 0
    assert main(["contact-map", str(cif), "--json", str(report)]) == 0  # a report of before is replaced
    kept = report.read_text()
    assert main(["reconstruct", str(report), "--json", str(report), "--out", str(tmp_path / "r")]) == 2
    assert "--json" in capsys.readouterr().err and report.read_text() == kept  # the map it reads
    data = tmp_path / "rows.csv"  # an earlier evaluation's JSON, excluded and replaced by the same run
    data.write_text("material_id,cif\n")
    assert main(["evaluate", "prediction", "--data", str(data), "--exclude-from", str(report),
                 "--json", str(report)]) == 2
    assert "(exclude-from): give another path" in capsys.readouterr().err and report.read_text() == kept


def cli_actions(parser: argparse.ArgumentParser | None = None, command: tuple[str, ...] = ()):
    """(command words, action) of every option and argument of every (sub-)command."""
    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from cli_actions(sub, (*command, name))
        else:
            yield command, action


def test_contact_map_options_that_do_not_apply_are_errors(tmp_path, capsys):
    path = tmp_path / "nacl.cif"
    CifWriter(nacl()).write_file(path)
    for option in (["--z", "3"], ["--probabilities"]):
        assert main(["contact-map", str(path), *option]) == 2
        one_error_line(capsys.readouterr().err, option[0], "does not apply to a structure file")
    for option in (["--as-given"], ["--tolerance", "0.3"]):
        assert main(["contact-map", "NaCl", *option]) == 2
        one_error_line(capsys.readouterr().err, option[0], "does not apply to a formula")
    assert main(["contact-map", str(path), "--tolerance", "0.3"]) == 0
    assert "r_i + r_j ± 0.3 Å" in capsys.readouterr().out


def test_export_stem_stays_in_the_output_folder(tmp_path):
    from core.errors import ExportError
    from core.io.write import export_structure

    for stem in ("../x", "a/b", "..", ""):
        with pytest.raises(ExportError):
            export_structure(nacl(), tmp_path / "out", stem=stem or " ")
    with pytest.raises(ExportError, match="no export format"):
        export_structure(nacl(), tmp_path / "out", formats=[])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 5. output paths, before any work
@pytest.mark.parametrize("command", [["templates", "NaCl"], ["candidates", "NaCl"], ["contact-map", "NaCl"],
                                     ["predict", "NaCl"], ["dataset-stats", "x.csv"]])
def test_json_output_is_checked_before_work(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    usage_error([*command, "--json", str(tmp_path)], capsys, "--json", "is a folder, not a file")
    missing = tmp_path / "nonexistent" / "x.json"
    usage_error([*command, "--json", str(missing)], capsys, "--json", "does not exist")
    assert list(tmp_path.iterdir()) == []  # no folder made, no prediction started


def test_json_output_is_never_a_file_of_the_run_folder(tmp_path, capsys):
    """`predict --out R --json R/summary.json` on a first run replaced the run folder's own summary
    (settings, candidates, notes) with the report: refused before work, as the files --out holds."""
    run = tmp_path / "r"
    run.mkdir()
    for name in ("summary.json", "summary.csv", ".alphacrystal/x.json", "01_NaCl_Fm-3m/result.json"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        assert main(["predict", "NaCl", "--fast", "--no-relax", "--out", str(run), "--json", str(run / name)]) == 2
        one_error_line(capsys.readouterr().err, "--json", "is a file of the run folder")
    assert sorted(p.name for p in run.iterdir()) == [".alphacrystal", "01_NaCl_Fm-3m"]  # nothing written
    # predict's default --out (predictions/NaCl) is checked too, once it is known
    import os

    (tmp_path / "predictions" / "NaCl").mkdir(parents=True)  # where a first run's report was asked for
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["predict", "NaCl", "--fast", "--no-relax", "--json", "predictions/NaCl/summary.json"]) == 2
    finally:
        os.chdir(here)
    one_error_line(capsys.readouterr().err, "--json", "is a file of the run folder predictions/NaCl")
    assert list((tmp_path / "predictions" / "NaCl").iterdir()) == []


def test_export_never_writes_over_the_file_it_reads(tmp_path, capsys):
    """`export run/01/TiO2.cif --out run/01 --overwrite` replaced the run's symmetrised CIF with a P1 one."""
    from conftest import nacl

    path = tmp_path / "NaCl.cif"
    nacl().to(filename=str(path))
    before = path.read_text()
    assert main(["export", str(path), "--out", str(tmp_path), "--overwrite"]) == 2
    one_error_line(capsys.readouterr().err, "would be written over", "the file this command reads")
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["NaCl.cif"]


def test_plot_output_is_checked(tmp_path, capsys):
    usage_error(["evaluate", "contact-map", "--data", "d.csv", "--plot", str(tmp_path)], capsys, "--plot")


def test_the_derived_histogram_of_the_20_atom_model_is_checked_before_work(tmp_path, capsys):
    """``--plot hist.png`` with the shipped models also writes ``hist-13-20.png``: a file of the user's by
    that name is refused before any data is read, not replaced after the evaluation."""
    from core.contact_model.inference import LARGE_CELL_MODEL_PATH

    if not LARGE_CELL_MODEL_PATH.is_file():
        pytest.skip("the 20-atom model is not shipped here")
    mine = tmp_path / "hist-13-20.png"
    mine.write_text("my notes")
    assert main(["evaluate", "contact-map", "--data", str(tmp_path / "absent.csv"), "--plot",
                 str(tmp_path / "hist.png")]) == 2
    one_error_line(capsys.readouterr().err, "--plot", "13-20-atom cells", "hist-13-20.png", "not a PNG image")
    assert mine.read_text() == "my notes" and sorted(p.name for p in tmp_path.iterdir()) == ["hist-13-20.png"]


def test_jobs_beyond_the_machines_memory_are_refused_and_beyond_its_cores_warned(tmp_path, capsys, monkeypatch):
    """`predict --jobs 99` on a 2-core, 23 GB machine started 99 workers and ended in a traceback;
    16 ran without a word, 15 times slower than one."""
    import core.runtime.parallel as parallel

    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "WORKER_MEMORY_GB", 1e9)  # no machine holds one such worker
    usage_error(["predict", "NaCl", "--jobs", "3", "--out", str(tmp_path / "x")], capsys, "--jobs", "worker processes need",
                "this machine has")
    assert not (tmp_path / "x").exists()
    formulas = tmp_path / "f.txt"
    formulas.write_text("NaCl\n")
    assert main(["screen", str(formulas), "--workers", "3", "--out", str(tmp_path / "s")]) == 2  # local workers too
    one_error_line(capsys.readouterr().err, "--workers 3", "worker processes need")
    assert not (tmp_path / "s").exists()
    monkeypatch.setattr(parallel, "WORKER_MEMORY_GB", 1e-6)
    from core.cli.options import warn_about_processes

    with pytest.warns(UserWarning, match="--jobs 3: 3 worker processes on 2 cores"):
        warn_about_processes(argparse.Namespace(jobs=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_about_processes(argparse.Namespace(jobs=2))
        warn_about_processes(argparse.Namespace(jobs=None))


def test_outputs_on_special_files_are_refused_before_work(tmp_path, capsys):
    """Permission bits do not tell whether a path can be written (root passes every check; /proc refuses
    even root): write access is tried; a device or a pipe is never replaced by a report."""
    import os
    import sys

    if hasattr(os, "mkfifo"):  # not on Windows
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        usage_error(["templates", "NaCl", "--json", str(fifo)], capsys, "--json", "not a regular file")
    if sys.platform.startswith("linux") and Path("/proc/version").exists():
        usage_error(["templates", "NaCl", "--json", "/proc/version"], capsys, "--json", "not writable")  # /proc: no file made
        usage_error(["templates", "NaCl", "--json", "/proc/report.json"], capsys, "--json", "not writable")


def test_out_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("")
    for command in (["export", "x.cif"], ["predict", "NaCl"], ["reconstruct", "x.json"], ["screen", "NaCl"]):
        usage_error([*command, "--out", str(blocker)], capsys, "--out", f"{blocker} is a file, not a folder")


# ---------------------------------------------------------------- 6. screen input that is a folder
def test_screen_input_that_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "formulas"
    folder.mkdir()
    assert main(["screen", str(folder), "--out", str(tmp_path / "out")]) == 2
    one_error_line(capsys.readouterr().err, str(folder), "is a folder", "a text file", "a CSV file", "a pattern")
    assert not (tmp_path / "out").exists()


def test_a_folder_named_like_the_formula_does_not_make_the_formula_a_path(tmp_path, capsys, monkeypatch):
    """In a folder of earlier runs, ``contact-map AgF2`` said 'is a folder, expected a structure
    file' and ``screen AgF2`` 'is a folder' (a new user's trial); predict and templates took it."""
    from core.screen.inputs import read_screen_input

    monkeypatch.chdir(tmp_path)
    (tmp_path / "NaCl").mkdir()
    assert [item.formula for item in read_screen_input("NaCl").items] == ["NaCl"]
    assert main(["contact-map", "NaCl", "--z", "1"]) == 0
    assert "Na" in capsys.readouterr().out


@pytest.mark.parametrize("extra, words", [
    (["--no-relax", "--second-potential", "sevennet"], ("--second-potential", "--no-relax")),
    (["--no-relax", "--symmetry-prior", "5", "--stability-frame", "mp-fitted"],
     ("--symmetry-prior, --stability-frame", "--no-relax")),
    (["--ranking", "learned", "--symmetry-prior", "5"], ("--symmetry-prior", "--ranking learned")),
])
def test_an_option_that_would_be_ignored_is_refused_not_recorded(extra, words, tmp_path, capsys):
    """Both ran without comment and wrote the ignored value to summary.json (a new user's trial)."""
    assert main(["predict", "ZnO", "--fast", "--out", str(tmp_path / "o"), *extra]) == 2
    one_error_line(capsys.readouterr().err, *words)
    assert not (tmp_path / "o").exists()


def test_options_that_change_nothing_are_not_refused_with_no_relax():
    """Defaults, 0 (off) and --magmom input-set (a --no-relax run still writes VASP inputs) are fine."""
    from core.cli.options import predict_settings

    parser = build_parser()
    for extra in (["--magmom", "input-set"], ["--near-tie", "0"], ["--symmetry-prior", "0"],
                  ["--ranking", "energy"], ["--potential", "chgnet"], ["--second-potential", "auto"],
                  ["--stability-frame", "auto"]):
        args = parser.parse_args(["predict", "ZnO", "--no-relax", *extra])
        assert not predict_settings(args).relax, extra


def test_training_on_too_little_data_or_resuming_nothing_is_one_error(capsys, tmp_path, monkeypatch):
    """Five structures left no validation split (a torch traceback); --resume without a checkpoint
    trained afresh without a word (a new user's trial)."""
    import csv

    from conftest import FIXTURES

    monkeypatch.setenv("ALPHACRYSTAL_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "five.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "formula", "formation_energy_per_atom", "cif"])
        for k, (name, make) in enumerate(FIXTURES.items()):
            writer.writerow([f"mp-{k + 1}", name, "-1.0", str(CifWriter(make()))])
    for command in (["train", "contact-map", "--preset", "tiny"], ["train", "candidates"]):
        assert main([*command, "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "m.pt")]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        one_error_line(last, "training and", "validation structures; training needs both")
    assert not (tmp_path / "m.pt").exists()


def test_nothing_to_offer_says_why(capsys, tmp_path):
    """The reason after the colon was empty when only templates were asked for in a space group
    none of them has (a new user's trial)."""
    assert main(["predict", "LiF", "--z", "1", "--spacegroup", "1", "--sources", "templates", "--no-relax",
                 "--fast", "--out", str(tmp_path / "o")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the templates stage's progress
    one_error_line(last, "no structure to offer for 'LiF' with Z=1: no known structure", "in space group 1",
                   "CMCrystal was not asked for")
    assert not (tmp_path / "o").exists()


def test_a_screen_given_z_says_where_a_screens_z_goes(capsys, tmp_path):
    usage_error(["screen", "NaCl", "--z", "2", "--out", str(tmp_path / "s")], capsys,
                "screen: unrecognized arguments: --z 2", "'NaCl 4' on a line of a text input", "z column")


def test_an_option_a_command_does_not_take_is_named_by_that_command(capsys, tmp_path):
    usage_error(["screen", str(tmp_path / "f.txt"), "--out", str(tmp_path / "s"), "--spacegroup", "230"], capsys,
                "screen: unrecognized arguments: --spacegroup 230", "(see alphacrystal screen --help)")
    usage_error(["train", "candidates", "--data", "x.csv", "--bogus"], capsys,
                "train candidates: unrecognized arguments: --bogus", "(see alphacrystal train candidates --help)")


def test_reconstruct_writes_no_run_that_reproduced_no_contact(tmp_path, capsys):
    """NaCl in Pm-3m with a 20 Å cell: every run ends at fitness 0 (Na-Cl 17 Å apart), which is no
    reconstruction of the map: an error naming what to try, and nothing written."""
    spec = {"formula": "NaCl", "z": 1, "spacegroup": 221, "lattice": [20, 20, 20, 90, 90, 90],
            "contact_map": [[0, 1], [1, 0]], "name": "far"}
    inp = tmp_path / "far.json"
    inp.write_text(json.dumps(spec))
    assert main(["reconstruct", str(inp), "--out", str(tmp_path / "out"), "--generations", "3", "--assignments",
                 "1", "--escalate", "0", "--jobs", "1"]) == 2
    one_error_line(capsys.readouterr().err, "ended at fitness 0", "nothing was written", "--assignments")
    assert not (tmp_path / "out").exists()  # refused before the folder is made


def test_contact_map_of_a_folder_says_it_is_a_folder(tmp_path, capsys, monkeypatch):
    """`contact-map adir` read the folder's name as a formula ("element symbols start with a capital
    letter"); a folder named like a formula (a screen's NaCl/) still leaves the formula a formula."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    assert main(["contact-map", "adir"]) == 2
    one_error_line(capsys.readouterr().err, "adir is a folder, not a structure file or a formula")
    (tmp_path / "NaCl").mkdir()
    assert main(["contact-map", "NaCl"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("formula: NaCl")
    from core.predict.scope import contact_model_max_atoms

    # every Z the shipped models take, whichever model this Z ran on (it listed the chosen model's only)
    assert f"Z options 1-{contact_model_max_atoms() // 2};" in out


def test_default_workers_follow_the_cores_this_process_may_use(monkeypatch):
    """jobs=None starts one worker per usable core (a 2-core allocation on a 64-core host: 2, not
    64 GA and 64 relaxation workers), at most one per task; the pools and the window share it."""
    import os

    import core.runtime.parallel as parallel

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert parallel.usable_cores() == 2
    assert parallel.resolve_workers(None) == 2 and parallel.resolve_workers(None, tasks=1) == 1
    assert parallel.resolve_workers(8, tasks=3) == 3 and parallel.resolve_workers(8) == 8
    assert parallel.resolve_workers(None, tasks=0) == 1


def test_a_cif_atom_line_cut_short_is_named_by_its_line(tmp_path):
    """An atom line cut short gave 'cannot read a structure (zip() argument 2 is longer than argument 1)'."""
    from conftest import nacl
    from pymatgen.io.cif import CifWriter

    path = tmp_path / "cut.cif"
    CifWriter(nacl()).write_file(path)
    lines = path.read_text().splitlines()
    last = max(k for k, line in enumerate(lines) if line.strip().startswith("Cl "))
    lines[last] = " ".join(lines[last].split()[:5])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StructureFileError, match=rf"line {last + 1}: 5 values for the 7 columns of this loop_ "
                                                 r"\(_atom_site_type_symbol"):
        read_structure(path)


def test_an_interrupted_screen_leaves_no_child_process_running():
    """After Ctrl-C a local Dask worker busy in a prediction went on for 20-45 s after the screen
    had returned: the leftover children are stopped (multiprocessing's resource tracker spared)."""
    import multiprocessing
    import time

    import psutil

    from core.runtime.parallel import stop_child_processes

    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    child.start()
    # the children that are no multiprocessing worker (a virtual display, the resource tracker) are offered
    # too and must survive; other tests' workers are not offered (a test must not stop them)
    others = [p.pid for p in psutil.Process().children()
              if p.pid != child.pid and "spawn_main" not in " ".join(p.cmdline())]
    assert stop_child_processes(grace_s=5.0, only={child.pid, *others}) == 1
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    assert all(psutil.pid_exists(pid) for pid in others)


@pytest.mark.parametrize("change, words", [
    ({"lattice": [0.1, 0.1, 0.1, 90, 122.77, 90]}, "no structure fits it"),  # it ran the GA for minutes
    ({"lattice": [3.711, 5.128, 5.98, 90, 179.9, 90]}, "no structure fits it"),
    ({"lattice": [3.711, 5.128, float("nan"), 90, 122.77, 90]}, "six finite numbers"),
    ({"z": 2.5}, "z must be a whole number"), ({"z": True}, "z must be a whole number"),  # read as 2 and 1
    ({"species": ["Xx", "Xx", "F", "F", "F", "F"]}, "are not element symbols"),  # a KeyError traceback
    ({"species": ["ag", "ag", "f", "f", "f", "f"]}, "are not element symbols"),
    ({"species": ["Cu", "Cu", "F", "F", "F", "F"]}, "are not the atoms of formula AgF2"),  # CuF2 built silently
    ({"contact_map": [[0, 0, "1", 1, 1, 1]] + [[0, 0, 1, 1, 1, 1]] + [[1, 1, 0, 0, 0, 0]] * 4},
     "must hold numbers 0 and 1"),
    ({"labels": ["F1", "Ag1", "Ag2", "F2", "F3", "F4"]}, "label 1 is 'F1' but atom 1 is Ag"),  # ignored before
    ({"labels": ["Ag1"]}, "labels must be one per atom"),
])
def test_a_reconstruction_target_is_checked_before_any_run(change, words):
    from core.reconstruction.inputs import target_from_dict

    target = {"formula": "AgF2", "z": 2, "spacegroup": 14, "lattice": [3.711, 5.128, 5.980, 90, 122.77, 90],
              "contact_map": [[0, 0, 1, 1, 1, 1]] * 2 + [[1, 1, 0, 0, 0, 0]] * 4}
    assert target_from_dict(target).species == ("Ag", "Ag", "F", "F", "F", "F")
    with pytest.raises(AlphaCrystalError, match=words):
        target_from_dict({**target, **change})


def test_an_output_folder_on_a_special_file_system_is_refused_before_work(capsys):
    """`reconstruct --out /proc/x` ran the whole GA, then ended in a traceback (root may write by its
    permission bits there, but no folder can be made)."""
    import os

    if not os.path.isdir("/proc") or not os.path.exists("/proc/self"):
        pytest.skip("no /proc here")
    usage_error(["reconstruct", "x.json", "--out", "/proc/x"], capsys, "--out", "not writable")


def test_a_file_named_like_a_formula_says_why_the_formula_was_not_predicted(tmp_path, capsys, monkeypatch):
    """`contact-map KBr` beside a file named KBr read the file and said only that it is no structure."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "KBr").write_text("my notes\n")
    assert main(["contact-map", "KBr"]) == 2
    one_error_line(capsys.readouterr().err, "KBr is read as the file of that name in this folder",
                   "run from another folder or rename the file")


def test_options_of_other_commands_and_suffixed_stems_say_what_to_write(tmp_path, capsys):
    """screen --jobs and --json were refused without a hint; export --stem x.cif wrote x.cif.cif."""
    (tmp_path / "in.txt").write_text("NaCl\n")
    usage_error(["screen", str(tmp_path / "in.txt"), "--out", str(tmp_path / "s"), "--jobs", "2"], capsys,
                "unrecognized arguments: --jobs 2", "--workers N")
    usage_error(["screen", str(tmp_path / "in.txt"), "--out", str(tmp_path / "s"), "--json", "x.json"], capsys,
                "screen.csv and report.html")
    (tmp_path / "nacl.vasp").write_text(poscar(["5.6 0 0", "0 5.6 0", "0 0 5.6"]))
    usage_error(["export", str(tmp_path / "nacl.vasp"), "--out", str(tmp_path / "e"), "--stem", "x.cif"], capsys,
                "file stem 'x.cif' ends in .cif: give the name without it", "STEM.POSCAR")
    assert not (tmp_path / "e").exists()
    # the default stem drops the structure suffixes (nacl.vasp.cif was refused as a stem ending in .vasp)
    from pymatgen.core import Structure

    Structure.from_file(tmp_path / "nacl.vasp").to(filename=str(tmp_path / "nacl.vasp.cif"))
    assert main(["export", str(tmp_path / "nacl.vasp.cif"), "--out", str(tmp_path / "e"), "--formats", "cif"]) == 0
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["nacl.cif"]
    # compressed files are read through and named without their suffixes (POSCAR.gz: "too short for a POSCAR")
    import bz2
    import gzip

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "POSCAR.gz").write_bytes(gzip.compress((tmp_path / "nacl.vasp").read_bytes()))
    (tmp_path / "NaCl.cif.bz2").write_bytes(bz2.compress((tmp_path / "nacl.vasp.cif").read_bytes()))
    for k, name in enumerate(("run/POSCAR.gz", "NaCl.cif.bz2")):
        assert main(["export", str(tmp_path / name), "--out", str(tmp_path / f"z{k}"), "--formats", "cif"]) == 0
        assert [p.name for p in (tmp_path / f"z{k}").iterdir()] == ["NaCl.cif"]
