"""Tiny random disposition instances and an independent brute force (every use per property,
the service part of each as an LP), shared by the disposition tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from optimization.disposition import SERVICE_USES

M = 1_000_000  # one million VND
PUBLIC = set(SERVICE_USES)


def random_instance(rng: np.random.Generator, n_p: int, n_c: int,
                    disposal_order: str = "value") -> dict:
    uses = list(rng.choice(SERVICE_USES, size=int(rng.integers(1, 3)), replace=False))
    prov = {f"c{j}": f"S{rng.integers(2)}" for j in range(n_c)}
    props, opts = [], []
    for i in range(n_p):
        c = f"c{rng.integers(n_c)}"
        props.append((i, prov[c], c))
        for u in rng.permutation(uses)[:int(rng.integers(0, 3))]:
            opts.append((i, u, int(rng.integers(1, 25)), int(rng.integers(0, 300)) * M, 0))
        if rng.random() < 0.4:
            opts.append((i, "sale", 0, 0, int(rng.integers(0, 400)) * M))
        if rng.random() < 0.2:
            opts.append((i, "transfer", 0, 0, 0))
    props = pd.DataFrame(props, columns=["property_id", "province", "commune"])
    options = pd.DataFrame(opts, columns=["property_id", "use", "capacity",
                                          "renovation_cost_vnd", "revenue_vnd"])
    needs = pd.DataFrame([(c, u, int(rng.integers(1, 30)), float(rng.choice([1, 2, 3])),
                           prov[c]) for c in prov for u in uses if rng.random() < 0.7],
                         columns=["commune", "use", "need", "priority_weight", "province"])
    pairs = pd.DataFrame([(i, c, float(rng.integers(0, 20))) for i in range(n_p) for c in prov
                          if rng.random() < 0.8],
                         columns=["property_id", "commune", "distance_km"])
    kw: dict = {
        "radius_km": {u: float(rng.integers(5, 30)) for u in uses},
        "unmet_penalty_vnd": {u: int(rng.integers(1, 40)) * M for u in uses},
        "travel_cost_vnd_per_unit_km": {u: float(rng.choice([0, 100_000, 333_333]))
                                        for u in uses},
        "same_province": bool(rng.random() < 0.5),
        "disposal_order": disposal_order,
    }
    r = rng.random()
    if r < 0.25:
        kw["budget_vnd"] = int(rng.integers(0, 400)) * M
    elif r < 0.5:
        kw["province_budget_vnd"] = {"S0": int(rng.integers(0, 300)) * M}
    if rng.random() < 0.2 and len(options):
        row = options.iloc[int(rng.integers(len(options)))]
        props["fixed_use"] = np.array([row["use"] if p == row["property_id"] else None
                                       for p in props["property_id"]], dtype=object)
    if not kw["same_province"] and rng.random() < 0.5:
        kw["cross_province_penalty_vnd"] = int(rng.integers(1, 40)) * M // 4
    return {"properties": props, "needs": needs, "pairs": pairs, "options": options, **kw}


def in_units(vnd: float, unit: int) -> int:
    """VND rounded half up to whole money units (as the model counts money)."""
    return (int(vnd) + unit // 2) // unit


@dataclass
class BestPlan:
    objective: float
    uses: list[str]
    unmet: np.ndarray  # per need row of ``needs``


def _arcs(inst: dict, combo: tuple, unit: int) -> list[tuple[int, int, int]]:
    """(property row, need row, unit cost in money units) for the chosen uses."""
    props, needs = inst["properties"], inst["needs"]
    radius, travel = inst["radius_km"], inst["travel_cost_vnd_per_unit_km"]
    dist = {(p, c): km for p, c, km in inst["pairs"].itertuples(index=False)}
    out = []
    for i, (u, cap, _, _) in enumerate(combo):
        pid, pprov = props["property_id"].iloc[i], props["province"].iloc[i]
        for j, (c, nu, _, _, nprov) in enumerate(needs.itertuples(index=False)):
            km = dist.get((pid, c))
            if nu != u or km is None or km > radius[u] or cap <= 0:
                continue
            across = pprov != nprov
            if inst["same_province"] and across:
                continue
            border = inst.get("cross_province_penalty_vnd", 0) if across else 0
            out.append((i, j, in_units(round(km * travel[u]) + border, unit)))
    return out


def unit_penalties(inst: dict) -> np.ndarray:
    pen = inst["unmet_penalty_vnd"]
    return np.array([round(w * pen[u]) for _, u, _, w, _ in
                     inst["needs"].itertuples(index=False)], dtype=float)


def choices(inst: dict) -> list[list[tuple[str, int, int, int]]]:
    """Per property its (use, capacity, renovation, revenue) options, hold included."""
    props, options = inst["properties"], inst["options"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    out = []
    for pid, f in zip(props["property_id"], fixed, strict=True):
        rows = [(u, cap, r, v) for p, u, cap, r, v in options.itertuples(index=False)
                if p == pid] + [("hold", 0, 0, 0)]
        out.append([x for x in rows if pd.isna(f) or x[0] == f])
    return out


def within_budgets(inst: dict, spent: list[int]) -> bool:
    if inst.get("budget_vnd") is not None and sum(spent) > inst["budget_vnd"]:
        return False
    provinces = inst["properties"]["province"]
    return all(sum(r for r, p in zip(spent, provinces, strict=True) if p == k) <= b
               for k, b in inst.get("province_budget_vnd", {}).items())


def brute_force(inst: dict, money_unit: int = 1) -> BestPlan:
    """Least objective over every combination of uses: weighted unmet need in VND plus
    money in ``money_unit`` VND (rounded per option and per arc, as the model counts it)."""
    needs = inst["needs"]
    q = needs["need"].to_numpy(float)
    unit_pen = unit_penalties(inst)
    best = BestPlan(np.inf, [], q)
    for combo in itertools.product(*choices(inst)):
        if not within_budgets(inst, [r for _, _, r, _ in combo]):
            continue
        net = sum(in_units(r - v, money_unit) for _, _, r, v in combo)
        arcs = _arcs(inst, combo, money_unit)
        n_a, n_n = len(arcs), len(needs)
        if n_a == 0:
            value, unmet = net + float(unit_pen @ q), q
        else:
            c_vec = np.concatenate([[a[2] for a in arcs], unit_pen])
            a_ub = np.zeros((len(combo) + n_n, n_a + n_n))
            b_ub = np.concatenate([[x[1] for x in combo], -q])
            for k, (i, j, _) in enumerate(arcs):
                a_ub[i, k] = 1
                a_ub[len(combo) + j, k] = -1
            a_ub[len(combo) + np.arange(n_n), n_a + np.arange(n_n)] = -1
            res = linprog(c_vec, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
            assert res.status == 0
            value, unmet = net + res.fun, res.x[n_a:]
        if value < best.objective:
            best = BestPlan(value, [u for u, _, _, _ in combo], np.round(unmet))
    return best


def order_violations(inst: dict, uses: list[str], unmet: np.ndarray) -> list[tuple]:
    """(property, use, commune) where a non-public, not fixed property reaches a need left
    unmet (of positive weight) that an eligible use of it could serve within every budget."""
    props, needs = inst["properties"], inst["needs"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    opts = choices(inst)
    spent = [next(r for u, _, r, _ in opts[i] if u == uses[i]) for i in range(len(uses))]
    pen = unit_penalties(inst)
    out = []
    for i, use in enumerate(uses):
        if use in PUBLIC or not pd.isna(fixed.iloc[i]):
            continue
        for alt in opts[i]:
            if alt[0] not in PUBLIC:
                continue
            trial = list(spent)
            trial[i] = alt[2]
            if not within_budgets(inst, trial):
                continue
            for _, j, _ in _arcs(inst, (*[("hold", 0, 0, 0)] * i, alt), 1):
                if unmet[j] > 0.5 and pen[j] > 0:
                    out.append((props["property_id"].iloc[i], alt[0],
                                needs["commune"].iloc[j]))
    return out
