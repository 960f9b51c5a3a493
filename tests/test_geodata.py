"""National geography: counts, repairs, points and candidate pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geodata
from geodata.distances import haversine_km

# Vietnam's mainland and islands, Hoàng Sa and Trường Sa included.
LON_RANGE = (102.0, 117.5)
LAT_RANGE = (6.0, 23.5)


@pytest.fixture(scope="module")
def communes():
    return geodata.load_communes()


@pytest.fixture(scope="module")
def legacy():
    return geodata.load_legacy_units()


def test_national_counts(communes, legacy):
    assert len(communes) == 3321
    assert communes["code"].is_unique
    assert communes["unit_type"].value_counts().to_dict() == {
        "Xã": 2621, "Phường": 687, "Đặc khu": 13}
    assert communes["province_code"].nunique() == 34
    assert len(geodata.load_provinces()) == 34
    assert len(legacy) == 10040
    assert legacy["district_code"].nunique() == 696
    assert legacy["legacy_province_code"].nunique() == 63
    assert legacy["geometry"].notna().all()
    assert legacy["legacy_code"].is_unique
    legacy_prov = geodata.load_legacy_provinces()
    assert len(legacy_prov) == 63
    assert set(legacy_prov["province_code"]) == set(communes["province_code"])


def test_codes_and_names(communes):
    assert communes["code"].str.fullmatch(r"\d{5}").all()
    assert communes["province_code"].str.fullmatch(r"\d{2}").all()
    hn = communes.set_index("code").loc["00004"]
    assert hn["name"] == "Phường Ba Đình" and hn["province_name"] == "Thành phố Hà Nội"


def test_every_unit_has_usable_population_area_and_point(communes):
    assert (communes["population"] > 0).all()
    assert communes["population"].dtype == np.int64
    assert (communes["area_km2"] > 0).all()
    assert communes.crs.to_epsg() == 4326
    assert communes.geometry.is_valid.all() and not communes.geometry.is_empty.any()
    assert communes["lon"].between(*LON_RANGE).all()
    assert communes["lat"].between(*LAT_RANGE).all()
    # No flagged population is used as reported unless the report says why it was kept.
    flagged = communes["flag_pop_missing"] | communes["flag_homonym_copy"] | communes[
        "flag_pop_lt_300"] | communes["flag_pop_outlier"]
    kept = set(geodata.data_quality_report().query(
        "field == 'population' and action.str.startswith('kept')")["code"])
    silent = communes[flagged & ~communes["population_imputed"] & ~communes["code"].isin(kept)]
    assert silent.empty, silent[["code", "name"]]


def test_flag_counts_match_source_notes(communes):
    # ../shared/data/vietnamadminunits-sapnhap/SOURCE.md
    assert communes["flag_pop_missing"].sum() == 70
    assert communes["flag_homonym_copy"].sum() == 268
    assert communes["flag_pop_lt_300"].sum() == 20
    assert communes["flag_hq_far"].sum() == 21
    flagged = communes.filter(like="flag_").drop(columns="flag_pop_outlier").any(axis=1)
    assert flagged.sum() == 381


def test_population_imputation(communes):
    imputed = communes[communes["population_imputed"]]
    assert (imputed["population_source"] == "imputed_density").all()
    assert imputed["flag_pop_missing"].sum() == 70
    # Yên Bình (Lào Cai): 653,422 people on 151 km2 in the scrape, a copy from a ward.
    yb = communes.set_index("code").loc["04714"]
    assert yb["population_imputed"] and yb["population"] < 100_000
    # Trường Sa keeps its small reported population: an island special zone.
    ts = communes[communes["name"] == "Đặc khu Trường Sa"].iloc[0]
    assert not ts["population_imputed"] and ts["population"] == ts["population_reported"]
    report = geodata.data_quality_report()
    assert set(imputed["code"]) == set(report.query(
        "field == 'population' and action.str.startswith('imputed')")["code"])


def test_population_and_terrain_override(tmp_path, communes):
    pop = tmp_path / "pop.csv"
    pop.write_text("code,population\n00004,70000\n4714,25000\n", encoding="utf-8")
    ter = tmp_path / "terrain.csv"
    ter.write_text("code,terrain\n00004,mountain\n", encoding="utf-8")
    c = geodata.load_communes(population_overrides=pop, terrain_overrides=ter).set_index("code")
    assert c.loc["00004", "population"] == 70000
    assert c.loc["04714", "population"] == 25000
    assert c.loc["04714", "population_source"] == "override"
    assert c.loc["00004", "terrain"] == "mountain" and c.loc["00004", "terrain_source"] == (
        "override")
    # The cached base is not mutated by an override.
    assert geodata.load_communes().set_index("code").loc["00004", "population"] != 70000


def test_bad_override_reports_every_problem(tmp_path):
    bad = tmp_path / "pop.csv"
    bad.write_text("code,population\n99999,10\n00004,-5\n00004,abc\n", encoding="utf-8")
    with pytest.raises(geodata.GeodataInputError) as err:
        geodata.load_communes(population_overrides=bad)
    msg = str(err.value)
    assert f"{bad}: row 2, column code: unknown unit code '99999'" in msg
    assert "row 3, column population: '-5' is not a positive whole number" in msg
    assert "row 4, column population: 'abc'" in msg
    assert "unit 00004 appears more than once" in msg
    ter = tmp_path / "t.csv"
    ter.write_text("code,terrain\n00004,hills\n", encoding="utf-8")
    with pytest.raises(geodata.GeodataInputError, match="'hills' is not one of lowland"):
        geodata.load_communes(terrain_overrides=ter)


def test_terrain(communes):
    assert set(communes["terrain"]) <= set(geodata.TERRAIN_CLASSES)
    assert (communes.loc[communes["unit_type"] == "Đặc khu", "terrain"] == "island").all()
    assert (communes["terrain"] == "island").sum() == 13
    by_prov = communes.groupby("province_name")["terrain"].agg(lambda s: (s == "mountain").mean())
    assert by_prov["Tỉnh Lai Châu"] > 0.8
    assert by_prov["Thành phố Hà Nội"] < 0.1
    assert by_prov["Tỉnh Cà Mau"] == 0.0


def test_every_legacy_unit_maps(communes, legacy):
    codes = set(communes["code"])
    assert legacy["successor_code"].isin(codes).all()
    assert legacy["is_split"].sum() == 471
    split = legacy[legacy["is_split"]]
    others = split["other_successor_codes"].str.split(",")
    assert others.map(len).between(1, 4).all()
    assert all(set(o) <= codes for o in others)
    assert (legacy.loc[~legacy["is_split"], "other_successor_codes"] == "").all()
    # Every new unit has at least one predecessor, and counts agree with the source notes.
    assert (communes["n_predecessors"] >= 1).all()
    cw = pd.read_csv(geodata.sources.CROSSWALK_CSV, dtype={"ward_code": str})
    merged = communes.merge(cw, left_on="code", right_on="ward_code")
    assert (merged["n_predecessors_x"] == merged["n_predecessors_y"]).all()


def test_hq_repairs_move_points_inside_bbox(communes):
    moved = communes[communes["hq_point_repaired"]]
    assert len(moved) > 0
    assert (moved["lon"].between(moved["bbox_minlon"] - 0.005, moved["bbox_maxlon"] + 0.005)).all()
    assert (moved["lat"].between(moved["bbox_minlat"] - 0.005, moved["bbox_maxlat"] + 0.005)).all()


def test_haversine_agrees_with_the_wgs84_ellipsoid():
    # Hà Nội -> Hồ Chí Minh City, Hà Nội -> Trường Sa, and a 1 km hop: the sphere is within
    # 0.5 % of the geodesic on the WGS84 ellipsoid (pyproj).
    from pyproj import Geod

    lon1 = np.array([105.8520, 105.8520, 105.8])
    lat1 = np.array([21.0285, 21.0285, 21.0])
    lon2 = np.array([106.6980, 114.2500, 105.8096])
    lat2 = np.array([10.7725, 8.6400, 21.0])
    _, _, metres = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    np.testing.assert_allclose(haversine_km(lon1, lat1, lon2, lat2), metres / 1000, rtol=5e-3)


def test_pairs_within_radius_equal_brute_force(communes, legacy):
    rng = np.random.default_rng(7)
    o = legacy[["lon", "lat"]].to_numpy()[rng.choice(len(legacy), 400, replace=False)]
    d = communes[["lon", "lat"]].to_numpy()
    pairs = geodata.pairs_within_radius(o, d, 10.0)
    dense = haversine_km(o[:, None, 0], o[:, None, 1], d[None, :, 0], d[None, :, 1])
    oi, di = np.nonzero(dense <= 10.0)
    assert len(pairs) == len(oi) > 0
    assert (pairs["origin"].to_numpy() == oi).all()
    assert (pairs["destination"].to_numpy() == di).all()
    np.testing.assert_allclose(pairs["distance_km"], dense[oi, di], rtol=1e-9, atol=1e-9)


def test_k_nearest_equal_brute_force(communes, legacy):
    rng = np.random.default_rng(3)
    o = communes[["lon", "lat"]].to_numpy()[rng.choice(len(communes), 200, replace=False)]
    d = legacy[["lon", "lat"]].to_numpy()
    pairs = geodata.k_nearest_pairs(o, d, 5)
    dense = haversine_km(o[:, None, 0], o[:, None, 1], d[None, :, 0], d[None, :, 1])
    expected = np.sort(dense, axis=1)[:, :5]
    got = pairs["distance_km"].to_numpy().reshape(200, 5)
    np.testing.assert_allclose(np.sort(got, axis=1), expected, rtol=1e-9, atol=1e-9)
    capped = geodata.k_nearest_pairs(o, d, 5, max_km=3.0)
    assert (capped["distance_km"] <= 3.0).all()
    assert len(capped) == int((expected <= 3.0).sum())


def test_detour():
    o = np.array([[105.8, 21.0], [106.0, 21.0]])
    d = np.array([[105.81, 21.0], [106.02, 21.0]])
    pairs = geodata.pairs_within_radius(o, d, 50.0)
    detoured = geodata.apply_detour(pairs, ["lowland", "mountain"])
    f = detoured["travel_km"] / detoured["distance_km"]
    assert np.allclose(f[detoured["origin"] == 0], 1.25)
    assert np.allclose(f[detoured["origin"] == 1], 1.6)
    with pytest.raises(ValueError, match="no detour factor"):
        geodata.apply_detour(pairs, ["lowland", "desert"])
