"""Backup coverage (LSCP-B): the fewest sites that cover everybody, placed so that as many
demands as possible are covered twice."""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import pandas as pd

from optimization.location._base import SOLVER_NAME, LocationModel
from optimization.location._pairs import (
    BoolArray,
    CandidatePairs,
    FloatArray,
    IntArray,
    as_required_mask,
    as_weights,
    check_radius,
    make_pairs,
    pairs_from_matrix,
)
from optimization.location.lscp import LSCP
from optimization.result import SolutionCheckError, SolveInfo, SolveStatus
from optimization.solver import Deadline, SolveOptions, SparseModel


class LSCPB(LocationModel):
    r"""Location set covering with backup (LSCP-B, Church and Murray 2018, as in spopt): open
    the least number of sites that covers every demand within ``service_radius``, and among
    those plans the one that covers the most demand weight at least twice.

    Solved in two stages, as spopt does. Stage 1 is the LSCP (``LSCP`` with unit costs and
    the required sites): its optimum is ``p``. Stage 2, with ``N_i = {j : (i,j) in P,
    c_ij <= S}``::

        maximise    sum_i w_i u_i
        subject to  sum_{j in N_i} x_j >= 1 + u_i        for every demand i   (backup)
                    sum_j x_j = p                                             (count)
                    x_j = 1                              for every required j (required)
                    u_i = 0                              where |N_i| < 2
                    x_j, u_i in {0,1}

    ============  =================================================================
    symbol        meaning
    ============  =================================================================
    S             ``service_radius`` (same unit as the costs, e.g. km)
    w_i           demand weight (``weights``, default 1: the number of demands, as spopt)
    p             the stage-1 LSCP optimum (``p_facilities`` once solved)
    x_j, u_i      site j opened; demand i covered at least twice
    ============  =================================================================

    Objective units: weight covered twice (number of demands by default). ``assignment``
    gives each demand its nearest open site, with ``covering`` (how many open sites are
    within the radius) and ``backup`` (``covering >= 2``).

    spopt writes the backup row only for demands with at least two candidate sites and leaves
    ``u_i`` of the others free, so its objective (and ``backup_perc``) also counts every demand
    that has a single site within the radius, a constant that changes no plan. This model does
    not count them; ``spopt_backup_perc`` gives spopt's figure (81.46 % on spopt's San
    Francisco test data, where 145 of 205 demands are covered twice and 22 have one site).

    The stage-1 time comes out of ``time_limit_s``. When stage 1 is cut short, its ``p`` is not
    proven least: the answer is then ``feasible`` and its bound only the weight of the demands
    that have two candidate sites.
    """

    sense = "max"
    model_name = "LSCPB"

    def __init__(
        self,
        pairs: CandidatePairs,
        service_radius: float,
        required: BoolArray,
        weights: FloatArray | None = None,
        name: str = "lscp-b",
    ) -> None:
        self.service_radius = check_radius(service_radius)
        w = np.ones(pairs.n_demands) if weights is None else weights
        super().__init__(pairs.within(self.service_radius), w, required, name)
        self.n_candidates = self.pairs.pairs_per_demand()
        lonely = np.flatnonzero(self.n_candidates == 0)
        if lonely.size:
            self._fail(
                f"demand {lonely[0]} has no candidate site within service_radius "
                f"{self.service_radius:g} ({lonely.size} such demand(s))"
            )
        self.stage1 = LSCP(self.pairs, self.service_radius, required, weights=w, name=name)
        self.p_facilities: int | None = None  # the stage-1 optimum, once solved
        self._stage1_mask: BoolArray | None = None
        self._u0 = 0

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: object,
        service_radius: float,
        predefined_facilities_arr: object = None,
        weights: object = None,
        name: str = "lscp-b",
    ) -> LSCPB:
        """Dense costs; spopt's order without its ``solver`` (``cost_matrix, service_radius``,
        then ``predefined_facilities_arr``)."""
        radius = check_radius(service_radius)
        return cls._from_candidates(
            pairs_from_matrix(cost_matrix, radius),
            weights,
            radius,
            predefined_facilities_arr,
            name,
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
        service_radius: float,
        n_demands: int | None = None,
        predefined_facilities_arr: object = None,
        name: str = "lscp-b",
    ) -> LSCPB:
        """Sparse pairs; give ``weights`` or ``n_demands``."""
        if weights is None and n_demands is None:
            raise ValueError("LSCPB.from_pairs needs weights or n_demands")
        n_d = int(np.asarray(weights).size) if weights is not None else int(n_demands or 0)
        return cls._from_candidates(
            make_pairs(demand_index, site_index, cost, n_demands=n_d, n_sites=n_sites),
            weights,
            service_radius,
            predefined_facilities_arr,
            name,
        )

    @classmethod
    def _from_candidates(
        cls,
        pairs: CandidatePairs,
        weights: object,
        service_radius: float,
        predefined_facilities_arr: object,
        name: str,
    ) -> LSCPB:
        return cls(
            pairs,
            service_radius,
            as_required_mask(predefined_facilities_arr, pairs.n_sites),
            None if weights is None else as_weights(weights, pairs.n_demands),
            name,
        )

    # ----------------------------------------------------------------- results
    @property
    def backup_percentage(self) -> float:
        """Share of the demands covered at least twice, in percent (unweighted)."""
        if not self.status.has_solution:
            return math.nan
        return 100.0 * float(self.assignment["backup"].mean())

    @property
    def spopt_backup_perc(self) -> float:
        """spopt's ``backup_perc``: the demands covered twice plus those with a single
        candidate site within the radius, in percent of all demands."""
        if not self.status.has_solution:
            return math.nan
        single = int(np.count_nonzero(self.n_candidates == 1))
        return 100.0 * (int(self.assignment["backup"].sum()) + single) / self.n_demands

    # ------------------------------------------------------------------- solve
    def build(self) -> Self:
        """Assemble stage 2; before the first solve ``p`` is unknown, and this waits for it."""
        if self.p_facilities is not None:
            super().build()
        return self

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        """Stage 1 (the LSCP, exact), then stage 2 with ``p`` fixed, within one time limit."""
        opts = SolveOptions.of(options, **overrides)
        deadline = Deadline(opts.time_limit_s)
        self.stage1.solve(opts, mip_gap=0.0)
        first = self.stage1.info
        stats: dict[str, Any] = {
            "stage1_status": str(first.status),
            "stage1_objective": first.objective_value,
            "stage1_bound": first.best_bound,
            "stage1_time_s": first.wall_time_s,
        }
        if not first.status.has_solution:
            status = (
                SolveStatus.INFEASIBLE
                if first.status == SolveStatus.INFEASIBLE
                else SolveStatus.NO_SOLUTION
            )
            self._set_no_solution(status, math.inf, SOLVER_NAME, deadline, stats)
            return self
        p = int(round(first.objective_value))
        if p != self.p_facilities:
            self.p_facilities, self.mip = p, None  # stage 2 is built for this p
        mask = np.zeros(self.n_sites, dtype=bool)
        mask[self.stage1.selected_sites] = True
        self._stage1_mask = mask
        left = deadline.left()
        super().solve(opts, time_limit_s=None if math.isinf(left) else max(left, 1e-3))
        info = self.info
        stats.update(info.stats)
        if not info.status.has_solution:
            return self
        bound = info.best_bound
        if first.status != SolveStatus.OPTIMAL:
            # p is not proven least: only the demand that can have backup bounds the plan
            bound = float(self.weights[self.n_candidates >= 2].sum())
        self.info = SolveInfo.solved(info.objective_value, bound, sense="max",
                                     solver=SOLVER_NAME, wall_time_s=deadline.elapsed(),
                                     time_limit_s=opts.time_limit_s, stats=stats)
        return self

    # ------------------------------------------------------------------- MIP
    def _define(self, m: SparseModel) -> None:
        assert self.p_facilities is not None  # build() waits for stage 1
        pr = self.pairs
        n_s, n_d = self.n_sites, self.n_demands
        self._x0 = m.add_variables("open", n_s, lb=self.required.astype(float), integer=True)
        two = (self.n_candidates >= 2).astype(float)
        self._u0 = m.add_variables("backed_up", n_d, ub=two, cost=self.weights, integer=True)
        m.add_constraints(
            "backup",
            np.r_[pr.demand, np.arange(n_d)],
            np.r_[self._x0 + pr.site, self._u0 + np.arange(n_d)],
            np.r_[np.ones(pr.n_pairs), -np.ones(n_d)],
            1.0,
            np.inf,
            n_d,
        )
        x = self._x0 + np.arange(n_s)
        p = self.p_facilities
        m.add_constraints("count", np.zeros(n_s, dtype=np.int64), x, 1.0, p, p, 1)

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        return self._stage1_mask  # p sites that cover everybody: feasible for stage 2

    def _covering(self, open_mask: BoolArray) -> IntArray:
        """How many open sites are within the radius of each demand."""
        return np.bincount(self.pairs.demand[open_mask[self.pairs.site]], minlength=self.n_demands)

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        hint = np.zeros(self._u0 + self.n_demands)
        hint[self._x0 : self._x0 + self.n_sites] = open_mask
        hint[self._u0 :] = self._covering(open_mask) >= 2
        return hint

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        site, cost = self.pairs.nearest_open(open_mask)
        covering = self._covering(open_mask)
        backup = covering >= 2
        obj = float(self.weights[backup].sum()) if (site >= 0).all() else -math.inf
        extra = {"covering": covering, "backup": backup}
        return obj, self._assignment_frame(site, cost, extra)

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        n_open = int(open_mask.sum())
        if n_open != self.p_facilities:
            raise SolutionCheckError(
                f"LSCPB: {n_open} sites open, the stage-1 optimum p is {self.p_facilities}"
            )
        first = self.stage1.info
        if first.status == SolveStatus.OPTIMAL and first.objective_value != self.p_facilities:
            raise SolutionCheckError("LSCPB: p differs from the stage-1 optimum")
        dem = frame["demand"].to_numpy(dtype=np.int64)
        site = frame["site"].to_numpy(dtype=np.int64)
        if (site < 0).any():
            raise SolutionCheckError(f"LSCPB: demand {int(dem[site < 0][0])} is not covered")
        if np.any(frame["cost"].to_numpy(dtype=float) > self.service_radius + 1e-9):
            raise SolutionCheckError("LSCPB: a demand is assigned beyond service_radius")
        _, nearest = self.pairs.nearest_open(open_mask)
        if np.any(frame["cost"].to_numpy(dtype=float) > nearest[dem] + 1e-9):
            raise SolutionCheckError("LSCPB: a demand is not reported at its nearest open site")
        covering = self._covering(open_mask)[dem]
        if not np.array_equal(frame["covering"].to_numpy(dtype=np.int64), covering):
            raise SolutionCheckError("LSCPB: 'covering' differs from the open sites in reach")
        backup = frame["backup"].to_numpy(dtype=bool)
        if not np.array_equal(backup, covering >= 2):
            raise SolutionCheckError("LSCPB: 'backup' disagrees with 'covering'")
        return float(self.weights[dem[backup]].sum())
