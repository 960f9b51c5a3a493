"""Tiny random disposition instances and an independent brute force (every use per property,
the service part of each as an LP), shared by the disposition tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from optimization.disposition import SERVICE_USES

M = 1_000_000  # one million VND
PUBLIC = set(SERVICE_USES)


def random_instance(rng: np.random.Generator, n_p: int, n_c: int,
                    disposal_order: str = "value", shared: bool = False) -> dict:
    """A random instance; ``shared``: properties with a floor up to 2 or 3 public uses
    share (service_point, when drawn, occupies a fixed floor and serves one point)."""
    uses = list(rng.choice(SERVICE_USES, size=int(rng.integers(2, 4) if shared
                                                  else rng.integers(1, 3)), replace=False))
    prov = {f"c{j}": f"S{rng.integers(2)}" for j in range(n_c)}
    props, opts, props_floor = [], [], []
    for i in range(n_p):
        c = f"c{rng.integers(n_c)}"
        props.append((i, prov[c], c))
        floor = int(rng.integers(5, 40)) if shared and rng.random() < 0.8 else 0
        props_floor.append(floor)
        for u in rng.permutation(uses)[:int(rng.integers(0, 4 if shared else 3))]:
            # Renovation: a fixed part per conversion and, often, a part per unit served.
            rate = int(rng.choice([0, 0, 1, 5, 20])) * M // 2
            cap = floor if floor else int(rng.integers(1, 25))
            fixed_floor = 0
            if shared and u == "service_point":
                cap, rate, fixed_floor = 1, 0, int(rng.integers(1, max(floor, 1) + 1))
            opts.append((i, u, cap, int(rng.integers(0, 300)) * M, 0, rate, fixed_floor))
        if rng.random() < 0.4:
            opts.append((i, "sale", 0, 0, int(rng.integers(0, 400)) * M, 0, 0))
        if rng.random() < 0.2:
            opts.append((i, "transfer", 0, 0, 0, 0, 0))
    props = pd.DataFrame(props, columns=["property_id", "province_code", "commune_code"])
    options = pd.DataFrame(opts, columns=["property_id", "use", "capacity",
                                          "renovation_cost_vnd", "revenue_vnd",
                                          "renovation_vnd_per_unit", "floor_m2_fixed"])
    if shared:
        props["shared_floor_m2"] = props_floor
    else:
        options = options.drop(columns="floor_m2_fixed")
    needs = pd.DataFrame([(c, u, int(rng.integers(1, 30)), float(rng.choice([1, 2, 3])),
                           prov[c]) for c in prov for u in uses if rng.random() < 0.7],
                         columns=["commune_code", "use", "need", "priority_weight",
                                  "province_code"])
    pairs = pd.DataFrame([(i, c, float(rng.integers(0, 20))) for i in range(n_p) for c in prov
                          if rng.random() < 0.8],
                         columns=["property_id", "commune_code", "distance_km"])
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
    if shared:
        kw["max_uses_per_property"] = int(rng.choice([2, 3]))
    if rng.random() < 0.3:
        # Travel times from an OD table: some uses reach by minutes too, some pairs have none.
        mins = rng.integers(0, 40, len(pairs)).astype(float)
        pairs["minutes"] = np.where(rng.random(len(pairs)) < 0.1, np.nan, mins)
        kw["radius_min"] = {u: float(rng.integers(5, 40)) for u in uses if rng.random() < 0.6}
    return {"properties": props, "needs": needs, "pairs": pairs, "options": options, **kw}


def in_units(vnd: float, unit: int) -> int:
    """VND rounded half up to whole money units (as the model counts money)."""
    return (int(vnd) + unit // 2) // unit


@dataclass
class BestPlan:
    objective: float
    uses: list[str]
    unmet: np.ndarray  # per need row of ``needs``
    served: np.ndarray  # per property


def reach_km(inst: dict) -> dict[tuple, float]:
    """(property, commune, use) -> km of every pair within the use's radius and, where the
    use has one, its time (a pair without minutes is out of a time's reach)."""
    limit = inst.get("radius_min", {})
    pairs = inst["pairs"].reindex(columns=["property_id", "commune_code", "distance_km", "minutes"])
    radius = inst["radius_km"]
    if not isinstance(radius, dict):
        radius = dict.fromkeys(set(inst["needs"]["use"]), radius)
    out = {}
    for p, c, km, mins in pairs.itertuples(index=False):
        for u, r in radius.items():
            if km <= r and (u not in limit or mins <= limit[u]):
                out[p, c, u] = km
    return out


def _arcs(inst: dict, combo: tuple, unit: int,
          owner: list[int] | None = None) -> list[tuple[int, int, int]]:
    """(part, need row, unit cost in money units) for the chosen uses; part i is an option
    of property ``owner[i]`` (default: property i)."""
    props, needs = inst["properties"], inst["needs"]
    travel = inst["travel_cost_vnd_per_unit_km"]
    reach = reach_km(inst)
    out = []
    for k, (u, cap, _, _, _) in enumerate(combo):
        i = k if owner is None else owner[k]
        pid, pprov = props["property_id"].iloc[i], props["province_code"].iloc[i]
        for j, (c, nu, _, _, nprov) in enumerate(needs.itertuples(index=False)):
            km = reach.get((pid, c, u))
            if nu != u or km is None or cap <= 0:
                continue
            across = pprov != nprov
            if inst["same_province"] and across:
                continue
            border = inst.get("cross_province_penalty_vnd", 0) if across else 0
            out.append((k, j, in_units(round(km * travel[u]) + border, unit)))
    return out


def unit_penalties(inst: dict) -> np.ndarray:
    pen = inst["unmet_penalty_vnd"]
    return np.array([round(w * pen[u]) for _, u, _, w, _ in
                     inst["needs"].itertuples(index=False)], dtype=float)


def choices(inst: dict) -> list[list[tuple[str, int, int, int, int]]]:
    """Per property its (use, capacity, fixed renovation, revenue, renovation per unit)
    options, hold included."""
    props, options = inst["properties"], inst["options"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    opts = options.reindex(columns=["property_id", "use", "capacity", "renovation_cost_vnd",
                                    "revenue_vnd", "renovation_vnd_per_unit"], fill_value=0)
    out = []
    for pid, f in zip(props["property_id"], fixed, strict=True):
        rows = [(u, cap, r, v, rate) for p, u, cap, r, v, rate in opts.itertuples(index=False)
                if p == pid] + [("hold", 0, 0, 0, 0)]
        out.append([x for x in rows if pd.isna(f) or x[0] == f])
    return out


def all_choices(inst: dict) -> list[list[tuple[str, int, int, int, int]]]:
    """``choices`` as if no use were fixed."""
    props = inst["properties"]
    return choices({**inst, "properties": props.drop(columns="fixed_use", errors="ignore")})


def configurations(inst: dict) -> list[list[tuple[tuple, ...]]]:
    """Per property every set of options it may take at once: one option, or on a shared
    floor 2 to ``max_uses_per_property`` public ones (a fixed use among them)."""
    props = inst["properties"]
    n_max = inst.get("max_uses_per_property", 1)
    floor = (props["shared_floor_m2"] if "shared_floor_m2" in props
             else pd.Series([0] * len(props)))
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    out = []
    for i, opts in enumerate(all_choices(inst)):
        cfgs: list[tuple[tuple, ...]] = [(o,) for o in opts]
        public = [o for o in opts if o[0] in PUBLIC]
        if n_max > 1 and floor.iloc[i] > 0:
            for k in range(2, n_max + 1):
                cfgs += list(itertools.combinations(public, k))
        f = fixed.iloc[i]
        out.append(cfgs if pd.isna(f) else [c for c in cfgs if f in (o[0] for o in c)])
    return out


def floor_fixed(inst: dict) -> dict[tuple, int]:
    """(property_id, use) -> floor the option occupies whatever it serves."""
    o = inst["options"]
    if "floor_m2_fixed" not in o:
        return {}
    return {(p, u): int(f) for p, u, f in o[["property_id", "use", "floor_m2_fixed"]]
            .itertuples(index=False)}


def budget_rows(inst: dict) -> list[tuple[np.ndarray, int]]:
    """(mask over properties, cap) per budget."""
    provinces = inst["properties"]["province_code"].to_numpy()
    rows = []
    if inst.get("budget_vnd") is not None:
        rows.append((np.ones(len(provinces), dtype=bool), inst["budget_vnd"]))
    for k, b in inst.get("province_budget_vnd", {}).items():
        rows.append((provinces == k, b))
    return rows


def within_budgets(inst: dict, spent: list[int]) -> bool:
    return all(sum(np.asarray(spent)[mask]) <= b for mask, b in budget_rows(inst))


def brute_force(inst: dict, money_unit: int = 1,
                unit_pen: np.ndarray | None = None) -> BestPlan:
    """Least objective over every combination of uses: weighted unmet need in VND (or
    ``unit_pen`` per unit of each need) plus money in ``money_unit`` VND (rounded per option,
    per unit of travel and per unit of renovated area, as the model counts it). Each
    combination's service is a small MILP: whole units served, renovation per unit inside
    the budgets."""
    needs = inst["needs"]
    q = needs["need"].to_numpy(float)
    unit_pen = unit_penalties(inst) if unit_pen is None else np.asarray(unit_pen, float)
    props = inst["properties"]
    n_p, n_n = len(props), len(needs)
    ff = floor_fixed(inst)
    floor = (props["shared_floor_m2"].to_numpy() if "shared_floor_m2" in props
             else np.zeros(n_p))
    # The floor binds the uses of a shared property, one use or several.
    shared = (floor > 0) & (inst.get("max_uses_per_property", 1) > 1)
    best = BestPlan(np.inf, [], q, np.zeros(n_p))
    for combo in itertools.product(*configurations(inst)):
        parts = [opt for cfg in combo for opt in cfg]
        owner = [i for i, cfg in enumerate(combo) for _ in cfg]
        fixed_spend = [sum(o[2] for o in cfg) for cfg in combo]
        if not within_budgets(inst, fixed_spend):
            continue
        pid = props["property_id"].to_numpy()
        fixed_floor = [sum(ff.get((pid[i], o[0]), 0) for o in cfg) for i, cfg in
                       enumerate(combo)]
        if any(shared[i] and f > floor[i] for i, f in enumerate(fixed_floor)):
            continue
        net = sum(in_units(o[2] - o[3], money_unit) for o in parts)
        arcs = _arcs(inst, tuple(parts), money_unit, owner)
        n_a = len(arcs)
        if n_a == 0:
            value, unmet, served = net + float(unit_pen @ q), q, np.zeros(n_p)
        else:
            rate = np.array([parts[k][4] for k, _, _ in arcs], dtype=float)
            c_vec = np.concatenate([[a[2] + in_units(parts[a[0]][4], money_unit)
                                     for a in arcs], unit_pen])
            a_cap = np.zeros((len(parts), n_a + n_n))
            a_floor = np.zeros((n_p, n_a + n_n))
            a_need = np.zeros((n_n, n_a + n_n))
            for k, (part, j, _) in enumerate(arcs):
                a_cap[part, k] = 1
                a_need[j, k] = 1
                i = owner[part]
                # On a shared floor every option without a fixed floor takes 1 m2 per unit.
                if shared[i] and ff.get((pid[i], parts[part][0]), 0) == 0:
                    a_floor[i, k] = 1
            a_need[np.arange(n_n), n_a + np.arange(n_n)] = 1
            cons = [LinearConstraint(a_cap, -np.inf, [x[1] for x in parts]),
                    LinearConstraint(a_need, q, np.inf),
                    LinearConstraint(a_floor, -np.inf,
                                     np.where(shared, floor - np.asarray(fixed_floor), np.inf))]
            for mask, b in budget_rows(inst):
                row = np.concatenate([rate * mask[[owner[k] for k, _, _ in arcs]],
                                      np.zeros(n_n)])
                cons.append(LinearConstraint(row[None, :], -np.inf,
                                             b - sum(np.asarray(fixed_spend)[mask])))
            res = milp(c_vec, constraints=cons, bounds=Bounds(0, np.inf),
                       integrality=np.concatenate([np.ones(n_a), np.zeros(n_n)]))
            assert res.status == 0
            y = np.round(res.x[:n_a])
            value, unmet = net + res.fun, np.round(res.x[n_a:])
            served = np.bincount([owner[k] for k, _, _ in arcs], weights=y, minlength=n_p)
        if value < best.objective - 1e-6:
            best = BestPlan(value, ["+".join(sorted(o[0] for o in cfg)) for cfg in combo],
                            np.round(unmet), served)
    return best


def order_violations(inst: dict, uses: list[str], unmet: np.ndarray,
                     served: np.ndarray, spent: list[int] | None = None) -> list[tuple]:
    """(property, use, commune) where a non-public, not fixed property reaches a need left
    unmet (of positive weight) that an eligible use of it could serve (one unit) within
    every budget. ``spent``: renovation per property (default: from its one use and what it
    serves)."""
    props, needs = inst["properties"], inst["needs"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    opts = choices(inst)
    if spent is None:
        chosen = [next(x for x in opts[i] if x[0] == uses[i]) for i in range(len(uses))]
        spent = [x[2] + x[4] * s for x, s in zip(chosen, served, strict=True)]
    pen = unit_penalties(inst)
    out = []
    for i, use in enumerate(uses):
        if use.split("+")[0] in PUBLIC or not pd.isna(fixed.iloc[i]):
            continue
        for alt in opts[i]:
            if alt[0] not in PUBLIC:
                continue
            trial = list(spent)
            trial[i] = alt[2] + alt[4]
            if not within_budgets(inst, trial):
                continue
            for _, j, _ in _arcs(inst, (*[("hold", 0, 0, 0, 0)] * i, alt), 1):
                if unmet[j] > 0.5 and pen[j] > 0:
                    out.append((props["property_id"].iloc[i], alt[0],
                                needs["commune_code"].iloc[j]))
    return out
