"""spopt parity (issue 15): dense matrices read like pairs, predefined sites as indices or a
mask, capacitated LSCP, backup coverage (LSCP-B) and ``fulfill_predefined_fac``; spopt's own
test figures on its data (``tests/data/spopt``). Brute-force oracles are in
``test_location_parity_oracle.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimization.location import LSCP, LSCPB, MCLP, PCenter, PMedian
from optimization.location._pairs import (
    _sorted_nonzero,
    _sorted_rows,
    as_required_mask,
    make_pairs,
    pairs_from_matrix,
)
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus

INF = np.inf
DATA = Path(__file__).parent / "data" / "spopt"


def solved(model, **kw):
    model.solve(time_limit_s=kw.pop("time_limit_s", 20.0), **kw)
    model.check_solution()
    return model


def reference_pairs(m, radius=None):
    """The old path: every finite entry through ``make_pairs``, then the radius."""
    dem, site = np.nonzero(np.isfinite(m))
    pairs = make_pairs(dem, site, m[dem, site], n_demands=m.shape[0], n_sites=m.shape[1])
    return pairs if radius is None else pairs.within(radius)


def same_pairs(a, b):
    assert (a.n_demands, a.n_sites) == (b.n_demands, b.n_sites)
    for field in ("demand", "site", "cost"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        assert getattr(a, field).dtype == getattr(b, field).dtype


def tied_matrix(seed, n_d=None, n_s=None):
    """Small costs with ties (rounded), missing pairs (inf) and a radius equal to an entry."""
    rng = np.random.default_rng(seed)
    n_d = n_d or int(rng.integers(1, 12))
    n_s = n_s or int(rng.integers(1, 12))
    step = [0.5, 1.0, 3.0][seed % 3]  # coarse steps give many ties
    m = np.round(rng.uniform(0, 12, (n_d, n_s)) / step) * step
    m[rng.random((n_d, n_s)) < rng.uniform(0, 0.6)] = INF
    finite = m[np.isfinite(m)]
    radius = float(rng.choice(finite)) if finite.size else 5.0
    return m, radius


# ------------------------------------------------------------------ pairs from a dense matrix
def test_pairs_from_matrix_matches_the_pair_path():
    for seed in range(300):
        m, radius = tied_matrix(seed)
        same_pairs(pairs_from_matrix(m), reference_pairs(m))
        same_pairs(pairs_from_matrix(m, radius), reference_pairs(m, radius))


@pytest.mark.parametrize("kind", ["floats", "few ties", "many ties"])
def test_both_sorts_give_the_same_order(kind):
    # the nonzero path and the row path (quick sort with its ties put back in site order, or
    # the stable sort when ties are common) must agree exactly
    for seed in range(60):
        rng = np.random.default_rng(seed)
        m = rng.uniform(0, 100, (30, 40))
        if kind == "few ties":
            m.flat[rng.integers(0, m.size, 40)] = m.flat[rng.integers(0, m.size, 40)]
            m[:, 5] = m[:, 9]  # whole columns tied
        elif kind == "many ties":
            m = rng.integers(0, 4, (30, 40)).astype(float)
        m[rng.random(m.shape) < 0.2] = INF
        keep = np.isfinite(m)
        rows = _sorted_rows(m, keep)
        nonzero = _sorted_nonzero(m, keep)
        for a, b in zip(rows, nonzero, strict=True):
            np.testing.assert_array_equal(a, b)
        ref = reference_pairs(m)
        np.testing.assert_array_equal(rows[1], ref.site)


def test_radius_edge_is_covered_and_inf_is_no_candidate():
    m = np.array([[2.0, 2.0 + 1e-12, INF, 0.0], [INF, INF, INF, 2.0]])
    pairs = pairs_from_matrix(m, 2.0)
    assert pairs.demand.tolist() == [0, 0, 1] and pairs.site.tolist() == [3, 0, 3]
    everything = pairs_from_matrix(m)
    assert everything.site.tolist() == [3, 0, 1, 3]  # sorted by cost within each demand


def test_dense_matrix_errors():
    with pytest.raises(ValueError, match="2 NaN"):
        pairs_from_matrix(np.array([[np.nan, 1.0], [np.nan, INF]]), 3.0)
    with pytest.raises(ValueError, match="non-negative"):
        pairs_from_matrix(np.array([[1.0, -0.5]]))
    with pytest.raises(ValueError, match="non-negative"):
        pairs_from_matrix(np.array([[1.0, -INF]]), 3.0)  # -inf is not 'no candidate'
    with pytest.raises(ValueError, match="2-D"):
        pairs_from_matrix(np.ones(3))
    with pytest.raises(ValueError, match="at least one"):
        pairs_from_matrix(np.ones((0, 3)))


def build_both(kind, m, w, radius):
    dem, site = np.nonzero(np.isfinite(m))
    cost, n_s = m[dem, site], m.shape[1]
    p = max(1, n_s // 2)
    if kind == "mclp":
        return (
            MCLP.from_cost_matrix(m, w, radius, p),
            MCLP.from_pairs(dem, site, cost, w, n_sites=n_s, service_radius=radius, p_facilities=p),
        )
    if kind == "lscp":
        return (
            LSCP.from_cost_matrix(m, radius, weights=w),
            LSCP.from_pairs(dem, site, cost, w, n_sites=n_s, service_radius=radius),
        )
    if kind == "pmedian":
        return (
            PMedian.from_cost_matrix(m, w, p),
            PMedian.from_pairs(dem, site, cost, w, n_sites=n_s, p_facilities=p),
        )
    return (
        PCenter.from_cost_matrix(m, p, weights=w),
        PCenter.from_pairs(dem, site, cost, w, n_sites=n_s, p_facilities=p),
    )


@pytest.mark.parametrize("kind", ["mclp", "lscp", "pmedian", "pcenter"])
def test_from_cost_matrix_and_from_pairs_agree(kind):
    solves = 0
    for seed in range(40):
        m, radius = tied_matrix(100 + seed, n_s=int(2 + seed % 6))
        w = np.random.default_rng(seed).integers(0, 9, m.shape[0]).astype(float)
        try:
            a, b = build_both(kind, m, w, radius)
        except InfeasibleInputError as exc:
            with pytest.raises(InfeasibleInputError, match=str(exc).split(":")[0]):
                build_both(kind, m, w, radius)[1]
            continue
        same_pairs(a.pairs, b.pairs)
        if seed % 4 == 0:
            a.solve(time_limit_s=20.0)
            b.solve(time_limit_s=20.0)
            assert a.status == b.status
            if a.status.has_solution:
                a.check_solution()
                b.check_solution()
                solves += 1
                assert a.objective_value == b.objective_value
                np.testing.assert_array_equal(a.selected_sites, b.selected_sites)
                pd.testing.assert_frame_equal(a.assignment, b.assignment)
    assert solves >= 3


# ------------------------------------------------------------------ predefined facilities
def test_predefined_sites_as_indices_or_mask():
    n = 5
    assert as_required_mask([0, 1, 0, 0, 1], n).tolist() == [False, True, False, False, True]
    assert as_required_mask([True, False, False, False, False], n).tolist()[0]
    assert as_required_mask([4, 1], n).tolist() == [False, True, False, False, True]
    assert as_required_mask(np.array([3]), n).sum() == 1 and as_required_mask([], n).sum() == 0
    assert as_required_mask(np.array([2.0, 0.0]), n).tolist()[:3] == [True, False, True]
    # length n_sites and only 0/1: always a mask, never the indices 0 and 1
    assert as_required_mask(np.array([1, 0, 1, 1, 0]), n).tolist() == [1, 0, 1, 1, 0]
    assert as_required_mask(np.array([[0], [1], [0], [0], [0]]), n).sum() == 1  # (n, 1)
    for bad, match in [
        ([1, 1], "more than once"),
        ([5], "outside"),
        ([-1], "outside"),
        ([0.5], "integer"),
        ([4, 3, 2, 1, 0], "0/1 mask"),
        (np.array([True, False]), "bool mask"),
    ]:
        with pytest.raises(ValueError, match=match):
            as_required_mask(bad, n)


def test_predefined_indices_and_mask_give_the_same_plan():
    rng = np.random.default_rng(3)
    m = rng.uniform(0, 10, (30, 8))
    w = rng.integers(1, 9, 30).astype(float)
    a = solved(MCLP.from_cost_matrix(m, w, 3.0, 3, predefined_facilities_arr=[6, 2]))
    mask = np.zeros(8, dtype=int)
    mask[[2, 6]] = 1
    b = solved(MCLP.from_cost_matrix(m, w, 3.0, 3, predefined_facilities_arr=mask))
    assert {2, 6} <= set(a.selected_sites.tolist())
    np.testing.assert_array_equal(a.selected_sites, b.selected_sites)
    c = solved(LSCPB.from_cost_matrix(m, 4.0, predefined_facilities_arr=[5]))
    assert 5 in c.selected_sites


# ------------------------------------------------------------------ capacitated LSCP
def test_capacitated_lscp_needs_a_second_site():
    # one site reaches everybody but holds 4 of the 6 units; site 1 reaches demand 2 only
    m = np.array([[1.0, 9.0], [1.0, 9.0], [1.0, 1.0]])
    plain = solved(LSCP.from_cost_matrix(m, 2.0))
    assert plain.objective_value == 1.0
    cap = solved(
        LSCP.from_cost_matrix(m, 2.0, demand_quantity_arr=[2, 2, 2], facility_capacity_arr=[4, 9])
    )
    assert cap.objective_value == 2.0 and cap.status == SolveStatus.OPTIMAL
    alloc = cap.allocation
    assert set(alloc.columns) == {"demand", "site", "cost", "share", "quantity"}
    load = alloc.groupby("site")["quantity"].sum()
    assert load[0] <= 4 + 1e-6 and cap.assignment.loc[2, "site"] == 1


def test_capacitated_lscp_splits_a_demand_unless_single_source():
    # 3 units at demand 0 and two sites of 2 each: only a split serves it
    m = np.array([[1.0, 1.0]])
    split = solved(LSCP.from_cost_matrix(m, 2.0, None, [3.0], [2.0, 2.0]))
    assert split.objective_value == 2.0
    assert sorted(split.allocation["share"]) == pytest.approx([1 / 3, 2 / 3])
    with pytest.raises(InfeasibleInputError, match="exceeds the largest capacity 2"):
        LSCP.from_cost_matrix(m, 2.0, None, [3.0], [2.0, 2.0], single_source=True)


def test_capacitated_lscp_input_errors():
    m = np.ones((3, 2))
    with pytest.raises(InfeasibleInputError, match=r"Demand greater than capacity \(15 > 10\)"):
        LSCP.from_cost_matrix(m, 2.0, demand_quantity_arr=[5, 5, 5], facility_capacity_arr=[5, 5])
    with pytest.raises(ValueError, match="without facility_capacity_arr"):
        LSCP.from_cost_matrix(m, 2.0, demand_quantity_arr=[1, 1, 1])
    # capacities alone: every demand counts 1, as in spopt
    ones = solved(LSCP.from_cost_matrix(m, 2.0, facility_capacity_arr=[2, 2]))
    assert ones.objective_value == 2.0


def test_capacitated_lscp_checker_catches_tampering():
    m = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 9.0]])
    cap = solved(
        LSCP.from_cost_matrix(m, 2.0, demand_quantity_arr=[2, 2, 2], facility_capacity_arr=[4, 4])
    )
    alloc, frame, sites = cap.allocation.copy(), cap.assignment.copy(), cap.selected_sites.copy()
    assert sites.tolist() == [0, 1]
    half = alloc.assign(share=alloc["share"] / 2, quantity=alloc["quantity"] / 2)
    # demand 1 split 3:1 between sites 0 and 1 (within capacity), or 1:1
    split1 = pd.DataFrame(
        {
            "demand": [0, 1, 1, 2],
            "site": [1, 0, 1, 0],
            "cost": 1.0,
            "share": [1.0, 0.75, 0.25, 1.0],
            "quantity": [2.0, 1.5, 0.5, 2.0],
        }
    )
    cases = {
        "serves 6 > capacity 4": dict(allocation=alloc.assign(site=0, cost=1.0)),
        "summing to 0.5": dict(allocation=half),
        "share x quantity": dict(allocation=alloc.assign(quantity=alloc["quantity"] * 2)),
        "costs differ": dict(allocation=alloc.assign(cost=alloc["cost"] + 1)),
        "summing to 0,": dict(allocation=alloc.iloc[1:]),
        "beyond service_radius": dict(allocation=alloc.assign(site=[0, 0, 1], cost=[1, 1, 9.0])),
        "not allocated to": dict(
            assignment=frame.assign(
                site=np.r_[1 - frame["site"].iloc[0], frame["site"].to_numpy()[1:]]
            )
        ),
        "largest share": dict(allocation=split1, assignment=frame.assign(site=[1, 1, 0])),
        "closed site": dict(selected_sites=np.array([0])),
    }
    for expected, change in cases.items():
        cap.allocation, cap.assignment, cap.selected_sites = alloc.copy(), frame.copy(), sites
        for key, val in change.items():
            setattr(cap, key, val)
        with pytest.raises(SolutionCheckError, match=expected):
            cap.check_solution()
    single = solved(LSCP.from_cost_matrix(m, 2.0, None, [2, 2, 2], [4, 4], single_source=True))
    single.allocation = split1.assign(share=[1.0, 0.5, 0.5, 1.0], quantity=[2.0, 1, 1, 2])
    with pytest.raises(SolutionCheckError, match="split"):
        single.check_solution()


# ------------------------------------------------------------------ backup coverage (LSCP-B)
def test_lscpb_hand_optimum():
    # demand 3 needs site 3, and then demands 0 and 1 need site 0: {0, 3} is the only
    # 2-site cover, and it covers nobody twice
    cover = np.array(
        [
            [1, 1, 0, 0],  # demand 0: sites 0, 1
            [1, 0, 1, 0],  # demand 1: sites 0, 2
            [0, 0, 1, 1],  # demand 2: sites 2, 3
            [0, 0, 0, 1],  # demand 3: site 3 only (never backed up)
        ],
        dtype=bool,
    )
    m = np.where(cover, 1.0, INF)
    b = solved(LSCPB.from_cost_matrix(m, 1.0))
    assert b.p_facilities == 2 and b.status == SolveStatus.OPTIMAL
    assert b.selected_sites.tolist() == [0, 3] and b.objective_value == 0.0
    more = solved(LSCPB.from_cost_matrix(np.where(cover | (np.arange(4) == 0), 1.0, INF), 1.0))
    # site 0 now reaches everybody: p = 1, and one site backs nobody up
    assert more.p_facilities == 1 and more.objective_value == 0.0
    assert list(b.assignment.columns) == ["demand", "site", "cost", "weight", "covering", "backup"]


def test_lscpb_weights_steer_the_backup():
    # sites 0 and 1 each cover both demands: p = 1, and one site backs nobody up
    m = np.array([[1.0, 1.0, 1.0, INF], [1.0, 1.0, INF, 1.0]])
    b = solved(LSCPB.from_cost_matrix(m, 1.0, weights=[5.0, 1.0]))
    assert b.p_facilities == 1 and b.objective_value == 0.0
    # no site covers all three: p = 2; each pair of sites backs up one demand, the heaviest
    m2 = np.array([[1.0, INF, 1.0], [INF, 1.0, 1.0], [1.0, 1.0, INF]])
    two = solved(LSCPB.from_cost_matrix(m2, 1.0, weights=[1.0, 7.0, 2.0]))
    assert two.p_facilities == 2
    assert two.objective_value == 7.0 and two.selected_sites.tolist() == [1, 2]


def test_lscpb_checker_catches_tampering():
    rng = np.random.default_rng(8)
    m = rng.uniform(0, 10, (25, 9))
    b = solved(LSCPB.from_cost_matrix(m, 5.0))
    assert b.objective_value > 0
    frame, sites, info = b.assignment.copy(), b.selected_sites.copy(), b.info
    closed = int(np.setdiff1d(np.arange(9), sites)[0])
    backed = frame.index[frame["backup"]][0]
    cases = {
        "sites open": dict(selected_sites=np.sort(np.r_[sites, closed])),
        "covering": dict(assignment=frame.assign(covering=frame["covering"] + 1)),
        "backup": dict(assignment=frame.assign(backup=~frame["backup"])),
        "objective": dict(info=dataclasses.replace(info, objective_value=info.objective_value + 1)),
    }
    for expected, change in cases.items():
        b.assignment, b.selected_sites, b.info = frame.copy(), sites.copy(), info
        for key, val in change.items():
            setattr(b, key, val)
        with pytest.raises(SolutionCheckError, match=expected):
            b.check_solution()
    b.assignment, b.selected_sites, b.info = frame.copy(), sites.copy(), info
    b.assignment.loc[backed, "covering"] = 1
    with pytest.raises(SolutionCheckError):
        b.check_solution()


def test_lscpb_before_solving_and_errors():
    with pytest.raises(InfeasibleInputError, match="demand 1 has no candidate"):
        LSCPB.from_cost_matrix(np.array([[1.0, 2.0], [30.0, 40.0]]), 10.0)
    b = LSCPB.from_cost_matrix(np.ones((2, 2)), 1.0)
    assert b.p_facilities is None and np.isnan(b.backup_percentage)
    assert b.build().mip is None  # stage 2 waits for p
    b.run(time_limit_s=20.0).check_solution()
    assert b.p_facilities == 1 and b.mip is not None and b.objective_value == 0.0


def test_lscpb_stage1_cut_short_is_not_optimal():
    # a stage 1 stopped by its time limit has not proven p least: feasible, trivial bound
    rng = np.random.default_rng(4)
    m = rng.uniform(0, 10, (25, 9))
    b = LSCPB.from_cost_matrix(m, 5.0)
    real = b.stage1.solve

    def cut_short(options=None, **kw):
        real(options, **kw)
        info = b.stage1.info
        b.stage1.info = dataclasses.replace(info, status=SolveStatus.FEASIBLE, gap=0.5)
        return b.stage1

    b.stage1.solve = cut_short
    solved(b)
    assert b.status == SolveStatus.FEASIBLE
    assert b.best_bound == float((b.n_candidates >= 2).sum()) >= b.objective_value
    assert b.info.stats["stage1_status"] == "feasible"


# ------------------------------------------------------------------ fulfill_predefined_fac
def test_fulfill_predefined_fac_fills_the_site():
    # site 0 is predefined with capacity 3; without fulfilment it takes the cheap demand only
    m = np.array([[1.0, 5.0], [4.0, 1.0], [4.0, 1.0]])
    kw = dict(predefined_facilities_arr=[0], facility_capacities=[3.0, 10.0])
    free = solved(PMedian.from_cost_matrix(m, [1, 1, 1], 2, **kw))
    assert free.objective_value == 3.0
    full = solved(PMedian.from_cost_matrix(m, [1, 2, 1], 2, fulfill_predefined_fac=True, **kw))
    # 3 units at site 0: demand 0 (1) and demand 1 (2)
    assert full.assignment["site"].tolist() == [0, 0, 1]
    assert full.objective_value == 1.0 + 2 * 4.0 + 1.0
    load = full.assignment.groupby("site")["weight"].sum()
    assert load[0] == 3.0
    full.assignment = full.assignment.assign(site=[0, 1, 1], cost=[1.0, 1.0, 1.0])
    with pytest.raises(SolutionCheckError, match="not its capacity"):
        full.check_solution()


def test_fulfill_predefined_fac_errors_and_infeasible():
    m = np.ones((3, 3))
    with pytest.raises(ValueError, match="capacity of the facility is missing"):
        PMedian.from_cost_matrix(m, [1, 1, 1], 2, [1], fulfill_predefined_fac=True)
    with pytest.raises(InfeasibleInputError, match="capacity 5 is larger than the total demand 3"):
        PMedian.from_cost_matrix(m, [1, 1, 1], 2, [1], [1, 5, 1], fulfill_predefined_fac=True)
    with pytest.raises(InfeasibleInputError, match="candidate demands total 1 < its capacity 2"):
        PMedian.from_cost_matrix(
            np.array([[1.0, 1.0], [INF, 1.0], [INF, 1.0]]),
            [1, 1, 1],
            2,
            [0],
            [2, 5],
            fulfill_predefined_fac=True,
        )
    # 2 units must go to site 0, but the demands weigh 3 each: proven infeasible by SCIP
    odd = PMedian.from_cost_matrix(m, [3, 3, 3], 2, [0], [2, 9, 9], fulfill_predefined_fac=True)
    assert odd.solve(time_limit_s=20).status == SolveStatus.INFEASIBLE
    # no predefined site: nothing to fulfil, no capacities needed (as in spopt)
    solved(PMedian.from_cost_matrix(m, [1, 1, 1], 2, fulfill_predefined_fac=True))


# ------------------------------------------------------------------ spopt's own figures
def sf_matrix():
    sf = pd.read_csv(DATA / "sf_network_distance.csv")
    return sf.pivot_table(values="distance", index="DestinationName", columns="name").to_numpy()


def test_spopt_lscpb_san_francisco():
    # spopt test_lscpb.py: backup_perc 81.46341463414633 at 5,000 m; infeasible at 20 m
    b = solved(LSCPB.from_cost_matrix(sf_matrix(), 5000.0))
    assert b.status == SolveStatus.OPTIMAL and b.p_facilities == 8
    assert b.spopt_backup_perc == pytest.approx(81.46341463414633)
    assert b.objective_value == 145 and b.backup_percentage == pytest.approx(100 * 145 / 205)
    with pytest.raises(InfeasibleInputError, match="no candidate site within service_radius 20"):
        LSCPB.from_cost_matrix(sf_matrix(), 20.0)


def school_instance():
    t = pd.read_csv(DATA / "school_journeys.csv")
    cost = t.pivot_table(columns="school", fill_value=10000, index="student", sort=False)
    schools = pd.read_csv(DATA / "schools.csv")
    capacities = schools["Count"].to_numpy()
    priority = {k: schools.index[schools["priority"] == k].to_numpy() for k in (1, 3)}
    return cost["time"].astype(int).to_numpy(), capacities, priority


def test_spopt_capacitated_pmedian_with_fulfilled_schools():
    # spopt test_c_p_median.py: optimal, mean time 87.2; the priority-3 schools can't be
    # fulfilled; fulfilment without capacities and too little capacity are refused
    cost, caps, priority = school_instance()
    demand = np.ones(cost.shape[0])
    kw = dict(predefined_facilities_arr=priority[1], facility_capacities=caps)
    pm = solved(PMedian.from_cost_matrix(cost, demand, 10, fulfill_predefined_fac=True, **kw))
    assert pm.status == SolveStatus.OPTIMAL
    assert pm.objective_value / demand.sum() == pytest.approx(87.2)
    with pytest.raises(InfeasibleInputError, match="can't be fulfilled"):
        PMedian.from_cost_matrix(cost, demand, 10, priority[3], caps, fulfill_predefined_fac=True)
    with pytest.raises(ValueError, match="capacity of the facility is missing"):
        PMedian.from_cost_matrix(cost, demand, 10, priority[1], fulfill_predefined_fac=True)
    with pytest.raises(InfeasibleInputError, match="capacity shortfall"):
        PMedian.from_cost_matrix(
            cost, np.full(cost.shape[0], 5.0), 10, fulfill_predefined_fac=True, **kw
        )
