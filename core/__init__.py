"""AlphaCrystal Studio engine (no Qt): compositions, element features, contact maps,
structure I/O, data sets, metrics, the template channel, the interatomic potentials,
the prediction pipeline and the desktop app's session model.

The names in ``__all__`` are the public API used by the CLI and the GUI (the GUI
imports nothing else from ``core``); modules not listed here are internal. The
names of :data:`_LAZY` load their module on first use (``core.Session``), so
that ``import core`` stays light for the CLI: the pipeline pulls in torch.
"""

from core.composition import (
    DEFAULT_MAX_ATOMS,
    Formula,
    atom_elements,
    formula_unit_text,
    parse_formula,
    z_values,
)
from core.contact_map import (
    ContactMap,
    canonical_order,
    compute_contact_map,
    contact_map_from_arrays,
)
from core.datasets import CrystalDataset, DatasetSplit, load_dataset, split_by_formula
from core.elements import FEATURE_NAMES, FeatureScaler, element_table
from core.errors import (
    AlphaCrystalError,
    DatasetError,
    FormulaError,
    StructureFileError,
    StructureWarning,
)
from core.featurize import FeaturizedDataset, featurize_dataset
from core.formula_split import full_range_split
from core.io import (
    cif_text,
    export_structure,
    poscar_text,
    primitive_cell,
    read_structure,
    write_cif,
    write_poscar,
    write_vasp_inputs,
)
from core.metrics import (
    CSP_TOLERANCES,
    PAPER_TOLERANCES,
    dice,
    fractional_rmsd_mae,
    matched_dice,
    structure_match,
)
from core.potentials import DEFAULT_POTENTIAL, POTENTIALS, PotentialError
from core.templates import (
    TemplateCandidate,
    TemplateLibrary,
    TemplateLibraryError,
    retrieve_templates,
)

_LAZY = {
    # prediction pipeline (torch, pyxtal, the shipped models)
    "MAX_ATOMS": "core.pipeline", "PipelineProgress": "core.pipeline", "PredictionError": "core.pipeline",
    "PredictionResult": "core.pipeline", "PredictionSettings": "core.pipeline", "check_scope": "core.pipeline",
    "cell_size_note": "core.pipeline", "candidate_label": "core.pipeline", "parse_candidate_key": "core.pipeline", "shipped_contact_route_atoms": "core.pipeline",
    "read_run_folder": "core.run_folder",
    # stability against the known phases (pymatgen's phase diagram)
    "HullPicture": "core.stability", "Stability": "core.stability", "StabilityError": "core.stability",
    "hull_picture": "core.stability", "STABILITY_FRAMES": "core.stability",
    "DEFAULT_STABILITY_FRAME": "core.stability", "RANKINGS": "core.pipeline",
    "read_screen_table": "core.screening", "ScreenError": "core.screening",
    "compare_with_reference": "core.pipeline", "export_rows": "core.pipeline", "loaded_resources": "core.pipeline",
    "predict_structures": "core.pipeline", "propose_inputs": "core.pipeline",
    "runs_cmcrystal_by_default": "core.pipeline", "warm_up": "core.pipeline",
    "Candidate": "core.candidates.propose", "CandidateEditError": "core.candidates.propose",
    "ContactPrediction": "core.contact_model.inference",
    # the desktop app's model
    "ContactMapDocument": "core.map_document", "RunRequest": "core.session", "RunState": "core.session",
    "Session": "core.session", "SessionError": "core.session", "PROJECT_SUFFIX": "core.project",
    "Project": "core.project",
    # processes and terminal output
    "CancelToken": "core.parallel", "ignore_interrupts": "core.parallel", "lower_priority": "core.parallel",
    "format_seconds": "core.terminal", "atomic_numbers": "core.elements", "__version__": "core.cli",
}
_RENAMED = {"PROJECT_SUFFIX": "SUFFIX", "STABILITY_FRAMES": "FRAMES", "DEFAULT_STABILITY_FRAME": "DEFAULT_FRAME"}


def __getattr__(name: str):
    """Load a name of :data:`_LAZY` from its module on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core' has no attribute {name!r}")


__all__ = [*_LAZY,
    "CSP_TOLERANCES",
    "cif_text",
    "poscar_text",
    "DEFAULT_MAX_ATOMS",
    "DEFAULT_POTENTIAL",
    "FEATURE_NAMES",
    "PAPER_TOLERANCES",
    "POTENTIALS",
    "AlphaCrystalError",
    "ContactMap",
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
    "read_structure",
    "retrieve_templates",
    "split_by_formula",
    "structure_match",
    "write_cif",
    "write_poscar",
    "write_vasp_inputs",
    "z_values",
]
