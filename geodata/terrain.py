"""Terrain class per new unit: lowland / midland / mountain / island.

No machine-readable official list exists for the 2025 units, so the default is derived and
documented here; a CSV (code,terrain) overrides it (``load_communes(terrain_overrides=...)``).

The density rule, in order:
1. island: the special zones (đặc khu).
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

Density misreads a few kinds of place; these rules correct it, first match wins, and
``data_quality_report()`` lists every unit they change (field ``terrain``, before, after, rule):
- ``island_commune``: the island communes that are not special zones (ISLAND_COMMUNES).
- ``highland_town``: a unit formed mostly from a town of the high plateaus and ranges
  (HIGHLAND_TOWN_DISTRICTS) is mountain, its wards too: density reads a town as midland.
- ``mountain_communes``: outside the highland regions, a unit formed mostly from mountain
  communes (MOUNTAIN_DISTRICTS, MOUNTAIN_COMMUNES) is mountain, a ward midland; one formed partly
  from them (half or less of its predecessors) is midland: it mixes hills and plain.
- ``flat_province``: in a legacy province without hills (FLAT_LEGACY_PROVINCES) every unit is
  lowland: a low density there is rice fields, wetland or mangrove (Cần Giờ), not hills.
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

# New unit code -> the island; reached only by boat.
ISLAND_COMMUNES = {
    "06757": "Vĩnh Thực island off Móng Cái (Quảng Ninh)",
    "06967": "Cái Chiên island off Hải Hà (Quảng Ninh)",
    "20434": "Cù Lao Chàm off Hội An (Đà Nẵng)",
    "21607": "Cù Lao Xanh off Quy Nhơn (Gia Lai)",
    "27676": "Thạnh An island in the Cần Giờ estuary (Hồ Chí Minh City)",
    "30781": "Hải Tặc islands off Hà Tiên (An Giang)",
    "30811": "Bà Lụa islands off Kiên Lương (An Giang)",
    "30814": "Hòn Nghệ off Kiên Lương (An Giang)",
}
# Legacy district code -> the town; towns at about 1,000 m and more.
HIGHLAND_TOWN_DISTRICTS = {
    "088": "Sa Pa (Lào Cai), about 1,500 m",
    "123": "Mộc Châu plateau (Sơn La), about 1,000 m",
    "672": "Đà Lạt (Lâm Đồng), about 1,500 m",
    "675": "Lạc Dương on the Lang Biang plateau (Lâm Đồng), about 1,400 m",
}
# Mountain land the density rule reads as lowland, in provinces of the plains. Legacy district
# code -> why: the mountain districts of An Giang, the Seven Mountains (Bảy Núi).
MOUNTAIN_DISTRICTS = {
    "890": "Bảy Núi: Tịnh Biên (An Giang)",
    "891": "Bảy Núi: Tri Tôn (An Giang)",
}
# Legacy commune code (pre-2025, not a new code) -> name: the mountain communes of the former
# Hà Tây, now Hà Nội, on the Ba Vì range and the hills west of the capital; the plain communes
# of the same districts are not listed.
MOUNTAIN_COMMUNES = {
    "09694": "Tản Lĩnh (Ba Vì)", "09697": "Ba Trại (Ba Vì)", "09700": "Minh Quang (Ba Vì)",
    "09703": "Ba Vì (Ba Vì)", "09706": "Vân Hòa (Ba Vì)", "09709": "Yên Bài (Ba Vì)",
    "09712": "Khánh Thượng (Ba Vì)", "04927": "Yên Trung (Thạch Thất)",
    "04930": "Yên Bình (Thạch Thất)", "04936": "Tiến Xuân (Thạch Thất)",
    "04939": "Đông Xuân (Quốc Oai)", "09940": "Phú Mãn (Quốc Oai)", "10504": "An Phú (Mỹ Đức)",
}
# The Mekong Delta, the Red River Delta's 33 Hưng Yên, 34 Thái Bình and 36 Nam Định, and the
# old 79 Hồ Chí Minh City.
FLAT_LEGACY_PROVINCES = MEKONG_DELTA_LEGACY_PROVINCES | {"33", "34", "36", "79"}
# A unit formed mostly from mountain communes: more than this share of its predecessors.
MOSTLY = 0.5
REPORT_COLUMNS = ["code", "field", "issue", "action", "before", "after"]


def _majority(pred: pd.DataFrame, column: str) -> pd.Series:
    """The value of ``column`` most predecessors of each new unit share; ties go to the
    smallest value (deterministic)."""
    counts = pred.groupby(["successor_code", column]).size().rename("n").reset_index()
    counts = counts.sort_values(["successor_code", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("successor_code").set_index("successor_code")[column]


def default_terrain(
    communes: pd.DataFrame, legacy: pd.DataFrame, successors: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame]:
    """Default terrain class for each row of ``communes`` (columns code, unit_type, population,
    area_km2), from its predecessors (``legacy``: legacy_key, legacy_code, district_code,
    legacy_province_code, legacy_province_name; ``successors``: legacy_key, successor_code),
    and the corrections made to the density rule (code, field, issue, action, before, after)."""
    pred = successors.merge(legacy[["legacy_key", "legacy_code", "district_code",
                                    "legacy_province_code"]], on="legacy_key")
    province_name = legacy.drop_duplicates("legacy_province_code").set_index(
        "legacy_province_code")["legacy_province_name"]
    code = communes["code"]
    legacy_prov = code.map(_majority(pred, "legacy_province_code"))
    district = code.map(_majority(pred, "district_code"))
    why = pred["district_code"].map(MOUNTAIN_DISTRICTS).fillna(
        pred["legacy_code"].map(MOUNTAIN_COMMUNES))
    pred["mountain"] = why.notna()
    by_unit = pred.groupby("successor_code")["mountain"].agg(["sum", "size"])
    n_mountain = code.map(by_unit["sum"]).fillna(0).astype(int)
    n_pred = code.map(by_unit["size"]).fillna(0).astype(int)
    named = code.map(why.dropna().groupby(pred["successor_code"]).agg(
        lambda s: ", ".join(sorted(set(s)))))
    density = communes["population"] / communes["area_km2"]
    is_xa = communes["unit_type"].eq("Xã")
    special = communes["unit_type"].eq("Đặc khu")
    highland = legacy_prov.isin(HIGHLAND_LEGACY_PROVINCES)
    density_class = pd.Series(np.select(
        [
            special,
            highland & is_xa & (density < HIGHLAND_MOUNTAIN_DENSITY),
            highland,
            legacy_prov.isin(MEKONG_DELTA_LEGACY_PROVINCES),
            is_xa & (density < MOUNTAIN_DENSITY),
            is_xa & (density < MIDLAND_DENSITY),
        ],
        ["island", "mountain", "midland", "lowland", "mountain", "midland"],
        default="lowland",
    ), index=communes.index)

    share = n_mountain / n_pred.where(n_pred > 0)
    lowland = density_class.eq("lowland")  # a midland rule never lowers a mountain unit
    mostly = share > MOSTLY
    counted = (n_mountain.astype(str) + " of " + n_pred.astype(str) + " predecessors: "
               + named.fillna(""))
    # (rule, issue, where, class, detail per unit), first match wins.
    rules = [
        ("island_commune", "an island commune that is not a special zone",
         code.isin(ISLAND_COMMUNES), "island", code.map(ISLAND_COMMUNES)),
        ("highland_town", "a unit of a town on the high plateaus or ranges",
         district.isin(HIGHLAND_TOWN_DISTRICTS), "mountain", district.map(HIGHLAND_TOWN_DISTRICTS)),
        ("mountain_communes", "most of its predecessors are mountain communes",
         ~highland & mostly & is_xa, "mountain", counted),
        ("mountain_communes", "most of its predecessors are mountain communes",
         ~highland & mostly & lowland, "midland", counted + "; a ward"),
        ("mountain_communes", "some of its predecessors are mountain communes",
         ~highland & (share > 0) & lowland, "midland", counted),
        ("flat_province", "a low density in a flat delta province is not hills",
         legacy_prov.isin(FLAT_LEGACY_PROVINCES), "lowland",
         "legacy province " + legacy_prov.map(province_name)),
    ]
    terrain = density_class.copy()
    decided = special.copy()
    rows = []
    for rule, issue, where, cls, detail in rules:
        hit = where & ~decided
        decided |= hit
        terrain[hit] = cls
        changed = hit & (density_class != cls)
        rows.append(pd.DataFrame({
            "code": code[changed], "field": "terrain", "issue": issue,
            "action": f"corrected by rule {rule}: " + detail[changed].astype(str),
            "before": density_class[changed], "after": cls}))
    return terrain.to_numpy(), pd.concat(rows, ignore_index=True)[REPORT_COLUMNS]
