"""National location benchmark: assetplan's MCLP and p-median against spopt (PuLP + CBC).

Demand: the 3,321 new commune-level units (weights = population from ``geodata``); candidate
sites: the legacy unit points. Distances are great-circle km from ``geodata.distances``.

    .venv/bin/python benchmarks/bench_location.py            # writes results_location.md

Needs the ``bench`` extra (``pip install spopt pulp``). spopt runs in a child process with a wall
cap, so a model that cannot finish is reported as such instead of stalling the run. Both sides'
solutions are re-evaluated by the same code (coverage or nearest open site, great circle).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geodata
from optimization.location import MCLP, PMedian

EARTH_RADIUS_KM = 6371.0088
OUT = Path(__file__).with_name("results_location.md")


def load_points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    communes = geodata.load_communes()
    legacy = geodata.load_legacy_units()
    legacy = legacy[legacy.geometry.notna() & ~legacy.geometry.is_empty]
    demand_lonlat = np.c_[communes.geometry.x, communes.geometry.y]
    site_lonlat = np.c_[legacy.geometry.x, legacy.geometry.y]
    population = communes["population"].to_numpy(dtype=np.int64)
    return demand_lonlat, site_lonlat, population


def _xyz(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.c_[np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]


def nearest_open_km(demand_lonlat: np.ndarray, site_lonlat: np.ndarray, sites: np.ndarray):
    """Great-circle km from each demand to its nearest site in ``sites`` (dense evaluation)."""
    chord, _ = cKDTree(_xyz(site_lonlat[sites])).query(_xyz(demand_lonlat), k=1)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0, 1))


# ------------------------------------------------------------------ spopt side (child process)
def _spopt_mclp(queue: Any, nd: int, ns: int, i, j, d, w, radius, p, time_limit, threads) -> None:
    from spopt.locate import MCLP as SpMCLP

    os.setpgrp()  # own process group, so a timeout also stops the CBC it launches

    # spopt takes a dense matrix; pairs beyond the radius get a large finite cost.
    cost = np.full((nd, ns), 1e9)
    cost[i, j] = d
    t0 = time.perf_counter()
    model = SpMCLP.from_cost_matrix(cost, w, service_radius=radius, p_facilities=p)
    build = time.perf_counter() - t0
    queue.put({"build_time_s": build})
    _solve_and_report(queue, model, build, time_limit, threads)


def _solve_and_report(
    queue: Any, model: Any, build_s: float, time_limit: float, threads: int, **extra: Any
) -> None:
    """Solve a built spopt model with CBC and put its figures and open sites on ``queue``."""
    import pulp

    t1 = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=threads))
    solve = time.perf_counter() - t1
    sites = np.array([k for k, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5])
    queue.put(
        {
            "build_time_s": build_s,
            "solve_time_s": solve,
            "status": pulp.LpStatus[model.problem.status],
            "sol_status": pulp.LpSolution.get(model.problem.sol_status, "?"),
            "sites": sites,
            **extra,
        }
    )


def _spopt_kpmedian(queue: Any, demand_lonlat, site_lonlat, w, p, k, time_limit, threads) -> None:
    import geopandas as gpd

    os.setpgrp()  # own process group, so a timeout also stops the CBC it launches
    from shapely import points
    from spopt.locate import KNearestPMedian

    # spopt's trees take plain coordinates; sklearn's haversine metric wants (lat, lon) radians,
    # so the points carry (lat, lon) in radians and costs come out in radians (x R = km).
    def frame(ll: np.ndarray, extra: dict[str, Any]) -> gpd.GeoDataFrame:
        geom = points(np.radians(ll[:, 1]), np.radians(ll[:, 0]))
        return gpd.GeoDataFrame(extra, geometry=geom, crs="EPSG:4326")

    dem = frame(demand_lonlat, {"weight": w.astype(float)})
    fac = frame(site_lonlat, {"fid": np.arange(len(site_lonlat))})
    t0 = time.perf_counter()
    model = KNearestPMedian.from_geodataframe(
        dem,
        fac,
        "geometry",
        "geometry",
        "weight",
        p_facilities=p,
        k_array=np.full(len(dem), k),
        distance_metric="haversine",
    )
    build = time.perf_counter() - t0
    _solve_and_report(
        queue, model, build, time_limit, threads, final_k_max=int(np.max(model.k_array))
    )


def run_child(target: Any, args: tuple, wall_cap_s: float) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue, *args))
    t0 = time.perf_counter()
    proc.start()
    result: dict[str, Any] = {}
    while proc.is_alive() and time.perf_counter() - t0 < wall_cap_s:
        while not queue.empty():
            result.update(queue.get())
        proc.join(timeout=1.0)
    while not queue.empty():
        result.update(queue.get())
    if proc.is_alive():
        os.killpg(proc.pid, signal.SIGTERM)  # the child and the CBC it started
        proc.join()
        result["status"] = f"did not finish within {wall_cap_s:.0f} s wall"
    result["wall_s"] = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------------------------- report
def versions() -> dict[str, str]:
    import ortools
    import pulp
    import spopt

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "python": platform.python_version(),
        "ortools": ortools.__version__,
        "spopt": spopt.__version__,
        "pulp": pulp.__version__,
        "nproc": nproc,
        "cpu": cpu,
    }


def fmt(v: Any, digits: int = 2) -> str:
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--radius-km", type=float, default=10.0)
    ap.add_argument("--p-mclp", type=int, default=300)
    ap.add_argument("--p-median", type=int, default=300)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--ours-mclp-s", type=float, default=10.0)
    ap.add_argument("--ours-pmedian-s", type=float, default=30.0)
    ap.add_argument("--cbc-s", type=float, default=900.0, help="CBC time limit per model")
    ap.add_argument("--spopt-wall-s", type=float, default=1500.0, help="cap on spopt's MCLP run")
    ap.add_argument(
        "--spopt-pmedian-wall-s", type=float, default=900.0, help="cap on spopt's p-median run"
    )
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="threads for assetplan and CBC")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="assetplan MCLP")
    args = ap.parse_args()

    demand, sites, population = load_points()
    nd, ns = len(demand), len(sites)
    w = population.astype(float)
    rows: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    # ---------------- MCLP
    t0 = time.perf_counter()
    pr = geodata.distances.pairs_within_radius(demand, sites, args.radius_km)
    i, j, d = (pr[c].to_numpy() for c in ("origin", "destination", "distance_km"))
    pairs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for seed in args.seeds:
        t0 = time.perf_counter()
        ours = MCLP.from_pairs(
            i, j, d, w, n_sites=ns, service_radius=args.radius_km, p_facilities=args.p_mclp
        ).build()
        build_s = time.perf_counter() - t0 + pairs_s
        ours.solve(time_limit_s=args.ours_mclp_s, seed=seed, threads=args.threads)
        ours.check_solution()
        st = ours.info.stats
        rows[f"mclp_ours_{seed}"] = {
            "label": f"assetplan, seed {seed}",
            "build_time_s": build_s,
            "solve_time_s": ours.info.wall_time_s,
            "objective": ours.objective_value,
            "bound": ours.best_bound,
            "gap": ours.gap,
            "status": str(ours.status),
            "detail": f"{int(ours.allowed.sum()):,} undominated sites, start "
            f"{st.get('heuristic_objective', float('nan')):,.0f}, {st.get('lns_steps')} LNS "
            f"steps, LP bound {st.get('lp_bound', float('nan')):,.0f}",
        }
    notes.append(f"candidate pairs within {args.radius_km:g} km: {len(i):,} ({pairs_s:.2f} s)")
    if not args.skip_spopt:
        res = run_child(
            _spopt_mclp,
            (nd, ns, i, j, d, w, args.radius_km, args.p_mclp, args.cbc_s, args.threads),
            args.spopt_wall_s,
        )
        if "sites" in res:
            covered = nearest_open_km(demand, sites, res["sites"]) <= args.radius_km
            res["objective"] = float(w[covered].sum())
            res["n_sites"] = len(res["sites"])
        rows["mclp_spopt"] = res

    # ---------------- p-median on k-nearest pairs
    t0 = time.perf_counter()
    kp = geodata.distances.k_nearest_pairs(demand, sites, args.k)
    i, j, d = (kp[c].to_numpy() for c in ("origin", "destination", "distance_km"))
    pm = PMedian.from_pairs(i, j, d, w, n_sites=ns, p_facilities=args.p_median).build()
    build_s = time.perf_counter() - t0
    pm.solve(time_limit_s=args.ours_pmedian_s, seed=0, threads=args.threads)
    pm.check_solution()
    dense = float(np.sum(w * nearest_open_km(demand, sites, pm.selected_sites)))
    rows["pmedian_ours"] = {
        "label": "assetplan",
        "build_time_s": build_s,
        "solve_time_s": pm.info.wall_time_s,
        "objective": pm.objective_value,
        "dense_objective": dense,
        "bound": pm.best_bound,
        "gap": pm.gap,
        "status": str(pm.status),
        "detail": f"{len(i):,} pairs; bound is for the k-nearest instance",
    }
    if not args.skip_spopt:
        res = run_child(
            _spopt_kpmedian,
            (demand, sites, w, args.p_median, args.k, args.cbc_s, args.threads),
            args.spopt_pmedian_wall_s,
        )
        if "sites" in res and len(res["sites"]):
            res["dense_objective"] = float(np.sum(w * nearest_open_km(demand, sites, res["sites"])))
        rows["pmedian_spopt"] = res

    write_report(args, rows, notes, nd, ns)


def write_report(args, rows, notes, nd, ns) -> None:
    v = versions()
    cmd = "cd /work/main && .venv/bin/python benchmarks/bench_location.py " + " ".join(sys.argv[1:])
    lines = [
        "# Location models: assetplan vs spopt (national instance)",
        "",
        f"Command: `{cmd.strip()}`",
        "",
        f"Machine: {v['nproc']} cores, {v['cpu']}; python {v['python']}, ortools {v['ortools']}, "
        f"spopt {v['spopt']}, pulp {v['pulp']}. Shared, noisy machine: read the ratios.",
        "",
        f"Instance: {nd:,} new units (demand, population from `geodata.load_communes()`), "
        f"{ns:,} legacy unit points (candidate sites), great-circle km.",
        "",
    ]
    lines += [f"- {n}" for n in notes]

    def table(title: str, runs: list[dict], sp: dict | None, obj_key: str, better: str) -> None:
        lines.extend(["", f"## {title}", ""])
        lines.append("| | build s | solve s | objective | best bound | gap | status |")
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        for run in runs:
            lines.append(
                f"| {run['label']} | {fmt(run['build_time_s'])} | {fmt(run['solve_time_s'])} | "
                f"{fmt(run[obj_key], 1)} | {fmt(run['bound'], 1)} | {run['gap'] * 100:.3f} % | "
                f"{run['status']} ({run['detail']}) |"
            )
        ours = runs[0]
        if sp is not None:
            lines.append(
                f"| spopt + CBC | {fmt(sp.get('build_time_s', '-'))} | "
                f"{fmt(sp.get('solve_time_s', '-'))} | {fmt(sp.get(obj_key, '-'), 1)} | - | - | "
                f"{sp.get('status', '?')} / {sp.get('sol_status', '?')} |"
            )
            if isinstance(sp.get("build_time_s"), float) and isinstance(sp.get(obj_key), float):
                tot_sp = sp["build_time_s"] + sp.get("solve_time_s", 0.0)
                tot_us = ours["build_time_s"] + ours["solve_time_s"]
                ratio = ", ".join(f"{r[obj_key] / sp[obj_key]:.5f}" for r in runs)
                lines.append("")
                lines.append(
                    f"Ratios (assetplan / spopt): objective {ratio} ({better} is better), "
                    f"build {ours['build_time_s'] / sp['build_time_s']:.4f}, "
                    f"total time {tot_us / tot_sp:.4f} (spopt {tot_sp / tot_us:.0f}x slower)."
                )

    table(
        f"MCLP, radius {args.radius_km:g} km, p = {args.p_mclp} (objective: people covered)",
        [r for k, r in rows.items() if k.startswith("mclp_ours")],
        rows.get("mclp_spopt"),
        "objective",
        "higher",
    )
    pm = rows["pmedian_ours"]
    table(
        f"p-median, p = {args.p_median}, k = {args.k} nearest sites per demand "
        "(objective: person-km to the nearest open site, evaluated densely)",
        [pm],
        rows.get("pmedian_spopt"),
        "dense_objective",
        "lower",
    )
    lines.append("")
    lines.append(
        f"assetplan's p-median objective on the k-nearest instance: {pm['objective']:,.1f} "
        f"person-km; the dense evaluation is never higher."
    )
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
