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
    # Since 30 Apr 2026 ten communes of Đồng Nai are wards (NQ 30/2026/QH16).
    assert communes["unit_type"].value_counts().to_dict() == {
        "Xã": 2611, "Phường": 697, "Đặc khu": 13}
    july_2025 = geodata.load_communes(as_of="2025-07-01")
    assert july_2025["unit_type"].value_counts().to_dict() == {
        "Xã": 2621, "Phường": 687, "Đặc khu": 13}
    assert communes["province_code"].nunique() == 34
    provinces = geodata.load_provinces()
    assert len(provinces) == 34
    dong_nai = provinces.set_index("province_code").loc["75"]
    assert dong_nai["n_wards"] - geodata.load_provinces("2025-07-01").set_index(
        "province_code").loc["75", "n_wards"] == 10
    assert len(legacy) == 10040
    assert legacy["district_code"].nunique() == 696
    assert legacy["legacy_province_code"].nunique() == 63
    assert legacy["geometry"].notna().all()
    assert legacy["legacy_code"].is_unique
    legacy_prov = geodata.load_legacy_provinces()
    assert len(legacy_prov) == 63
    assert set(legacy_prov["province_code"]) == set(communes["province_code"])


DONG_NAI_WARDS_2026 = {
    "25270": "Lộc Ninh", "25357": "Tân Khai", "25363": "Đồng Phú", "26116": "Tân Phú",
    "26170": "Trị An", "26248": "Trảng Bom", "26326": "Dầu Giây", "26368": "Long Thành",
    "26425": "Xuân Lộc", "26485": "Nhơn Trạch"}
# vietnamadminunits 1.0.4 types these against their own names: corrected on every date.
TYPE_FIXES = {"10543": ("Phường Việt Hòa", "Phường"), "31213": ("Phường Tân Lộc", "Phường"),
              "11848": ("Xã Vĩnh Hòa", "Xã"), "31299": ("Xã Phong Điền", "Xã")}


@pytest.mark.parametrize("as_of", geodata.AS_OF)
def test_units_on_each_date(as_of):
    units = geodata.load_communes(as_of=as_of).set_index("code")
    dong_nai = units.loc[list(DONG_NAI_WARDS_2026)]
    assert (dong_nai["province_name"] == "Tỉnh Đồng Nai").all()
    expected = "Phường" if as_of >= "2026-04-30" else "Xã"
    assert (dong_nai["unit_type"] == expected).all()
    assert list(dong_nai["name"]) == [f"{expected} {n}" for n in DONG_NAI_WARDS_2026.values()]
    for code, (name, unit_type) in TYPE_FIXES.items():
        assert (units.loc[code, "name"], units.loc[code, "unit_type"]) == (name, unit_type)
    # Every name starts with its type, on every date.
    assert all(n.startswith(t + " ") for n, t in zip(units["name"], units["unit_type"],
                                                     strict=True))
    # Xã Ba Chẽ is 06970 (see SOURCE-thanglequoc-vpd.md), with its own area and bounding box.
    assert units.loc["06970", "name"] == "Xã Ba Chẽ" and "06978" not in units.index
    assert units.loc["06970", ["area_km2", "bbox_minlon"]].notna().all()
    report = geodata.data_quality_report(as_of)
    changed = report[report["issue"] == "changed 2026-04-30 (NQ 30/2026/QH16)"]
    assert set(changed["code"]) == (set(DONG_NAI_WARDS_2026) if expected == "Phường" else set())
    assert set(changed["field"]) <= {"unit_type", "name"}
    errors = report[report["issue"] == "source error"]
    assert set(errors.query("field == 'unit_type'")["code"]) == set(TYPE_FIXES)
    assert errors.query("field == 'code'")[["before", "after"]].values.tolist() == [
        ["06978", "06970"]]
    # A change of type changes neither population nor terrain.
    other = geodata.load_communes(as_of="2025-07-01").set_index("code")
    assert (units["population"] == other["population"]).all()
    assert (units["terrain"] == other["terrain"]).all()


def test_units_agree_with_the_list_of_2026():
    later = geodata.sources.units_2026().set_index("code")
    units = geodata.load_communes(as_of="2026-07-25").set_index("code")
    assert (later["unit_type"].reindex(units.index) == units["unit_type"]).all()
    with pytest.raises(ValueError, match="known as of 2025-07-01 or 2026-07-25"):
        geodata.load_communes(as_of="2026-01-01")


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
    islands = set(communes.loc[communes["terrain"] == "island", "code"])
    zones = set(communes.loc[communes["unit_type"] == "Đặc khu", "code"])
    assert islands - zones == set(geodata.terrain.ISLAND_COMMUNES)
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


# Units the density rule reads wrong, and their class (issue 14).
TERRAIN_CASES = {
    "03006": "mountain",  # Phường Sa Pa (Lào Cai)
    "24778": "mountain", "24781": "mountain", "24787": "mountain", "24805": "mountain",
    "24846": "mountain",  # the wards of Đà Lạt (Lâm Đồng)
    "09700": "mountain",  # Xã Ba Vì (Hà Nội): all its predecessors are mountain communes
    "04930": "mountain",  # Xã Yên Xuân (Hà Nội): 4 of 5
    "09694": "midland",  # Xã Suối Hai (Hà Nội): 2 of 4, hills and plain
    "30538": "mountain", "30544": "mountain", "30547": "mountain", "30526": "mountain",
    "30577": "mountain", "30580": "mountain",  # Núi Cấm ... Cô Tô (An Giang, Bảy Núi)
    "27673": "lowland",  # Xã An Thới Đông (Cần Giờ, mangrove)
    "27676": "island",  # Xã Thạnh An (Cần Giờ)
}


def test_terrain_corrections_are_reported(communes):
    terrain = communes.set_index("code")["terrain"]
    assert terrain[list(TERRAIN_CASES)].to_dict() == TERRAIN_CASES
    report = geodata.data_quality_report().query("field == 'terrain'").set_index("code")
    assert report["after"].reindex(list(TERRAIN_CASES)).to_dict() == TERRAIN_CASES
    # Every correction changes the class the density rule gives, and names its rule.
    assert (report["before"] != report["after"]).all()
    assert report["action"].str.startswith("corrected by rule ").all()
    assert (terrain[report.index] == report["after"]).all()
    assert report.loc["27676", "before"] == "mountain"
    assert report.loc["09694", "action"].startswith("corrected by rule mountain_communes: 2 of 4")
    # Units not corrected keep the density rule: Hà Nội's river communes of Ba Vì stay lowland.
    assert terrain["09634"] == "lowland" and "09634" not in report.index


def test_cli_data_report_lists_the_changes(tmp_path):
    from typer.testing import CliRunner

    from planner.cli import app
    from planner.labels import column_label

    out = tmp_path / "report.csv"
    for as_of, n_changed in (("2026-07-25", 20), ("2025-07-01", 0)):
        res = CliRunner().invoke(app, ["data-report", "--as-of", as_of, "--full", "--out",
                                       str(out)])
        assert res.exit_code == 0, res.output
        report = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
        assert (report["issue"] == "changed 2026-04-30 (NQ 30/2026/QH16)").sum() == n_changed
        assert set(TERRAIN_CASES) <= set(report.loc[report["field"] == "terrain", "code"])
        assert (report["issue"] == "source error").sum() == 5
    assert column_label("terrain") in res.output and column_label("code") in res.output
