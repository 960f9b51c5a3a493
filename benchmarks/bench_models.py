"""National-size benchmark of the product models: Disposition, Transfer and Seats.

Synthetic instances from a seed: points drawn inside a rough outline of Vietnam (area about
376,000 km2, so densities are close to the real ones), 34 provinces as Voronoi cells of
random communes, sparse pairs from a ``scipy.spatial.cKDTree`` radius query. Writes
``benchmarks/results_models.md``.

    .venv/bin/python benchmarks/bench_models.py            # full run, about 10 minutes
    .venv/bin/python benchmarks/bench_models.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import ortools
import pandas as pd
import scipy
import scipy.sparse as sp
import shapely
from scipy.optimize import linprog
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimization.disposition import MONEY_SCALE, DispositionModel
from optimization.result import relative_gap
from optimization.seats import SeatsModel
from optimization.solver import Deadline, MipArrays, SolveOptions, solve_arrays
from optimization.transfer import TransferModel

EARTH_RADIUS_KM = 6371.0088
VIETNAM = shapely.Polygon([
    (102.14, 22.40), (103.0, 22.75), (104.0, 22.80), (105.3, 23.3), (106.7, 22.9),
    (107.4, 21.9), (108.0, 21.5), (107.0, 20.8), (106.5, 20.2), (105.9, 19.3), (105.7, 18.7),
    (106.6, 17.5), (107.6, 16.5), (108.2, 16.1), (108.9, 15.1), (109.2, 13.8), (109.3, 12.2),
    (109.0, 11.5), (108.1, 10.9), (107.1, 10.35), (106.7, 9.6), (105.4, 8.6), (104.8, 8.6),
    (104.8, 9.8), (104.45, 10.4), (105.1, 10.9), (106.0, 11.6), (107.0, 12.1), (107.5, 12.3),
    (107.6, 13.0), (107.5, 14.6), (107.3, 15.5), (106.6, 16.4), (105.6, 17.8), (104.6, 18.7),
    (104.0, 19.3), (104.3, 19.9), (103.9, 20.4), (103.0, 20.8), (102.2, 21.5)])
N_COMMUNES = 3321
N_PROVINCES = 34
RADIUS_KM = {"health": 20.0, "education": 10.0, "office": 15.0, "service_point": 10.0,
             "housing": 20.0, "culture": 15.0}
# Unmet penalty per unit of need (VND), about the cost of building that capacity anew.
PENALTY_VND = {"health": 1.5e9, "education": 1.0e8, "office": 1.5e7, "service_point": 1.0e9,
               "housing": 1.5e9, "culture": 1.0e7}


# ---------------------------------------------------------------------------- geography
def points(rng: np.random.Generator, n: int) -> np.ndarray:
    """n lon/lat points uniform inside the outline (rejection sampling in the bounding box)."""
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        lon, lat = rng.uniform(102, 110, 4 * n), rng.uniform(8.5, 23.4, 4 * n)
        ok = shapely.contains_xy(VIETNAM, lon, lat)
        out.append(np.column_stack([lon[ok], lat[ok]]))
    return np.concatenate(out)[:n]


def _xyz(ll: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(ll[:, 0]), np.radians(ll[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def pairs_within(a: np.ndarray, b: np.ndarray, radius_km: float) -> tuple[np.ndarray, ...]:
    """Great-circle pairs within a radius: rows of a, rows of b, km (cKDTree on the sphere)."""
    chord = 2 * np.sin(radius_km / EARTH_RADIUS_KM / 2)
    m = cKDTree(_xyz(a)).sparse_distance_matrix(cKDTree(_xyz(b)), chord,
                                                output_type="coo_matrix")
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(m.data / 2, 0, 1))
    return m.row.astype(np.int64), m.col.astype(np.int64), km


def haversine_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def communes(rng: np.random.Generator, n: int = N_COMMUNES) -> pd.DataFrame:
    ll = points(rng, n)
    seeds = rng.choice(n, N_PROVINCES, replace=False)
    prov = cKDTree(ll[seeds]).query(ll)[1]
    return pd.DataFrame({"commune_code": np.arange(n), "province_code": prov, "lon": ll[:, 0],
                         "lat": ll[:, 1],
                         "priority_weight": rng.choice([1.0, 1.5, 2.0, 3.0], n,
                                                       p=[.5, .2, .25, .05])})


# ---------------------------------------------------------------------------- disposition
def disposition_instance(seed: int, n_prop: int = 16_124, n_comm: int = N_COMMUNES
                         ) -> dict[str, Any]:
    """16,124 surplus properties near the communes, eligibility and capacity by floor area."""
    rng = np.random.default_rng(seed)
    com = communes(rng, n_comm)
    cll = com[["lon", "lat"]].to_numpy()
    home = rng.integers(0, n_comm, n_prop)
    pll = cll[home] + rng.normal(0, 0.02, (n_prop, 2))
    floor = np.clip(rng.lognormal(np.log(400), 0.7, n_prop), 50, 5000)
    land = floor * rng.uniform(1.5, 4, n_prop)
    props = pd.DataFrame({"property_id": np.arange(n_prop),
                          "province_code": com["province_code"].to_numpy()[home],
                          "commune_code": home})
    # use: (capacity units per m2 of floor, renovation VND per m2, share eligible)
    per = {"health": (1 / 30, 5e6, .3), "education": (1 / 4, 4e6, .5), "office": (1.0, 2.5e6, .7),
           "service_point": (1 / 80, 2e6, .4), "housing": (1 / 60, 3e6, .3),
           "culture": (1.0, 2e6, .4)}
    opts = []
    for u, (cap_m2, reno_m2, share) in per.items():
        el = np.flatnonzero(rng.random(n_prop) < share)
        opts.append(pd.DataFrame({
            "property_id": el, "use": u,
            "capacity": np.maximum(np.floor(floor[el] * cap_m2), 1).astype(np.int64),
            "renovation_cost_vnd": np.rint(floor[el] * reno_m2
                                           * rng.uniform(.6, 1.4, len(el))).astype(np.int64),
            "revenue_vnd": 0}))
    sale = np.flatnonzero(rng.random(n_prop) < 0.4)
    price = rng.choice([2e6, 5e6, 20e6], len(sale), p=[.5, .35, .15])
    opts.append(pd.DataFrame({"property_id": sale, "use": "sale", "capacity": 0,
                              "renovation_cost_vnd": 0,
                              "revenue_vnd": np.rint(land[sale] * price).astype(np.int64)}))
    tr = np.flatnonzero(rng.random(n_prop) < 0.3)
    opts.append(pd.DataFrame({"property_id": tr, "use": "transfer", "capacity": 0,
                              "renovation_cost_vnd": 0, "revenue_vnd": 0}))
    rate = {"health": (.3, 5, 40), "education": (.5, 50, 600), "office": (.6, 100, 800),
            "service_point": (.5, 1, 6), "housing": (.3, 2, 20), "culture": (.3, 200, 1000)}
    needs = []
    for u, (p, lo, hi) in rate.items():
        has = np.flatnonzero(rng.random(n_comm) < p)
        needs.append(pd.DataFrame({"commune_code": has, "use": u,
                                   "need": rng.integers(lo, hi + 1, len(has))}))
    need = pd.concat(needs, ignore_index=True).merge(
        com[["commune_code", "priority_weight", "province_code"]], on="commune_code")
    i, j, km = pairs_within(pll, cll, max(RADIUS_KM.values()))
    pairs = pd.DataFrame({"property_id": i, "commune_code": j, "distance_km": km})
    return {"properties": props, "needs": need, "pairs": pairs,
            "options": pd.concat(opts, ignore_index=True), "radius_km": RADIUS_KM}


def run_disposition(inst: dict[str, Any], factor: float, budget: int | None, limit: float,
                    threads: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    m = DispositionModel.from_frames(
        **inst, unmet_penalty_vnd={u: v * factor for u, v in PENALTY_VND.items()},
        budget_vnd=budget).build()
    t1 = time.perf_counter()
    m.solve(time_limit_s=limit, mip_gap=0.01, threads=threads, seed=seed)
    t2 = time.perf_counter()
    m.check_solution()
    i, st = m.info, m.info.stats
    spent = int(m.assignment["renovation_cost_vnd"].sum())
    return {"build s": t1 - t0, "solve s": t2 - t1, "objective": i.objective_value,
            "bound": i.best_bound, "gap": i.gap, "status": str(i.status),
            "LP bound": st["lp_bound_vnd"], "after local search": st["heuristic_objective_vnd"],
            "after LNS": st["lns_objective_vnd"], "LNS iters": st["lns_iterations"],
            "renovation spent": spent, "uses": m.assignment["use"].value_counts().to_dict(),
            "size": (st["options"], st["service_arcs"], st["needs"], st["rows"],
                     st["nonzeros"], st["components"], st["groups"])}


def plain_mip(inst: dict[str, Any], limit: float, solver: str,
              province: int | None = None, threads: int = 2) -> dict[str, Any]:
    """The same MIP handed whole to one solver, no start, no decomposition."""
    if province is not None:
        keep = inst["properties"]["province_code"] == province
        props = inst["properties"][keep]
        inst = {**inst, "properties": props,
                "needs": inst["needs"][inst["needs"]["province_code"] == province],
                "pairs": inst["pairs"][inst["pairs"]["property_id"].isin(props["property_id"])],
                "options": inst["options"][inst["options"]["property_id"].isin(
                    props["property_id"])]}
    m = DispositionModel.from_frames(**inst, unmet_penalty_vnd=PENALTY_VND).build()
    cp = solver == "cp-sat"
    integer = np.ones_like(m.integer) if cp else m.integer  # CP-SAT: y integral (needs are)
    scale = 1e-3 if cp else MONEY_SCALE  # CP-SAT wants integer costs: thousand VND
    cost = np.rint(m.cost * scale) if cp else m.cost * scale
    t = time.perf_counter()
    res = solve_arrays(MipArrays(cost, m.matrix, m.row_lb, m.row_ub, m.lb, m.ub, integer),
                       backend=solver, deadline=Deadline(limit),
                       options=SolveOptions(mip_gap=0.01, threads=threads))
    wall = time.perf_counter() - t
    obj = res.objective / scale if res.x is not None else float("nan")
    return {"properties": m.n_p, "solve s": wall, "objective": obj, "bound": res.bound / scale,
            "gap": relative_gap(obj, res.bound / scale), "termination": res.reason}


# ---------------------------------------------------------------------------- transfer
CATEGORIES = {  # cost per km, handling, unmet penalty per item (VND)
    "car": (15_000, 2_000_000, 600_000_000),
    "computer": (2_000, 150_000, 25_000_000),
    "printer": (2_000, 100_000, 8_000_000),
    "photocopier": (5_000, 300_000, 60_000_000),
    "scanner": (2_000, 100_000, 12_000_000),
}


def transfer_instance(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Holders: 700 abolished district offices and 34 provincial compounds with surplus;
    354 communes without a car, 601 below the equipment norm (published counts)."""
    rng = np.random.default_rng(seed)
    com = communes(rng)
    hll = points(rng, 734)
    hprov = cKDTree(com[["lon", "lat"]].to_numpy()).query(hll)[1]
    hprov = com["province_code"].to_numpy()[hprov]
    sup, dem = [], []
    for k in CATEGORIES:
        n_short = 354 if k == "car" else 601
        short = rng.choice(N_COMMUNES, n_short, replace=False)
        qty = rng.integers(1, 3 if k == "car" else 12, n_short)
        dem.append(pd.DataFrame({"commune_code": short, "category": k, "shortfall": qty,
                                 "province_code": com["province_code"].to_numpy()[short],
                                 "priority_weight": com["priority_weight"].to_numpy()[short],
                                 "lon": com["lon"].to_numpy()[short],
                                 "lat": com["lat"].to_numpy()[short]}))
        has = np.flatnonzero(rng.random(734) < 0.6)
        sup.append(pd.DataFrame({"holder_code": has, "category": k,
                                 "surplus": rng.integers(1, 4 if k == "car" else 25, len(has)),
                                 "province_code": hprov[has], "lon": hll[has, 0],
                                 "lat": hll[has, 1]}))
    return pd.concat(sup, ignore_index=True), pd.concat(dem, ignore_index=True)


def transfer_lp(m: TransferModel) -> tuple[float, float]:
    """The dense transfer problem as an LP (network matrix, integral) with scipy/HiGHS."""
    arcs = m.allowed_arcs()
    n_a, n_s, n_d = len(arcs), len(m.supplies), len(m.demands)
    c = np.concatenate([arcs["unit_cost_vnd"].to_numpy(float), m.unit_penalty_vnd()])
    a_ub = sp.csr_matrix((np.ones(n_a), (arcs["s"].to_numpy(), np.arange(n_a))),
                         shape=(n_s, n_a + n_d))
    a_eq = sp.csr_matrix((np.ones(n_a + n_d), (np.concatenate([arcs["d"].to_numpy(),
                                                               np.arange(n_d)]),
                                                np.arange(n_a + n_d))), shape=(n_d, n_a + n_d))
    t = time.perf_counter()
    res = linprog(c, A_ub=a_ub, b_ub=m.supplies["surplus"].to_numpy(float), A_eq=a_eq,
                  b_eq=m.demands["shortfall"].to_numpy(float), bounds=(0, None),
                  method="highs")
    return float(res.fun), time.perf_counter() - t


def run_transfer(sup: pd.DataFrame, dem: pd.DataFrame, pairs: pd.DataFrame | None
                 ) -> tuple[TransferModel, dict[str, Any]]:
    kw = {"cost_per_km_vnd": {k: v[0] for k, v in CATEGORIES.items()},
          "handling_vnd": {k: v[1] for k, v in CATEGORIES.items()},
          "unmet_penalty_vnd": {k: v[2] for k, v in CATEGORIES.items()}}
    t0 = time.perf_counter()
    if pairs is None:
        m = TransferModel.from_frames(sup, dem, None, **kw)
    else:
        m = TransferModel.from_frames(sup.drop(columns=["lon", "lat"]),
                                      dem.drop(columns=["lon", "lat"]), pairs, **kw)
    m.build()
    t1 = time.perf_counter()
    m.solve()
    t2 = time.perf_counter()
    m.check_solution()
    return m, {"build s": t1 - t0, "solve s": t2 - t1, "arcs": m.info.stats["transport_arcs"],
               "objective": m.info.objective_value, "bound": m.info.best_bound,
               "status": str(m.info.status), "moved": int(m.flows["quantity"].sum()),
               "unmet": int(m.unmet["unmet"].sum())}


# ---------------------------------------------------------------------------- seats
def seats_instance(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """10,040 former communes (areas) grouped into 3,321 units; each former commune has its
    old headquarters (a building) at its point; one per unit is the new main seat."""
    rng = np.random.default_rng(seed)
    com = communes(rng)
    n_old = 10_040
    unit = np.concatenate([np.arange(N_COMMUNES), rng.integers(0, N_COMMUNES,
                                                               n_old - N_COMMUNES)])
    ll = com[["lon", "lat"]].to_numpy()[unit] + rng.normal(0, 0.04, (n_old, 2))
    main = np.zeros(n_old, dtype=bool)
    main[:N_COMMUNES] = True
    buildings = pd.DataFrame({"property_id": np.arange(n_old), "commune_code": unit,
                              "is_main_seat": main,
                              "upkeep_cost_vnd": rng.integers(200, 1500, n_old) * 1_000_000,
                              "floor_area_m2": rng.uniform(150, 1200, n_old)})
    areas = pd.DataFrame({"area_id": np.arange(n_old), "commune_code": unit,
                          "population": rng.integers(1500, 20000, n_old)})
    i, j, km = pairs_within(ll, ll, 15.0)
    same = unit[i] == unit[j]
    pairs = pd.DataFrame({"area_id": i[same], "property_id": j[same], "distance_km": km[same]})
    return buildings, areas, pairs


# ---------------------------------------------------------------------------- report
def machine() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                      if ln.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    return (f"{os.cpu_count()} cores ({model}); Python {platform.python_version()}, "
            f"numpy {np.__version__}, pandas {pd.__version__}, scipy {scipy.__version__}, "
            f"ortools {ortools.__version__}, shapely {shapely.__version__}")


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(c, "")) if c != "gap" else
                                     f"{100 * r['gap']:.2f} %" for c in cols) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller instances, short limits")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_models.md")))
    args = ap.parse_args()
    limit = 10.0 if args.quick else args.time_limit
    lines = ["# Product models: national-size benchmark", "",
             f"Command: `.venv/bin/python benchmarks/bench_models.py"
             f"{' --quick' if args.quick else ''}` (seed {args.seed}, time limit {limit:g} s,"
             f" {args.threads} threads)", "",
             f"Machine: {machine()}. Shared machine: other work ran at the same time, so "
             "timings are indicative.", "",
             f"Date: {datetime.date.today().isoformat()}. All instances are synthetic "
             "(points inside an outline of Vietnam, 34 Voronoi provinces); every solution "
             "passed `check_solution()`.", ""]

    # --- Transfer
    print("transfer ...", flush=True)
    sup, dem = transfer_instance(args.seed)
    rows = []
    for radius in (100.0, 200.0):
        hs = sup.drop_duplicates("holder_code")
        i, j, km = pairs_within(hs[["lon", "lat"]].to_numpy(),
                                dem.drop_duplicates("commune_code")[["lon", "lat"]].to_numpy(),
                                radius)
        pairs = pd.DataFrame({"holder_code": hs["holder_code"].to_numpy()[i],
                              "commune_code": dem.drop_duplicates("commune_code")[
                                  "commune_code"].to_numpy()[j],
                              "distance_km": km})
        _, r = run_transfer(sup, dem, pairs)
        rows.append({"pairs": f"sparse, radius {radius:g} km", **r})
    dense, r = run_transfer(sup, dem, None)
    rows.append({"pairs": "dense (all holder x commune of a category)", **r})
    lp_obj, lp_s = transfer_lp(dense)
    lines += ["## Transfer (all 5 categories, national; exact min-cost flow)", "",
              f"{len(sup):,} holder-category supplies ({int(sup['surplus'].sum()):,} items) "
              f"and {len(dem):,} commune-category shortfalls ({int(dem['shortfall'].sum()):,} "
              "items: 354 communes without a car, 601 below the equipment norm).", "",
              table(rows, ["pairs", "arcs", "build s", "solve s", "objective", "bound",
                           "status", "moved", "unmet"]), "",
              "Dense optimum cross-checked with the LP (scipy `linprog`, HiGHS) on the same "
              f"arcs: {lp_obj:,.0f} VND in {lp_s:.1f} s; min-cost flow "
              f"{dense.info.objective_value:,.0f} VND: "
              f"{'equal' if abs(lp_obj - dense.info.objective_value) < 0.5 else 'DIFFERENT'}."
              " A sparse radius equals the dense optimum once it holds every arc the optimum "
              "uses.", ""]
    print("\n".join(lines[-8:]), flush=True)

    # --- Seats (the model committed on the shared location machinery)
    print("seats ...", flush=True)
    b, a, p = seats_instance(args.seed)
    srows = []
    for km in (5.0, 10.0):
        t0 = time.perf_counter()
        sm = SeatsModel.from_frames(b, a, p[p["distance_km"] <= km], max_service_km=km,
                                    penalty_vnd_per_person=50_000)
        sm.run(time_limit_s=limit, mip_gap=0.0, threads=args.threads, seed=args.seed)
        wall = time.perf_counter() - t0
        srows.append({"max_service_km": km, "pairs": int((p["distance_km"] <= km).sum()),
                      "total s": wall, "objective": sm.info.objective_value,
                      "bound": sm.info.best_bound, "gap": sm.info.gap,
                      "status": str(sm.info.status), "kept": len(sm.kept),
                      "surplus": len(sm.surplus)})
    lines += ["## Seats (10,040 buildings and areas in 3,321 units)", "",
              "`optimization/seats.py` as committed (built on the shared location machinery); "
              "upkeep 200-1,500 M VND a year, penalty 50,000 VND per person out of reach.", "",
              table(srows, ["max_service_km", "pairs", "total s", "objective", "bound", "gap",
                            "status", "kept", "surplus"]), ""]
    print("\n".join(lines[-4:]), flush=True)

    # --- Disposition
    n_prop = 3000 if args.quick else 16_124
    n_comm = 700 if args.quick else N_COMMUNES
    inst = disposition_instance(args.seed, n_prop, n_comm)
    drows = []
    runs = [("balanced", 1.0, None), ("service first (penalties x10)", 10.0, None),
            ("sale first (penalties x0.1)", 0.1, None)]
    if not args.quick:
        runs.append(("balanced + national budget 5,000 bn VND", 1.0, 5_000_000_000_000))
    for name, factor, budget in runs:
        print(f"disposition {name} ...", flush=True)
        r = run_disposition(inst, factor, budget, limit, args.threads, args.seed)
        drows.append({"calibration": name, **r})
        print(drows[-1], flush=True)
    size = drows[0]["size"]
    lines += ["## Disposition (national: 16,124 properties x 9 uses, 3,321 communes)", "",
              f"{size[0]:,} eligible options (binaries), {size[1]:,} service arcs within "
              f"the use radii {RADIUS_KM}, {size[2]:,} needs; MIP {size[3]:,} rows, "
              f"{size[4]:,} nonzeros; {size[5]:,} independent components in {size[6]} "
              "groups (same-province service). `solve(time_limit_s, mip_gap=0.01, threads)`.",
              "",
              table(drows, ["calibration", "build s", "solve s", "objective", "bound", "gap",
                            "status", "LP bound", "after local search", "after LNS",
                            "LNS iters"]), "",
              "Objective: renovation - sale revenue + priority-weighted unmet need (VND); "
              "negative when sales outweigh what is left unmet.", ""]
    for r in drows:
        lines.append(f"- {r['calibration']}: uses {r['uses']}; renovation "
                     f"{r['renovation spent']:,} VND")
    lines.append("")

    # --- Solver comparison on the raw MIP
    print("plain solvers ...", flush=True)
    prov = int(inst["properties"]["province_code"].value_counts().index[0])
    prow = []
    for label, st in (("HiGHS", "highs"), ("SCIP", "gscip"), ("CP-SAT", "cp-sat")):
        r = plain_mip(inst, limit / 3, st, province=prov, threads=args.threads)
        prow.append({"solver": label, "scope": f"largest province ({r['properties']:,} "
                     "properties)", **r})
        print(prow[-1], flush=True)
    r = plain_mip(inst, limit, "highs", threads=args.threads)
    prow.append({"solver": "HiGHS", "scope": f"whole country ({r['properties']:,} properties)",
                 **r})
    lines += ["## The same MIP given whole to one solver (no start, no decomposition)", "",
              table(prow, ["solver", "scope", "solve s", "objective", "bound", "gap",
                           "termination"]), ""]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
