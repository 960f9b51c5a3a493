"""Benchmark: road travel of national candidate pairs on a synthetic national-size road graph.

The graph is a jittered grid over Vietnam's bounding box (lon 102.1-109.5, lat 8.5-23.4), about
0.96 km apart (1.42 M nodes, ~8 M directed edges; ``--quick``: 3 km, 146 k nodes): streets in
both axes with some missing (detours), diagonals in half the cells, a primary road every 20th
line and a trunk every 80th, some one-way streets. Points are the demo's properties and the 3,321
communes; pairs are properties -> communes within 25 km (service) and communes -> communes
within 300 km (transfers). Times snap + :func:`geodata.roads.pair_travel` for each pair set.
``sources`` is the number of Dijkstra sources (unique snapped nodes of the smaller side).

    .venv/bin/python benchmarks/bench_travel.py [--quick] [--transfer-every N]

Each source costs two bounded searches (distance, then time), so the transfer set (a 300 km
radius, ~400 km by road) dominates; ``--transfer-every 10`` times a tenth of its origins.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geodata
from geodata.roads import RoadGraph, pair_travel, snap
from planner.demo import load_demo

LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 102.1, 109.5, 8.5, 23.4
KM_PER_DEG_LAT = 111.2


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_graph(spacing_km: float, seed: int = 0) -> RoadGraph:
    rng = np.random.default_rng(seed)
    step_lat = spacing_km / KM_PER_DEG_LAT
    step_lon = step_lat / np.cos(np.radians((LAT_MIN + LAT_MAX) / 2))
    nx = int((LON_MAX - LON_MIN) / step_lon) + 1
    ny = int((LAT_MAX - LAT_MIN) / step_lat) + 1
    col, row = np.meshgrid(np.arange(nx), np.arange(ny))
    lon = LON_MIN + step_lon * (col + rng.uniform(-0.3, 0.3, col.shape))
    lat = LAT_MIN + step_lat * (row + rng.uniform(-0.3, 0.3, row.shape))
    idx = np.arange(nx * ny).reshape(ny, nx)
    # Street lines: a primary every 20th row/column, a trunk every 80th, else minor roads.
    row_speed = rng.choice([25.0, 30.0, 35.0], ny)
    row_speed[::20], row_speed[::80] = 50.0, 60.0
    col_speed = rng.choice([25.0, 30.0, 35.0], nx)
    col_speed[::20], col_speed[::80] = 50.0, 60.0
    tail = [idx[:, :-1].ravel(), idx[:-1, :].ravel(), idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()]
    head = [idx[:, 1:].ravel(), idx[1:, :].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()]
    speed = [np.repeat(row_speed, nx - 1), np.tile(col_speed, ny - 1),
             np.full(tail[2].size, 25.0), np.full(tail[3].size, 25.0)]
    diag = rng.random(tail[2].size) < 0.5  # a diagonal in half the cells, one way or the other
    keep = [rng.random(tail[0].size) < 0.92, rng.random(tail[1].size) < 0.92, diag, ~diag]
    t = np.concatenate([a[k] for a, k in zip(tail, keep, strict=True)])
    h = np.concatenate([a[k] for a, k in zip(head, keep, strict=True)])
    v = np.concatenate([a[k] for a, k in zip(speed, keep, strict=True)])
    km = geodata.haversine_km(lon.ravel()[t], lat.ravel()[t], lon.ravel()[h], lat.ravel()[h])
    both = rng.random(t.size) >= 0.03  # 3 % one-way streets
    tails, heads = np.r_[t, h[both]], np.r_[h, t[both]]
    km_all, v_all = np.r_[km, km[both]], np.r_[v, v[both]]
    return RoadGraph.from_edges(lon.ravel(), lat.ravel(), tails, heads, km_all,
                                60.0 * km_all / v_all)


def run_pairs(graph: RoadGraph, name: str, origins: np.ndarray, dests: np.ndarray,
              radius_km: float, max_km: float, max_snap_km: float) -> dict[str, float | str]:
    pairs = geodata.pairs_within_radius(origins, dests, radius_km)
    t0 = time.perf_counter()
    o_node, o_snap, o_far = snap(graph, origins[:, 0], origins[:, 1], max_snap_km)
    d_node, d_snap, d_far = snap(graph, dests[:, 0], dests[:, 1], max_snap_km)
    t_snap = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = pair_travel(graph, np.where(o_far, -1, o_node), np.where(d_far, -1, d_node),
                      o_snap, d_snap, pairs["origin"].to_numpy(), pairs["destination"].to_numpy(),
                      max_km=max_km)
    t_travel = time.perf_counter() - t1
    gc = pairs["distance_km"].to_numpy()
    ok = out["reachable"].to_numpy() & (gc > 0)
    ratio = out["distance_km"].to_numpy()[ok] / gc[ok]
    far2 = gc[ok] >= 2.0
    return {
        "pairs": name, "n_pairs": len(pairs), "reachable": int(out["reachable"].sum()),
        "points_too_far": int(o_far.sum() + d_far.sum()),
        "sources": int(min(np.unique(o_node).size, np.unique(d_node).size)),
        "snap_s": t_snap, "travel_s": t_travel,
        "share_gt_1.35": float((ratio > 1.35).mean()) if ratio.size else float("nan"),
        "share_gt_1.35_gc2km": float((ratio[far2] > 1.35).mean()) if far2.any() else float("nan"),
        "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
        "peak_mb": peak_mb(),
    }


def fmt(col: str, value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if col.startswith(("share", "median")) else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 km grid (146 k nodes)")
    parser.add_argument("--service-max-km", type=float, default=60.0,
                        help="road distance cap of property -> commune pairs (25 km radius)")
    parser.add_argument("--transfer-max-km", type=float, default=400.0,
                        help="road distance cap of commune -> commune pairs (300 km radius)")
    parser.add_argument("--max-snap-km", type=float, default=5.0)
    parser.add_argument("--transfer-every", type=int, default=1,
                        help="transfer origins: every n-th commune (time scales with 1/n)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    graph = synthetic_graph(3.0 if args.quick else 0.96)
    t_graph = time.perf_counter() - t0
    communes = geodata.load_communes()[["lon", "lat"]].to_numpy()
    properties = load_demo().properties[["lon", "lat"]].to_numpy()
    print(f"graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} directed edges, "
          f"built in {t_graph:.1f} s; {len(properties):,} properties, {len(communes):,} communes")
    rows = [
        run_pairs(graph, "property->commune 25 km", properties, communes, 25.0,
                  args.service_max_km, args.max_snap_km),
        run_pairs(graph, f"commune[::{args.transfer_every}]->commune 300 km",
                  communes[::args.transfer_every], communes, 300.0, args.transfer_max_km,
                  args.max_snap_km),
    ]
    cols = ["pairs", "n_pairs", "reachable", "points_too_far", "sources", "snap_s", "travel_s",
            "share_gt_1.35", "share_gt_1.35_gc2km", "median_ratio", "peak_mb"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(fmt(c, r[c]) for c in cols) + " |")
    print(f"total wall {time.perf_counter() - t0:.1f} s, peak memory {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
