"""Benchmark: load the national geography and build radius-10 km candidate pairs.

Each repetition runs in a fresh Python process (cold caches of the loaders, imports excluded
from the timed part but included in peak memory), so the figures are what a CLI run pays.

    .venv/bin/python benchmarks/bench_geodata.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, time
t0 = time.perf_counter()
import geodata
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
communes = geodata.load_communes()
legacy = geodata.load_legacy_units()
t_load = time.perf_counter() - t1
pts = legacy[legacy["is_island_district"] == False]
t2 = time.perf_counter()
pairs = geodata.pairs_within_radius(pts[["lon", "lat"]].to_numpy(),
                                    communes[["lon", "lat"]].to_numpy(), 10.0)
t_pairs = time.perf_counter() - t2
knn = geodata.k_nearest_pairs(communes[["lon", "lat"]].to_numpy(),
                              pts[["lon", "lat"]].to_numpy(), 20)
t_knn = time.perf_counter() - t2 - t_pairs
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# Reference in the same process: the dense all-pairs great-circle matrix a naive build makes.
import numpy as np
t3 = time.perf_counter()
o = pts[["lon", "lat"]].to_numpy(); d = communes[["lon", "lat"]].to_numpy()
dense = geodata.haversine_km(o[:, None, 0], o[:, None, 1], d[None, :, 0], d[None, :, 1])
n_dense = int((dense <= 10.0).sum())
t_dense = time.perf_counter() - t3
assert n_dense == len(pairs), (n_dense, len(pairs))
print(json.dumps({"dense_s": t_dense, "dense_mb": dense.nbytes / 2**20,
                  "import_s": t_import, "load_s": t_load, "pairs_s": t_pairs,
                  "knn20_s": t_knn, "n_legacy_points": len(pts), "n_units": len(communes),
                  "n_pairs": len(pairs), "n_knn_pairs": len(knn), "peak_mb": peak_mb}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True,
                             text=True).stdout
        runs.append(json.loads(out))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"python {platform.python_version()}, {args.repeat} fresh processes, median:")
    print(f"  legacy points {med['n_legacy_points']:.0f} -> units {med['n_units']:.0f}: "
          f"{med['n_pairs']:.0f} pairs within 10 km; {med['n_knn_pairs']:.0f} k=20 pairs")
    print(f"  import {med['import_s']:.2f} s | load geography {med['load_s']:.2f} s | "
          f"radius-10 km pairs {med['pairs_s'] * 1000:.0f} ms | k=20 nearest "
          f"{med['knn20_s'] * 1000:.0f} ms | load + pairs {med['load_s'] + med['pairs_s']:.2f} s"
          f" | peak RSS {med['peak_mb']:.0f} MB")
    print(f"  reference: dense all-pairs haversine {med['dense_s'] * 1000:.0f} ms and "
          f"{med['dense_mb']:.0f} MB for the matrix alone (same pair count); sparse is "
          f"{med['dense_s'] / med['pairs_s']:.0f}x faster")


if __name__ == "__main__":
    main()
