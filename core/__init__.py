"""AlphaCrystal Studio engine (no Qt): compositions, element features, contact maps,
structure I/O, data sets, metrics, the template channel and the interatomic potentials.

The names below are the public API used by the CLI and the GUI; modules not
listed here are internal.
"""

from core.composition import DEFAULT_MAX_ATOMS, Formula, atom_elements, parse_formula, z_values
from core.contact_map import (
    ContactMap,
    canonical_order,
    compute_contact_map,
    contact_map_from_arrays,
)
from core.datasets import CrystalDataset, DatasetSplit, load_dataset, split_by_formula
from core.elements import FEATURE_NAMES, FeatureScaler, element_table
from core.errors import AlphaCrystalError, DatasetError, FormulaError, StructureFileError
from core.featurize import FeaturizedDataset, featurize_dataset
from core.formula_split import full_range_split
from core.io import (
    export_structure,
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

__all__ = [
    "CSP_TOLERANCES",
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
