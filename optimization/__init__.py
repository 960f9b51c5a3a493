"""The models: arrays and frames in, solution frames out. Knows no geography.

Imports neither ``geodata`` nor ``planner``.
"""

from optimization.disposition import DispositionModel
from optimization.location import LSCP, LSCPB, MCLP, PCenter, PMedian
from optimization.result import (
    InfeasibleInputError,
    SolutionCheckError,
    SolveInfo,
    SolveStatus,
    relative_gap,
)
from optimization.seats import SeatsModel
from optimization.transfer import TransferModel

__all__ = [
    "LSCP",
    "LSCPB",
    "MCLP",
    "DispositionModel",
    "InfeasibleInputError",
    "PCenter",
    "PMedian",
    "SeatsModel",
    "SolutionCheckError",
    "SolveInfo",
    "SolveStatus",
    "TransferModel",
    "relative_gap",
]
