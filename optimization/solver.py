"""The one solver core every model stands on: options, a deadline, a sparse model with named
families of variables and constraints, and its MIP backends.

Backends (``backend=``):

* ``"scip"``: SCIP through ``model_builder``, filled from a CSR matrix in one call; takes a
  hint and SCIP's own parameters (``settings``). The location and seats models use it.
* ``"highs"``: HiGHS through ``math_opt``, filled from whole arrays into the model proto. The
  disposition model's LPs and sub-MIPs use it.
* ``"gscip"``, ``"cp-sat"``: SCIP and CP-SAT through ``math_opt`` from the same proto (CP-SAT
  needs integer variables and coefficients); the benchmarks' peers.
* ``"glop"``: the LP relaxation through ``model_builder`` (the location models' LP starts).

Min-cost flows (transfer, the disposition's service flow) call OR-Tools' ``SimpleMinCostFlow``
directly: they are exact and need no option of this module but the result type.

A bound is taken only from a solver that proved it: a bound the solver did not report (or
reported as +-1e20, SCIP's infinity), or one on the wrong side of its own incumbent, is infinite.
The ``highspy`` wheel is never imported (it cannot live beside ortools).
"""

from __future__ import annotations

import datetime
import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder as mb
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from optimization.result import (
    OPTIMAL_GAP,
    SolutionCheckError,
    SolveInfo,
    SolveStatus,
    relative_gap,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Relative tolerance of a recomputed constraint or objective, in every model's checks.
TOL = 1e-6
# Integer-cost guard of OR-Tools' min-cost flow: cost scaling multiplies unit costs by about the
# number of nodes, and totals must stay inside int64; a wide margin below 2**63.
FLOW_COST_LIMIT = 2**60
# SCIP reads a model_builder model and sets it up before it looks at its clock (and does not
# answer an interrupt then): about this many seconds per nonzero on the reference machine
# (benchmarks/RESULTS.md). A solve with less time left than that is not started.
SCIP_SETUP_S_PER_NONZERO = 2.5e-6
# Solvers report "no bound" as a huge finite number (SCIP: 1e20); beyond this it is infinite.
_INFINITE = 1e19


def machine_threads() -> int:
    """The cores this process may use (the default of ``SolveOptions.threads``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SolveOptions:
    """How long and how hard a model may search; the same defaults in every model.

    ``time_limit_s`` None means no limit; ``mip_gap`` is the relative gap at which a search may
    stop (0 asks for a proof); ``threads`` None means the machine's cores; ``node_limit``
    caps branch-and-bound nodes per MIP (a work limit that does not depend on the machine).
    """

    time_limit_s: float | None = 60.0
    mip_gap: float = 0.0
    threads: int | None = None
    seed: int = 0
    node_limit: int | None = None

    def __post_init__(self) -> None:
        t = self.time_limit_s
        if t is not None and not (math.isfinite(t) and t > 0):
            raise ValueError(f"time_limit_s must be positive, got {t}")
        if not (math.isfinite(self.mip_gap) and self.mip_gap >= 0):
            raise ValueError(f"mip_gap must be >= 0, got {self.mip_gap}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.node_limit is not None and self.node_limit < 1:
            raise ValueError(f"node_limit must be >= 1, got {self.node_limit}")

    @property
    def workers(self) -> int:
        """Threads to use: the given number, else the machine's cores."""
        return self.threads if self.threads is not None else machine_threads()

    @classmethod
    def of(cls, options: SolveOptions | None = None, **overrides: Any) -> SolveOptions:
        """``options`` (or the defaults) with the keyword arguments given replacing fields;
        an argument given as None for ``mip_gap`` or ``seed`` keeps the default."""
        base = options if options is not None else cls()
        for key in ("mip_gap", "seed"):
            if key in overrides and overrides[key] is None:
                del overrides[key]
        unknown = set(overrides) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown solve option(s) {sorted(unknown)}")
        return replace(base, **overrides) if overrides else base


class Deadline:
    """One point in time that every phase of a solve watches (``time.perf_counter`` clock)."""

    def __init__(self, time_limit_s: float | None, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.limit_s = time_limit_s
        self.end = math.inf if time_limit_s is None else self.start + time_limit_s

    def left(self) -> float:
        """Seconds left (``inf`` without a limit, never negative)."""
        return max(0.0, self.end - time.perf_counter())

    def expired(self) -> bool:
        return time.perf_counter() >= self.end

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def share(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` of the way from now to this one (itself without a limit)."""
        if math.isinf(self.end):
            return self
        now = time.perf_counter()
        return Deadline(max(0.0, fraction * (self.end - now)), now)

    def earlier(self, seconds: float) -> Deadline:
        """A deadline at most ``seconds`` from now and no later than this one."""
        now = time.perf_counter()
        return Deadline(max(0.0, min(self.end, now + seconds) - now), now)

    def limit(self, floor_s: float = 0.01) -> float | None:
        """Seconds to hand a solver (None without a limit), at least ``floor_s``."""
        return None if math.isinf(self.end) else max(floor_s, self.left())


def finite_or_inf(value: float) -> float:
    """A solver's number, with NaN and its stand-ins for infinity (+-1e20) made infinite."""
    if math.isnan(value):
        return math.nan
    if abs(value) >= _INFINITE:
        return math.copysign(math.inf, value)
    return float(value)


def no_bound(sense: str) -> float:
    """What a model reports when nothing is proven: the bound that bounds nothing."""
    return math.inf if sense == "max" else -math.inf


def proven_bound(bound: float, incumbent: float, sense: str, *, integral: bool = False) -> float:
    """A proven bound made honest against a feasible objective.

    Rounded inward when the objective is integer-valued; within tolerance of ``incumbent`` it
    is clipped to it (rounding noise); a bound beyond a feasible objective by more than that
    proves nothing (a solver that stopped before its first bound) and becomes infinite.
    """
    if math.isnan(bound) or math.isinf(bound):
        return no_bound(sense)
    if integral:
        # relative: a bound of 1e13 VND computed in million VND carries float error of ~1e-3
        eps = 1e-9 * max(1.0, abs(bound))
        bound = math.floor(bound + eps) if sense == "max" else math.ceil(bound - eps)
    if math.isfinite(incumbent):
        slack = TOL * max(1.0, abs(incumbent))
        wrong = bound < incumbent if sense == "max" else bound > incumbent
        if wrong and abs(bound - incumbent) <= slack:
            return float(incumbent)
        if wrong:
            return no_bound(sense)
    return float(bound)


def tighter(a: float, b: float, sense: str) -> float:
    """The stronger of two proven bounds (NaN counts as none)."""
    vals = [v for v in (a, b) if not math.isnan(v)]
    if not vals:
        return no_bound(sense)
    return min(vals) if sense == "max" else max(vals)


def check_info(info: SolveInfo, name: str) -> None:
    """The status agrees with the gap, the gap with objective and bound, the bound is on the
    right side: what ``check_solution`` of every model verifies of its ``SolveInfo``."""
    o, b, sense = info.objective_value, info.best_bound, info.sense
    if math.isnan(b):
        raise SolutionCheckError(f"{name}: the best bound is missing (NaN)")
    slack = TOL * max(1.0, abs(o))
    if (sense == "min" and b > o + slack) or (sense == "max" and b < o - slack):
        raise SolutionCheckError(f"{name}: bound {b!r} is on the wrong side of objective {o!r}")
    gap = relative_gap(o, b, sense)
    if not (info.gap == gap or abs(info.gap - gap) <= 1e-9):
        raise SolutionCheckError(f"{name}: reported gap {info.gap!r} != recomputed {gap!r}")
    optimal = info.status == SolveStatus.OPTIMAL
    if optimal != (gap <= OPTIMAL_GAP):
        raise SolutionCheckError(f"{name}: called {info.status} with a gap of {gap:.4%}")


class Model(Protocol):
    """What every model offers: build from arrays, solve within options, check from the
    solution alone, and ``run`` that does all three."""

    info: SolveInfo

    def build(self) -> Self: ...

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self: ...

    def check_solution(self) -> Self: ...

    def run(self, options: SolveOptions | None = None, **overrides: Any) -> Self: ...


class Runs:
    """``run``: build, solve and check, for a class that has the other three."""

    def run(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        model: Any = self
        model.build().solve(options, **overrides).check_solution()
        return self


@dataclass
class SparseModel:
    """A linear model ``lo <= A x <= hi``, ``lb <= x <= ub``, min or max ``c x``, kept as numpy
    blocks in named families (``variables["x"]`` is the slice of the x columns), then built in
    one call."""

    sense: str = "min"
    variables: dict[str, slice] = field(default_factory=dict)
    constraints: dict[str, slice] = field(default_factory=dict)
    _lb: list[FloatArray] = field(default_factory=list)
    _ub: list[FloatArray] = field(default_factory=list)
    _cost: list[FloatArray] = field(default_factory=list)
    _integer: list[BoolArray] = field(default_factory=list)
    _rows: list[IntArray] = field(default_factory=list)
    _cols: list[IntArray] = field(default_factory=list)
    _vals: list[FloatArray] = field(default_factory=list)
    _lo: list[FloatArray] = field(default_factory=list)
    _hi: list[FloatArray] = field(default_factory=list)
    n_vars: int = 0
    n_rows: int = 0
    _built: Any = None

    def add_variables(self, name: str, n: int, *, lb: object = 0.0, ub: object = 1.0,
                      cost: object = 0.0, integer: bool) -> int:
        """A family of ``n`` variables; returns the index of its first one."""
        if name in self.variables:
            raise ValueError(f"variable family {name!r} defined twice")
        start = self.n_vars
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self._integer.append(np.full(n, integer))
        self.n_vars += n
        self.variables[name] = slice(start, self.n_vars)
        self._built = None
        return start

    def add_constraints(self, name: str, row: IntArray, col: IntArray, val: object,
                        lo: object, hi: object, n_rows: int) -> int:
        """A family of ``n_rows`` rows ``lo <= sum(val * x[col]) <= hi`` (``row`` from 0);
        the family last added may be extended by another call with its name."""
        extend = name in self.constraints
        if extend and self.constraints[name].stop != self.n_rows:
            raise ValueError(f"constraint family {name!r} defined twice")
        start = self.n_rows
        row = np.asarray(row, dtype=np.int64)
        self._rows.append(row + start)
        self._cols.append(np.asarray(col, dtype=np.int64))
        self._vals.append(np.broadcast_to(np.asarray(val, dtype=float), row.shape).copy())
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n_rows,)).copy())
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n_rows,)).copy())
        self.n_rows += n_rows
        first = self.constraints[name].start if extend else start
        self.constraints[name] = slice(first, self.n_rows)
        self._built = None
        return start

    @property
    def cost(self) -> FloatArray:
        return np.concatenate(self._cost) if self._cost else np.zeros(0)

    def integral_objective(self) -> bool:
        """Whether every objective coefficient is whole, on integer variables only (the
        optimum then is a whole number)."""
        c = self.cost
        integer = np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=bool)
        nz = c != 0
        return bool(np.all(c[nz] == np.round(c[nz])) and np.all(integer[nz]))

    def matrix(self) -> sp.csr_matrix:
        cat = np.concatenate
        a = sp.csr_matrix((cat(self._vals), (cat(self._rows), cat(self._cols))),
                          shape=(self.n_rows, self.n_vars))
        a.sum_duplicates()
        return a

    def arrays(self) -> MipArrays:
        cat = np.concatenate
        return MipArrays(self.cost, self.matrix(), cat(self._lo), cat(self._hi), cat(self._lb),
                         cat(self._ub), cat(self._integer), self.sense)

    def stats(self) -> dict[str, Any]:
        return {"variables": self.n_vars, "constraints": self.n_rows,
                "nonzeros": int(sum(len(v) for v in self._vals)),
                "families": {**{f"var:{k}": v.stop - v.start for k, v in self.variables.items()},
                             **{f"row:{k}": v.stop - v.start for k, v in self.constraints.items()}}}

    def solve(self, *, backend: str = "scip", deadline: Deadline | None = None,
              options: SolveOptions | None = None, hint: FloatArray | None = None,
              settings: str = "", relax: bool = False) -> MipResult:
        """Solve with ``backend`` within ``deadline``; the model is built once per backend."""
        deadline = deadline or Deadline(None)
        if backend == "scip" and not relax:
            setup_s = SCIP_SETUP_S_PER_NONZERO * sum(len(v) for v in self._vals)
            if deadline.left() < setup_s:
                return MipResult(None, math.nan, no_bound(self.sense), False, False, 0, 0.0,
                                 "not started: less time left than SCIP's setup", "scip")
            if self._built is None:
                self._built = _model_builder(self.arrays(), relax=False)
            solve_by = Deadline(max(0.01, deadline.left() - setup_s))
            return _solve_scip(self._built, self.sense, solve_by, options or SolveOptions(),
                               hint, settings, "scip")
        return solve_arrays(self.arrays(), backend=backend, deadline=deadline, options=options,
                            hint=hint, settings=settings, relax=relax)


@dataclass(frozen=True)
class MipArrays:
    """A linear model as whole arrays (see ``SparseModel``)."""

    cost: FloatArray
    matrix: sp.csr_matrix
    row_lo: FloatArray
    row_hi: FloatArray
    lb: FloatArray
    ub: FloatArray
    integer: BoolArray
    sense: str = "min"


@dataclass(frozen=True)
class MipResult:
    """One MIP or LP solve: values (or None), incumbent objective, proven bound, whether the
    solver proved optimality, branch-and-bound nodes, the solver's own termination word."""

    x: FloatArray | None
    objective: float
    bound: float
    proven: bool
    infeasible: bool
    nodes: int
    wall_time_s: float
    reason: str
    solver: str

    @property
    def has_solution(self) -> bool:
        return self.x is not None


def solve_arrays(arrays: MipArrays, *, backend: str = "highs", deadline: Deadline | None = None,
                 options: SolveOptions | None = None, hint: FloatArray | None = None,
                 settings: str = "", relax: bool = False,
                 absolute_gap: float | None = None) -> MipResult:
    """Solve a model given as arrays with ``backend`` (``"scip"``, ``"highs"``, ``"glop"``)."""
    deadline = deadline or Deadline(None)
    options = options or SolveOptions()
    if backend in ("scip", "glop"):
        model = _model_builder(arrays, relax=relax or backend == "glop")
        return _solve_scip(model, arrays.sense, deadline, options, hint, settings, backend)
    if backend in _MATH_OPT:
        return _solve_mathopt(arrays, _MATH_OPT[backend], deadline, options, hint, relax,
                              absolute_gap)
    raise ValueError(f"unknown backend {backend!r}; use one of scip, glop, {', '.join(_MATH_OPT)}")


_MATH_OPT = {"highs": mathopt.SolverType.HIGHS, "gscip": mathopt.SolverType.GSCIP,
             "cp-sat": mathopt.SolverType.CP_SAT}


def _model_builder(arrays: MipArrays, relax: bool) -> mb.Model:
    model = mb.Model()
    helper: Any = model.helper  # its stub mistypes the numpy arguments
    helper.fill_model_from_sparse_data(arrays.lb, arrays.ub, arrays.cost, arrays.row_lo,
                                       arrays.row_hi, arrays.matrix)
    for v in np.flatnonzero(arrays.integer) if not relax else ():
        model.helper.set_var_integrality(int(v), True)
    model.helper.set_maximize(arrays.sense == "max")
    return model


def _solve_scip(model: mb.Model, sense: str, deadline: Deadline, options: SolveOptions,
                hint: FloatArray | None, settings: str, name: str) -> MipResult:
    model.helper.clear_hints()
    if hint is not None:
        for v in np.flatnonzero(hint):
            model.helper.add_hint(int(v), float(hint[v]))
    solver = mbh.ModelSolverHelper(name)
    limit = deadline.limit()
    if limit is not None:
        solver.set_time_limit_in_seconds(limit)
    if name == "scip":
        # SCIP .set syntax; a fixed seed shift and one thread keep the search reproducible.
        node_limit = f"limits/totalnodes = {options.node_limit}\n" if options.node_limit else ""
        solver.set_solver_specific_parameters(
            f"limits/gap = {float(options.mip_gap)!r}\n"
            f"randomization/randomseedshift = {int(options.seed) % 2**31}\n"
            "parallel/maxnthreads = 1\n" + node_limit + settings)
    t0 = time.perf_counter()
    solver.solve(model.helper)
    wall = time.perf_counter() - t0
    status = solver.status()
    values = np.asarray(solver.variable_values()) if solver.has_solution() else None
    objective = float(solver.objective_value()) if values is not None else math.nan
    proven = status == mbh.SolveStatus.OPTIMAL
    # model_builder answers 0 for the bound of a solve that ended before any bound: only a
    # solve that found a plan or proved optimality has one.
    bound = no_bound(sense)
    if solver.has_response() and (proven or values is not None):
        bound = finite_or_inf(float(solver.best_objective_bound()))
        if math.isnan(bound) and proven:
            bound = objective
        bound = proven_bound(bound, objective, sense)
    return MipResult(values, objective, bound, proven, status == mbh.SolveStatus.INFEASIBLE,
                     0, wall, status.name, name)


def _solve_mathopt(arrays: MipArrays, solver: mathopt.SolverType, deadline: Deadline,
                   options: SolveOptions, hint: FloatArray | None, relax: bool,
                   absolute_gap: float | None) -> MipResult:
    a = sp.csr_matrix(arrays.matrix)
    a.sum_duplicates()
    a.sort_indices()
    n_rows, n_cols = a.shape
    proto = model_pb2.ModelProto()
    proto.variables.ids.extend(np.arange(n_cols))
    proto.variables.lower_bounds.extend(arrays.lb)
    proto.variables.upper_bounds.extend(arrays.ub)
    proto.variables.integers.extend(arrays.integer & (not relax))
    nz = np.flatnonzero(arrays.cost)
    proto.objective.linear_coefficients.ids.extend(nz)
    proto.objective.linear_coefficients.values.extend(arrays.cost[nz])
    proto.objective.maximize = arrays.sense == "max"
    proto.linear_constraints.ids.extend(np.arange(n_rows))
    proto.linear_constraints.lower_bounds.extend(arrays.row_lo)
    proto.linear_constraints.upper_bounds.extend(arrays.row_hi)
    mat = proto.linear_constraint_matrix
    mat.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)))
    mat.column_ids.extend(a.indices)
    mat.coefficients.extend(a.data)
    model = mathopt.Model.from_model_proto(proto)
    variables = list(model.variables())
    # HiGHS takes no thread count through math_opt: each run is serial.
    params = mathopt.SolveParameters(random_seed=options.seed)
    if solver != mathopt.SolverType.HIGHS:
        params.threads = options.workers
    limit = deadline.limit()
    if limit is not None:
        params.time_limit = datetime.timedelta(seconds=limit)
    if not relax:
        params.relative_gap_tolerance = options.mip_gap
        if absolute_gap is not None:
            params.absolute_gap_tolerance = absolute_gap
        if options.node_limit is not None:
            params.node_limit = options.node_limit
    model_params = mathopt.ModelSolveParameters()
    if hint is not None:
        model_params.solution_hints.append(mathopt.SolutionHint(
            variable_values=dict(zip(variables, hint.tolist(), strict=True))))
    t0 = time.perf_counter()
    try:
        res = mathopt.solve(model, solver, params=params, model_params=model_params)
    except Exception as err:  # HiGHS internal errors surface as several exception types
        # A solver that fails proves nothing and gives no plan: the caller keeps what it has.
        return MipResult(None, math.nan, no_bound(arrays.sense), False, False, 0,
                         time.perf_counter() - t0, f"solver error: {err}", solver.name.lower())
    wall = time.perf_counter() - t0
    reason = res.termination.reason
    x = None
    objective = math.nan
    if res.has_primal_feasible_solution():
        x = np.asarray(res.variable_values(variables), dtype=float)
        objective = finite_or_inf(float(res.termination.objective_bounds.primal_bound))
    proven = reason == mathopt.TerminationReason.OPTIMAL
    bound = finite_or_inf(float(res.termination.objective_bounds.dual_bound))
    bound = proven_bound(bound, objective, arrays.sense)
    return MipResult(x, objective, bound, proven,
                     reason == mathopt.TerminationReason.INFEASIBLE,
                     int(res.solve_stats.node_count), wall, reason.name, solver.name.lower())
