"""Brute-force oracle: on 200 random tiny instances per model, enumerate every site set (and,
with capacities, every assignment) and compare the optimum with the solver's, to 1e-6 relative.

Instances are sparse (some pairs missing) and include required sites, capacities and budgets
where the model supports them; an instance the oracle finds infeasible must be rejected before
solving (``InfeasibleInputError``) or come back ``infeasible``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimization.location import LSCP, MCLP, PCenter, PMedian
from optimization.result import InfeasibleInputError, SolveStatus

N_INSTANCES = 200
REL = 1e-6


def instance(seed: int, max_demands: int = 10):
    rng = np.random.default_rng(seed)
    n_s = int(rng.integers(3, 8))
    n_d = int(rng.integers(4, max_demands + 1))
    cost = np.round(rng.uniform(0, 20, (n_d, n_s)), 1)
    cost[rng.random((n_d, n_s)) < 0.3] = np.inf  # sparse: not every pair is a candidate
    weights = rng.integers(0, 10, n_d).astype(float)
    required = np.zeros(n_s, dtype=int)
    if rng.random() < 0.35:
        required[rng.integers(n_s)] = 1
    return rng, cost, weights, required


def subsets(n_s, required, sizes):
    req = set(np.flatnonzero(required).tolist())
    for size in sizes:
        for combo in itertools.combinations(range(n_s), size):
            if req <= set(combo):
                yield np.array(combo, dtype=np.int64)


def assignments(cost_sub, allow_none):
    """Every single-source assignment of demands to the columns of ``cost_sub``."""
    n_d, k = cost_sub.shape
    options = [
        [c for c in range(k) if np.isfinite(cost_sub[i, c])] + ([-1] if allow_none else [])
        for i in range(n_d)
    ]
    return itertools.product(*options)


def check_against(model_factory, oracle_value, sense, seed):
    try:
        model = model_factory()
    except InfeasibleInputError:
        assert oracle_value is None, f"seed {seed}: rejected, but the oracle found {oracle_value}"
        return "rejected"
    model.solve(time_limit_s=20.0, seed=0)
    if oracle_value is None:
        assert model.status == SolveStatus.INFEASIBLE, f"seed {seed}: {model.status}"
        return "infeasible"
    assert model.status == SolveStatus.OPTIMAL, f"seed {seed}: {model.status}"
    model.check_solution()
    assert model.objective_value == pytest.approx(oracle_value, rel=REL, abs=1e-9), (
        f"seed {seed}: solver {model.objective_value} vs oracle {oracle_value} ({sense})"
    )
    return "solved"


def test_pmedian_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        capacitated = seed % 4 == 3
        rng, cost, w, req = instance(seed, max_demands=6 if capacitated else 10)
        n_d, n_s = cost.shape
        p = int(rng.integers(1, n_s))
        caps = rng.uniform(5, 30, n_s).round() if capacitated else None
        best = None
        for combo in subsets(n_s, req, [p]):
            sub = cost[:, combo]
            if caps is None:
                if np.all(np.isfinite(sub).any(axis=1)):
                    value = float(np.sum(w * sub.min(axis=1)))
                    best = value if best is None else min(best, value)
                continue
            for assign in assignments(sub, allow_none=False):
                a = np.array(assign)
                load = np.bincount(a, weights=w, minlength=len(combo))
                if np.all(load <= caps[combo] + 1e-9):
                    value = float(np.sum(w * sub[np.arange(n_d), a]))
                    best = value if best is None else min(best, value)
        outcomes.append(
            check_against(
                lambda cost=cost, w=w, p=p, req=req, caps=caps: PMedian.from_cost_matrix(
                    cost, w, p, predefined_facilities_arr=req, facility_capacities=caps
                ),
                best,
                "min",
                seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 2  # the oracle is not vacuous


def make(cost, w, radius, p, req, costs, budget, caps):
    return lambda: MCLP.from_cost_matrix(
        cost,
        w,
        radius,
        p,
        predefined_facilities_arr=req,
        opening_costs=costs,
        budget=budget,
        facility_capacities=caps,
    )


def test_mclp_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        rng, cost, w, req = instance(1000 + seed)
        n_d, n_s = cost.shape
        radius = float(rng.uniform(4, 12))
        mode = seed % 4  # 0, 1: p; 2: budget only; 3: capacities
        p = int(rng.integers(1, n_s)) if mode != 2 else None
        costs = budget = caps = None
        if mode == 2:
            costs = rng.integers(1, 6, n_s).astype(float)
            budget = float(rng.integers(2, 10))
        if mode == 3:
            n_d = min(n_d, 6)
            cost, w = cost[:n_d], w[:n_d]
            caps = rng.uniform(3, 20, n_s).round()
        cover = cost <= radius
        best = None
        sizes = [p] if p is not None else range(n_s + 1)
        for combo in subsets(n_s, req, sizes):
            if costs is not None and costs[combo].sum() > budget + 1e-9:
                continue
            if caps is None:
                value = float(w[cover[:, combo].any(axis=1)].sum())
            else:
                sub = np.where(cover[:, combo], 0.0, np.inf)
                value = 0.0
                for assign in assignments(sub, allow_none=True):
                    a = np.array(assign)
                    on = a >= 0
                    load = np.bincount(a[on], weights=w[on], minlength=len(combo))
                    if np.all(load <= caps[combo] + 1e-9):
                        value = max(value, float(w[on].sum()))
            best = value if best is None else max(best, value)
        outcomes.append(
            check_against(
                make(cost, w, radius, p, req, costs, budget, caps),
                best,
                "max",
                1000 + seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 2


def test_lscp_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        rng, cost, w, req = instance(2000 + seed)
        n_d, n_s = cost.shape
        radius = float(rng.uniform(6, 20))
        priced = seed % 2 == 1
        costs = rng.integers(1, 6, n_s).astype(float) if priced else None
        budget = float(rng.integers(3, 15)) if priced and seed % 4 == 3 else None
        unit = np.ones(n_s) if costs is None else costs
        cover = cost <= radius
        best = None
        for combo in subsets(n_s, req, range(n_s + 1)):
            if not cover[:, combo].any(axis=1).all():
                continue
            value = float(unit[combo].sum())
            if budget is not None and value > budget + 1e-9:
                continue
            best = value if best is None else min(best, value)
        outcomes.append(
            check_against(
                lambda cost=cost, r=radius, req=req, costs=costs, budget=budget: (
                    LSCP.from_cost_matrix(
                        cost, r, predefined_facilities_arr=req, opening_costs=costs, budget=budget
                    )
                ),
                best,
                "min",
                2000 + seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 2


def test_pcenter_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        rng, cost, _, req = instance(3000 + seed)
        n_d, n_s = cost.shape
        p = int(rng.integers(1, n_s))
        best = None
        for combo in subsets(n_s, req, [p]):
            sub = cost[:, combo]
            if np.all(np.isfinite(sub).any(axis=1)):
                value = float(sub.min(axis=1).max())
                best = value if best is None else min(best, value)
        outcomes.append(
            check_against(
                lambda cost=cost, p=p, req=req: PCenter.from_cost_matrix(
                    cost, p, predefined_facilities_arr=req
                ),
                best,
                "min",
                3000 + seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 2
