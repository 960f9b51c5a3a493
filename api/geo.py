"""The national geography, loaded once per process (it never changes while serving)."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

import geodata

COMMUNE_FIELDS = ("code", "name", "unit_type", "province_code", "province_name", "population",
                  "population_imputed", "area_km2", "terrain", "lon", "lat", "hq_address",
                  "hq_point_repaired")
PROVINCE_FIELDS = ("province_code", "name", "name_en", "lon", "lat", "area_km2", "population",
                   "n_units", "n_communes", "n_wards", "n_special_zones",
                   "legacy_province_codes")


@lru_cache(maxsize=1)
def communes() -> pd.DataFrame:
    df = pd.DataFrame(geodata.load_communes().drop(columns="geometry"))
    return df[list(COMMUNE_FIELDS)].reset_index(drop=True)


@lru_cache(maxsize=1)
def provinces() -> pd.DataFrame:
    df = pd.DataFrame(geodata.load_provinces().drop(columns="geometry"))
    return df[list(PROVINCE_FIELDS)].sort_values("province_code").reset_index(drop=True)


@lru_cache(maxsize=1)
def province_codes() -> frozenset[str]:
    return frozenset(provinces()["province_code"])


@lru_cache(maxsize=1)
def full_communes() -> pd.DataFrame:
    """Every column, as the inventory validator wants them."""
    return geodata.load_communes()
