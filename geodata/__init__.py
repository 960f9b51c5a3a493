"""Real national geography of Vietnam after the 2025 merger, and distances on it.

Imports neither ``planner`` nor ``optimization``.
"""

from geodata.distances import (
    apply_detour,
    apply_od_table,
    haversine_km,
    k_nearest_pairs,
    pairs_within_radius,
)
from geodata.sources import ATTRIBUTION
from geodata.terrain import TERRAIN_CLASSES
from geodata.units import (
    GeodataInputError,
    data_quality_report,
    load_communes,
    load_legacy_provinces,
    load_legacy_units,
    load_provinces,
)

__all__ = [
    "ATTRIBUTION",
    "TERRAIN_CLASSES",
    "GeodataInputError",
    "apply_detour",
    "apply_od_table",
    "data_quality_report",
    "haversine_km",
    "k_nearest_pairs",
    "load_communes",
    "load_legacy_provinces",
    "load_legacy_units",
    "load_provinces",
    "pairs_within_radius",
]
