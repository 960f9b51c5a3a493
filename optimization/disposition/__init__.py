"""Disposition of surplus houses and land (see ``model.DispositionModel``)."""
from optimization.disposition.common import MONEY_SCALE, OPTIMAL_GAP
from optimization.disposition.milp import MilpResult, solve_sparse_milp
from optimization.disposition.model import DispositionModel
from optimization.vocabulary import OTHER_USES, SERVICE_USES, USES

__all__ = ["MONEY_SCALE", "OPTIMAL_GAP", "OTHER_USES", "SERVICE_USES", "USES", "DispositionModel",
           "MilpResult", "solve_sparse_milp"]
