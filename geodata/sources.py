"""Raw readers for the shipped geography: the `vietnamadminunits` database and the CSV files in
``geodata/data`` (copied from ../shared/data with their licences and SOURCE notes).

Everything here is read-only and offline. Attribution:
"Data: tranngocminhhieu/vietnamadminunits (MIT); source sapnhap.bando.com.vn / NQ-UBTVQH15
resolutions of 16/06/2025" and "thanglequoc/vietnamese-provinces-database (MIT)".
"""

from __future__ import annotations

import json
import sqlite3
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).with_name("data")
CROSSWALK_CSV = DATA_DIR / "ward_population_crosswalk.csv"
AREA_CSV = DATA_DIR / "unit_area_gisid.csv"
BANDO_PROVINCE_CSV = DATA_DIR / "sapnhap.bando.com.vn_province_2025-07-17.csv"
UNITS_2026_CSV = DATA_DIR / "units_2026-07-25.csv"

ATTRIBUTION = (
    "Geography: tranngocminhhieu/vietnamadminunits (MIT), source sapnhap.bando.com.vn / "
    "NQ-UBTVQH15 resolutions of 16/06/2025; areas and the units of 2026 from "
    "thanglequoc/vietnamese-provinces-database (MIT)."
)

# Wrong unit codes found in sources and inventories -> the official code. Xã Ba Chẽ (Quảng Ninh)
# is 06970 (the official register, vietnamadminunits); thanglequoc's files write 06978, a code
# their maintainer withdrew (SOURCE-thanglequoc-vpd.md).
CODE_ALIASES = {"06978": "06970"}


def _vau_path(name: str) -> Path:
    return Path(str(resources.files("vietnamadminunits") / "data" / name))


@cache
def vau_admin_units() -> pd.DataFrame:
    """The 3,321 new units as vietnamadminunits ships them."""
    with sqlite3.connect(f"file:{_vau_path('dataset.db')}?mode=ro", uri=True) as conn:
        return pd.read_sql_query(
            "SELECT province, ward, wardType, provinceCode, provinceKey, wardKey, wardCode, "
            "wardLat, wardLon, provinceLat, provinceLon FROM admin_units ORDER BY wardCode",
            conn,
        )


@cache
def vau_legacy_units() -> pd.DataFrame:
    """The 10,040 pre-2025 units (5 island districts have no commune level)."""
    with sqlite3.connect(f"file:{_vau_path('dataset.db')}?mode=ro", uri=True) as conn:
        return pd.read_sql_query(
            "SELECT province, district, ward, districtType, wardType, provinceCode, provinceKey, "
            "districtCode, districtKey, wardCode, wardKey, wardLat, wardLon, districtLat, "
            "districtLon, provinceLat, provinceLon FROM admin_units_legacy "
            "ORDER BY provinceCode, districtCode, wardCode",
            conn,
        )


@cache
def vau_converter() -> dict[str, dict]:
    """The old-to-new mapping (``converter_2025.json``) of vietnamadminunits."""
    with open(_vau_path("converter_2025.json"), encoding="utf-8") as fh:
        data: dict[str, dict] = json.load(fh)
    return data


@cache
def crosswalk() -> pd.DataFrame:
    """Population, area, HQ and quality flags per new unit (SOURCE-vietnamadminunits-sapnhap)."""
    return pd.read_csv(
        CROSSWALK_CSV,
        dtype={"ward_code": str, "province_code": str, "sapnhap_id": "Int64",
               "population": "Int64"},
        encoding="utf-8",
    )


@cache
def corrected_areas() -> pd.DataFrame:
    """Areas and bounding boxes per unit (see SOURCE-thanglequoc-vpd), official codes."""
    df = pd.read_csv(AREA_CSV, dtype={"code": str, "province_code": str}, encoding="utf-8")
    return df.assign(code=df["code"].replace(CODE_ALIASES))


@cache
def units_2026() -> pd.DataFrame:
    """The units as thanglequoc lists them on 2026-07-25 (see SOURCE-thanglequoc-vpd), official
    codes; ``unit_type`` as Xã / Phường / Đặc khu."""
    df = pd.read_csv(UNITS_2026_CSV, dtype=str, encoding="utf-8", keep_default_na=False)
    types = {"xa": "Xã", "phuong": "Phường", "dac_khu": "Đặc khu"}
    return df.assign(code=df["code"].replace(CODE_ALIASES), unit_type=df["unit_type"].map(types))


@cache
def bando_provinces() -> pd.DataFrame:
    """Province population and area from the bando scrape (Vietnamese number formats)."""
    raw = pd.read_csv(BANDO_PROVINCE_CSV, dtype=str, encoding="utf-8")
    out = pd.DataFrame({
        "bando_name": raw["tentinh"].str.strip(),
        "population": raw["dansonguoi"].str.replace(".", "", regex=False).astype("int64"),
        "area_km2": raw["dientichkm2"].str.replace(".", "", regex=False)
        .str.replace(",", ".", regex=False).astype(float),
        "admin_centre": raw["trungtamhc"],
        "merged_from": raw["truocsapnhap"],
    })
    return out
