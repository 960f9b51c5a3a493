"""Disposition of surplus houses and land (see ``model.DispositionModel``)."""
from optimization.disposition.common import MONEY_SCALE
from optimization.disposition.model import DispositionModel
from optimization.vocabulary import OTHER_USES, SERVICE_USES, USES

__all__ = ["MONEY_SCALE", "OTHER_USES", "SERVICE_USES", "USES", "DispositionModel"]
