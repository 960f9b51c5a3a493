"""Disposition of surplus houses and land (see ``model.DispositionModel``)."""
from optimization.disposition.common import MONEY_SCALE, OTHER_USES, SERVICE_USES, USES
from optimization.disposition.model import DispositionModel

__all__ = ["MONEY_SCALE", "OTHER_USES", "SERVICE_USES", "USES", "DispositionModel"]
