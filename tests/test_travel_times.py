"""`assetplan travel-times` on a road grid written by the test over Cao Bằng (province 04).

The grid has a node every 0.02 degrees, all residential streets (25 km/h), and is cut in two
at a meridian (no street crosses it). On such a grid the shortest path between two nodes is a
staircase: |rows apart| x the north-south step plus |columns apart| x the east-west step of
the northern of the two rows (a parallel is shorter the farther north it lies, and a detour
north costs far more than it saves at these sizes). Pairs across the cut have no route.
"""
from __future__ import annotations

import numpy as np
import osmium
import pandas as pd
import pytest
from osmium.osm.mutable import Node, Way
from test_pipeline import province_scenario
from typer.testing import CliRunner

import geodata
from geodata.roads import ACCESS_SPEED_KMH
from planner.cli import app
from planner.demo import load_demo
from planner.pipeline import load_inputs
from planner.travel import load_travel
from planner.travel_times import NOT_CONNECTED, OFF_ROAD, candidate_pairs

STEP = 0.02
MAX_SNAP_KM = 1.0


@pytest.fixture(scope="module")
def inputs():
    return load_inputs(province_scenario("04"))


@pytest.fixture(scope="module")
def grid(inputs):
    pairs = candidate_pairs(inputs)
    lon = np.r_[pairs["o_lon"], pairs["d_lon"]]
    lat = np.r_[pairs["o_lat"], pairs["d_lat"]]
    lons = np.round(np.arange(np.floor(lon.min() / STEP) - 1, np.ceil(lon.max() / STEP) + 2)
                    * STEP, 6)
    lats = np.round(np.arange(np.floor(lat.min() / STEP) - 1, np.ceil(lat.max() / STEP) + 2)
                    * STEP, 6)
    cut = len(lons) // 2  # no street between column cut - 1 and column cut
    return lons, lats, cut


@pytest.fixture(scope="module")
def pbf(tmp_path_factory, grid):
    lons, lats, cut = grid
    ncol = len(lons)
    file = tmp_path_factory.mktemp("osm") / "grid.osm.pbf"

    def nid(i: int, j: int) -> int:
        return 1 + j * ncol + i

    with osmium.SimpleWriter(str(file)) as writer:
        for j, la in enumerate(lats):
            for i, lo in enumerate(lons):
                writer.add_node(Node(id=nid(i, j), location=(float(lo), float(la))))
        way = 1
        for j in range(len(lats)):
            for cols in (range(cut), range(cut, ncol)):
                writer.add_way(Way(id=way, nodes=[nid(i, j) for i in cols],
                                   tags={"highway": "residential"}))
                way += 1
        for i in range(ncol):
            writer.add_way(Way(id=way, nodes=[nid(i, j) for j in range(len(lats))],
                               tags={"highway": "residential"}))
            way += 1
    return file


def nearest(grid, lon, lat):
    """Brute force: column, row and great-circle km of each point's nearest grid node."""
    lons, lats, _ = grid
    glon, glat = np.meshgrid(lons, lats)
    glon, glat = glon.ravel(), glat.ravel()
    best = np.array([np.argmin(geodata.haversine_km(x, y, glon, glat))
                     for x, y in zip(lon, lat, strict=True)])
    return (best % len(lons), best // len(lons),
            geodata.haversine_km(lon, lat, glon[best], glat[best]))


def test_travel_times_reproduce_the_grid_by_hand(tmp_path, pbf, grid, inputs):
    lons, lats, cut = grid
    out = tmp_path / "od.parquet"
    res = CliRunner().invoke(app, ["travel-times", "--osm", str(pbf), "--out", str(out),
                                   "--province", "04", "--max-snap-km", str(MAX_SNAP_KM)])
    assert res.exit_code == 0, res.output
    od = pd.read_parquet(out)
    gone = pd.read_csv(tmp_path / "od.unreachable.csv", dtype={"origin": str,
                                                                "destination": str})
    pairs = candidate_pairs(inputs)
    assert len(od) + len(gone) == len(pairs) and len(od) > 1000

    oi, oj, o_snap = nearest(grid, pairs["o_lon"].to_numpy(), pairs["o_lat"].to_numpy())
    di, dj, d_snap = nearest(grid, pairs["d_lon"].to_numpy(), pairs["d_lat"].to_numpy())
    off = (o_snap > MAX_SNAP_KM) | (d_snap > MAX_SNAP_KM)
    across = (oi < cut) != (di < cut)
    ns_km = geodata.haversine_km(lons[0], lats[0], lons[0], lats[1])
    north = lats[np.maximum(oj, dj)]
    ew_km = geodata.haversine_km(lons[0], north, lons[1], north)
    net_km = np.abs(oj - dj) * ns_km + np.abs(oi - di) * ew_km
    want = pairs.assign(distance_km=net_km + o_snap + d_snap,
                        minutes=60 * net_km / 25 + 60 * (o_snap + d_snap) / ACCESS_SPEED_KMH,
                        reason=np.where(off, OFF_ROAD, np.where(across, NOT_CONNECTED, "")))
    key = ["origin", "destination", "destination_type"]
    got = want[want["reason"] == ""].merge(od, on=key, how="outer", suffixes=("", "_tool"),
                                           indicator=True)
    assert (got["_merge"] == "both").all()
    np.testing.assert_allclose(got["distance_km_tool"], got["distance_km"], atol=2e-3)
    np.testing.assert_allclose(got["minutes_tool"], got["minutes"], atol=2e-2)
    assert (got["distance_km_tool"] >= got["great_circle_km"] - 1e-3).all()
    # Every pair without a row is listed with its reason, and only those.
    miss = want[want["reason"] != ""].merge(gone, on=key, how="outer", suffixes=("", "_tool"),
                                            indicator=True)
    assert (miss["_merge"] == "both").all() and (miss["reason_tool"] == miss["reason"]).all()
    assert {OFF_ROAD, NOT_CONNECTED} <= set(miss["reason"])
    assert "pairs got no row" in res.output
    # All three stages are measured, and a run accepts the table as it is written.
    assert set(pairs["stage"]) == {"seats", "disposition", "transfer"}
    table = load_travel(out, pd.Index(load_demo().properties["property_id"]),
                        pd.Index(geodata.load_communes()["code"]),
                        pd.Index(inputs.legacy["legacy_code"]))
    assert len(table.pairs) == len(od)
    again = tmp_path / "again.parquet"
    CliRunner().invoke(app, ["travel-times", "--osm", str(pbf), "--out", str(again),
                             "--province", "04", "--max-snap-km", str(MAX_SNAP_KM)])
    assert again.read_bytes() == out.read_bytes()  # deterministic


def test_max_km_cuts_longer_pairs_with_a_reason(tmp_path, pbf):
    out = tmp_path / "od.csv"
    res = CliRunner().invoke(app, ["travel-times", "--osm", str(pbf), "--out", str(out),
                                   "--province", "04", "--max-km", "5"])
    assert res.exit_code == 0, res.output
    od = pd.read_csv(out)
    gone = pd.read_csv(tmp_path / "od.unreachable.csv")
    assert od["distance_km"].max() <= 5
    assert "beyond_max_km" in set(gone["reason"])


def test_bad_arguments_write_nothing(tmp_path, pbf):
    res = CliRunner().invoke(app, ["travel-times", "--osm", str(tmp_path / "none.pbf"),
                                   "--out", str(tmp_path / "od.parquet")])
    assert res.exit_code == 2 and "no such file" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["travel-times", "--osm", str(pbf), "--out",
                                   str(tmp_path / "od.xlsx")])
    assert res.exit_code == 2 and ".parquet or .csv" in " ".join(res.output.split())
    assert not list(tmp_path.iterdir())
