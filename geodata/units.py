"""The real national geography after 1 July 2025: the provinces and commune-level units as of a
date (``editions.AS_OF``), and the pre-2025 units with their successors.

Population and HQ points are repaired, never used silently when flagged (see ``repair_population``
and ``repair_hq_points``); terrain comes from documented rules (``geodata.terrain``);
``data_quality_report()`` lists every repair, terrain correction and change of the units with its
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geodata import editions, sources
from geodata.editions import LATEST
from geodata.terrain import TERRAIN_CLASSES, default_terrain

CRS_LONLAT = "EPSG:4326"

# A group of reliable units needs this many members to give its own median density.
MIN_DENSITY_GROUP = 10
# Below this population a non-island unit is implausible (the bando scrape has e.g. 47 for
# Ngọc Tố, Cần Thơ, which has about 47,000 people).
MIN_PLAUSIBLE_POPULATION = 300
# A xã (rural commune) whose reported density is this many times the median of the xã of its
# province is not believed (Xã Yên Bình, Lào Cai: 653,422 people on 151 km2). Wards are exempt:
# city cores are legitimately dozens of times denser than their province's median ward.
OUTLIER_DENSITY_RATIO = 30.0
# Tolerance (fraction) for "the copied area is this unit's own corrected area".
HOMONYM_AREA_RTOL = 0.01
# bbox tolerance in degrees, as in SOURCE-vietnamadminunits-sapnhap (flag_hq_outside_bbox).
BBOX_TOL_DEG = 0.005
KM_PER_DEG_LAT = 111.32


class GeodataInputError(ValueError):
    """A user-supplied override file breaks a rule; the message names file, row, column, rule."""


@dataclass(frozen=True)
class _Repair:
    code: str
    field: str
    issue: str
    action: str
    before: object
    after: object


def _legacy_key(province_key: str, district_key: str, ward_key: object) -> str:
    # converter_2025.json keys: province_district_ward, ward empty for the 5 island districts.
    return f"{province_key}_{district_key}_{'' if pd.isna(ward_key) else ward_key}"


@cache
def _legacy_successors() -> pd.DataFrame:
    """One row per (legacy unit, successor): legacy_key, successor_code, is_default,
    n_successors."""
    conv = sources.vau_converter()
    new = sources.vau_admin_units()
    code_of = dict(zip(new["provinceKey"] + "|" + new["wardKey"], new["wardCode"], strict=True))
    rows: list[tuple[str, str, bool]] = []
    for prov_key, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, old_keys in wards.items():
            code = code_of[f"{prov_key}|{ward_key}"]
            rows.extend((old, code, True) for old in old_keys)
    for prov_key, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in olds.items():
            rows.extend(
                (old, code_of[f"{prov_key}|{p['newWardKey']}"], bool(p["isDefaultNewWard"]))
                for p in parts
            )
    out = pd.DataFrame(rows, columns=["legacy_key", "successor_code", "is_default"])
    out["n_successors"] = out.groupby("legacy_key")["successor_code"].transform("size")
    return out


@cache
def _legacy_base() -> pd.DataFrame:
    raw = sources.vau_legacy_units()
    island_district = raw["wardCode"].isna()
    df = pd.DataFrame({
        # The 5 island districts had no commune level: their 3-digit district code stands in.
        "legacy_code": raw["wardCode"].where(~island_district, raw["districtCode"]),
        "name": raw["ward"].where(~island_district, raw["district"]),
        "unit_type": raw["wardType"].where(~island_district, raw["districtType"]),
        "district_code": raw["districtCode"],
        "district_name": raw["district"],
        "district_type": raw["districtType"],
        "legacy_province_code": raw["provinceCode"],
        "legacy_province_name": raw["province"],
        "district_lon": raw["districtLon"],
        "district_lat": raw["districtLat"],
        "lon": raw["wardLon"].where(~island_district, raw["districtLon"]),
        "lat": raw["wardLat"].where(~island_district, raw["districtLat"]),
        "is_island_district": island_district,
        "legacy_key": [
            _legacy_key(p, d, w)
            for p, d, w in zip(raw["provinceKey"], raw["districtKey"], raw["wardKey"], strict=True)
        ],
    })
    succ = _legacy_successors()
    default = succ[succ["is_default"]].drop_duplicates("legacy_key").set_index("legacy_key")
    others = (
        succ[~succ["is_default"]].groupby("legacy_key")["successor_code"]
        .agg(lambda s: ",".join(sorted(s)))
    )
    df["successor_code"] = df["legacy_key"].map(default["successor_code"])
    df["other_successor_codes"] = df["legacy_key"].map(others).fillna("")
    df["n_successors"] = df["legacy_key"].map(default["n_successors"]).astype("Int64")
    df["is_split"] = df["n_successors"] > 1
    return df


def load_legacy_units() -> gpd.GeoDataFrame:
    """The 10,040 pre-2025 units (63 provinces, 696 districts) with their successor unit(s).

    Columns: legacy_code (5-digit ward code; 3-digit district code for the 5 island districts with
    no commune level), name, unit_type, district_code/name/type, district_lon/lat (the district
    centre), legacy_province_code/name,
    successor_code (the default successor), other_successor_codes (comma-separated, for the 471
    units split across 2-5 new units), n_successors, is_split, is_island_district, lon, lat,
    geometry (Point, EPSG:4326; approximate geocoded centroids).
    """
    df = _legacy_base().drop(columns="legacy_key")
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=CRS_LONLAT)
    return gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geom, crs=CRS_LONLAT)


def _predecessor_centroids() -> pd.DataFrame:
    """Mean lon/lat of all legacy units mapped (whole or in part) to each new unit."""
    base = _legacy_base()[["legacy_key", "lon", "lat"]]
    pts = _legacy_successors().merge(base, on="legacy_key")
    return pts.groupby("successor_code").agg(
        pred_lon=("lon", "mean"), pred_lat=("lat", "mean"), n_predecessors=("legacy_key", "size")
    )


@cache
def _communes_base() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The units of 1 July 2025 with the source errors corrected, and every repair made
    (editions.COLUMNS)."""
    vau = sources.vau_admin_units()
    cw = sources.crosswalk().set_index("ward_code")
    areas = sources.corrected_areas()
    ward_areas = areas[areas["level"] == "ward"].set_index("code")
    df = pd.DataFrame({
        "code": vau["wardCode"],
        "name": vau["ward"],
        "unit_type": vau["wardType"],
        "province_code": vau["provinceCode"],
        "province_name": vau["province"],
    })
    errors = editions.source_errors()
    df = editions.apply(df, errors)
    cwr = cw.reindex(df["code"])
    df["hq_address"] = cwr["hq_address"].to_numpy()
    df["resolution"] = cwr["resolution"].to_numpy()
    df["lon"] = cwr["hq_lon"].to_numpy(dtype=float)
    df["lat"] = cwr["hq_lat"].to_numpy(dtype=float)
    area_rows = ward_areas.reindex(df["code"])
    df["area_km2"] = area_rows["area_km2"].to_numpy(dtype=float)
    for col in ("bbox_minlon", "bbox_minlat", "bbox_maxlon", "bbox_maxlat"):
        df[col] = area_rows[col].to_numpy(dtype=float)
    df["population_reported"] = cwr["population"].to_numpy()
    for flag in ("flag_pop_missing", "flag_homonym_copy", "flag_pop_lt_300", "flag_hq_far",
                 "flag_hq_outside_bbox"):
        df[flag] = cwr[flag].fillna(0).astype(bool).to_numpy()
    # The copied area (from the bando scrape) tells which member of a homonym group is the owner.
    df["_bando_area_km2"] = cwr["area_km2"].to_numpy(dtype=float)
    cent = _predecessor_centroids().reindex(df["code"])
    df["n_predecessors"] = cent["n_predecessors"].fillna(0).astype("int64").to_numpy()
    df["_pred_lon"] = cent["pred_lon"].to_numpy()
    df["_pred_lat"] = cent["pred_lat"].to_numpy()

    repairs: list[_Repair] = []
    repairs += _repair_hq_points(df)
    repairs += _repair_population(df)
    df["terrain"], terrain = default_terrain(df, _legacy_base(), _legacy_successors())
    df["terrain_source"] = "default"
    df = df.drop(columns=[c for c in df.columns if c.startswith("_")])
    report = pd.concat([pd.DataFrame([r.__dict__ for r in repairs]), terrain, errors],
                       ignore_index=True)
    return df.reset_index(drop=True), report


def _repair_hq_points(df: pd.DataFrame) -> list[_Repair]:
    """Move a flagged HQ point to its predecessors' centroid when that centroid lies inside the
    unit's own bounding box and the given point does not (swapped or misplaced points); special
    zones keep their given point (their predecessors' points are district centroids)."""
    repairs: list[_Repair] = []
    flagged = df["flag_hq_far"] | df["flag_hq_outside_bbox"]

    def inside(lon: pd.Series, lat: pd.Series) -> pd.Series:
        return (
            (lon >= df["bbox_minlon"] - BBOX_TOL_DEG) & (lon <= df["bbox_maxlon"] + BBOX_TOL_DEG)
            & (lat >= df["bbox_minlat"] - BBOX_TOL_DEG) & (lat <= df["bbox_maxlat"] + BBOX_TOL_DEG)
        )

    hq_in = inside(df["lon"], df["lat"])
    pred_in = inside(df["_pred_lon"], df["_pred_lat"])
    move = flagged & ~hq_in & pred_in & (df["unit_type"] != "Đặc khu")
    df["hq_point_repaired"] = move.to_numpy()
    for i in np.flatnonzero(flagged.to_numpy()):
        row = df.iloc[i]
        issue = "HQ point far from every predecessor" if row["flag_hq_far"] else (
            "HQ point outside the unit's own bounding box")
        before = f"{row['lon']:.4f},{row['lat']:.4f}"
        if move.iloc[i]:
            after = f"{row['_pred_lon']:.4f},{row['_pred_lat']:.4f}"
            action = "moved to the centroid of its predecessors (inside its bounding box)"
        else:
            after = before
            action = ("kept: special zone" if row["unit_type"] == "Đặc khu" else
                      "kept: predecessor centroid is no better" if not pred_in.iloc[i] else
                      "kept: point lies inside the unit's bounding box")
        repairs.append(_Repair(row["code"], "hq_point", issue, action, before, after))
    df.loc[move, "lon"] = df.loc[move, "_pred_lon"]
    df.loc[move, "lat"] = df.loc[move, "_pred_lat"]
    return repairs


def _repair_population(df: pd.DataFrame) -> list[_Repair]:
    """Impute populations that are missing, copied from a same-named unit, or implausibly small.

    Method: population = corrected area_km2 x the median density (people/km2) of the reliable
    units of the same province and unit type (national median of the type when the group has
    fewer than MIN_DENSITY_GROUP members), rounded to whole people.
    - In each homonym group (same name, same copied population and area) the member whose own
      corrected area equals the copied area (within 1 %) is taken as the owner and keeps its value;
      when no member or several members match, all are imputed.
    - Special zones (islands) below 300 people keep their reported value: small island
      populations are plausible (Cồn Cỏ, Trường Sa) and are listed in the report.
    - A xã whose reported density is over OUTLIER_DENSITY_RATIO times the median of its group is
      an outlier (``flag_pop_outlier``) and is imputed too.
    """
    repairs: list[_Repair] = []
    reported = df["population_reported"]
    owner = df["flag_homonym_copy"] & np.isclose(
        df["_bando_area_km2"], df["area_km2"], rtol=HOMONYM_AREA_RTOL
    )
    group = df["name"] + "|" + reported.astype(str) + "|" + df["_bando_area_km2"].astype(str)
    n_owner = owner.groupby(group).transform("sum")
    owner &= n_owner == 1
    island = df["unit_type"] == "Đặc khu"
    small_kept = df["flag_pop_lt_300"] & island
    reliable = ~(df["flag_pop_missing"] | df["flag_homonym_copy"] | df["flag_pop_lt_300"])
    density = reported.astype(float) / df["area_km2"]
    key = df["province_code"] + "|" + df["unit_type"]

    # Median density of the trusted units of the same province and unit type; national median
    # of the type when the group is too small. Outliers are found against it, then excluded.
    def median_density(ok: pd.Series) -> tuple[pd.Series, pd.Series]:
        by_group = density[ok].groupby(key[ok]).agg(["median", "size"])
        group = key.map(by_group["median"].where(by_group["size"] >= MIN_DENSITY_GROUP))
        by_type = density[ok].groupby(df["unit_type"][ok]).median()
        return group.fillna(df["unit_type"].map(by_type)), group

    df["flag_pop_outlier"] = (
        reliable & df["unit_type"].eq("Xã")
        & (density > OUTLIER_DENSITY_RATIO * median_density(reliable)[0])
    ).to_numpy()
    reliable &= ~df["flag_pop_outlier"]
    impute = (df["flag_pop_missing"] | (df["flag_homonym_copy"] & ~owner)
              | (df["flag_pop_lt_300"] & ~island) | df["flag_pop_outlier"])
    est_density, group_density = median_density(reliable)
    imputed = (est_density * df["area_km2"]).round().astype("int64")

    pop = reported.astype("Int64").copy()
    pop[impute] = imputed[impute]
    df["population"] = pop.astype("int64")
    df["population_imputed"] = impute.to_numpy()
    df["population_source"] = np.where(impute, "imputed_density", "reported")
    for i in np.flatnonzero((impute | owner | small_kept).to_numpy()):
        row = df.iloc[i]
        if row["flag_pop_missing"]:
            issue = "population missing ('đang cập nhật')"
        elif row["flag_homonym_copy"]:
            issue = "population and area copied from a same-named unit"
        elif row["flag_pop_outlier"]:
            issue = (f"population density over {OUTLIER_DENSITY_RATIO:.0f}x the median xã "
                     "of its province")
        else:
            issue = "population below 300"
        if impute.iloc[i]:
            how = "province" if pd.notna(group_density.iloc[i]) else "national"
            action = (f"imputed: {row['area_km2']:.2f} km2 x median density "
                      f"{est_density.iloc[i]:.1f}/km2 of reliable {row['unit_type']} units "
                      f"({how})")
        elif owner.iloc[i]:
            action = "kept: its own corrected area equals the copied area (owner of the group)"
        else:
            action = "kept: island special zone, small population plausible"
        before = None if pd.isna(row["population_reported"]) else int(row["population_reported"])
        repairs.append(_Repair(row["code"], "population", issue, action, before,
                               int(row["population"])))
    return repairs


def _read_override(path: str | Path | pd.DataFrame, value_col: str, known_codes: pd.Index,
                   allowed: tuple[str, ...] | None = None) -> pd.Series:
    """Read a (code, value) override table, reporting every broken rule at once."""
    name = "<DataFrame>" if isinstance(path, pd.DataFrame) else str(path)
    frame = path if isinstance(path, pd.DataFrame) else pd.read_csv(
        path, dtype=str, encoding="utf-8", keep_default_na=False)
    errors: list[str] = []
    missing = {"code", value_col} - set(frame.columns)
    if missing:
        raise GeodataInputError(f"{name}: missing column(s) {sorted(missing)}; "
                                f"expected columns code,{value_col}")
    codes = frame["code"].astype(str).str.strip().str.zfill(5)
    values = frame[value_col].astype(str).str.strip()
    for i, (code, value) in enumerate(zip(codes, values, strict=True)):
        row = i + 2  # header is line 1
        if code not in known_codes:
            errors.append(f"{name}: row {row}, column code: unknown unit code {code!r}")
        if allowed is not None:
            if value not in allowed:
                errors.append(f"{name}: row {row}, column {value_col}: {value!r} is not one of "
                              f"{', '.join(allowed)}")
        else:
            try:
                if int(value) <= 0:
                    raise ValueError
            except ValueError:
                errors.append(f"{name}: row {row}, column {value_col}: {value!r} is not a "
                              "positive whole number of people")
    dup = codes[codes.duplicated()]
    errors += [f"{name}: column code: unit {c} appears more than once" for c in sorted(set(dup))]
    if errors:
        raise GeodataInputError("\n".join(errors))
    return pd.Series(values.to_numpy(), index=codes.to_numpy())


def load_communes(
    population_overrides: str | Path | pd.DataFrame | None = None,
    terrain_overrides: str | Path | pd.DataFrame | None = None,
    as_of: str = LATEST,
) -> gpd.GeoDataFrame:
    """The commune-level units as of ``as_of`` (one of ``editions.AS_OF``; the latest by
    default), with repaired data and the source errors corrected (``geodata.editions``).

    Columns: code (official 5-digit), name (with diacritics), unit_type (Xã / Phường / Đặc khu),
    province_code, province_name, population (people; repaired), population_reported,
    population_imputed, population_source (reported / imputed_density / override), area_km2
    (corrected), terrain (lowland / midland / mountain / island), terrain_source, n_predecessors,
    hq_address, resolution, flag_* quality flags, hq_point_repaired, lon, lat, geometry (new
    People's Committee HQ point, EPSG:4326).

    ``population_overrides``: CSV or frame with columns code,population replacing any value.
    ``terrain_overrides``: CSV or frame with columns code,terrain.
    """
    base, _ = _communes_base()
    df = editions.apply(base, editions.changes_until(as_of))
    codes = pd.Index(df["code"])
    if population_overrides is not None:
        ov = _read_override(population_overrides, "population", codes).astype("int64")
        hit = df["code"].isin(ov.index)
        df.loc[hit, "population"] = df.loc[hit, "code"].map(ov).to_numpy()
        df.loc[hit, "population_source"] = "override"
        df.loc[hit, "population_imputed"] = False
    if terrain_overrides is not None:
        tv = _read_override(terrain_overrides, "terrain", codes, allowed=TERRAIN_CLASSES)
        hit = df["code"].isin(tv.index)
        df.loc[hit, "terrain"] = df.loc[hit, "code"].map(tv).to_numpy()
        df.loc[hit, "terrain_source"] = "override"
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=CRS_LONLAT)
    return gpd.GeoDataFrame(df, geometry=geom, crs=CRS_LONLAT)


def data_quality_report(as_of: str = LATEST) -> pd.DataFrame:
    """Every repair and correction made to the shipped geography, and every change of the units
    in force on ``as_of``: code, name, province, field, issue, action, before, after. Values in
    ``before``/``after`` are people (population), lon,lat (hq_point), a terrain class, a unit
    type, a name or a code."""
    base, report = _communes_base()
    rep = pd.concat([report, editions.changes_until(as_of)], ignore_index=True)
    names = editions.apply(base, editions.changes_until(as_of)).set_index("code")[
        ["name", "province_name"]]
    rep = rep.join(names, on="code")
    cols = ["code", "name", "province_name", "field", "issue", "action", "before", "after"]
    return rep[cols].sort_values(["field", "code"], kind="stable").reset_index(drop=True)


@cache
def _legacy_province_table() -> pd.DataFrame:
    conv = sources.vau_converter()["DICT_PROVINCE"]
    new = sources.vau_admin_units()
    new_code = dict(zip(new["provinceKey"], new["provinceCode"], strict=False))
    new_of_old = {old: new_code[nk] for nk, olds in conv.items() for old in olds}
    raw = sources.vau_legacy_units().drop_duplicates("provinceCode")
    return pd.DataFrame({
        "legacy_province_code": raw["provinceCode"].to_numpy(),
        "legacy_province_name": raw["province"].to_numpy(),
        "province_code": raw["provinceKey"].map(new_of_old).to_numpy(),
        "lon": raw["provinceLon"].to_numpy(),
        "lat": raw["provinceLat"].to_numpy(),
    })


def load_legacy_provinces() -> gpd.GeoDataFrame:
    """The 63 pre-2025 provinces and the new province each was merged into."""
    df = _legacy_province_table().copy()
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=CRS_LONLAT)
    return gpd.GeoDataFrame(df, geometry=geom, crs=CRS_LONLAT)


def load_provinces(as_of: str = LATEST) -> gpd.GeoDataFrame:
    """The 34 provinces: code, name, name_en, area_km2, population (sum of repaired unit
    populations), population_reported (bando), n_units by type as of ``as_of``,
    legacy_province_codes, and the provincial administrative centre point."""
    communes = load_communes(as_of=as_of)
    vau = sources.vau_admin_units().drop_duplicates("provinceCode")
    areas = sources.corrected_areas()
    pa = areas[areas["level"] == "province"].set_index("code")
    counts = pd.crosstab(communes["province_code"], communes["unit_type"])
    legacy = _legacy_province_table().groupby("province_code")["legacy_province_code"].agg(
        lambda s: ",".join(sorted(s)))
    df = pd.DataFrame({
        "province_code": vau["provinceCode"].to_numpy(),
        "name": vau["province"].to_numpy(),
        "lon": vau["provinceLon"].to_numpy(),
        "lat": vau["provinceLat"].to_numpy(),
    }).sort_values("province_code", kind="stable").reset_index(drop=True)
    df["name_en"] = df["province_code"].map(pa["full_name_en"])
    df["area_km2"] = df["province_code"].map(pa["area_km2"]).astype(float)
    df["population"] = df["province_code"].map(
        communes.groupby("province_code")["population"].sum()).astype("int64")
    df["n_units"] = df["province_code"].map(counts.sum(axis=1)).astype("int64")
    for t, col in (("Xã", "n_communes"), ("Phường", "n_wards"), ("Đặc khu", "n_special_zones")):
        df[col] = df["province_code"].map(counts[t]).fillna(0).astype("int64")
    df["legacy_province_codes"] = df["province_code"].map(legacy)
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=CRS_LONLAT)
    return gpd.GeoDataFrame(df, geometry=geom, crs=CRS_LONLAT)


def km_outside_bbox(communes: pd.DataFrame, codes: ArrayLike, lon: ArrayLike,
                    lat: ArrayLike) -> np.ndarray:
    """How far (km, 0 inside) each point lies outside the bounding box of the unit ``codes``
    names; NaN for unknown codes. Equirectangular approximation, fine at these distances."""
    box = communes.set_index("code").reindex(np.asarray(codes))
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    dx = np.fmax(np.fmax(box["bbox_minlon"].to_numpy() - x, x - box["bbox_maxlon"].to_numpy()),
                 0.0)
    dy = np.fmax(np.fmax(box["bbox_minlat"].to_numpy() - y, y - box["bbox_maxlat"].to_numpy()),
                 0.0)
    return np.hypot(dx * np.cos(np.radians(y)), dy) * KM_PER_DEG_LAT


def clamp_into_bbox(communes: pd.DataFrame, codes: ArrayLike, lon: ArrayLike,
                    lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point inside the bounding box of each point's unit."""
    box = communes.set_index("code").reindex(np.asarray(codes))
    x = np.clip(np.asarray(lon, dtype=float), box["bbox_minlon"], box["bbox_maxlon"])
    y = np.clip(np.asarray(lat, dtype=float), box["bbox_minlat"], box["bbox_maxlat"])
    return np.asarray(x), np.asarray(y)
