"""``from_cost_matrix`` on a dense national-size matrix against ``from_pairs`` (issue 15).

A spopt user hands over a dense matrix: here 3,321 demands x 10,035 sites, random points in a
380 x 380 km square (about the national pair count within 10 km), Euclidean km, generated from
``--seed``. Timed: ``MCLP.from_cost_matrix`` (radius 10, p 300), ``MCLP.from_pairs`` on the
pairs within 10 km of the same matrix, ``PMedian.from_cost_matrix`` (every entry a pair) and,
with ``--before``, the implementation this replaced (every finite entry turned into a pair,
lexsorted and checked for duplicates, then filtered by the radius; about a minute).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_from_matrix.py [--repeat 3] [--before]

Building the matrix and the pair list is not timed. Each figure is the median of ``--repeat``
runs in this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimization.location import MCLP, PMedian
from optimization.location._pairs import CandidatePairs, make_pairs

N_DEMANDS, N_SITES, SIDE_KM = 3_321, 10_035, 380.0


def instance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, SIDE_KM, (N_DEMANDS, 2))
    sites = rng.uniform(0, SIDE_KM, (N_SITES, 2))
    weights = rng.integers(1_000, 50_000, N_DEMANDS).astype(float)
    return cdist(demand, sites), weights


def before_pairs_from_matrix(cost_matrix: np.ndarray) -> CandidatePairs:
    """The replaced path: every finite entry a pair, then ``make_pairs`` (lexsort of all of
    them and a duplicate check)."""
    m = np.asarray(cost_matrix, dtype=np.float64)
    if np.isnan(m).any():
        raise ValueError("NaN")
    dem, site = np.nonzero(np.isfinite(m))
    return make_pairs(dem, site, m[dem, site], n_demands=m.shape[0], n_sites=m.shape[1])


def before_mclp(m: np.ndarray, w: np.ndarray, radius: float, p: int) -> MCLP:
    pairs = before_pairs_from_matrix(m).within(radius)
    return MCLP.from_pairs(
        pairs.demand,
        pairs.site,
        pairs.cost,
        w,
        n_sites=pairs.n_sites,
        service_radius=radius,
        p_facilities=p,
    )


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--radius", type=float, default=10.0)
    ap.add_argument("--p", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", action="store_true", help="also time the replaced path (once)")
    ap.add_argument("--skip-pmedian", action="store_true")
    args = ap.parse_args()

    m, w = instance(args.seed)
    dem, site = np.nonzero(m <= args.radius)
    cost = m[dem, site]
    print(f"matrix {m.shape[0]:,} x {m.shape[1]:,}, {dem.size:,} pairs within {args.radius:g} km")

    rows = []
    t_matrix, a = timed(lambda: MCLP.from_cost_matrix(m, w, args.radius, args.p), args.repeat)
    rows.append(("`MCLP.from_cost_matrix` (dense matrix)", t_matrix))
    t_pairs, b = timed(
        lambda: MCLP.from_pairs(
            dem, site, cost, w, n_sites=m.shape[1], service_radius=args.radius, p_facilities=args.p
        ),
        args.repeat,
    )
    rows.append(("`MCLP.from_pairs` (pairs within the radius)", t_pairs))
    for field in ("demand", "site", "cost"):
        assert np.array_equal(getattr(a.pairs, field), getattr(b.pairs, field)), field
    if not args.skip_pmedian:
        t_pm, pm = timed(lambda: PMedian.from_cost_matrix(m, w, args.p), 1)
        rows.append((f"`PMedian.from_cost_matrix` (all {pm.pairs.n_pairs:,} entries)", t_pm))
        del pm
    if args.before:
        t_before, c = timed(lambda: before_mclp(m, w, args.radius, args.p), 1)
        rows.append(("before: `MCLP.from_cost_matrix` as it was (one run)", t_before))
        assert np.array_equal(a.pairs.cost, c.pairs.cost) and np.array_equal(
            a.pairs.site, c.pairs.site
        )
    print("| step | seconds |\n|---|---|")
    for label, t in rows:
        print(f"| {label} | {t:.3f} |")


if __name__ == "__main__":
    main()
