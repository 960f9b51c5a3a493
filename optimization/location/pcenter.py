"""The p-center model, solved exactly by bisection over the candidate radii."""

from __future__ import annotations

import math
import time
from typing import Any, Self

import numpy as np
import pandas as pd

from optimization.location._base import SOLVER_NAME, SiteModel
from optimization.location._heuristics import greedy_cover, pad_to
from optimization.location._pairs import (
    BoolArray,
    CandidatePairs,
    FloatArray,
    as_required_mask,
    as_weights,
    make_pairs,
    pairs_from_matrix,
)
from optimization.location.lscp import LSCP
from optimization.result import (
    InfeasibleInputError,
    SolutionCheckError,
    SolveStatus,
    relative_gap,
)
from optimization.solver import Deadline, SolveOptions


class PCenter(SiteModel):
    r"""p-center: open exactly ``p`` sites so that the largest cost from a demand to its nearest
    open candidate site is as small as possible.

    Formulation (Daskin 2013, as in spopt, on the sparse candidate set ``P``)::

        minimise    W
        subject to  sum_{j:(i,j) in P} y_ij = 1           for every demand i
                    y_ij <= x_j                           for every (i,j) in P
                    W >= sum_{j:(i,j) in P} c_ij y_ij     for every demand i
                    sum_j x_j = p;  x_j = 1 for every required j
                    x_j, y_ij in {0,1}

    ============  =================================================================
    symbol        meaning
    ============  =================================================================
    c_ij          cost of serving i from j (km or any non-negative unit)
    p             ``p_facilities``
    x_j, y_ij     site j opened; demand i served by j
    W             the largest assigned cost (objective, in the cost unit)
    ============  =================================================================

    ``weights`` are optional and only fill the ``weight`` column of ``assignment``.

    Solve strategy. The LP relaxation of the formulation above is notoriously weak (its bound
    is about the smallest pair cost), so the same optimum is found exactly by the classic
    reduction to set covering (Minieka 1970): the optimal ``W`` is the smallest candidate cost
    ``r`` for which an LSCP with radius ``r`` (required sites fixed) needs at most ``p`` sites.
    ``build()`` lists those candidate radii, starting at ``max_i min_j c_ij`` (every demand needs
    a site); ``solve()`` first bisects with the greedy cover (a start), then bisects with exact
    LSCP MIPs (SCIP). The bound is the smallest radius not yet proven infeasible, so a run cut by
    the time limit reports its true gap and status ``feasible``.
    """

    sense = "min"
    model_name = "PCenter"

    def __init__(
        self,
        pairs: CandidatePairs,
        p_facilities: int,
        required: BoolArray,
        weights: FloatArray | None = None,
        name: str = "p-center",
    ) -> None:
        w = np.ones(pairs.n_demands) if weights is None else weights
        super().__init__(pairs, w, required, name)
        self.p_facilities = int(p_facilities)
        self.levels: FloatArray = np.zeros(0)
        self._check_input()

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: object,
        p_facilities: int,
        predefined_facilities_arr: object = None,
        weights: object = None,
        name: str = "p-center",
    ) -> PCenter:
        """Dense costs (``inf`` = not a candidate); spopt's positional order."""
        return cls._from_candidates(
            pairs_from_matrix(cost_matrix), weights, p_facilities, predefined_facilities_arr, name
        )

    @classmethod
    def from_pairs(
        cls,
        demand_index: object,
        site_index: object,
        cost: object,
        weights: object = None,
        *,
        n_sites: int,
        p_facilities: int,
        n_demands: int | None = None,
        predefined_facilities_arr: object = None,
        name: str = "p-center",
    ) -> PCenter:
        """Sparse pairs; give ``weights`` or ``n_demands``."""
        if weights is None and n_demands is None:
            raise ValueError("PCenter.from_pairs needs weights or n_demands")
        n_d = int(np.asarray(weights).size) if weights is not None else int(n_demands or 0)
        pairs = make_pairs(demand_index, site_index, cost, n_demands=n_d, n_sites=n_sites)
        return cls._from_candidates(pairs, weights, p_facilities, predefined_facilities_arr, name)

    @classmethod
    def _from_candidates(
        cls,
        pairs: CandidatePairs,
        weights: object,
        p_facilities: int,
        predefined_facilities_arr: object,
        name: str,
    ) -> PCenter:
        """The one path of both constructors: validated arrays around sorted pairs."""
        return cls(
            pairs,
            p_facilities,
            as_required_mask(predefined_facilities_arr, pairs.n_sites),
            None if weights is None else as_weights(weights, pairs.n_demands),
            name,
        )

    def _check_input(self) -> None:
        p, n_req = self.p_facilities, int(self.required.sum())
        if p < 1 or p > self.n_sites:
            self._fail(f"p_facilities {p} must be between 1 and the {self.n_sites} sites")
        if p < n_req:
            self._fail(f"p_facilities {p} < {n_req} required sites")
        lonely = np.flatnonzero(self.pairs.pairs_per_demand() == 0)
        if lonely.size:
            self._fail(f"{lonely.size} demand(s) have no candidate site, e.g. demand {lonely[0]}")

    def build(self) -> Self:
        """List the candidate radii: distinct pair costs from ``max_i min_j c_ij`` up."""
        t0 = time.perf_counter()
        nearest = np.full(self.n_demands, np.inf)
        np.minimum.at(nearest, self.pairs.demand, self.pairs.cost)
        floor = float(nearest.max())
        costs = np.unique(self.pairs.cost)
        self.levels = costs[costs >= floor]
        self._build_stats = {
            "candidate_radii": int(self.levels.size),
            "build_time_s": time.perf_counter() - t0,
        }
        return self

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        """Greedy-cover bisection for a start, then exact LSCP bisection (SCIP), within the
        time limit; one thread (each LSCP is SCIP's serial run)."""
        opts = SolveOptions.of(options, **overrides)
        deadline = Deadline(opts.time_limit_s)
        mip_gap, seed = opts.mip_gap, opts.seed
        if self.levels.size == 0:
            self.build()
        levels = self.levels
        stats: dict[str, Any] = {"threads_requested": opts.workers, "threads_used": 1,
                                 "seed": seed}
        stats.update(self._build_stats)

        def objective(mask: BoolArray) -> float:
            _, cost = self.pairs.nearest_open(mask)
            return float(cost.max())

        def level_of(value: float) -> int:
            return int(np.searchsorted(levels, value - 1e-12 * max(1.0, abs(value))))

        # 1. heuristic bisection with the greedy cover
        best: BoolArray | None = None
        lo_h, hi_h = 0, levels.size - 1
        while lo_h <= hi_h:
            mid = (lo_h + hi_h) // 2
            mask = greedy_cover(self.pairs.within(levels[mid]), self.required, None,
                                deadline=deadline)
            if mask is not None and mask.sum() <= self.p_facilities:
                mask = pad_to(mask, self.p_facilities)
                if best is None or objective(mask) < objective(best):
                    best = mask
                hi_h = level_of(objective(mask)) - 1
            else:
                lo_h = mid + 1
        stats["heuristic_time_s"] = deadline.elapsed()
        stats["heuristic_objective"] = objective(best) if best is not None else math.nan

        # 2. exact bisection: every level below `lo` is proven infeasible
        lo = 0
        hi = level_of(objective(best)) if best is not None else levels.size
        steps: list[dict[str, Any]] = []
        proven_infeasible = False
        while lo < hi:
            if (
                best is not None
                and relative_gap(objective(best), float(levels[lo])) <= mip_gap
                and mip_gap > 0
            ):
                break
            if deadline.left() <= 0.01:
                break
            mid = (lo + hi) // 2 if hi < levels.size else levels.size - 1
            verdict, mask = self._test_radius(float(levels[mid]), deadline, seed)
            steps.append({"radius": float(levels[mid]), "verdict": verdict})
            if verdict == "feasible":
                assert mask is not None
                best = pad_to(mask, self.p_facilities)
                hi = level_of(objective(best))
            elif verdict == "infeasible":
                lo = mid + 1
                if mid == levels.size - 1:
                    proven_infeasible = True
                    break
            else:
                break
        stats["bisection_steps"] = steps
        if best is None:
            status = SolveStatus.INFEASIBLE if proven_infeasible else SolveStatus.NO_SOLUTION
            self._set_no_solution(status, float(levels[0]) if levels.size else -math.inf,
                                  SOLVER_NAME, deadline, stats)
            return self
        # every candidate radius below levels[lo] is proven infeasible
        self._set_solution(best, None, float(levels[min(lo, levels.size - 1)]), SOLVER_NAME,
                           deadline, stats)
        return self

    def _test_radius(
        self, radius: float, deadline: Deadline, seed: int
    ) -> tuple[str, BoolArray | None]:
        """Can at most p sites (required included) cover every demand within ``radius``?"""
        try:
            cover = LSCP(self.pairs, radius, self.required)
        except InfeasibleInputError:
            return "infeasible", None
        cover.solve(time_limit_s=deadline.limit(), seed=seed, threads=1)
        if cover.status.has_solution and cover.objective_value <= self.p_facilities + 1e-9:
            mask = np.zeros(self.n_sites, dtype=bool)
            mask[cover.selected_sites] = True
            return "feasible", mask
        if cover.status == SolveStatus.INFEASIBLE or cover.best_bound > self.p_facilities + 1e-9:
            return "infeasible", None
        return "unknown", None

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        site, cost = self.pairs.nearest_open(open_mask)
        obj = float(cost.max()) if (site >= 0).all() else math.inf
        return obj, self._assignment_frame(site, cost)

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        n_open = int(open_mask.sum())
        if n_open != self.p_facilities:
            raise SolutionCheckError(
                f"PCenter: {n_open} sites open, p_facilities is {self.p_facilities}"
            )
        site = frame["site"].to_numpy(dtype=np.int64)
        dem = frame["demand"].to_numpy(dtype=np.int64)
        if (site < 0).any():
            raise SolutionCheckError(f"PCenter: demand {int(dem[site < 0][0])} is not served")
        cost = frame["cost"].to_numpy(dtype=float)
        _, nearest = self.pairs.nearest_open(open_mask)
        if np.any(cost > nearest[dem] + 1e-9):
            raise SolutionCheckError("PCenter: a demand is not served by its nearest open site")
        return float(cost.max())
