"""AlphaCrystal Studio engine (no Qt): compositions, element features, contact maps,
structure I/O, data sets, metrics, the template channel, the interatomic potentials,
the prediction pipeline and the desktop app's session model.

The names in ``__all__`` are the public API used by the CLI and the GUI (the GUI
imports nothing else from ``core``); modules not listed here are internal. The
names of :data:`_LAZY` load their module on first use (``core.Session``), so
that ``import core`` stays light for the CLI: the pipeline pulls in torch.
"""

from core.contact.contact_map import (
    DEFAULT_TOLERANCE,
    ContactMap,
    canonical_order,
    compute_contact_map,
    contact_map_from_arrays,
)
from core.contact.contact_rule import pair_windows
from core.contact.metrics import dice, matched_dice
from core.crystal.composition import (
    MP20_MAX_ATOMS,
    PAPER_MAX_ATOMS,
    Formula,
    atom_elements,
    formula_unit_text,
    parse_formula,
    same_formula,
    z_values,
)
from core.crystal.elements import FEATURE_NAMES, FeatureScaler, element_table
from core.crystal.matching import (
    CSP_TOLERANCES,
    DEFAULT_TOLERANCES,
    PAPER_TOLERANCES,
    fractional_rmsd_mae,
    structure_match,
)
from core.crystal.symmetry import SPACEGROUP_SYMPREC, primitive_cell, space_group
from core.data.datasets import CrystalDataset, DatasetSplit, load_dataset, split_by_formula
from core.data.featurize import FeaturizedDataset, featurize_dataset
from core.data.formula_split import full_range_split
from core.errors import (
    AlphaCrystalError,
    DatasetError,
    FormulaError,
    StructureFileError,
    StructureWarning,
)
from core.io.read import read_structure
from core.io.vasp import write_vasp_inputs
from core.io.write import cif_text, export_structure, poscar_text, write_cif, write_poscar
from core.relax.potentials import DEFAULT_POTENTIAL, POTENTIALS, PotentialError
from core.templates import (
    TemplateCandidate,
    TemplateLibrary,
    TemplateLibraryError,
    retrieve_templates,
)

__version__ = "0.1.0"
"""The version of AlphaCrystal Studio (pyproject.toml reads it from here)."""

_LAZY = {
    # prediction pipeline (torch, pyxtal, the shipped models)
    "PipelineProgress": "core.runtime.progress", "PredictionError": "core.predict.settings",
    "PredictionResult": "core.predict.results", "PredictionSettings": "core.predict.settings", "check_scope": "core.predict.scope",
    "cell_size_note": "core.predict.scope", "composition_notes": "core.predict.scope", "candidate_label": "core.predict.results", "parse_candidate_key": "core.predict.results", "shipped_contact_route_atoms": "core.predict.scope",
    "z_from_formula": "core.predict.scope",
    "read_run_folder": "core.predict.result_folder", "ResultRecord": "core.predict.record",
    "energies_above_lowest": "core.predict.record",
    # stability against the known phases (pymatgen's phase diagram)
    "HullPicture": "core.stability.picture", "Stability": "core.stability.hull", "StabilityError": "core.stability.hull",
    "hull_picture": "core.stability.picture", "STABILITY_FRAMES": "core.stability.hull",
    "STABILITY_LABELS": "core.stability.hull",
    "DEFAULT_STABILITY_FRAME": "core.stability.hull", "RANKINGS": "core.predict.settings",
    "SECOND_TOP": "core.predict.settings", "SYMMETRY_PRIOR": "core.predict.settings",
    "resolve_workers": "core.runtime.parallel", "SUMMARY_CSV": "core.io.outputs", "SUMMARY_JSON": "core.io.outputs",
    "COUNT_RANGES": "core.predict.settings", "OTHER_RANGES": "core.predict.settings", "whole_mev": "core.stability.hull",
    "read_screen_table": "core.screen.screening", "ScreenError": "core.screen.errors",
    "lower_than_rank1": "core.screen.report", "SCREEN_LOWER_COLUMN": "core.screen.report",
    "SCREEN_FLOAT_FORMATS": "core.screen.report", "finite_number": "core.screen.report",
    "screen_row_uncertain": "core.screen.report",
    "compare_with_reference": "core.predict.pipeline", "compare_records": "core.predict.pipeline",
    "export_records": "core.predict.export", "summary_meta": "core.predict.export", "loaded_resources": "core.predict.pipeline",
    "predict_structures": "core.predict.pipeline", "propose_inputs": "core.predict.pipeline",
    "runs_cmcrystal_by_default": "core.predict.scope", "warm_up": "core.predict.pipeline",
    "Candidate": "core.candidates.propose", "CandidateEditError": "core.candidates.propose",
    "ContactPrediction": "core.contact_model.inference",
    # the desktop app's model
    "ContactMapDocument": "core.contact.map_document", "RunRequest": "core.app.run", "RunState": "core.app.run",
    "structure_contact_map": "core.app.run", "job_target": "core.reconstruction.job",
    "Session": "core.app.session", "SessionError": "core.app.errors", "PROJECT_SUFFIX": "core.app.project",
    "Preferences": "core.app.preferences",
    "Project": "core.app.project", "ReferenceStructure": "core.app.reference", "read_reference": "core.app.reference",
    # processes and terminal output
    "CancelToken": "core.runtime.parallel", "ignore_interrupts": "core.runtime.parallel", "lower_priority": "core.runtime.parallel",
    "format_seconds": "core.runtime.terminal", "counted": "core.runtime.terminal",
    "ignore_library_housekeeping": "core.runtime.terminal",
    "atomic_numbers": "core.crystal.elements", "element_sort_key": "core.crystal.elements",
}
_RENAMED = {"PROJECT_SUFFIX": "SUFFIX", "STABILITY_FRAMES": "FRAMES", "STABILITY_LABELS": "LABELS", "DEFAULT_STABILITY_FRAME": "DEFAULT_FRAME",
            "SCREEN_LOWER_COLUMN": "LOWER_COLUMN", "SCREEN_FLOAT_FORMATS": "FLOAT_FORMATS",
            "screen_row_uncertain": "uncertain"}


def __getattr__(name: str):
    """Load a name of :data:`_LAZY` from its module on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core' has no attribute {name!r}")


__all__ = [*_LAZY,
    "__version__",
    "CSP_TOLERANCES",
    "DEFAULT_TOLERANCES",
    "SPACEGROUP_SYMPREC",
    "cif_text",
    "poscar_text",
    "MP20_MAX_ATOMS",
    "PAPER_MAX_ATOMS",
    "DEFAULT_POTENTIAL",
    "FEATURE_NAMES",
    "PAPER_TOLERANCES",
    "POTENTIALS",
    "AlphaCrystalError",
    "ContactMap",
    "DEFAULT_TOLERANCE",
    "CrystalDataset",
    "DatasetError",
    "DatasetSplit",
    "FeatureScaler",
    "FeaturizedDataset",
    "Formula",
    "FormulaError",
    "PotentialError",
    "StructureFileError",
    "StructureWarning",
    "TemplateCandidate",
    "TemplateLibrary",
    "TemplateLibraryError",
    "atom_elements",
    "canonical_order",
    "compute_contact_map",
    "pair_windows",
    "same_formula",
    "contact_map_from_arrays",
    "dice",
    "element_table",
    "export_structure",
    "featurize_dataset",
    "formula_unit_text",
    "fractional_rmsd_mae",
    "full_range_split",
    "load_dataset",
    "matched_dice",
    "parse_formula",
    "primitive_cell",
    "space_group",
    "read_structure",
    "retrieve_templates",
    "split_by_formula",
    "structure_match",
    "write_cif",
    "write_poscar",
    "write_vasp_inputs",
    "z_values",
]
