"""Shared machinery of the location models: sites and pairs, the checks, and the solve loop
(heuristic start -> improvement -> SCIP with the start as hint -> honest status, bound, gap).

SCIP (``optimization.solver``, backend ``scip``) solves all the MIPs: it takes float
coefficients (km, population) as they are, accepts a start and proves bounds from its LP with
cuts; its own run is single-threaded and deterministic for a seed. With two or more threads a
model's improvement phase (MCLP's neighbourhood search, p-median's kicks) runs in the calling
thread while SCIP, its primal heuristics off (``BOUND_FOCUS``), works on the whole model for the
bound in a second one: model_builder releases the GIL while SCIP solves. The measurements behind
these choices are in benchmarks/RESULTS.md. Objectives are in the model's own units (cost unit x
weight, or weight).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Self

import numpy as np
import pandas as pd

from optimization.location._pairs import BoolArray, CandidatePairs, FloatArray, IntArray
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveInfo, SolveStatus
from optimization.solver import (
    Deadline,
    MipResult,
    Runs,
    SolveOptions,
    SparseModel,
    check_info,
    proven_bound,
    tighter,
)

SOLVER_NAME = "scip"

# SCIP's primal heuristics, switched off when a neighbourhood search beside SCIP supplies the
# incumbents and SCIP is there for the bound (the hint and trivial solutions still count).
_PRIMAL_HEURISTICS = (
    "actconsdiving adaptivediving alns bound clique coefdiving conflictdiving crossover dins "
    "distributiondiving dps dualval farkasdiving feaspump fixandinfer fracdiving gins "
    "guideddiving intdiving intshifting linesearchdiving localbranching locks lpface mpec "
    "multistart mutation objpscostdiving octane ofins oneopt padm proximity pscostdiving "
    "randrounding rens repair rins rootsoldiving rounding scheduler shiftandpropagate shifting "
    "simplerounding trustregion twoopt undercover vbounds veclendiving zeroobj zirounding"
).split()
BOUND_FOCUS = "".join(f"heuristics/{h}/freq = -1\n" for h in _PRIMAL_HEURISTICS) + (
    "separating/maxstallroundsroot = -1\n"
)


class SiteModel(Runs):
    """What every location model shares: sites, demands and pairs, the result frames and
    ``check_solution``. Subclasses give ``build``, ``solve``, ``_evaluate`` (objective and
    assignment of an open-site mask) and ``_check`` (their own constraints)."""

    sense = "min"
    model_name = "location"

    def __init__(self, pairs: CandidatePairs, weights: FloatArray, required: BoolArray, name: str):
        self.pairs = pairs
        self.weights = weights
        self.required = required
        self.name = name
        self.info: SolveInfo = SolveInfo.not_solved()
        self.selected_sites: IntArray = np.zeros(0, dtype=np.int64)
        self.assignment: pd.DataFrame = _empty_assignment()
        self._build_stats: dict[str, Any] = {}

    # ----------------------------------------------------------------- public API
    @property
    def n_demands(self) -> int:
        return self.pairs.n_demands

    @property
    def n_sites(self) -> int:
        return self.pairs.n_sites

    @property
    def status(self) -> SolveStatus:
        return self.info.status

    @property
    def objective_value(self) -> float:
        return self.info.objective_value

    @property
    def best_bound(self) -> float:
        return self.info.best_bound

    @property
    def gap(self) -> float:
        return self.info.gap

    def check_solution(self) -> Self:
        """Recompute every constraint and the objective from ``selected_sites`` and
        ``assignment`` alone; raise ``SolutionCheckError`` on any violation."""
        if not self.info.status.has_solution:
            raise SolutionCheckError(f"{self.model_name}: no solution to check ({self.status})")
        sites = np.asarray(self.selected_sites)
        if sites.size and (sites.min() < 0 or sites.max() >= self.n_sites):
            raise SolutionCheckError(f"{self.model_name}: selected site index out of range")
        if np.unique(sites).size != sites.size:
            raise SolutionCheckError(f"{self.model_name}: selected_sites holds duplicates")
        if not np.all(np.diff(sites) > 0):
            raise SolutionCheckError(f"{self.model_name}: selected_sites is not sorted")
        open_mask = np.zeros(self.n_sites, dtype=bool)
        open_mask[sites] = True
        missing = np.flatnonzero(self.required & ~open_mask)
        if missing.size:
            raise SolutionCheckError(
                f"{self.model_name}: required sites not selected: {missing[:10].tolist()}"
            )
        frame = self.assignment
        dem = frame["demand"].to_numpy(dtype=np.int64)
        if dem.size != self.n_demands or not np.array_equal(np.sort(dem), np.arange(dem.size)):
            raise SolutionCheckError(f"{self.model_name}: assignment must have one row per demand")
        if not np.allclose(frame["weight"].to_numpy(dtype=float), self.weights[dem]):
            raise SolutionCheckError(f"{self.model_name}: assignment weights differ from input")
        site = frame["site"].to_numpy(dtype=np.int64)
        assigned = site >= 0
        if np.any(~open_mask[site[assigned]]):
            bad = dem[assigned][~open_mask[site[assigned]]]
            raise SolutionCheckError(
                f"{self.model_name}: demands {bad[:10].tolist()} assigned to a closed site"
            )
        cost = self.pairs.lookup(dem[assigned], site[assigned])
        if np.isnan(cost).any():
            bad = dem[assigned][np.isnan(cost)]
            raise SolutionCheckError(
                f"{self.model_name}: demands {bad[:10].tolist()} assigned to a non-candidate site"
            )
        reported = frame["cost"].to_numpy(dtype=float)[assigned]
        if not np.allclose(reported, cost, rtol=1e-9, atol=1e-9):
            raise SolutionCheckError(f"{self.model_name}: assignment costs differ from the pairs")
        objective = self._check(open_mask, frame)
        if not _close(objective, self.objective_value):
            raise SolutionCheckError(
                f"{self.model_name}: recomputed objective {objective!r} != reported "
                f"{self.objective_value!r}"
            )
        check_info(self.info, self.model_name)
        return self

    def build(self) -> Self:
        raise NotImplementedError

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        raise NotImplementedError

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        raise NotImplementedError

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        raise NotImplementedError

    def _set_solution(self, mask: BoolArray, values: FloatArray | None, bound: float,
                      solver: str, deadline: Deadline, stats: dict[str, Any]) -> None:
        obj, frame = self._evaluate(mask, values)
        bound = proven_bound(bound, obj, self.sense, integral=self._integral())
        self.info = SolveInfo.solved(obj, bound, sense=self.sense, solver=solver,
                                     wall_time_s=deadline.elapsed(),
                                     time_limit_s=deadline.limit_s, stats=stats)
        self.selected_sites = np.flatnonzero(mask).astype(np.int64)
        self.assignment = frame

    def _set_no_solution(self, status: SolveStatus, bound: float, solver: str,
                         deadline: Deadline, stats: dict[str, Any]) -> None:
        self.info = SolveInfo(status, math.nan, bound, math.inf, solver, deadline.elapsed(),
                              deadline.limit_s, self.sense, stats)
        self.selected_sites = np.zeros(0, dtype=np.int64)
        self.assignment = _empty_assignment()

    def _integral(self) -> bool:
        """Whether the objective can only take whole values (its bound is then rounded)."""
        return False

    def _better(self, a: float, b: float) -> bool:
        if math.isnan(b):
            return True
        slack = 1e-9 * max(1.0, abs(b))
        return a < b - slack if self.sense == "min" else a > b + slack

    def _assignment_frame(
        self, site: IntArray, cost: FloatArray, extra: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "demand": np.arange(self.n_demands, dtype=np.int64),
                "site": site.astype(np.int64),
                "cost": np.where(site >= 0, cost, np.nan),
                "weight": self.weights,
            }
        )
        for key, val in (extra or {}).items():
            frame[key] = val
        return frame

    def _fail(self, message: str) -> None:
        raise InfeasibleInputError(f"{self.model_name}: {message}")


class LocationModel(SiteModel):
    """A location model solved as a MIP (LSCP, MCLP, p-median, seats).

    Subclasses implement ``_define`` (the MIP's families), ``_heuristic`` (a start as an
    open-site mask), ``_hint`` (the full variable vector of a mask), ``_evaluate`` and ``_check``;
    optionally ``_improve`` and ``_early_start``. ``_extra_bound`` is a bound proven outside the
    MIP (p-median's Lagrangian, the LP relaxation), kept when it is the stronger one.
    """

    def __init__(self, pairs: CandidatePairs, weights: FloatArray, required: BoolArray, name: str):
        super().__init__(pairs, weights, required, name)
        self.mip: SparseModel | None = None
        self._heuristic_stats: dict[str, Any] = {}
        self._extra_bound = math.nan
        self._x0 = 0  # index of the first site variable in the MIP

    def build(self) -> Self:
        """Assemble the MIP from whole arrays (no loop over pairs)."""
        t0 = time.perf_counter()
        self.mip = SparseModel(sense=self.sense)
        self._define(self.mip)
        self._build_stats = {**self.mip.stats(), "build_time_s": time.perf_counter() - t0}
        return self

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        """Heuristic start, its improvement, and SCIP (hinted), all within one deadline.

        ``mip_gap`` is the relative gap at which SCIP may stop; the status is ``optimal`` only
        when the gap between the plan and the proven bound is below ``OPTIMAL_GAP``. With two
        threads or more a model that has an improvement phase (MCLP's neighbourhood search,
        p-median's kicks) runs it beside SCIP for the whole limit, SCIP starting from the
        unimproved start; with one thread the improvement takes up to half the limit and hands
        its result to SCIP. The better of the two plans is kept. A run that no time limit cuts
        short is reproducible for a given ``seed``.
        """
        opts = SolveOptions.of(options, **overrides)
        deadline = Deadline(opts.time_limit_s)
        stats: dict[str, Any] = {"threads_requested": opts.workers, "seed": opts.seed}
        if self.mip is None:
            self.build()
        mip = self.mip
        assert mip is not None
        stats.update(self._build_stats)
        self._heuristic_stats = {}
        self._extra_bound = math.nan
        # a little of the limit is kept for reading the plan back
        limit = opts.time_limit_s
        mip_deadline = (deadline if limit is None else
                        Deadline(0.97 * limit - min(0.05, 0.2 * limit), deadline.start))
        mip_out: list[MipResult | BaseException] = []

        def run_mip(hint: FloatArray | None, settings: str = "") -> None:
            try:
                mip_out.append(mip.solve(backend="scip", deadline=mip_deadline, options=opts,
                                         hint=hint, settings=settings))
            except BaseException as exc:  # re-raised in the calling thread
                mip_out.append(exc)

        def start_worker(mask: BoolArray) -> threading.Thread:
            thread = threading.Thread(target=run_mip, args=(self._hint(mask), BOUND_FOCUS),
                                      daemon=True)
            thread.start()
            return thread

        # Improvement (LNS, kicks) and SCIP share the limit: side by side on two threads when
        # allowed (SCIP releases the GIL), else improvement up to half the limit, then SCIP.
        worker: threading.Thread | None = None
        side_by_side = opts.workers >= 2 and self._improves()
        early = self._early_start(mip_deadline) if side_by_side else None
        if early is not None:
            worker = start_worker(early)
        h_start = time.perf_counter()
        h_mask = self._heuristic(opts.seed, mip_deadline)
        stats["heuristic_objective"] = (
            self._evaluate(h_mask, None)[0] if h_mask is not None else math.nan
        )
        if side_by_side and worker is None and h_mask is not None:
            worker = start_worker(h_mask)
        stats["threads_used"] = 2 if worker is not None else 1
        best_mask = h_mask
        if worker is not None:
            if h_mask is not None:
                best_mask = self._improve(h_mask, opts.seed, mip_deadline)
            worker.join()
        else:
            if h_mask is not None:
                best_mask = self._improve(h_mask, opts.seed, mip_deadline.share(0.5))
            run_mip(self._hint(best_mask) if best_mask is not None else None)
        stats["heuristic_time_s"] = time.perf_counter() - h_start
        stats.update(self._heuristic_stats)
        if isinstance(mip_out[0], BaseException):
            raise mip_out[0]
        out = mip_out[0]
        best_values: FloatArray | None = None
        best_obj = self._evaluate(best_mask, None)[0] if best_mask is not None else math.nan
        stats.update(improved_objective=best_obj, mip_time_s=out.wall_time_s,
                     mip_status=out.reason, mip_objective=out.objective)
        source = "heuristic"
        if out.x is not None:
            mask = out.x[self._x0 : self._x0 + self.n_sites] > 0.5
            obj = self._evaluate(mask, out.x)[0]
            if best_mask is None or self._better(obj, best_obj):
                best_mask, best_values, best_obj, source = mask, out.x, obj, "mip"
        stats["solution_source"] = source if best_mask is not None else "none"
        bound = tighter(out.bound, self._extra_bound, self.sense)
        if best_mask is None:
            status = SolveStatus.INFEASIBLE if out.infeasible else SolveStatus.NO_SOLUTION
            self._set_no_solution(status, bound, SOLVER_NAME, deadline, stats)
        else:
            self._set_solution(best_mask, best_values, bound, SOLVER_NAME, deadline, stats)
        return self

    # ------------------------------------------------------------ for subclasses
    def _define(self, m: SparseModel) -> None:
        raise NotImplementedError

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        raise NotImplementedError

    def _improve(self, open_mask: BoolArray, seed: int, deadline: Deadline) -> BoolArray:
        """Improve a start until ``deadline``; default: keep it."""
        return open_mask

    def _early_start(self, deadline: Deadline) -> BoolArray | None:
        """A start cheap enough to hand SCIP before ``_heuristic`` runs (None: wait for it)."""
        return None

    def _improves(self) -> bool:
        """Whether ``_improve`` does anything, so that a second thread is worth it."""
        return type(self)._improve is not LocationModel._improve

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        raise NotImplementedError

    def _integral(self) -> bool:
        return self.mip is not None and self.mip.integral_objective()

    def _add_link_rows(self, m: SparseModel, y0: int) -> None:
        """``y_ij <= x_j`` for every pair, the assignment ``y`` starting at column ``y0``."""
        n = self.pairs.n_pairs
        rows = np.arange(n)
        m.add_constraints("link", np.r_[rows, rows], np.r_[y0 + rows, self._x0 + self.pairs.site],
                          np.r_[np.ones(n), -np.ones(n)], -np.inf, 0.0, n)

    def _add_capacity_rows(self, m: SparseModel, y0: int, quantity: FloatArray,
                           capacities: FloatArray, lo: FloatArray | float = -np.inf) -> None:
        """``lo_j <= sum_i q_i y_ij - Q_j x_j <= 0`` for every site (``lo`` 0: filled)."""
        pr, n_s = self.pairs, self.n_sites
        m.add_constraints("capacity", np.r_[pr.site, np.arange(n_s)],
                          np.r_[y0 + np.arange(pr.n_pairs), self._x0 + np.arange(n_s)],
                          np.r_[quantity[pr.demand], -capacities], lo, 0.0, n_s)

    def _lp_site_values(self, deadline: Deadline) -> FloatArray | None:
        """Site values ``x_j`` of the LP relaxation (GLOP), a guide for rounding starts; its
        optimum is a proven bound, kept in ``_extra_bound``."""
        if self.mip is None or deadline.expired():
            return None
        out = self.mip.solve(backend="glop", deadline=deadline, relax=True)
        self._heuristic_stats["lp_time_s"] = out.wall_time_s
        if not out.proven or out.x is None:
            return None
        self._heuristic_stats["lp_bound"] = out.objective
        self._extra_bound = tighter(self._extra_bound, out.objective, self.sense)
        return out.x[self._x0 : self._x0 + self.n_sites]


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _empty_assignment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "demand": np.zeros(0, dtype=np.int64),
            "site": np.zeros(0, dtype=np.int64),
            "cost": np.zeros(0),
            "weight": np.zeros(0),
        }
    )
