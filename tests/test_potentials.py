"""The selectable interatomic potentials (CHGNet default, SevenNet-0 option) and the relaxer's guards."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure

import core.relax.relaxer
from core.cli import main
from core.predict.settings import PredictionSettings
from core.relax.potentials import DEFAULT_POTENTIAL, POTENTIALS, PotentialError, check_potential
from core.relax.relaxer import Relaxer, RelaxSettings


def compressed_rock_salt() -> Structure:
    """NaCl rock salt at 5.3 Å (DFT ~5.6-5.7 Å): both potentials must expand it."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.3), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()


def test_unknown_potential_is_a_clear_error():
    with pytest.raises(PotentialError, match="unknown potential 'mace'.*chgnet, sevennet"):
        check_potential("mace")
    with pytest.raises(PotentialError, match="mace"):
        PredictionSettings(potential="mace")
    with pytest.raises(PotentialError, match="mace"):
        Relaxer(RelaxSettings(potential="mace"))
    assert DEFAULT_POTENTIAL in POTENTIALS and PredictionSettings().relax_settings().potential == DEFAULT_POTENTIAL


@pytest.mark.parametrize("name", sorted(POTENTIALS))
def test_each_potential_relaxes_offline(name):
    start = compressed_rock_salt()
    result = Relaxer(RelaxSettings(potential=name, steps=200, fmax=0.05)).relax(start)
    assert result.ok and result.converged and result.steps > 0
    assert result.energy_per_atom < result.initial_energy_per_atom
    assert result.structure.volume > start.volume * 1.05  # the compressed cell expanded
    assert -5.0 < result.energy_per_atom < -2.5  # MP-scale NaCl: about -3.4 eV/atom
    assert result.structure.site_properties == {}  # no calculator moments carried into the exports


class Collapse(Calculator):
    """A toy potential pulling every atom onto the first one (a short-range hole)."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.positions - self.atoms.positions[0]
        self.results = {"energy": -float((d ** 2).sum()), "forces": -2.0 * d * 5.0, "stress": np.zeros(6)}


class Squeeze(Calculator):
    """A toy potential pulling the second atom to 1.2 Å of the first (a short-range hole that
    stops before the 0.5 Å floor), with a very low energy there."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.get_distance(0, 1, mic=True, vector=True)
        pull = (np.linalg.norm(d) - 1.2) * d / np.linalg.norm(d)
        forces = np.zeros_like(self.atoms.positions)
        forces[1] = -2.0 * pull
        self.results = {"energy": -30.0 * len(self.atoms) + float((pull ** 2).sum()), "forces": forces,
                        "stress": np.zeros(6)}


def test_a_relaxation_into_a_short_range_hole_is_failed(monkeypatch):
    """Na-Cl at 1.2 Å is 45 % of their covalent radii (2.68 Å): no real structure comes below 63 %
    (core.relax.relaxer.COLLAPSE_FRACTION), so the energy of such an end point is not believed (a
    SevenNet-0 BaI2 with Ba-I at 1.17 Å had ranked first at -28.5 eV/atom)."""
    monkeypatch.setattr(core.relax.relaxer, "load_calculator", lambda name, device: Squeeze())
    result = Relaxer(RelaxSettings(steps=300, relax_cell=False)).relax(compressed_rock_salt())
    assert not result.ok and re.search(r"collapsed during relaxation: (Na-Cl|Cl-Na) 1\.[12]\d Å", result.error)
    assert core.relax.relaxer.collapsed_pair(compressed_rock_salt()) is None


def test_a_relaxation_that_collapses_atoms_is_failed(monkeypatch):
    monkeypatch.setattr(core.relax.relaxer, "load_calculator", lambda name, device: Collapse())
    result = Relaxer(RelaxSettings(steps=300, relax_cell=False)).relax(compressed_rock_salt())
    assert not result.ok and "collapsed" in result.error


def test_cli_rejects_unknown_potential(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["predict", "NaCl", "--potential", "mace"])
    assert stop.value.code == 2 and "invalid choice: 'mace'" in capsys.readouterr().err


def test_every_potential_has_an_automatic_second_one():
    from core.predict.settings import SECOND_POTENTIAL

    assert set(SECOND_POTENTIAL) == set(POTENTIALS)
    for name in POTENTIALS:
        second = PredictionSettings(potential=name, second_potential="auto").reranking_potential
        assert second in POTENTIALS and second != name


def test_the_multi_fidelity_model_is_read_through_its_pbe_head():
    """SevenNet-MF-0 has a PBE and an r2SCAN head: the potential named ``sevennet-mf-0`` is the
    PBE one (Materials Project's scale), near SevenNet-0's energy and away from r2SCAN's."""
    from sevenn.calculator import SevenNetCalculator

    from core.relax.potentials import energies_per_atom

    structure = compressed_rock_salt()
    mf0, seven = (energies_per_atom([structure], name)[0] for name in ("sevennet-mf-0", "sevennet"))
    atoms = structure.to_ase_atoms()
    atoms.calc = SevenNetCalculator("7net-mf-0", device="cpu", modal="R2SCAN")
    r2scan = atoms.get_potential_energy() / len(atoms)
    assert abs(mf0 - seven) < 0.1  # two PBE-scale models of MPtrj
    assert abs(mf0 - r2scan) > 5 * abs(mf0 - seven)


@pytest.mark.parametrize("name", sorted(n for n in POTENTIALS if n != "chgnet"))
def test_the_trained_elements_are_each_sevennet_models_own(name):
    """TRAINED_Z is what the SevenNet models were trained on (their type maps), and CHGNet embeds no
    element beyond Pu (it failed on AmO2 after the GA's work)."""
    from core.relax.potentials import TRAINED_Z, load_calculator

    assert {int(z) for z in load_calculator(name).type_map} == set(TRAINED_Z)


def test_chgnet_embeds_no_element_beyond_plutonium():
    from chgnet.model import CHGNet

    from core.relax.potentials import TRAINED_Z

    assert CHGNet.load(verbose=False).atom_embedding.embedding.num_embeddings == max(TRAINED_Z) == 94


@pytest.mark.parametrize("formula", ["AmO2", "FrCl", "RnF2"])
def test_a_relaxation_the_potential_was_not_trained_for_is_refused_before_any_work(formula, tmp_path, capsys):
    """AmO2 ran the GA, then every relaxation failed ('mat1 and mat2 shapes cannot be multiplied')
    and a folder without structures was left; FrCl gave 40 Å³/atom at 0 eV/atom without a word."""
    out = tmp_path / "run"
    assert main(["predict", formula, "--fast", "--jobs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "outside the elements CHGNet 0.3.0 was trained on" in err and "--no-relax" in err
    assert not out.exists()
    with pytest.raises(PotentialError, match="SevenNet-0"):
        PredictionSettings(potential="sevennet").check_elements(["Fr", "Cl"])
    PredictionSettings(relax=False).check_elements(["Am", "O"])  # unrelaxed structures need no potential
