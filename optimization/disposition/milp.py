"""Sparse LP/MIP through ``ortools.math_opt``, filled from whole arrays."""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from optimization.result import (
    InfeasibleInputError,
)


def integral_bound(bound_vnd: float) -> float:
    """A proven lower bound on a minimum that is a whole number of VND, rounded up.

    The tolerance absorbs the float error of a bound computed in million VND.
    """
    if not math.isfinite(bound_vnd):
        return bound_vnd
    return float(math.ceil(bound_vnd - 1e-9 * max(1.0, abs(bound_vnd))))


@dataclass
class MilpResult:
    """Solution values (or None), incumbent objective, proven bound, proof flag."""


    x: NDArray[np.float64] | None
    objective: float
    bound: float
    proven: bool
    nodes: int = 0
    reason: str = ""


def solve_sparse_milp(c: NDArray[np.float64], a: sp.spmatrix, row_lb: NDArray[np.float64],
                      row_ub: NDArray[np.float64], lb: NDArray[np.float64],
                      ub: NDArray[np.float64], integer: NDArray[np.bool_], *,
                      time_limit_s: float | None, mip_gap: float | None, seed: int | None,
                      hint: NDArray[np.float64] | None = None,
                      solver: mathopt.SolverType = mathopt.SolverType.HIGHS,
                      threads: int | None = None,
                      absolute_gap: float | None = None,
                      node_limit: int | None = None) -> MilpResult:
    """min c x, row_lb <= A x <= row_ub, lb <= x <= ub through ``ortools.math_opt``.

    The model proto is filled from whole arrays (no Python call per variable or per nonzero).
    HiGHS takes no thread count through ``math_opt``; ``threads`` goes to the other solvers.
    """
    a = sp.csr_matrix(a)
    a.sum_duplicates()
    a.sort_indices()
    n_rows, n_cols = a.shape
    proto = model_pb2.ModelProto()
    proto.variables.ids.extend(np.arange(n_cols))
    proto.variables.lower_bounds.extend(lb)
    proto.variables.upper_bounds.extend(ub)
    proto.variables.integers.extend(integer)
    nz = np.flatnonzero(c)
    proto.objective.linear_coefficients.ids.extend(nz)
    proto.objective.linear_coefficients.values.extend(c[nz])
    proto.linear_constraints.ids.extend(np.arange(n_rows))
    proto.linear_constraints.lower_bounds.extend(row_lb)
    proto.linear_constraints.upper_bounds.extend(row_ub)
    mat = proto.linear_constraint_matrix
    mat.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)))
    mat.column_ids.extend(a.indices)
    mat.coefficients.extend(a.data)
    model = mathopt.Model.from_model_proto(proto)
    variables = list(model.variables())
    params = mathopt.SolveParameters(random_seed=seed)
    if threads is not None and solver != mathopt.SolverType.HIGHS:
        params.threads = threads
    if time_limit_s is not None:
        params.time_limit = datetime.timedelta(seconds=max(time_limit_s, 0.01))
    if mip_gap is not None:
        params.relative_gap_tolerance = mip_gap
    if absolute_gap is not None:
        params.absolute_gap_tolerance = absolute_gap
    if node_limit is not None:
        params.node_limit = node_limit
    model_params = mathopt.ModelSolveParameters()
    if hint is not None:
        model_params.solution_hints.append(mathopt.SolutionHint(
            variable_values=dict(zip(variables, hint.tolist(), strict=True))))
    try:
        res = mathopt.solve(model, solver, params=params,
                            model_params=model_params)
    except Exception as err:  # HiGHS internal errors surface as several exception types
        # A solver that fails proves nothing and gives no plan: the caller keeps what it has.
        return MilpResult(None, math.inf, -math.inf, False, 0, f"solver error: {err}")
    reason = res.termination.reason
    x = None
    if res.has_primal_feasible_solution():
        x = np.asarray(res.variable_values(variables), dtype=float)
    bound = float(res.termination.objective_bounds.dual_bound)
    proven = reason == mathopt.TerminationReason.OPTIMAL
    if reason == mathopt.TerminationReason.INFEASIBLE:
        raise InfeasibleInputError(f"{solver.name} proved the model infeasible")
    return MilpResult(x, float(res.termination.objective_bounds.primal_bound), bound, proven,
                       int(res.solve_stats.node_count), reason.name)


