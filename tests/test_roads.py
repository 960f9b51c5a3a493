"""Road graph from a hand-written OSM file; shortest distances and fastest times worked out below.

Grid near lat 10 (lon step 0.01 deg = 1.095 km, lat step 0.01 deg = 1.112 km; row 2 sits two lat
steps above row 1):

    lat 10.03   7 ----- 8 ----- 9        row 2: residential 25, maxspeed=100 (must not raise)
                |       |       |
                |       |       |        cols: 1-4-7 secondary 40, 2-5-8 residential with
    lat 10.01   4 ====> 5 ====> 6               maxspeed=10, 3-6-9 secondary 40
                |       |       |        row 1: residential 25, oneway=yes (4 -> 5 -> 6)
    lat 10.00   1 ----- 2 ----- 3 ~~~~ 41 ~~~~ 40 ----- 42     row 0: primary 50
              lon 105.00  .01  .02   .06     .10     .11      ferry 3-41-40, island street 40-42

plus a footway 5 - 30 (ignored), a residential way 9 - 99 whose node 99 is not in the file, and
an isolated group 50 .. 54 (motorway 50-51, tertiary oneway=-1 51-52, roundabout 52-53,
motorway oneway=no 53-54) far from the grid.
"""

from __future__ import annotations

import numpy as np
import osmium
import pandas as pd
import pytest
from osmium.osm.mutable import Node, Way

from geodata.distances import haversine_km
from geodata.road_search import pair_travel
from geodata.roads import (
    ACCESS_SPEED_KMH,
    FERRY_SPEED_KMH,
    FERRY_WAIT_MIN,
    RoadGraph,
    parse_maxspeed_kmh,
    read_road_graph,
    snap,
)

LON = {1: 105.00, 2: 105.01, 3: 105.02, 4: 105.00, 5: 105.01, 6: 105.02, 7: 105.00, 8: 105.01,
       9: 105.02, 30: 105.01, 40: 105.10, 41: 105.06, 42: 105.11,
       50: 104.80, 51: 104.81, 52: 104.82, 53: 104.83, 54: 104.84}
LAT = {1: 10.00, 2: 10.00, 3: 10.00, 4: 10.01, 5: 10.01, 6: 10.01, 7: 10.03, 8: 10.03,
       9: 10.03, 30: 9.99, 40: 10.00, 41: 10.00, 42: 10.00,
       50: 10.20, 51: 10.20, 52: 10.20, 53: 10.20, 54: 10.20}
WAYS = [
    ([1, 2, 3], {"highway": "primary"}),
    ([4, 5, 6], {"highway": "residential", "oneway": "yes"}),
    ([7, 8, 9], {"highway": "residential", "maxspeed": "100"}),
    ([1, 4, 7], {"highway": "secondary"}),
    ([2, 5, 8], {"highway": "residential", "maxspeed": "10"}),
    ([3, 6, 9], {"highway": "secondary"}),
    ([5, 30], {"highway": "footway"}),
    ([9, 99], {"highway": "residential"}),
    ([3, 41, 40], {"route": "ferry"}),
    ([40, 42], {"highway": "residential"}),
    ([50, 51], {"highway": "motorway"}),
    ([51, 52], {"highway": "tertiary", "oneway": "-1"}),
    ([52, 53], {"highway": "tertiary", "junction": "roundabout"}),
    ([53, 54], {"highway": "motorway", "oneway": "no"}),
]
OFF_1 = (104.995, 10.00)  # 0.55 km west of node 1: snaps to it
FAR = (106.0, 11.0)  # ~160 km from any road


def km(a: int, b: int) -> float:
    return float(haversine_km(LON[a], LAT[a], LON[b], LAT[b]))


def path(nodes: list[int], speed_kmh: list[float]) -> tuple[float, float]:
    """(km, minutes) along consecutive nodes, one speed per segment."""
    seg = [km(a, b) for a, b in zip(nodes[:-1], nodes[1:], strict=True)]
    return sum(seg), sum(60 * s / v for s, v in zip(seg, speed_kmh, strict=True))


@pytest.fixture(scope="module")
def pbf(tmp_path_factory):
    file = tmp_path_factory.mktemp("osm") / "grid.osm.pbf"
    with osmium.SimpleWriter(str(file)) as writer:
        for nid in sorted(LON):
            writer.add_node(Node(id=nid, location=(LON[nid], LAT[nid])))
        for wid, (nodes, tags) in enumerate(WAYS, start=1):
            writer.add_way(Way(id=wid, nodes=nodes, tags=tags))
    return file


@pytest.fixture(scope="module")
def graph(pbf) -> RoadGraph:
    return read_road_graph(pbf)


def idx(graph: RoadGraph, osm_id: int) -> int:
    hit = np.flatnonzero(graph.osm_node_id == osm_id)
    assert hit.size == 1, f"node {osm_id} not in graph"
    return int(hit[0])


def has_edge(graph: RoadGraph, a: int, b: int) -> bool:
    i, j = idx(graph, a), idx(graph, b)
    ptr = graph.length_km.indptr
    return bool(j in graph.length_km.indices[ptr[i]:ptr[i + 1]])


# Points of the travel tests (origins and destinations alike).
POINTS = {"off1": OFF_1, "n2": (LON[2], LAT[2]), "n4": (LON[4], LAT[4]),
          "n5": (LON[5], LAT[5]), "n6": (LON[6], LAT[6]), "n42": (LON[42], LAT[42]),
          "n50": (LON[50], LAT[50]), "far": FAR}
NAMES = list(POINTS)


def travel(graph: RoadGraph, pairs: list[tuple[str, str]], **kw) -> pd.DataFrame:
    lonlat = np.array(list(POINTS.values()))
    node, snap_km, too_far = snap(graph, lonlat[:, 0], lonlat[:, 1], max_snap_km=2.0)
    node = np.where(too_far, -1, node)
    o = [NAMES.index(a) for a, _ in pairs]
    d = [NAMES.index(b) for _, b in pairs]
    return pair_travel(graph, node, node, snap_km, snap_km, o, d, **kw)


def test_graph_nodes_and_one_way_rules(graph):
    ids = set(graph.osm_node_id.tolist())
    assert 30 not in ids  # the footway is not a car road, so its end node is not in the graph
    assert 99 not in ids  # node missing from the file: the way is cut there
    assert ids == set(LON) - {30}
    assert has_edge(graph, 4, 5) and not has_edge(graph, 5, 4)  # oneway=yes
    assert has_edge(graph, 5, 6) and not has_edge(graph, 6, 5)
    assert has_edge(graph, 50, 51) and not has_edge(graph, 51, 50)  # motorway implies one-way
    assert has_edge(graph, 52, 51) and not has_edge(graph, 51, 52)  # oneway=-1
    assert has_edge(graph, 52, 53) and not has_edge(graph, 53, 52)  # roundabout
    assert has_edge(graph, 53, 54) and has_edge(graph, 54, 53)  # motorway with oneway=no
    assert has_edge(graph, 1, 2) and has_edge(graph, 2, 1)
    assert graph.n_nodes == len(ids) and graph.n_edges == graph.length_km.nnz
    np.testing.assert_allclose(graph.node_lon[idx(graph, 41)], LON[41])


def test_edge_speeds_maxspeed_lowers_never_raises(graph):
    i, j = idx(graph, 2), idx(graph, 5)
    assert np.isclose(graph.minutes[i, j], 60 * km(2, 5) / 10)  # maxspeed=10 lowers 25
    i, j = idx(graph, 7), idx(graph, 8)
    assert np.isclose(graph.minutes[i, j], 60 * km(7, 8) / 25)  # maxspeed=100 does not raise
    assert np.isclose(graph.length_km[i, j], km(7, 8))
    # The ferry wait is on the first segment only: 3 -> 41 carries it, 41 -> 40 does not.
    assert np.isclose(graph.minutes[idx(graph, 3), idx(graph, 41)],
                      60 * km(3, 41) / FERRY_SPEED_KMH + FERRY_WAIT_MIN)
    assert np.isclose(graph.minutes[idx(graph, 41), idx(graph, 40)],
                      60 * km(41, 40) / FERRY_SPEED_KMH)


def test_one_way_forces_a_detour_one_way_only(graph):
    out = travel(graph, [("n4", "n6"), ("n6", "n4")])
    # 4 -> 6: straight along the one-way row, 2.19 km at 25 km/h = 5.3 min; the way round by
    # row 0 (4-1-2-3-6) is 4.41 km and 6.0 min, so direct wins both.
    direct = path([4, 5, 6], [25, 25])
    # 6 -> 4: row 1 cannot be driven westward. Row 0 (6-3-2-1-4, 4.41 km, 6.0 min) beats row 2
    # (6-9-8-7-4, 6.64 km: rows 1-2 are two lat steps apart); 5 -> 4 is forbidden too, so no
    # shortcut through column 2-5-8 exists.
    detour = path([6, 3, 2, 1, 4], [40, 50, 50, 40])
    assert detour[0] > 2 * direct[0] * 0.99  # the detour is twice as long
    np.testing.assert_allclose(out[["distance_km", "minutes"]].to_numpy(), [direct, detour])
    assert out["reachable"].all()


def test_shortest_and_fastest_are_separate_searches(graph):
    out = travel(graph, [("n2", "n5")]).iloc[0]
    # Shortest: the direct street 2 -> 5, 1.11 km, but maxspeed=10 makes it 6.7 min.
    # Fastest: 2 -> 1 -> 4 -> 5 (primary, secondary, residential 4 -> 5 with the one-way):
    # 3.30 km in 5.6 min. (2 -> 3 -> 6 -> 5 would drive the one-way backwards.)
    fastest = path([2, 1, 4, 5], [50, 40, 25])
    assert np.isclose(out["distance_km"], km(2, 5))
    assert np.isclose(out["minutes"], fastest[1])
    assert fastest[1] < 60 * km(2, 5) / 10


def test_ferry_adds_its_wait_once_and_snap_is_added(graph):
    out = travel(graph, [("off1", "n42"), ("n42", "off1")])
    # off1 snaps to node 1 (0.55 km); then row 0 to 3, the ferry 3-41-40 and the island street.
    net = path([1, 2, 3, 41, 40, 42], [50, 50, FERRY_SPEED_KMH, FERRY_SPEED_KMH, 25])
    snap_km = float(haversine_km(*OFF_1, LON[1], LAT[1]))
    assert 0.5 < snap_km < 0.6
    want_km = net[0] + snap_km
    want_min = net[1] + FERRY_WAIT_MIN + 60 * snap_km / ACCESS_SPEED_KMH
    # Everything on the way is two-way, so back is the same, with the wait counted once again.
    np.testing.assert_allclose(out["distance_km"], [want_km, want_km])
    np.testing.assert_allclose(out["minutes"], [want_min, want_min])


def test_unreachable_and_too_far_are_flagged_not_filled(graph):
    node, snap_km, too_far = snap(graph, [FAR[0], LON[30]], [FAR[1], LAT[30]], max_snap_km=2.0)
    assert too_far.tolist() == [True, False]
    assert snap_km[0] > 100
    # Node 30 (end of the footway) is not routable; the point there snaps to node 2, 1.11 km.
    assert node[1] == idx(graph, 2) and np.isclose(snap_km[1], km(30, 2))
    out = travel(graph, [("n4", "n50"), ("n50", "n4"), ("n4", "far"), ("far", "n4"),
                         ("n4", "n5")])
    assert out["reachable"].tolist() == [False, False, False, False, True]
    assert out.loc[:3, ["distance_km", "minutes"]].isna().all().all()
    assert out["pair"].tolist() == [0, 1, 2, 3, 4]


def test_max_km_bounds_but_keeps_exact_times(graph):
    pairs = [("n2", "n5"), ("n6", "n4"), ("off1", "n42"), ("n4", "n6")]
    free = travel(graph, pairs)
    capped = travel(graph, pairs, max_km=5.0)
    # The ferry trip (~12 km) is beyond 5 km; the others keep exactly their unbounded values,
    # times included (the time search limit starts low and is doubled until they settle).
    assert capped["reachable"].tolist() == [True, True, False, True]
    pd.testing.assert_frame_equal(capped.loc[capped["reachable"]], free.loc[capped["reachable"]])
    assert capped.loc[2, ["distance_km", "minutes"]].isna().all()


def test_batches_reversal_and_determinism(graph):
    pairs = [(a, b) for a in NAMES for b in NAMES]
    first = travel(graph, pairs)
    again = travel(graph, pairs)
    pd.testing.assert_frame_equal(first, again)
    calls: list[tuple[int, int]] = []
    one_row = travel(graph, pairs, batch_bytes=1, progress=lambda d, t: calls.append((d, t)))
    pd.testing.assert_frame_equal(first, one_row)
    assert calls[-1][0] == calls[-1][1] == len(calls) > 1
    # Many origins to one destination is searched backwards from it: same values.
    many_to_one = travel(graph, [(a, "n4") for a in NAMES])
    expected = first.iloc[[NAMES.index(a) * len(NAMES) + NAMES.index("n4") for a in NAMES]]
    pd.testing.assert_frame_equal(many_to_one.drop(columns="pair"),
                                  expected.drop(columns="pair").reset_index(drop=True))


def test_read_is_deterministic(pbf, graph):
    other = read_road_graph(pbf)
    np.testing.assert_array_equal(other.osm_node_id, graph.osm_node_id)
    for name in ("length_km", "minutes"):
        a, b = getattr(other, name), getattr(graph, name)
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.data, b.data)


def test_from_edges_keeps_min_of_parallel_edges_and_snaps_to_routable_nodes():
    g = RoadGraph.from_edges(lon=[0.0, 0.01, 0.0001], lat=[0.0, 0.0, 0.0],
                             tail=[0, 0, 1, 1], head=[1, 1, 0, 1],
                             length_km=[2.0, 1.0, 1.5, 0.3], minutes=[1.0, 3.0, 2.0, 0.1])
    assert g.n_edges == 2  # the self-loop 1 -> 1 is dropped, 0 -> 1 merged
    assert g.length_km[0, 1] == 1.0 and g.minutes[0, 1] == 1.0
    node, snap_km, _ = snap(g, [0.0001], [0.0], max_snap_km=1.0)
    assert node.tolist() == [0]  # node 2 is nearer but has no edge
    assert np.isclose(snap_km[0], haversine_km(0.0001, 0, 0, 0))
    with pytest.raises(ValueError, match="node indices"):
        RoadGraph.from_edges([0.0], [0.0], [0], [1], [1.0], [1.0])


@pytest.mark.parametrize(("tag", "kmh"), [("50", 50.0), ("40 km/h", 40.0), ("30 mph", 48.28032),
                                          ("none", np.nan), ("VN:urban", np.nan), (None, np.nan)])
def test_parse_maxspeed(tag, kmh):
    assert np.isclose(parse_maxspeed_kmh(tag), kmh, equal_nan=True)


def _random_road_graph(rng: np.random.Generator, n_side: int, shortcut: bool) -> RoadGraph:
    lon = 105 + 0.01 * (np.arange(n_side * n_side) % n_side) + rng.uniform(-0.003, 0.003,
                                                                          n_side * n_side)
    lat = 10 + 0.01 * (np.arange(n_side * n_side) // n_side) + rng.uniform(-0.003, 0.003,
                                                                           n_side * n_side)
    idx = np.arange(n_side * n_side).reshape(n_side, n_side)
    tail = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    head = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(tail.size) < 0.85
    tail, head = tail[keep], head[keep]
    one_way = rng.random(tail.size) < 0.1
    t, h = np.r_[tail, head[~one_way]], np.r_[head, tail[~one_way]]
    km_ = haversine_km(lon[t], lat[t], lon[h], lat[h])
    if shortcut:  # a few edges shorter than their great circle: no local search then
        km_ = km_ * np.where(rng.random(km_.size) < 0.05, 0.3, 1.0)
    speed = rng.choice([15.0, 25.0, 50.0, 80.0], km_.size)
    return RoadGraph.from_edges(lon, lat, t, h, km_, 60 * km_ / speed)


@pytest.mark.parametrize("seed", range(6))
def test_local_searches_agree_with_whole_graph_dijkstra(seed):
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(seed)
    g = _random_road_graph(rng, 30, shortcut=seed % 3 == 2)
    assert g._bounds[0] == (seed % 3 != 2)  # local searches on, except with shortcuts
    n_pts = 60
    node = rng.integers(0, g.n_nodes, n_pts)
    snap_km = np.zeros(n_pts)
    o, d = rng.integers(0, n_pts, 400), rng.integers(0, n_pts, 400)
    full_km = dijkstra(g.length_km, directed=True, indices=node)
    full_min = dijkstra(g.minutes, directed=True, indices=node)
    want_km, want_min = full_km[o, node[d]], full_min[o, node[d]]
    for max_km in (None, 2.0, 6.0):
        # A small batch forces many groups and chunks; the answer must not change.
        out = pair_travel(g, node, node, snap_km, snap_km, o, d, max_km=max_km,
                          batch_bytes=8 * g.n_nodes * 3)
        ok = np.isfinite(want_km) & (want_km <= (np.inf if max_km is None else max_km))
        assert out["reachable"].tolist() == ok.tolist()
        np.testing.assert_allclose(out["distance_km"].to_numpy()[ok], want_km[ok])
        np.testing.assert_allclose(out["minutes"].to_numpy()[ok], want_min[ok])
        side_by_side = pair_travel(g, node, node, snap_km, snap_km, o, d, max_km=max_km,
                                   batch_bytes=8 * g.n_nodes * 3, workers=2)
        pd.testing.assert_frame_equal(side_by_side, out)
