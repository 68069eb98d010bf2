"""The template channel: known structures of the same stoichiometry, elements substituted.

- :mod:`core.templates.library`: the packed library of training structures (``resources/template_library.npz``);
- :mod:`core.templates.retrieval`: same-pattern retrieval, substitution scores, rescaled distinct structures;
- :mod:`core.templates.volume`: the volume model (per-element volumes fitted on the library);
- :mod:`core.templates.build`: builds the library from an MP-20-style file;
- :mod:`core.templates.evaluation`: retrieval alone on held-out structures.

``core.predict.pipeline.predict_structures`` pools these structures with CMCrystal's.
"""

from core.templates.library import TemplateLibrary, TemplateLibraryError, load_library
from core.templates.retrieval import DEFAULT_SCORER, SCORERS, TemplateCandidate, retrieve_templates

__all__ = ["DEFAULT_SCORER", "SCORERS", "TemplateCandidate", "TemplateLibrary", "TemplateLibraryError",
           "load_library", "retrieve_templates"]
