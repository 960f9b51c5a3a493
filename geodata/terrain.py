"""Terrain class per new unit: lowland / midland / mountain / island.

No machine-readable official list exists for the 2025 units, so the default is derived and
documented here; a CSV (code,terrain) overrides it (``load_communes(terrain_overrides=...)``).

Default rule, in order:
1. island: the 13 special zones (đặc khu).
2. The legacy region of the unit is the region of the legacy province that most of its
   predecessors belonged to. Highland regions are the Northern Midlands and Mountains (legacy
   provinces 02 Hà Giang, 04 Cao Bằng, 06 Bắc Kạn, 08 Tuyên Quang, 10 Lào Cai, 11 Điện Biên,
   12 Lai Châu, 14 Sơn La, 15 Yên Bái, 17 Hòa Bình, 19 Thái Nguyên, 20 Lạng Sơn, 24 Bắc Giang,
   25 Phú Thọ) and the Central Highlands (62 Kon Tum, 64 Gia Lai, 66 Đắk Lắk, 67 Đắk Nông,
   68 Lâm Đồng). The Mekong Delta (80-96) is flat.
3. In a highland region: a xã below HIGHLAND_MOUNTAIN_DENSITY people/km2 is mountain, any other
   unit is midland.
4. Elsewhere outside the Mekong Delta: a xã below MOUNTAIN_DENSITY people/km2 is mountain (the
   hill districts of Thanh Hóa, Nghệ An, Quảng Nam, Quảng Ngãi, ...), a xã below MIDLAND_DENSITY
   is midland, the rest lowland.
5. Mekong Delta: lowland.
Density uses the repaired population and the corrected area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TERRAIN_CLASSES = ("lowland", "midland", "mountain", "island")

HIGHLAND_LEGACY_PROVINCES = frozenset({
    "02", "04", "06", "08", "10", "11", "12", "14", "15", "17", "19", "20", "24", "25",
    "62", "64", "66", "67", "68",
})
MEKONG_DELTA_LEGACY_PROVINCES = frozenset({
    "80", "82", "83", "84", "86", "87", "89", "91", "92", "93", "94", "95", "96",
})
HIGHLAND_MOUNTAIN_DENSITY = 250.0
MOUNTAIN_DENSITY = 100.0
MIDLAND_DENSITY = 300.0


def default_terrain(
    communes: pd.DataFrame, legacy: pd.DataFrame, successors: pd.DataFrame
) -> np.ndarray:
    """Default terrain class for each row of ``communes`` (columns code, unit_type, population,
    area_km2), from the legacy provinces of its predecessors (``legacy``: legacy_key,
    legacy_province_code; ``successors``: legacy_key, successor_code)."""
    prov = successors.merge(legacy[["legacy_key", "legacy_province_code"]], on="legacy_key")
    # Majority legacy province per new unit; ties go to the smallest code (deterministic).
    counts = prov.groupby(["successor_code", "legacy_province_code"]).size().rename("n")
    counts = counts.reset_index().sort_values(
        ["successor_code", "n", "legacy_province_code"], ascending=[True, False, True])
    main_prov = counts.drop_duplicates("successor_code").set_index("successor_code")[
        "legacy_province_code"]
    legacy_prov = communes["code"].map(main_prov)
    density = communes["population"] / communes["area_km2"]
    is_xa = communes["unit_type"].eq("Xã")
    highland = legacy_prov.isin(HIGHLAND_LEGACY_PROVINCES)
    mekong = legacy_prov.isin(MEKONG_DELTA_LEGACY_PROVINCES)
    terrain = np.select(
        [
            communes["unit_type"].eq("Đặc khu"),  # data
            highland & is_xa & (density < HIGHLAND_MOUNTAIN_DENSITY),
            highland,
            mekong,
            is_xa & (density < MOUNTAIN_DENSITY),
            is_xa & (density < MIDLAND_DENSITY),
        ],
        ["island", "mountain", "midland", "lowland", "mountain", "midland"],
        default="lowland",
    )
    return terrain
