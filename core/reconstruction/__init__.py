"""CMCrystal reconstruction: a genetic algorithm that places atoms on Wyckoff orbits of a
space group so that the structure's contact map matches a target map.

Public API: :class:`ReconstructionTarget`, :func:`oracle_target`, :func:`plan_jobs`, :func:`escalate`,
:class:`ReconstructionJob`, :func:`run_job`, :func:`run_jobs`, :class:`ReconstructionResult`,
:class:`GASettings`, :class:`CancelToken`, :func:`enumerate_assignments`, and the one loop over
them all: :func:`reconstruct` with :class:`LoopSettings`.
"""

from core.reconstruction.assignments import Assignment, enumerate_assignments
from core.reconstruction.ga import GASettings, GAState
from core.reconstruction.job import (
    ReconstructionJob,
    ReconstructionResult,
    ReconstructionTarget,
    escalate,
    oracle_target,
    plan_jobs,
    run_job,
)
from core.reconstruction.loop import LoopOutcome, LoopSettings, reconstruct
from core.runtime.parallel import CancelToken

__all__ = [
    "Assignment",
    "CancelToken",
    "GASettings",
    "GAState",
    "LoopOutcome",
    "LoopSettings",
    "ReconstructionJob",
    "ReconstructionResult",
    "ReconstructionTarget",
    "enumerate_assignments",
    "escalate",
    "oracle_target",
    "plan_jobs",
    "reconstruct",
    "run_job",
]
