"""Benchmark: road travel of every candidate pair of the national baseline on a synthetic
national-size road graph.

The graph is a jittered grid over Vietnam's bounding box (lon 102.1-109.5, lat 8.5-23.4), about
0.96 km apart (1.42 M nodes, ~8 M directed edges; ``--quick``: 3 km, 146 k nodes): streets in
both axes with some missing (detours), diagonals in half the cells, a primary road every 20th
line and a trunk every 80th, some one-way streets. The pairs are those
``assetplan travel-times`` measures for ``scenarios/national-baseline.yaml`` on the demo
inventory (seats, disposition, transfer: :func:`planner.travel_times.candidate_pairs`); the
run is :func:`planner.travel_times.travel_times`, as the CLI runs it. Reported: time per
limit of the ladder, pairs per stage, total time and peak memory, and the share of pairs
(2 km or more apart) whose road distance exceeds the terrain detour factor
(``geodata.distances.DEFAULT_DETOUR_FACTOR``) times the great circle: on this synthetic grid,
not on Vietnam's roads.

    .venv/bin/python benchmarks/bench_travel.py [--quick] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geodata
from geodata.distances import DEFAULT_DETOUR_FACTOR
from geodata.roads import RoadGraph
from planner.pipeline import load_inputs
from planner.scenario import load_scenario
from planner.travel_times import travel_times

ROOT = Path(__file__).resolve().parents[1]
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 102.1, 109.5, 8.5, 23.4
KM_PER_DEG_LAT = 111.2


class PssSampler(threading.Thread):
    """Peak proportional set size (PSS) of this process and its children, sampled twice a
    second from /proc: shared pages (the graph the forked workers share) counted once."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self.stop = threading.Event()

    @staticmethod
    def _tree(pid: int) -> list[int]:
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return [pid]
        return [pid] + [p for k in kids for p in PssSampler._tree(int(k))]

    def run(self) -> None:
        while not self.stop.wait(0.5):
            total = 0
            for pid in self._tree(os.getpid()):
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                total += next((int(line.split()[1]) for line in rollup.splitlines()
                               if line.startswith("Pss:")), 0)
            self.peak_mb = max(self.peak_mb, total / 1024)


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


def origin_terrain(inputs, pairs) -> np.ndarray:
    """Terrain class of each pair's origin (a property's unit, or the holder unit itself)."""
    terrain = inputs.units.set_index("commune_code")["terrain"]
    unit_of = inputs.dataset.properties.set_index("property_id")["commune_code"]
    code = unit_of.reindex(pairs["origin"]).to_numpy()
    code = np.where(pd.isna(code), pairs["origin"].to_numpy(), code)
    return terrain.reindex(code).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 km grid (146 k nodes)")
    parser.add_argument("--max-snap-km", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes searching side by side (the CLI's default: cores)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    graph = synthetic_graph(3.0 if args.quick else 0.96)
    t_graph = time.perf_counter() - t0
    inputs = load_inputs(load_scenario(ROOT / "scenarios" / "national-baseline.yaml"))
    print(f"graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} directed edges, built in "
          f"{t_graph:.1f} s; peak {peak_mb():,.0f} MB before the search")
    seen: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        seen.setdefault(stage, time.perf_counter())
        if done == total:
            print(f"  {stage}: {total} batches, {time.perf_counter() - seen[stage]:.1f} s")

    sampler = PssSampler()
    sampler.start()
    t1 = time.perf_counter()
    result = travel_times(inputs, graph, max_snap_km=args.max_snap_km, progress=progress,
                          workers=args.workers)
    t_travel = time.perf_counter() - t1
    pairs = result.pairs.merge(result.od, on=["origin", "destination", "destination_type"])
    factor = pd.Series(DEFAULT_DETOUR_FACTOR).reindex(origin_terrain(inputs, pairs)).to_numpy()
    gc = pairs["great_circle_km"].to_numpy()
    ok = gc >= 2.0  # below that the snap legs dominate the ratio
    ratio = pairs["distance_km"].to_numpy()[ok] / gc[ok]
    print("| stage | candidate pairs | rows | no row | sources |")
    print("|---|---|---|---|---|")
    for stage, grp in result.pairs.groupby("stage"):
        rows = pairs["stage"].eq(stage).sum()
        print(f"| {stage} | {len(grp):,} | {rows:,} | {len(grp) - rows:,} | "
              f"{grp['origin'].nunique():,} origins, {grp['destination'].nunique():,} "
              "destinations |")
    print(f"travel_times {t_travel:.1f} s for {len(result.pairs):,} pairs "
          f"({len(result.od):,} rows); share of pairs (>= 2 km) whose road distance exceeds "
          f"the terrain detour factor x great circle: {(ratio > factor[ok]).mean():.1%} "
          f"(median ratio {np.median(ratio):.2f}); total wall {time.perf_counter() - t0:.1f} s, "
          f"peak memory {peak_mb():,.0f} MB (largest worker process "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:,.0f} MB; all "
          f"processes together, shared pages once: {sampler.peak_mb:,.0f} MB PSS)")


if __name__ == "__main__":
    main()
