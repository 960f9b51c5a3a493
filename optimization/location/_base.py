"""Shared machinery of the location models: MIP assembly from numpy blocks, the solve loop
(heuristic start -> exact MIP with hint -> honest status/bound/gap), and result frames.

Solver: SCIP through ``ortools.linear_solver.python.model_builder``, for all four models. The
whole model is handed over in one call (``fill_model_from_sparse_data`` with a CSR matrix), so
building never loops in Python over pairs. Measured on the national MCLP (3,321 demands x
10,035 sites, 72,082 pairs within 10 km, p = 300; raw sapnhap population before geodata's
repairs) on this 2-core machine, the same greedy + swap start (87.39 M people covered) given to
each as a hint:

=====================================  =================================================
solver (ortools 9.15)                  outcome
=====================================  =================================================
SCIP, 1 thread, 10 s                   kept the start, proved bound 89.60 M (gap 2.5 %)
SCIP, 1 thread, 60 s                   same incumbent, bound 89.56 M
CP-SAT direct, 1 or 2 workers, 10 s    UNKNOWN: the whole 10 s went into presolve
CP-SAT, reduced presolve, 2 w., 60 s   87.58 M, no useful bound (107.5 M)
CP-SAT through model_builder, 10 s     NOT_SOLVED
HiGHS through model_builder            the process died (segmentation fault, rc 139)
=====================================  =================================================

So SCIP: it takes float coefficients (km, population) as they are, accepts the start and
proves bounds from its LP with cuts; one thread, deterministic for a fixed seed. With
``threads >= 2`` a model's improvement phase (MCLP's neighbourhood search, whose regional
sub-MIPs are SCIP too) runs in the calling thread while SCIP works on the whole model in a
second one, its primal heuristics off (``BOUND_FOCUS``): model_builder releases the GIL while
SCIP solves. The ``highspy``
wheel is never imported (it cannot live beside ortools). The LP relaxation for rounding starts
is solved by GLOP. No integer-only solver is used, so no scale factors are applied: objectives
are in the model's own units (cost unit x weight, or weight).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder as mb
from ortools.linear_solver.python import model_builder_helper as mbh

from optimization.location._pairs import BoolArray, CandidatePairs, FloatArray, IntArray
from optimization.result import (
    InfeasibleInputError,
    SolutionCheckError,
    SolveInfo,
    SolveStatus,
    relative_gap,
)

SOLVER_NAME = "scip"
_TOL = 1e-6


@dataclass
class MipBlocks:
    """Variables and constraint rows collected as numpy blocks, then built in one call."""

    lb: list[FloatArray] = field(default_factory=list)
    ub: list[FloatArray] = field(default_factory=list)
    obj: list[FloatArray] = field(default_factory=list)
    integer: list[BoolArray] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    row_lo: list[FloatArray] = field(default_factory=list)
    row_hi: list[FloatArray] = field(default_factory=list)
    n_vars: int = 0
    n_rows: int = 0

    def add_vars(
        self, n: int, *, lb: object = 0.0, ub: object = 1.0, obj: object = 0.0, integer: bool
    ) -> int:
        """Add ``n`` variables and return the index of the first one."""
        start = self.n_vars
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self.obj.append(np.broadcast_to(np.asarray(obj, dtype=float), (n,)).copy())
        self.integer.append(np.full(n, integer))
        self.n_vars += n
        return start

    def add_rows(
        self, row: IntArray, col: IntArray, val: object, lo: object, hi: object, n_rows: int
    ) -> int:
        """Add ``n_rows`` rows ``lo <= sum(val * x[col]) <= hi``; ``row`` counts from 0."""
        start = self.n_rows
        row = np.asarray(row, dtype=np.int64)
        self.rows.append(row + start)
        self.cols.append(np.asarray(col, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(val, dtype=float), row.shape).copy())
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n_rows,)).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n_rows,)).copy())
        self.n_rows += n_rows
        return start

    def to_model(self, maximize: bool, relax: bool = False) -> tuple[mb.Model, dict[str, Any]]:
        """One ``model_builder`` model; ``relax`` drops integrality (the LP relaxation)."""
        model = mb.Model()
        cat = np.concatenate
        matrix = sp.csr_matrix(
            (cat(self.vals), (cat(self.rows), cat(self.cols))), shape=(self.n_rows, self.n_vars)
        )
        matrix.sum_duplicates()
        helper: Any = model.helper  # its stub mistypes the numpy arguments
        helper.fill_model_from_sparse_data(
            cat(self.lb), cat(self.ub), cat(self.obj), cat(self.row_lo), cat(self.row_hi), matrix
        )
        for v in np.flatnonzero(cat(self.integer)) if not relax else ():
            model.helper.set_var_integrality(int(v), True)
        model.helper.set_maximize(maximize)
        return model, {"variables": self.n_vars, "constraints": self.n_rows, "nonzeros": matrix.nnz}


@dataclass
class MipOutcome:
    status: mbh.SolveStatus
    values: FloatArray | None
    objective: float
    bound: float
    wall_time_s: float


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


def run_mip(
    model: mb.Model,
    hint: FloatArray | None,
    *,
    time_limit_s: float,
    mip_gap: float,
    seed: int,
    settings: str = "",
) -> MipOutcome:
    model.helper.clear_hints()
    if hint is not None:
        for v in np.flatnonzero(hint):
            model.helper.add_hint(int(v), float(hint[v]))
    solver = mbh.ModelSolverHelper(SOLVER_NAME)
    solver.set_time_limit_in_seconds(max(float(time_limit_s), 0.01))
    # SCIP .set syntax; a fixed seed shift and one thread keep the search reproducible.
    solver.set_solver_specific_parameters(
        f"limits/gap = {float(mip_gap)!r}\n"
        f"randomization/randomseedshift = {int(seed) % 2**31}\n"
        "parallel/maxnthreads = 1\n" + settings
    )
    t0 = time.perf_counter()
    solver.solve(model.helper)
    wall = time.perf_counter() - t0
    status = solver.status()
    values = np.asarray(solver.variable_values()) if solver.has_solution() else None
    objective = solver.objective_value() if values is not None else math.nan
    bound = solver.best_objective_bound() if solver.has_response() else math.nan
    return MipOutcome(status, values, float(objective), float(bound), wall)


def integral_objective(obj_coeffs: FloatArray) -> bool:
    """True when every objective coefficient is an integer (the objective then is one too)."""
    return bool(np.all(obj_coeffs == np.round(obj_coeffs)))


class LocationModel:
    """Base of the four models: holds pairs, runs the solve loop, exposes results.

    Subclasses implement ``_define`` (MIP), ``_heuristic`` (start solution as an open-site mask),
    ``_hint`` (full variable vector for a mask), ``_evaluate`` (objective and assignment of a
    mask, or of MIP values) and ``_check`` (constraint recomputation).
    """

    sense = "min"
    model_name = "location"

    def __init__(self, pairs: CandidatePairs, weights: FloatArray, required: BoolArray, name: str):
        self.pairs = pairs
        self.weights = weights
        self.required = required
        self.name = name
        self.model: mb.Model | None = None
        self.info: SolveInfo = SolveInfo.not_solved()
        self.selected_sites: IntArray = np.zeros(0, dtype=np.int64)
        self.assignment: pd.DataFrame = _empty_assignment()
        self._build_stats: dict[str, Any] = {}
        self._heuristic_stats: dict[str, Any] = {}
        self._blocks: MipBlocks | None = None
        self._extra_bound = math.nan  # a valid bound found outside the MIP (e.g. Lagrangian)
        self._obj_coeffs: FloatArray = np.zeros(0)
        self._x0 = 0  # index of the first site variable in the MIP

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

    def build(self) -> LocationModel:
        """Assemble the MIP from whole arrays (no loop over pairs)."""
        t0 = time.perf_counter()
        blocks = MipBlocks()
        self._define(blocks)
        self._obj_coeffs = np.concatenate(blocks.obj) if blocks.obj else np.zeros(0)
        self.model, stats = blocks.to_model(maximize=self.sense == "max")
        self._blocks = blocks
        stats["build_time_s"] = time.perf_counter() - t0
        self._build_stats = stats
        return self

    def solve(
        self,
        time_limit: float = 60.0,
        mip_gap: float = 0.0,
        threads: int = 1,
        seed: int = 0,
    ) -> LocationModel:
        """Heuristic start, its improvement, and SCIP (hinted), within ``time_limit`` seconds.

        ``mip_gap`` is the relative gap at which SCIP may stop; the status is ``optimal`` only if
        the reported gap (incumbent vs proven bound) is zero. SCIP itself runs on one thread.
        With ``threads >= 2`` a model that has an improvement phase (MCLP's neighbourhood
        search, p-median's kicks) runs it beside SCIP for the whole limit, SCIP starting from
        the unimproved start; with one thread the improvement takes up to half the limit and
        hands its result to SCIP. The better of the two solutions is kept. A run that no time
        limit cuts short is reproducible for a given ``seed``.
        """
        if time_limit <= 0:
            raise ValueError(f"time_limit must be positive, got {time_limit}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        t0 = time.perf_counter()
        stats: dict[str, Any] = {"threads_requested": threads, "seed": seed}
        if self.model is None:
            self.build()
        assert self.model is not None
        stats.update(self._build_stats)
        h_start = time.perf_counter()
        self._heuristic_stats = {}
        self._extra_bound = math.nan
        # keep a little of the limit for reading the solution back
        mip_end = t0 + 0.97 * time_limit - 0.05
        mip_out: list[MipOutcome | BaseException] = []

        def mip(model: mb.Model, hint: FloatArray | None, settings: str = "") -> None:
            try:
                left = mip_end - time.perf_counter()
                mip_out.append(
                    run_mip(
                        model,
                        hint,
                        time_limit_s=left,
                        mip_gap=mip_gap,
                        seed=seed,
                        settings=settings,
                    )
                )
            except BaseException as exc:  # re-raised in the calling thread
                mip_out.append(exc)

        # Improvement (LNS, kicks) and SCIP share the limit: side by side on two threads when
        # allowed (SCIP releases the GIL), else improvement up to half the limit, then SCIP.
        # Beside an improvement phase SCIP works for the bound, so it starts as early as a
        # cheap start allows and leaves the incumbents to the improvement (BOUND_FOCUS).
        worker: threading.Thread | None = None

        def start_worker(mask: BoolArray) -> threading.Thread:
            thread = threading.Thread(
                target=mip, args=(self.model, self._hint(mask), BOUND_FOCUS), daemon=True
            )
            thread.start()
            return thread

        side_by_side = threads >= 2 and self._improves()
        early = self._early_start() if side_by_side else None
        if early is not None:
            worker = start_worker(early)
        h_mask = self._heuristic(seed)
        stats["heuristic_objective"] = (
            self._evaluate(h_mask, None)[0] if h_mask is not None else math.nan
        )
        if side_by_side and worker is None and h_mask is not None:
            worker = start_worker(h_mask)
        stats["threads_used"] = 2 if worker is not None else 1
        best_mask = h_mask
        if worker is not None:
            if h_mask is not None:
                best_mask = self._improve(h_mask, seed, mip_end)
            worker.join()
        else:
            if h_mask is not None:
                best_mask = self._improve(h_mask, seed, t0 + 0.5 * time_limit)
            mip(self.model, self._hint(best_mask) if best_mask is not None else None)
        stats["heuristic_time_s"] = time.perf_counter() - h_start
        stats.update(self._heuristic_stats)
        best_values: FloatArray | None = None
        best_obj = self._evaluate(best_mask, None)[0] if best_mask is not None else math.nan
        stats["improved_objective"] = best_obj
        if isinstance(mip_out[0], BaseException):
            raise mip_out[0]
        out = mip_out[0]
        stats["mip_time_s"] = out.wall_time_s
        stats["mip_status"] = out.status.name
        stats["mip_objective"] = out.objective
        source = "heuristic"
        if out.values is not None:
            mask = out.values[self._x0 : self._x0 + self.n_sites] > 0.5
            obj = self._evaluate(mask, out.values)[0]
            if best_mask is None or self._better(obj, best_obj):
                best_mask, best_values, best_obj, source = mask, out.values, obj, "mip"
        stats["solution_source"] = source if best_mask is not None else "none"
        bound = self._bound_from(out, best_obj)
        wall = time.perf_counter() - t0
        if best_mask is None:
            status = (
                SolveStatus.INFEASIBLE
                if out.status == mbh.SolveStatus.INFEASIBLE
                else SolveStatus.NO_SOLUTION
            )
            self.info = SolveInfo(
                status, math.nan, bound, math.inf, SOLVER_NAME, wall, time_limit, self.sense, stats
            )
            self.selected_sites = np.zeros(0, dtype=np.int64)
            self.assignment = _empty_assignment()
            return self
        obj, frame = self._evaluate(best_mask, best_values)
        gap = relative_gap(obj, bound, self.sense)
        status = SolveStatus.OPTIMAL if gap == 0.0 else SolveStatus.FEASIBLE
        self.info = SolveInfo(
            status, obj, bound, gap, SOLVER_NAME, wall, time_limit, self.sense, stats
        )
        self.selected_sites = np.flatnonzero(best_mask).astype(np.int64)
        self.assignment = frame
        return self

    def run(self, **solve_kwargs: Any) -> LocationModel:
        """One shot: build and solve (keyword arguments as in ``solve``)."""
        return self.build().solve(**solve_kwargs)

    def check_solution(self) -> None:
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
        b, o = self.best_bound, self.objective_value
        slack = _TOL * max(1.0, abs(o))
        if (self.sense == "min" and b > o + slack) or (self.sense == "max" and b < o - slack):
            raise SolutionCheckError(
                f"{self.model_name}: bound {b!r} is on the wrong side of objective {o!r}"
            )
        if not _close(self.gap, relative_gap(o, b, self.sense)):
            raise SolutionCheckError(f"{self.model_name}: reported gap {self.gap!r} is wrong")
        if self.status == SolveStatus.OPTIMAL and self.gap != 0.0:
            raise SolutionCheckError(f"{self.model_name}: called optimal with gap {self.gap!r}")

    # ------------------------------------------------------------ for subclasses
    def _define(self, b: MipBlocks) -> None:
        raise NotImplementedError

    def _heuristic(self, seed: int) -> BoolArray | None:
        raise NotImplementedError

    def _improve(self, open_mask: BoolArray, seed: int, deadline: float) -> BoolArray:
        """Improve a start until ``deadline`` (``time.perf_counter``); default: keep it."""
        return open_mask

    def _early_start(self) -> BoolArray | None:
        """A start cheap enough to hand SCIP before ``_heuristic`` runs (None: wait for it)."""
        return None

    def _improves(self) -> bool:
        """Whether ``_improve`` does anything, so that a second thread is worth it."""
        return type(self)._improve is not LocationModel._improve

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        raise NotImplementedError

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        raise NotImplementedError

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------------- helpers

    def _lp_site_values(self, time_limit_s: float = 30.0) -> FloatArray | None:
        """Site values ``x_j`` of the LP relaxation (GLOP), a guide for rounding starts."""
        if self._blocks is None:
            return None
        t0 = time.perf_counter()
        lp, _ = self._blocks.to_model(maximize=self.sense == "max", relax=True)
        solver = mbh.ModelSolverHelper("glop")
        solver.set_time_limit_in_seconds(time_limit_s)
        solver.solve(lp.helper)
        self._heuristic_stats["lp_time_s"] = time.perf_counter() - t0
        if solver.status() != mbh.SolveStatus.OPTIMAL:
            return None
        self._heuristic_stats["lp_bound"] = solver.objective_value()
        values = np.asarray(solver.variable_values())
        return values[self._x0 : self._x0 + self.n_sites]

    def _better(self, a: float, b: float) -> bool:
        if math.isnan(b):
            return True
        slack = 1e-9 * max(1.0, abs(b))
        return a < b - slack if self.sense == "min" else a > b + slack

    def _bound_from(self, out: MipOutcome, incumbent: float) -> float:
        """The MIP's proven bound, rounded inward when the objective is integer-valued."""
        bound = out.bound
        if out.status == mbh.SolveStatus.OPTIMAL and out.values is not None and math.isnan(bound):
            bound = out.objective
        if out.status == mbh.SolveStatus.INFEASIBLE:
            return math.nan
        if math.isfinite(self._extra_bound):
            if not math.isfinite(bound):
                bound = self._extra_bound
            elif self.sense == "max":
                bound = min(bound, self._extra_bound)
            else:
                bound = max(bound, self._extra_bound)
        if not math.isfinite(bound):
            return math.inf if self.sense == "max" else -math.inf
        if integral_objective(self._obj_coeffs):
            bound = math.floor(bound + _TOL) if self.sense == "max" else math.ceil(bound - _TOL)
        # An incumbent beyond the bound can only be rounding noise: clip that, nothing more
        # (a real violation is left for check_solution to report).
        if math.isfinite(incumbent) and abs(bound - incumbent) <= _TOL * max(1.0, abs(incumbent)):
            bound = max(bound, incumbent) if self.sense == "max" else min(bound, incumbent)
        return float(bound)

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
