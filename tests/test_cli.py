import csv
import json
import subprocess
import sys

import pytest
from conftest import FIXTURES, PAPER_BENCHMARK
from pymatgen.io.cif import CifWriter

from core.cli import main


@pytest.fixture
def rutile_cif(tmp_path):
    path = tmp_path / "rutile.cif"
    CifWriter(FIXTURES["TiO2"](), symprec=0.01).write_file(path)
    return path


def test_contact_map_command(rutile_cif, tmp_path, capsys):
    out_json = tmp_path / "map.json"
    assert main(["contact-map", str(rutile_cif), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "P4_2/mnm (136)" in text
    assert "Ti1" in text and "O4" in text
    data = json.loads(out_json.read_text())
    assert data["labels"] == ["Ti1", "Ti2", "O1", "O2", "O3", "O4"]
    assert data["coordination_numbers"] == [6, 6, 3, 3, 3, 3]
    assert data["matrix"][0] == [0, 0, 1, 1, 1, 1]
    assert data["primitive"] is True


def test_contact_map_as_given(tmp_path, capsys):
    path = tmp_path / "nacl.cif"
    CifWriter(FIXTURES["NaCl"]()).write_file(path)
    assert main(["contact-map", str(path), "--as-given"]) == 0
    assert "atoms (as given): 8" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    assert main(["contact-map", str(tmp_path / "missing.cif")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphacrystal: error:") and "missing.cif" in err and "Traceback" not in err
    assert main(["dataset-stats", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_dataset_stats_command(tmp_path, capsys):
    path = tmp_path / "d.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["material_id", "cif"])
        writer.writeheader()
        for name, make in FIXTURES.items():
            writer.writerow({"material_id": name, "cif": str(CifWriter(make()))})
    out_json = tmp_path / "s.json"
    assert main(["dataset-stats", str(path), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "structures: 5" in text and "split by reduced formula" in text
    stats = json.loads(out_json.read_text())
    assert stats["n_structures"] == 5
    assert stats["atoms_per_structure"] == {"2": 1, "4": 1, "5": 1, "6": 1, "8": 1}
    assert set(stats["split_by_formula"]) >= {"train", "validation", "test", "seed"}


def test_export_command(rutile_cif, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("core.io.vasp.potcar_configured", lambda: False)
    out = tmp_path / "out"
    assert main(["export", str(rutile_cif), "--out", str(out), "--formats", "cif,poscar,vasp"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["rutile.POSCAR", "rutile.cif", "rutile_vasp"]
    with pytest.raises(SystemExit) as stop:  # a usage error, before the file is read
        main(["export", str(rutile_cif), "--out", str(out), "--formats", "xyz"])
    assert stop.value.code == 2 and "unknown export format 'xyz'" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "core.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("contact-map", "dataset-stats", "export"):
        assert command in result.stdout


@pytest.mark.data
def test_contact_map_on_every_paper_benchmark_cif(capsys):
    files = sorted(PAPER_BENCHMARK.glob("*.cif")) if PAPER_BENCHMARK.exists() else []
    if not files:
        pytest.skip("paper benchmark CIFs not present")
    for path in files:
        assert main(["contact-map", str(path)]) == 0, path
    assert capsys.readouterr().out.count("valid-bond fraction") == len(files)


def test_evaluation_finds_the_training_data_from_any_folder(tmp_path, monkeypatch, capsys):
    """The shipped models record ``../shared/data/...`` relative to the repository root: from
    another folder, --data of that name is taken (with a note), a missing file is one clear error."""
    import argparse

    from core.cli.evaluate import _training_data
    from core.data.formula_split import DataSettings
    from core.errors import AlphaCrystalError

    monkeypatch.chdir(tmp_path)
    recorded = DataSettings(path="../nowhere/data/mp/structures.csv.gz")
    data = tmp_path / "copy" / "structures.csv.gz"
    data.parent.mkdir()
    data.write_bytes(b"")
    args = argparse.Namespace(train_data=None, data=str(data))
    assert _training_data(args, recorded) == str(data)
    assert "taken to be" in capsys.readouterr().out
    with pytest.raises(AlphaCrystalError, match="recorded in the model.*--train-data"):
        _training_data(argparse.Namespace(train_data=None, data=str(tmp_path / "other.csv")), recorded)
    with pytest.raises(AlphaCrystalError, match="--train-data .*missing.csv: no such file"):
        _training_data(argparse.Namespace(train_data=str(tmp_path / "missing.csv"), data=str(data)), recorded)
    here = tmp_path / "here.csv"
    here.write_text("")
    assert _training_data(argparse.Namespace(train_data=None, data=str(data)), DataSettings(path=str(here))) == str(here)


def test_a_training_file_whose_split_the_model_never_saw_is_refused():
    """A file of the recorded name that is another data set (or one changed since training) draws
    another training split: the baselines would come from other structures, so it is refused."""
    from core.cli.evaluate import _check_training_split
    from core.errors import AlphaCrystalError

    seen = ["NaCl", "KCl", "MgO", "ZnO"]  # a contact model records its training and validation formulas
    _check_training_split("data.csv", ["NaCl", "KCl"], seen)  # its own file: no complaint
    with pytest.raises(AlphaCrystalError, match=r"data.csv: not the data the model was trained on \(1 formula of.*"
                                                r"e.g. LiF.*--train-data"):
        _check_training_split("data.csv", ["NaCl", "LiF"], seen)
    _check_training_split("data.csv", ["LiF"], [])  # a model that records no formulas cannot be checked


def test_the_score_legend_names_the_priors_weight_in_mev():
    """It read "minus 0.01 meV/atom x ln P": the weight is stored in eV/atom."""
    from core.cli.predict import score_legend
    from core.predict.settings import PredictionSettings

    assert "minus 10 meV/atom x ln P(space group)" in score_legend(PredictionSettings())
    assert "minus 2.5 meV/atom x ln P" in score_legend(PredictionSettings(symmetry_prior=0.0025))


def test_a_json_report_holds_no_nan(tmp_path):
    """evaluate prediction --n 1 --json wrote "rms_mean": NaN, which JavaScript's JSON.parse rejects:
    a non-finite number is null in every --json report."""
    import json
    import math

    import numpy as np

    from core.cli.options import write_json_option

    path = tmp_path / "report.json"
    write_json_option(str(path), {"rms_mean": math.nan, "rows": [{"rms": np.float64("inf"), "top1": 1.0}],
                                  "pair": (np.nan, 2)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in a report"))
    assert data["rms_mean"] is None and data["rows"] == [{"rms": None, "top1": 1.0}] and data["pair"] == [None, 2]


def test_export_says_when_the_cell_is_larger_than_primitive_and_what_overwrite_left(tmp_path, capsys):
    """A CIF's conventional cell went to VASP at three times the atoms without a word, and --overwrite
    with fewer formats left the earlier export's other files (maybe another structure) unsaid."""
    from pymatgen.core import Lattice, Structure

    from core.cli import main

    cif = tmp_path / "NaCl.cif"
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(cif))
    out = tmp_path / "out"
    assert main(["export", str(cif), "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert "holds a cell of 8 atoms, its primitive cell 2" in said.err and "--primitive writes the smaller one" in said.err
    assert all(line.startswith(str(out)) for line in said.out.splitlines())  # stdout: the files, for scripts
    assert main(["export", str(cif), "--out", str(out), "--formats", "cif", "--overwrite", "--primitive"]) == 0
    said = capsys.readouterr()
    assert "primitive cell" not in said.err and said.out.splitlines() == [str(out / "NaCl.cif")]
    assert "also holds NaCl_sym.cif, NaCl.POSCAR, NaCl_vasp/ of an earlier export of NaCl, not replaced" in said.err


def test_export_names_a_vasp_file_by_its_formula_and_takes_formats_in_any_case(tmp_path, capsys):
    """Exporting a file named POSCAR wrote POSCAR.POSCAR and POSCAR_vasp/, and 'CIF,Poscar' was refused."""
    from pymatgen.core import Lattice, Structure

    from core.cli import main

    poscar = tmp_path / "POSCAR"
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
                              ).get_primitive_structure().to(filename=str(poscar), fmt="poscar")
    out = tmp_path / "out"
    assert main(["export", str(poscar), "--out", str(out), "--formats", "CIF,Poscar"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["NaCl.POSCAR", "NaCl.cif"]
    assert main(["export", str(poscar), "--out", str(out), "--stem", "mine", "--formats", "poscar"]) == 0
    assert (out / "mine.POSCAR").is_file()


def test_the_clis_light_copies_of_engine_values_match_their_homes(capsys):
    """A few defaults are written out in the CLI so that `--help` does not import the writers and the
    contact rule (pymatgen's CIF and VASP modules): each must equal its home, or the help lies."""
    from core.cli.main import build_parser
    from core.contact.contact_map import DEFAULT_TOLERANCE, MAX_TOLERANCE
    from core.io.write import EXPORT_FORMATS

    parser = build_parser()
    export = parser.parse_args(["export", "x.cif", "--out", "somewhere"])
    assert tuple(export.formats) == EXPORT_FORMATS  # the default, written out in core/cli/files.py
    with pytest.raises(SystemExit):
        parser.parse_args(["contact-map", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"default {DEFAULT_TOLERANCE:g}; at most {MAX_TOLERANCE:g}" in help_text
