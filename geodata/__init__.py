"""Real national geography of Vietnam after the 2025 merger, as of a date (``AS_OF``), and
distances on it.

Imports neither ``planner`` nor ``optimization``.
"""

from geodata.distances import (
    apply_detour,
    haversine_km,
    k_nearest_pairs,
    pairs_within_radius,
)
from geodata.editions import AS_OF
from geodata.sources import ATTRIBUTION, CODE_ALIASES
from geodata.terrain import TERRAIN_CLASSES
from geodata.units import (
    GeodataInputError,
    clamp_into_bbox,
    data_quality_report,
    km_outside_bbox,
    load_communes,
    load_legacy_provinces,
    load_legacy_units,
    load_provinces,
)

__all__ = [
    "AS_OF",
    "ATTRIBUTION",
    "CODE_ALIASES",
    "TERRAIN_CLASSES",
    "GeodataInputError",
    "apply_detour",
    "clamp_into_bbox",
    "data_quality_report",
    "haversine_km",
    "k_nearest_pairs",
    "km_outside_bbox",
    "load_communes",
    "load_legacy_provinces",
    "load_legacy_units",
    "load_provinces",
    "pairs_within_radius",
]
