"""The solver core: options, the deadline, honest bounds, and the status that agrees with the gap
in every model, under time limits too."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import pytest
from disposition_oracle import M, brute_force, random_instance
from scipy.spatial import cKDTree

from optimization import MCLP, DispositionModel, PMedian, SolveStatus, TransferModel
from optimization.result import SolutionCheckError, SolveInfo
from optimization.solver import (
    Deadline,
    SolveOptions,
    SparseModel,
    check_info,
    finite_or_inf,
    machine_threads,
    proven_bound,
)


# ------------------------------------------------------------------------------- the pieces
def test_solver_infinities_stay_infinite() -> None:
    assert finite_or_inf(1e20) == math.inf and finite_or_inf(-1e20) == -math.inf
    assert finite_or_inf(123.5) == 123.5 and math.isnan(finite_or_inf(math.nan))


def test_a_bound_beyond_a_feasible_objective_proves_nothing() -> None:
    # SCIP stopped before its first bound answers 0.0 for a maximisation with plan 876,309
    assert proven_bound(0.0, 876_309.0, "max") == math.inf
    assert proven_bound(1e6, 10.0, "min") == -math.inf
    # rounding noise is clipped; a whole-number objective rounds the bound inward
    assert proven_bound(100.0000000001, 100.0, "min") == 100.0
    assert proven_bound(907_536.7, 905_550.0, "max", integral=True) == 907_536.0
    assert proven_bound(99.2, 120.0, "min", integral=True) == 100.0
    assert proven_bound(math.nan, 5.0, "max") == math.inf


def _info(status: SolveStatus, obj: float, bound: float, gap: float | None = None,
          sense: str = "min") -> SolveInfo:
    from optimization.result import relative_gap
    g = relative_gap(obj, bound, sense) if gap is None else gap
    return SolveInfo(status, obj, bound, g, "test", 0.0, None, sense)


def test_check_info_holds_status_gap_and_bound_together() -> None:
    check_info(_info(SolveStatus.OPTIMAL, 100.0, 100.0), "m")
    check_info(_info(SolveStatus.FEASIBLE, 100.0, 67.0), "m")
    check_info(_info(SolveStatus.FEASIBLE, 100.0, -math.inf), "m")
    check_info(_info(SolveStatus.FEASIBLE, 100.0, math.inf, sense="max"), "m")
    with pytest.raises(SolutionCheckError, match="called optimal with a gap of 33"):
        check_info(_info(SolveStatus.OPTIMAL, 100.0, 67.0), "m")
    with pytest.raises(SolutionCheckError, match="called feasible"):
        check_info(_info(SolveStatus.FEASIBLE, 100.0, 100.0), "m")
    with pytest.raises(SolutionCheckError, match="wrong side"):
        check_info(_info(SolveStatus.FEASIBLE, 100.0, 120.0), "m")
    with pytest.raises(SolutionCheckError, match="wrong side"):
        check_info(_info(SolveStatus.FEASIBLE, 100.0, 0.0, sense="max"), "m")
    with pytest.raises(SolutionCheckError, match="reported gap"):
        check_info(_info(SolveStatus.FEASIBLE, 100.0, 50.0, gap=0.1), "m")
    with pytest.raises(SolutionCheckError, match="missing"):
        check_info(_info(SolveStatus.FEASIBLE, 100.0, math.nan, gap=math.inf), "m")


def test_solve_options_one_set_of_defaults() -> None:
    opts = SolveOptions()
    assert (opts.time_limit_s, opts.mip_gap, opts.threads, opts.seed, opts.node_limit) == (
        60.0, 0.0, None, 0, None)
    assert opts.workers == machine_threads() >= 1
    assert SolveOptions.of(opts, threads=1, seed=None).workers == 1
    assert SolveOptions.of(None, mip_gap=None).mip_gap == 0.0
    with pytest.raises(TypeError, match="time_limit"):
        SolveOptions.of(None, time_limit=5)
    for bad in ({"time_limit_s": 0}, {"mip_gap": -1}, {"threads": 0}, {"node_limit": 0},
                {"time_limit_s": math.inf}):
        with pytest.raises(ValueError):
            SolveOptions(**bad)  # type: ignore[arg-type]


def test_deadline_shares_and_never_runs_backwards() -> None:
    none = Deadline(None)
    assert none.left() == math.inf and not none.expired() and none.limit() is None
    assert none.share(0.5) is none and none.earlier(2).left() <= 2
    d = Deadline(10.0)
    assert 9 < d.left() <= 10 and 4 < d.share(0.5).left() <= 5
    assert d.earlier(1).left() <= 1 and d.earlier(100).end == d.end
    past = Deadline(1.0, start=time.perf_counter() - 5)
    assert past.expired() and past.left() == 0.0 and past.limit() == 0.01


def test_sparse_model_names_its_families_once() -> None:
    m = SparseModel(sense="max")
    x = m.add_variables("x", 3, cost=[1.0, 2.0, 3.0], integer=True)
    m.add_constraints("count", np.zeros(3, dtype=np.int64), x + np.arange(3), 1.0, -np.inf, 2.0,
                      1)
    assert m.variables == {"x": slice(0, 3)} and m.constraints == {"count": slice(0, 1)}
    with pytest.raises(ValueError, match="defined twice"):
        m.add_variables("x", 1, integer=False)
    for backend in ("scip", "highs"):
        out = m.solve(backend=backend, deadline=Deadline(10))
        assert out.proven and out.objective == pytest.approx(5.0) and out.bound == (
            pytest.approx(5.0))
    lp = m.solve(backend="glop", relax=True)
    assert lp.proven and lp.objective == pytest.approx(5.0)


# ------------------------------------------------------------------- time limits, big models
def _within_limit(wall_s: float, limit_s: float) -> bool:
    return wall_s <= limit_s + max(0.1 * limit_s, 0.2)


@pytest.fixture(scope="module")
def big_mclp_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """2,500 random points (numpy default_rng(1)) as demands and sites, radius 6."""
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 100, (2_500, 2))
    w = rng.integers(1, 1_000, 2_500).astype(float)
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    dem, site = np.nonzero(dist <= 6.0)
    return dem, site, dist[dem, site], w


@pytest.mark.parametrize("limit_s", [0.05, 0.3, 1.0])
@pytest.mark.parametrize("threads", [1, 2])
def test_mclp_under_a_short_limit_is_honest_and_on_time(big_mclp_pairs, limit_s: float,
                                                        threads: int) -> None:
    dem, site, cost, w = big_mclp_pairs
    m = MCLP.from_pairs(dem, site, cost, w, n_sites=2_500, service_radius=6.0,
                        p_facilities=50).build()
    t0 = time.perf_counter()
    m.solve(time_limit_s=limit_s, threads=threads)
    wall = time.perf_counter() - t0
    assert _within_limit(wall, limit_s), wall
    assert m.info.status is SolveStatus.FEASIBLE
    assert m.info.best_bound == math.inf or m.info.best_bound >= m.info.objective_value
    assert m.info.best_bound != 0.0 and m.info.gap == m.info.gap  # never NaN
    m.check_solution()


def test_national_size_pmedian_ends_on_time_with_a_bound() -> None:
    rng = np.random.default_rng(3)
    n_d, n_s, k = 3_321, 10_035, 50
    dist, idx = cKDTree(rng.uniform(0, 1_000, (n_s, 2))).query(rng.uniform(0, 1_000, (n_d, 2)),
                                                                k)
    w = rng.integers(100, 100_000, n_d).astype(float)
    m = PMedian.from_pairs(np.repeat(np.arange(n_d), k), idx.ravel(), dist.ravel(), w,
                           n_sites=n_s, p_facilities=300).build()
    t0 = time.perf_counter()
    m.solve(time_limit_s=1.0)
    assert _within_limit(time.perf_counter() - t0, 1.0)
    assert m.info.status is SolveStatus.FEASIBLE and math.isfinite(m.info.best_bound)
    m.check_solution()


# ---------------------------------------------------------------------------- disposition
def _coupled(seed: int) -> tuple[dict, DispositionModel] | None:
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, n_p=int(rng.integers(2, 5)), n_c=int(rng.integers(2, 4)))
    inst.pop("province_budget_vnd", None)
    inst["budget_vnd"] = int(rng.integers(0, 400)) * M
    model = DispositionModel.from_frames(**inst)
    model.group_nnz = 1  # every independent block its own group, as in a national run
    try:
        model.build()
    except ValueError:  # fixed uses above the budget: nothing to solve
        return None
    return (inst, model) if model.national_row >= 0 else None


def test_coupled_national_budget_keeps_its_proof() -> None:
    """A national budget over independent groups: without a time limit and with mip_gap 0 the
    plan is proven optimal and agrees with brute force."""
    coupled = 0
    for seed in range(400):
        case = _coupled(seed)
        if case is None:
            continue
        inst, model = case
        coupled += 1
        model.run(time_limit_s=None, mip_gap=0.0)
        assert model.info.status is SolveStatus.OPTIMAL, (seed, model.info.gap)
        assert model.info.objective_value == pytest.approx(brute_force(inst).objective, abs=0.5)
        if coupled == 40:
            break
    assert coupled == 40


def _counting(model: Any) -> list[int]:
    """Count the model's group solves: the list's one item is the count."""
    calls = [0]
    inner = model._solve_group

    def counted(*a: Any, **k: Any) -> Any:
        calls[0] += 1
        return inner(*a, **k)

    model._solve_group = counted
    return calls


@pytest.mark.parametrize("hint", [None, 1.0, 20.0, 0.05])
def test_lagrangian_plan_fits_the_budget_it_prices(hint: float | None) -> None:
    """When the budget binds, the LP plan handed to rounding is the blend of the bracket's
    plans that spends the whole budget and keeps every group's rows (the fitting end alone
    may renovate nothing). A search begun at an earlier price (a re-plan's: the cold
    search's price times ``hint``) ends at the same bound, never above the whole LP's."""
    binding = 0
    rounds = [0, 0]  # group LPs solved from zero and from the hint
    for seed in range(400):
        case = _coupled(seed)
        if case is None:
            continue
        model = case[1]
        groups = [(np.flatnonzero(model.col_group == g), np.flatnonzero(model.row_group == g))
                  for g in range(model.n_groups)]
        order = list(range(model.n_groups))
        calls = _counting(model)
        x, bound, lagrangian = model._lp_phase(groups, order, 1, math.inf, 0, 0.0)
        cold_calls = calls[0]
        assert lagrangian and np.isfinite(bound).all()
        unpriced = sum(model._solve_group(*g, integer=False, deadline=Deadline(None),
                                          options=SolveOptions()).x @ model.budget_coef[g[0]]
                       for g in groups)
        if unpriced <= model.budget_vnd:
            continue
        binding += 1
        if hint is not None:
            cold, price = float(bound.sum()), model.budget_price
            assert price > 0
            calls[0] = 0
            x, bound, lagrangian = model._lp_phase(groups, order, 1, math.inf, 0, 0.0,
                                                   price * hint)
            assert lagrangian and np.isfinite(bound).all()
            rounds[0] += cold_calls
            rounds[1] += calls[0]
            assert bound.sum() == pytest.approx(cold, rel=1e-4, abs=1.0)
        whole = model._solve_group(np.arange(model.n_var), np.arange(model.matrix.shape[0]),
                                   integer=False, deadline=Deadline(None),
                                   options=SolveOptions())
        assert bound.sum() <= whole.bound + 1e-6 * abs(whole.bound) + 1.0
        assert x @ model.budget_coef == pytest.approx(model.budget_vnd, rel=1e-6)
        ax = model.matrix @ x
        own = model.row_group >= 0
        assert (ax[own] >= model.row_lb[own] - 1e-6).all()
        assert (ax[own] <= model.row_ub[own] + 1e-6).all()
        assert (x >= model.lb - 1e-9).all() and (x <= model.ub + 1e-9).all()
        if binding == 20:
            break
    assert binding == 20
    if hint == 1.0:  # the price is found again in fewer rounds than from zero
        assert rounds[1] < 0.8 * rounds[0], rounds


def test_disposition_check_rejects_optimal_with_a_gap() -> None:
    case = next(c for c in map(_coupled, range(200)) if c is not None)
    model = case[1].run(time_limit_s=None)
    o = model.info.objective_value
    model.info = dataclasses.replace(model.info, best_bound=0.67 * o, gap=0.33)
    with pytest.raises(SolutionCheckError, match="called optimal with a gap of 33"):
        model.check_solution()


def test_transfer_info_is_checked_too() -> None:
    import pandas as pd
    supplies = pd.DataFrame({"holder_code": ["a"], "category": ["car"], "surplus": [2],
                             "lon": [105.0], "lat": [21.0]})
    demands = pd.DataFrame({"commune_code": ["b"], "category": ["car"], "shortfall": [1],
                            "lon": [105.1], "lat": [21.1]})
    m = TransferModel.from_frames(supplies, demands, cost_per_km_vnd=1_000,
                                  unmet_penalty_vnd=10**9).run()
    assert m.info.status is SolveStatus.OPTIMAL and m.info.gap == 0.0
    m.info = dataclasses.replace(m.info, status=SolveStatus.FEASIBLE)
    with pytest.raises(SolutionCheckError, match="called feasible"):
        m.check_solution()
