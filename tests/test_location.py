"""Location models: hand-checked optima, dense/sparse agreement, determinism, input errors and
the solution checker. The brute-force oracle lives in ``test_location_oracle.py``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from optimization.location import LSCP, MCLP, PCenter, PMedian
from optimization.location._cover_search import CoverNeighbourhoodSearch
from optimization.location._pairs import make_pairs
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus
from optimization.solver import Deadline

INF = np.inf


def solved(model, **kw):
    model.solve(time_limit_s=kw.pop("time_limit_s", 20.0), **kw)
    model.check_solution()
    return model


def line_costs(demand_x, site_x):
    return np.abs(np.subtract.outer(np.asarray(demand_x, float), np.asarray(site_x, float)))


# ----------------------------------------------------------------------- hand-built optima
def test_pmedian_two_clusters_on_a_line():
    # demands and sites at 0, 1, 10, 11; the heavy demands (1 and 11) get the sites
    cost = line_costs([0, 1, 10, 11], [0, 1, 10, 11])
    m = solved(PMedian.from_cost_matrix(cost, [1, 3, 1, 3], p_facilities=2))
    assert m.status == SolveStatus.OPTIMAL
    assert m.objective_value == pytest.approx(2.0)  # demands 0 and 10 travel 1 km each
    assert m.selected_sites.tolist() == [1, 3]
    assert m.gap == 0.0
    a = m.assignment
    assert list(a.columns) == ["demand", "site", "cost", "weight"]
    assert a["site"].tolist() == [1, 1, 3, 3]


def test_pmedian_required_site_changes_the_answer():
    cost = line_costs([0, 1, 10, 11], [0, 1, 10, 11])
    m = solved(
        PMedian.from_cost_matrix(cost, [1, 3, 1, 3], 2, predefined_facilities_arr=[1, 0, 0, 0])
    )
    # site 0 is forced, the other goes to 11: 3 * 1 (demand 1) + 1 * 1 (demand 10)
    assert m.objective_value == pytest.approx(4.0)
    assert m.selected_sites.tolist() == [0, 3]


def test_pmedian_capacity_forces_a_split():
    # one site could serve everybody at cost 0 .. but holds only 2 of the 3 units
    cost = np.array([[0.0, 5.0], [0.0, 6.0], [0.0, 7.0]])
    m = solved(PMedian.from_cost_matrix(cost, [1, 1, 1], 2, facility_capacities=[2.0, 3.0]))
    assert m.objective_value == pytest.approx(5.0)  # demand 0 moves to site 1
    assert m.assignment["site"].tolist() == [1, 0, 0]


def test_mclp_hand_optimum_and_covered_flag():
    # site 0 covers {0, 1}, site 1 covers {2}, site 2 covers {1, 2}
    cost = np.array([[1.0, 9.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 1.0]])
    w = [5, 4, 3]
    one = solved(MCLP.from_cost_matrix(cost, w, service_radius=2.0, p_facilities=1))
    assert one.objective_value == 9.0 and one.selected_sites.tolist() == [0]
    two = solved(MCLP.from_cost_matrix(cost, w, 2.0, 2))
    assert two.objective_value == 12.0 and two.status == SolveStatus.OPTIMAL
    assert two.assignment["covered"].all()
    assert list(two.assignment.columns) == ["demand", "site", "cost", "weight", "covered"]


def test_mclp_budget_without_p():
    # site 0 covers {0, 1} but costs 3; site 1 covers {2}, site 2 covers {1}, 1 each
    cost = np.array([[1.0, 9.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 9.0]])
    m = solved(
        MCLP.from_cost_matrix(cost, [5, 4, 3], 2.0, opening_costs=[3.0, 1.0, 1.0], budget=2.0)
    )
    assert m.objective_value == 7.0  # site 0 is unaffordable; sites 1 + 2 cover 4 + 3
    assert m.selected_sites.tolist() == [1, 2]


def test_mclp_capacity():
    # one site covers all three demands of quantity 2 each but holds 4
    cost = np.zeros((3, 1))
    m = solved(
        MCLP.from_cost_matrix(
            cost, [3, 2, 1], 1.0, 1, facility_capacities=[4.0], demand_quantity_arr=[2, 2, 2]
        )
    )
    assert m.objective_value == 5.0
    assert m.assignment["covered"].tolist() == [True, True, False]


def test_lscp_count_and_costs():
    # sites cover {0,1}, {1,2}, {2}, {0}
    cover = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0]], dtype=bool)
    cost = np.where(cover, 1.0, 50.0)
    m = solved(LSCP.from_cost_matrix(cost, service_radius=5.0))
    assert m.objective_value == 2.0
    priced = solved(LSCP.from_cost_matrix(cost, 5.0, opening_costs=[5.0, 5.0, 1.0, 1.0]))
    assert priced.objective_value == 6.0
    assert priced.selected_sites.tolist() in ([0, 2], [1, 3])


def test_pcenter_line():
    cost = line_costs([0, 4, 10], [0, 4, 10, 7])
    one = solved(PCenter.from_cost_matrix(cost, 1))
    assert one.objective_value == 6.0 and one.selected_sites.tolist() == [1]
    two = solved(PCenter.from_cost_matrix(cost, 2))
    assert two.objective_value == 3.0 and two.selected_sites.tolist() == [0, 3]
    assert two.status == SolveStatus.OPTIMAL and two.best_bound == 3.0


# ------------------------------------------------------------- sparse/dense and determinism
def random_instance(seed, n_d=25, n_s=15):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n_d, 2))
    s = rng.uniform(0, 10, (n_s, 2))
    cost = np.sqrt(((d[:, None, :] - s[None, :, :]) ** 2).sum(-1))
    return cost, rng.integers(1, 50, n_d).astype(float)


@pytest.mark.parametrize("kind", ["pmedian", "mclp", "lscp", "pcenter"])
def test_sparse_equals_dense_when_all_pairs_given(kind):
    cost, w = random_instance(1)
    dem, site = np.nonzero(np.ones_like(cost, dtype=bool))
    n_s = cost.shape[1]
    if kind == "pmedian":
        a = PMedian.from_cost_matrix(cost, w, 4)
        b = PMedian.from_pairs(dem, site, cost[dem, site], w, n_sites=n_s, p_facilities=4)
    elif kind == "mclp":
        a = MCLP.from_cost_matrix(cost, w, 2.5, 4)
        b = MCLP.from_pairs(
            dem, site, cost[dem, site], w, n_sites=n_s, service_radius=2.5, p_facilities=4
        )
    elif kind == "lscp":
        a = LSCP.from_cost_matrix(cost, 4.0)
        b = LSCP.from_pairs(
            dem, site, cost[dem, site], n_demands=cost.shape[0], n_sites=n_s, service_radius=4.0
        )
    else:
        a = PCenter.from_cost_matrix(cost, 3)
        b = PCenter.from_pairs(
            dem, site, cost[dem, site], n_demands=cost.shape[0], n_sites=n_s, p_facilities=3
        )
    solved(a)
    solved(b)
    assert a.status == b.status == SolveStatus.OPTIMAL
    assert a.objective_value == pytest.approx(b.objective_value, rel=1e-9)
    np.testing.assert_array_equal(a.selected_sites, b.selected_sites)
    pd.testing.assert_frame_equal(a.assignment, b.assignment)


@pytest.mark.parametrize("kind", ["pmedian", "mclp"])
def test_same_input_and_seed_give_the_same_solution(kind):
    cost, w = random_instance(7, n_d=60, n_s=40)

    def make():
        if kind == "pmedian":
            return PMedian.from_cost_matrix(cost, w, 6)
        return MCLP.from_cost_matrix(cost, w, 2.0, 5)

    first = solved(make(), seed=3)
    second = solved(make(), seed=3)
    np.testing.assert_array_equal(first.selected_sites, second.selected_sites)
    pd.testing.assert_frame_equal(first.assignment, second.assignment)
    assert first.objective_value == second.objective_value


def test_radius_pairs_beyond_the_radius_are_ignored():
    cost, w = random_instance(2)
    dem, site = np.nonzero(cost <= 6.0)  # a radius-6 pair list, solved with radius 3
    sparse = MCLP.from_pairs(
        dem, site, cost[dem, site], w, n_sites=cost.shape[1], service_radius=3.0, p_facilities=3
    )
    dense = MCLP.from_cost_matrix(cost, w, 3.0, 3)
    assert solved(sparse).objective_value == solved(dense).objective_value


def test_one_shot_run_and_info():
    cost, w = random_instance(3)
    m = PMedian.from_cost_matrix(cost, w, 3).run(time_limit_s=20.0, seed=1)
    m.check_solution()
    info = m.info
    assert info.solver == "scip" and info.sense == "min"
    assert info.stats["variables"] == cost.size + cost.shape[1]
    assert info.stats["solution_source"] in ("heuristic", "mip")
    assert m.best_bound <= m.objective_value + 1e-9


def test_time_limited_is_not_called_optimal_unless_proven():
    cost, w = random_instance(11, n_d=300, n_s=250)
    m = MCLP.from_cost_matrix(cost, w, 0.9, 25).solve(time_limit_s=0.5, seed=0)
    m.check_solution()
    if m.status == SolveStatus.OPTIMAL:
        assert m.gap == 0.0 and m.best_bound == m.objective_value
    else:
        assert m.status == SolveStatus.FEASIBLE and m.gap > 0


# ------------------------------------------------------------------------- input errors
def test_lscp_demand_without_candidate_names_the_numbers():
    cost = np.array([[1.0, 2.0], [30.0, 40.0], [3.0, 12.0]])
    with pytest.raises(
        InfeasibleInputError,
        match=r"demand 1 has no candidate site within "
        r"service_radius 10",
    ):
        LSCP.from_cost_matrix(cost, 10.0)


def test_required_sites_exceed_p():
    cost = np.ones((3, 4))
    with pytest.raises(InfeasibleInputError, match=r"p_facilities 1 < 2 required sites"):
        PMedian.from_cost_matrix(cost, np.ones(3), 1, predefined_facilities_arr=[1, 1, 0, 0])
    with pytest.raises(InfeasibleInputError, match=r"p_facilities 1 < 2 required sites"):
        MCLP.from_cost_matrix(cost, np.ones(3), 2.0, 1, predefined_facilities_arr=[1, 1, 0, 0])
    with pytest.raises(InfeasibleInputError, match=r"p_facilities 1 < 2 required sites"):
        PCenter.from_cost_matrix(cost, 1, predefined_facilities_arr=[1, 1, 0, 0])


def test_capacity_shortfall_total():
    cost = np.ones((3, 3))
    with pytest.raises(InfeasibleInputError, match=r"total demand 30 exceeds 25"):
        PMedian.from_cost_matrix(cost, [10, 10, 10], 2, facility_capacities=[5, 20, 4])


def test_pmedian_demand_without_pairs():
    with pytest.raises(InfeasibleInputError, match=r"demand 2"):
        PMedian.from_pairs([0, 1], [0, 1], [1.0, 1.0], [1, 1, 1], n_sites=2, p_facilities=1)


def test_budget_errors():
    cost = np.ones((2, 3))
    with pytest.raises(InfeasibleInputError, match=r"cheapest 2 sites cost 7 > budget 5"):
        MCLP.from_cost_matrix(cost, [1, 1], 2.0, 2, opening_costs=[3, 4, 9], budget=5)
    with pytest.raises(InfeasibleInputError, match=r"cheapest covering site costs 9 > budget 5"):
        LSCP.from_cost_matrix(
            np.array([[1.0, 1.0], [9.0, 1.0]]), 2.0, opening_costs=[1, 9], budget=5
        )


def test_bad_data_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        PMedian.from_cost_matrix(np.array([[np.nan, 1.0]]), [1], 1)
    with pytest.raises(ValueError, match="duplicate"):
        PMedian.from_pairs([0, 0], [1, 1], [1.0, 2.0], [1], n_sites=2, p_facilities=1)
    with pytest.raises(ValueError, match="weights"):
        PMedian.from_cost_matrix(np.ones((2, 2)), [1, -1], 1)
    with pytest.raises(ValueError, match="0/1 mask"):
        MCLP.from_cost_matrix(np.ones((2, 3)), [1, 1], 1.0, 1, predefined_facilities_arr=[2, 0, 1])
    with pytest.raises(ValueError, match="outside"):
        MCLP.from_cost_matrix(np.ones((2, 3)), [1, 1], 1.0, 1, predefined_facilities_arr=[3])


# ------------------------------------------------------------------ the checker catches lies
def _tampered(model, **changes):
    for key, value in changes.items():
        setattr(model, key, value)
    return model


def test_check_solution_catches_tampering():
    cost, w = random_instance(5)
    m = solved(PMedian.from_cost_matrix(cost, w, 4))
    sites, frame, info = m.selected_sites.copy(), m.assignment.copy(), m.info

    def restore():
        m.selected_sites, m.assignment, m.info = sites.copy(), frame.copy(), info

    closed = int(np.setdiff1d(np.arange(cost.shape[1]), sites)[0])
    cases = {
        "sites open": dict(selected_sites=np.sort(np.r_[sites, closed])),
        "closed": dict(assignment=frame.assign(site=np.r_[closed, frame["site"].to_numpy()[1:]])),
        "objective": dict(
            info=dataclasses.replace(info, objective_value=info.objective_value * 0.9)
        ),
        "bound": dict(info=dataclasses.replace(info, best_bound=info.objective_value * 1.1)),
        "gap": dict(info=dataclasses.replace(info, gap=0.5)),
        "one row per demand": dict(assignment=frame.iloc[1:]),
    }
    for expected, change in cases.items():
        restore()
        with pytest.raises(SolutionCheckError, match=expected):
            _tampered(m, **change).check_solution()
    restore()
    m.check_solution()


def test_check_solution_catches_coverage_and_capacity_lies():
    cost = np.array([[1.0, 9.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 1.0]])
    m = solved(MCLP.from_cost_matrix(cost, [5, 4, 3], 2.0, 1))
    frame = m.assignment.copy()
    m.assignment = frame.assign(covered=[True, False, False], site=[0, -1, -1])
    with pytest.raises(SolutionCheckError, match="not counted as covered"):
        m.check_solution()
    cap = solved(
        PMedian.from_cost_matrix(
            np.array([[0.0, 5.0], [0.0, 6.0], [0.0, 7.0]]),
            [1, 1, 1],
            2,
            facility_capacities=[2.0, 3.0],
        )
    )
    cap.assignment = cap.assignment.assign(site=[0, 0, 0], cost=[0.0, 0.0, 0.0])
    with pytest.raises(SolutionCheckError, match="capacity"):
        cap.check_solution()
    lscp = solved(LSCP.from_cost_matrix(np.array([[1.0, 9.0], [9.0, 1.0]]), 2.0))
    lscp.selected_sites = np.array([0])
    with pytest.raises(SolutionCheckError):
        lscp.check_solution()


def test_unsolved_model_has_nothing_to_check():
    m = PMedian.from_cost_matrix(np.ones((2, 2)), [1, 1], 1)
    assert m.status == SolveStatus.NOT_SOLVED
    with pytest.raises(SolutionCheckError, match="no solution"):
        m.check_solution()


# ------------------------------------------------- site dominance and neighbourhood search
@pytest.mark.parametrize("with_costs", [False, True])
def test_dominated_sites_match_set_inclusion(with_costs):
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n_d, n_s = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        cover = rng.random((n_d, n_s)) < 0.4
        cost = rng.integers(1, 4, n_s).astype(float) if with_costs else None
        dem, site = np.nonzero(cover)
        pairs = make_pairs(dem, site, np.zeros(dem.size), n_demands=n_d, n_sites=n_s)
        f = np.zeros(n_s) if cost is None else cost
        sets = [frozenset(np.flatnonzero(cover[:, j]).tolist()) for j in range(n_s)]

        expected = [
            any(
                k != j
                and sets[j] <= sets[k]
                and f[k] <= f[j]
                and (sets[j] < sets[k] or f[k] < f[j] or k < j)
                for k in range(n_s)
            )
            for j in range(n_s)
        ]
        assert pairs.dominated_sites(cost).tolist() == expected, f"seed {seed}"


def test_mclp_fixes_dominated_sites_closed_and_keeps_enough():
    # site 1 covers a subset of site 0's demands, site 2 the same set as site 0
    cost = np.array([[1.0, 1.0, 1.0, INF], [1.0, INF, 1.0, INF], [INF, INF, INF, 1.0]])
    m = MCLP.from_cost_matrix(cost, [1, 1, 1], 2.0, p_facilities=2)
    assert m.allowed.tolist() == [True, False, False, True]
    three = MCLP.from_cost_matrix(cost, [1, 1, 1], 2.0, p_facilities=3)
    assert three.allowed.sum() == 3  # p = 3 needs three sites, useless or not
    solved(three)
    assert three.objective_value == 3.0 and three.status == SolveStatus.OPTIMAL


def _clustered(seed, n_d=500, n_s=900):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 100, (30, 2))
    d = centres[rng.integers(30, size=n_d)] + rng.normal(0, 4, (n_d, 2))
    s = centres[rng.integers(30, size=n_s)] + rng.normal(0, 4, (n_s, 2))
    dist = np.sqrt(((d[:, None, :] - s[None, :, :]) ** 2).sum(-1))
    return dist, rng.integers(1, 1000, n_d).astype(float)


def test_neighbourhood_search_keeps_p_and_required_and_never_loses():
    dist, w = _clustered(5, n_d=1500, n_s=1200)
    required = np.zeros(dist.shape[1], dtype=bool)
    required[[3, 17]] = True
    m = MCLP.from_cost_matrix(dist, w, 3.0, 40, predefined_facilities_arr=required)
    assert (~m.allowed).sum() > 0 and m.allowed[required].all()
    assert m.allowed.sum() > 2 * 15 * CoverNeighbourhoodSearch.k_max  # regions, not everything
    pairs = m.pairs
    start = np.zeros(m.n_sites, dtype=bool)
    start[np.flatnonzero(m.allowed & ~required)[:38]] = True
    start |= required
    search = CoverNeighbourhoodSearch(pairs, w, required, m.allowed)
    before = search.covered_weight(start)
    best, stats = search.run(start, 0, max_steps=12, deadline=Deadline(60))
    assert best.sum() == 40 and best[required].all() and not best[~m.allowed].any()
    assert stats["lns_steps"] >= 1 and stats["lns_kept"] >= 1
    assert search.covered_weight(best) == before + stats["lns_gain"] > before


def test_mclp_two_threads_agree_with_one_and_check():
    dist, w = _clustered(6, n_d=200, n_s=300)
    one = solved(MCLP.from_cost_matrix(dist, w, 3.0, 12), threads=1, seed=1)
    two = solved(MCLP.from_cost_matrix(dist, w, 3.0, 12), threads=2, seed=1)
    assert one.info.stats["threads_used"] == 1 and two.info.stats["threads_used"] == 2
    assert one.status == two.status == SolveStatus.OPTIMAL
    assert one.objective_value == two.objective_value
