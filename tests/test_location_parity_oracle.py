"""Brute-force oracles for the spopt-parity models and options (issue 15): capacitated LSCP
(split and single-source), LSCP-B and p-median with ``fulfill_predefined_fac``; 200 random tiny
instances each, with missing pairs, required sites (given as indices in half of them) and
zero weights or quantities.

The split capacitated oracle decides feasibility by Hall's condition (every set of demands
fits into the capacity of the open sites that reach any of them), not by a flow or an LP; the
single-source ones enumerate every assignment.
"""

from __future__ import annotations

import itertools

import numpy as np
from test_location_oracle import N_INSTANCES, assignments, check_against, instance, subsets

from optimization.location import LSCP, LSCPB, PMedian


def as_given(required, seed):
    """Required sites as a 0/1 mask, or (odd seeds) as an index list."""
    return np.flatnonzero(required) if seed % 2 else required


def demand_sets(n_d):
    """Every non-empty subset of the demands as rows of a 0/1 matrix."""
    return np.array(list(itertools.product([0, 1], repeat=n_d))[1:], dtype=float)


def fits_split(reach, qty, caps, sets):
    """Hall's condition for a fractional assignment: for every set D of demands,
    q(D) <= sum of the capacities of the sites reaching some demand of D."""
    if not reach.any(axis=1).all():
        return False  # a demand (even of quantity 0) needs an open site within the radius
    touched = (sets @ reach) > 0  # (sets x open sites)
    return bool(np.all(sets @ qty <= touched @ caps + 1e-9))


def fits_single(reach, qty, caps):
    options = [np.flatnonzero(row).tolist() for row in reach]
    for assign in itertools.product(*options):
        load = np.bincount(np.array(assign, dtype=int), weights=qty, minlength=caps.size)
        if np.all(load <= caps + 1e-9):
            return True
    return False


def lscp_instance(seed, single):
    rng, cost, w, req = instance(seed, max_demands=6 if single else 9)
    n_d, n_s = cost.shape
    radius = float(rng.uniform(12, 25))
    caps = rng.integers(2, 14, n_s).astype(float)
    qty = None if seed % 5 == 0 else rng.integers(0, 6, n_d).astype(float)
    priced = seed % 3 == 1
    costs = rng.integers(1, 6, n_s).astype(float) if priced else None
    budget = float(rng.integers(3, 15)) if priced and seed % 2 else None
    return cost, radius, caps, qty, costs, budget, req


def lscp_oracle(cost, radius, caps, qty, costs, budget, req, single):
    n_d, n_s = cost.shape
    q = np.ones(n_d) if qty is None else qty
    unit = np.ones(n_s) if costs is None else costs
    cover = cost <= radius
    sets = demand_sets(n_d)
    combos = sorted(subsets(n_s, req, range(n_s + 1)), key=lambda c: float(unit[c].sum()))
    for combo in combos:  # cheapest first: the first feasible plan is optimal
        value = float(unit[combo].sum())
        if budget is not None and value > budget + 1e-9:
            return None
        reach = cover[:, combo]
        ok = (
            fits_single(reach, q, caps[combo])
            if single
            else fits_split(reach, q, caps[combo], sets)
        )
        if ok:
            return value
    return None


def run_lscp_oracle(single, offset):
    outcomes = []
    for seed in range(N_INSTANCES):
        args = lscp_instance(offset + seed, single)
        cost, radius, caps, qty, costs, budget, req = args

        def make(cost=cost, radius=radius, caps=caps, qty=qty, c=costs, b=budget, req=req, s=seed):
            given = as_given(req, s)
            return LSCP.from_cost_matrix(cost, radius, given, qty, caps, c, b, single_source=single)

        best = lscp_oracle(*args, single=single)
        outcomes.append(check_against(make, best, "min", offset + seed))
    assert outcomes.count("solved") >= N_INSTANCES // 2  # the oracle is not vacuous
    return outcomes


def test_capacitated_lscp_oracle():
    outcomes = run_lscp_oracle(single=False, offset=5000)
    assert outcomes.count("rejected") >= 10  # infeasible inputs are met too


def test_capacitated_lscp_single_source_oracle():
    run_lscp_oracle(single=True, offset=6000)
    # the option matters: on some of these instances a split is cheaper (11 of 200)
    differ = 0
    for seed in range(N_INSTANCES):
        args = lscp_instance(6000 + seed, single=True)
        differ += lscp_oracle(*args, single=True) != lscp_oracle(*args, single=False)
    assert differ >= 5


def test_lscpb_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        rng, cost, w, req = instance(7000 + seed)
        n_d, n_s = cost.shape
        radius = float(rng.uniform(10, 25))
        weights = w if seed % 3 == 0 else None  # spopt counts demands; weights generalise it
        unit = np.ones(n_d) if weights is None else weights
        cover = cost <= radius
        best = None
        for p in range(1, n_s + 1):
            for combo in subsets(n_s, req, [p]):
                count = cover[:, combo].sum(axis=1)
                if (count >= 1).all():
                    value = float(unit[count >= 2].sum())
                    best = value if best is None else max(best, value)
            if best is not None:
                break  # p is the least number of sites that covers everybody
        outcomes.append(
            check_against(
                lambda cost=cost, r=radius, req=req, w=weights, s=seed: LSCPB.from_cost_matrix(
                    cost, r, as_given(req, s), weights=w
                ),
                best,
                "max",
                7000 + seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 2


def test_pmedian_fulfill_predefined_fac_oracle():
    outcomes = []
    for seed in range(N_INSTANCES):
        rng, cost, w, _ = instance(8000 + seed, max_demands=6)
        n_d, n_s = cost.shape
        req = np.zeros(n_s, dtype=int)
        req[rng.choice(n_s, size=1 + int(seed % 4 == 0), replace=False)] = 1
        p = int(rng.integers(min(int(req.sum()) + 1, n_s), n_s + 1))  # a free site or more
        caps = rng.integers(5, 40, n_s).astype(float)
        for j in np.flatnonzero(req):
            # mostly a capacity that some set of its candidate demands fills exactly
            reach = np.flatnonzero(np.isfinite(cost[:, j]))
            pick = reach[rng.random(reach.size) < 0.5]
            if seed % 3 and pick.size:
                caps[j] = float(w[pick].sum())
            else:
                caps[j] = float(rng.integers(1, max(2, int(w.sum()) // 2 + 1)))
        best = None
        for combo in subsets(n_s, req, [p]):
            sub = cost[:, combo]
            full = np.isin(combo, np.flatnonzero(req))
            for assign in assignments(sub, allow_none=False):
                a = np.array(assign)
                load = np.bincount(a, weights=w, minlength=len(combo))
                ok = np.all(load <= caps[combo] + 1e-9)
                ok &= np.all(np.abs(load[full] - caps[combo][full]) <= 1e-9)
                if ok:
                    value = float(np.sum(w * sub[np.arange(n_d), a]))
                    best = value if best is None else min(best, value)
        outcomes.append(
            check_against(
                lambda cost=cost, w=w, p=p, req=req, caps=caps, s=seed: PMedian.from_cost_matrix(
                    cost, w, p, as_given(req, s), caps, fulfill_predefined_fac=True
                ),
                best,
                "min",
                8000 + seed,
            )
        )
    assert outcomes.count("solved") >= N_INSTANCES // 3
    assert outcomes.count("infeasible") >= 20  # fulfilment SCIP proves impossible
