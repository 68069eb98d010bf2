"""Candidate space groups, Z and lattices from a composition (our replacement for
CRYSPNet and MLatticeABC).

Public API: :func:`propose_candidates`, :class:`Candidate`, :class:`CandidateModel`,
:func:`load_default_candidate_model`.
"""

from core.candidates.model import CandidateModel
from core.candidates.propose import Candidate, load_default_candidate_model, propose_candidates

__all__ = ["Candidate", "CandidateModel", "load_default_candidate_model", "propose_candidates"]
