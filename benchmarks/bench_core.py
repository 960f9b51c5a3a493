"""The solver core on the hard instances of issue 15, each against SCIP and HiGHS given the plain
MIP (no start, no decomposition) for a multiple of the time, in one run.

Instances, all generated from seeds: the national MCLP (3,321 units, 10,040 legacy points,
10 km, p = 300; population weights and uniform weights; seeds 0-2), the national p-median
(k = 50 nearest, p = 300), the four disposition calibrations of ``bench_models.py`` (16,124
synthetic properties) and its two largest provinces under one shared budget. assetplan runs
with its default options (threads: the machine's cores); the peers get ``--peer-factor`` times
assetplan's limit.

    .venv/bin/python benchmarks/bench_core.py                      # about 40 minutes
    .venv/bin/python benchmarks/bench_core.py --peers-on two_provinces balanced
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_location import _spopt_mclp, load_points, run_child
from bench_models import PENALTY_VND, disposition_instance, machine

import geodata
from optimization import MCLP, DispositionModel, PMedian
from optimization.disposition import MONEY_SCALE
from optimization.result import relative_gap
from optimization.solver import Deadline, MipArrays, SolveOptions, solve_arrays

OUT = Path(__file__).with_name("results_core.md")
PEERS = {"SCIP": "scip", "HiGHS": "highs"}


def peer(arrays: MipArrays, backend: str, limit_s: float, scale: float = 1.0) -> dict[str, Any]:
    """The plain MIP, no hint, one solver, ``limit_s`` seconds."""
    t = time.perf_counter()
    res = solve_arrays(arrays, backend=backend, deadline=Deadline(limit_s),
                       options=SolveOptions(mip_gap=0.0, time_limit_s=limit_s))
    wall = time.perf_counter() - t
    obj = res.objective / scale if res.x is not None else float("nan")
    bound = res.bound / scale
    return {"solve s": wall, "objective": obj, "bound": bound,
            "gap": relative_gap(obj, bound, arrays.sense), "status": res.reason}


def ours(model: Any, limit_s: float, seed: int = 0) -> dict[str, Any]:
    t = time.perf_counter()
    model.solve(time_limit_s=limit_s, seed=seed)
    wall = time.perf_counter() - t
    model.check_solution()
    i = model.info
    return {"solve s": wall, "objective": i.objective_value, "bound": i.best_bound,
            "gap": i.gap, "status": str(i.status)}


def location(args: argparse.Namespace) -> list[dict[str, Any]]:
    demand, sites, population = load_points()
    rows: list[dict[str, Any]] = []
    pr = geodata.distances.pairs_within_radius(demand, sites, 10.0)
    i, j, d = (pr[c].to_numpy() for c in ("origin", "destination", "distance_km"))
    for weighting, w in (("population", population.astype(float)),
                         ("uniform", np.ones(len(demand)))):
        for seed in args.seeds:
            m = MCLP.from_pairs(i, j, d, w, n_sites=len(sites), service_radius=10.0,
                                p_facilities=300).build()
            rows.append({"instance": f"MCLP, {weighting}", "solver": f"assetplan, seed {seed}",
                         **ours(m, args.mclp_s, seed)})
            print(rows[-1], flush=True)
        if args.spopt_s > 0:
            res = run_child(_spopt_mclp, (len(demand), len(sites), i, j, d, w, 10.0, 300,
                                          args.spopt_s, args.threads_cbc),
                            args.spopt_s + 900)
            opened = np.isin(j, res.get("sites", np.zeros(0, dtype=int)))
            covered = float(w[np.unique(i[opened])].sum()) if opened.any() else float("nan")
            rows.append({"instance": f"MCLP, {weighting}",
                         "solver": f"spopt + CBC ({args.threads_cbc} threads)",
                         "solve s": res.get("solve_time_s", res["wall_s"]),
                         "objective": covered, "bound": float("nan"), "gap": float("nan"),
                         "status": str(res.get("status"))})
            print(rows[-1], flush=True)
        if weighting in args.peers_on or "mclp" in args.peers_on:
            assert m.mip is not None
            for label, backend in PEERS.items():
                rows.append({"instance": f"MCLP, {weighting}", "solver": label,
                             **peer(m.mip.arrays(), backend, args.peer_factor * args.mclp_s)})
                print(rows[-1], flush=True)
    kp = geodata.distances.k_nearest_pairs(demand, sites, 50)
    i, j, d = (kp[c].to_numpy() for c in ("origin", "destination", "distance_km"))
    pm = PMedian.from_pairs(i, j, d, population.astype(float), n_sites=len(sites),
                            p_facilities=300).build()
    rows.append({"instance": "p-median, k = 50", "solver": "assetplan",
                 **ours(pm, args.pmedian_s)})
    print(rows[-1], flush=True)
    if "pmedian" in args.peers_on:
        assert pm.mip is not None
        for label, backend in PEERS.items():
            rows.append({"instance": "p-median, k = 50", "solver": label,
                         **peer(pm.mip.arrays(), backend, args.peer_factor * args.pmedian_s)})
            print(rows[-1], flush=True)
    return rows


def two_largest(inst: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The two provinces with the most properties, and a budget in proportion to the
    national one (5,000 bn VND for 16,124 properties)."""
    props = inst["properties"]
    top = props["province_code"].value_counts().index[:2]
    keep = props[props["province_code"].isin(top)]
    sub = {**inst, "properties": keep,
           "needs": inst["needs"][inst["needs"]["province_code"].isin(top)],
           "pairs": inst["pairs"][inst["pairs"]["property_id"].isin(keep["property_id"])],
           "options": inst["options"][inst["options"]["property_id"].isin(keep["property_id"])]}
    return sub, int(5_000_000_000_000 * len(keep) / len(props))


def disposition(args: argparse.Namespace) -> list[dict[str, Any]]:
    inst = disposition_instance(args.seed)
    pair, pair_budget = two_largest(inst)
    cases = [("balanced", inst, 1.0, None), ("service first", inst, 10.0, None),
             ("sale first", inst, 0.1, None),
             ("national budget 5,000 bn", inst, 1.0, 5_000_000_000_000),
             ("two_provinces", pair, 1.0, pair_budget)]
    rows: list[dict[str, Any]] = []
    for name, data, factor, budget in cases:
        if args.cases and name.split(" ")[0] not in args.cases:
            continue
        m = DispositionModel.from_frames(
            **data, unmet_penalty_vnd={u: v * factor for u, v in PENALTY_VND.items()},
            budget_vnd=budget).build()
        label = name if name != "two_provinces" else (
            f"two largest provinces, one budget ({m.n_p:,} properties, "
            f"{m.matrix.nnz:,} nonzeros)")
        rows.append({"instance": label, "solver": "assetplan", **ours(m, args.disposition_s)})
        print(rows[-1], flush=True)
        if name.split(" ")[0] in args.peers_on or name in args.peers_on:
            arrays = MipArrays(m.cost * MONEY_SCALE, m.matrix, m.row_lb, m.row_ub, m.lb, m.ub,
                               m.integer)
            for label_p, backend in (("SCIP", "gscip"), ("HiGHS", "highs")):
                rows.append({"instance": label, "solver": label_p,
                             **peer(arrays, backend, args.peer_factor * args.disposition_s,
                                    MONEY_SCALE)})
                print(rows[-1], flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    cols = ["instance", "solver", "solve s", "objective", "bound", "gap", "status"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if c == "gap":
                cells.append(f"{100 * v:.3f} %" if np.isfinite(v) else
                             "-" if v != v else "inf")
            elif isinstance(v, float):
                cells.append("-" if v != v else f"{v:,.1f}" if c != "solve s" else f"{v:.1f}")
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--mclp-s", type=float, default=10.0)
    ap.add_argument("--pmedian-s", type=float, default=30.0)
    ap.add_argument("--disposition-s", type=float, default=60.0)
    ap.add_argument("--peer-factor", type=float, default=5.0)
    ap.add_argument("--peers-on", nargs="*", default=["population", "pmedian", "balanced",
                                                      "national", "two_provinces"],
                    help="instances whose plain MIP the peers get")
    ap.add_argument("--spopt-s", type=float, default=0.0,
                    help="also spopt + CBC on each MCLP weighting for this long (0: not run)")
    ap.add_argument("--threads-cbc", type=int, default=2)
    ap.add_argument("--skip", nargs="*", default=[], choices=["location", "disposition"])
    ap.add_argument("--cases", nargs="*", default=[],
                    help="disposition cases to run (first word: balanced, service, sale, "
                    "national, two_provinces); default all")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if "location" not in args.skip:
        rows += location(args)
    if "disposition" not in args.skip:
        rows += disposition(args)
    lines = ["# The solver core on the hard instances (issue 15)", "",
             f"Command: `.venv/bin/python benchmarks/bench_core.py {' '.join(sys.argv[1:])}`",
             "", f"Machine: {machine()}. Shared machine: read the ratios.", "",
             f"assetplan with its default options and the limits {args.mclp_s:g} s (MCLP), "
             f"{args.pmedian_s:g} s (p-median), {args.disposition_s:g} s (disposition); SCIP "
             f"and HiGHS given the plain MIP, no start, for {args.peer_factor:g}x that. "
             f"Whole run {time.perf_counter() - t0:,.0f} s.", "", *table(rows), ""]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
