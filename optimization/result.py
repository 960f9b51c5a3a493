"""What every model reports after a solve: status, objective, best bound and gap.

A solution is only ever called ``optimal`` when the solver proved it (or the gap is zero within
tolerance); a run stopped by a time limit with a feasible incumbent is ``feasible``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# A relative gap this small counts as proven optimal (in every model).
OPTIMAL_GAP = 1e-6


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no solution found"
    NOT_SOLVED = "not solved"

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def relative_gap(objective_value: float, best_bound: float, sense: str = "min") -> float:
    """Gap between incumbent and proven bound as a fraction (0.005 is 0.5 %).

    Defined as ``|objective - bound| / max(|objective|, 1e-9)``, 0 when both are 0, and
    ``inf`` when either is not finite. ``sense`` only documents which side the bound is on.
    """
    if sense not in ("min", "max"):
        raise ValueError(f"sense must be 'min' or 'max', not {sense!r}")
    if not (math.isfinite(objective_value) and math.isfinite(best_bound)):
        return math.inf
    diff = abs(objective_value - best_bound)
    if diff <= 1e-9 * max(1.0, abs(objective_value)):
        return 0.0
    return diff / max(abs(objective_value), 1e-9)


@dataclass(frozen=True)
class SolveInfo:
    """Honest summary of one solve.

    ``objective_value`` and ``best_bound`` are in the model's own units (documented per model);
    ``gap`` is a fraction. ``stats`` carries solver-specific counts (nodes, variables, ...).
    """

    status: SolveStatus
    objective_value: float
    best_bound: float
    gap: float
    solver: str
    wall_time_s: float
    time_limit_s: float | None = None
    sense: str = "min"
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = str(self.status)
        return out

    @classmethod
    def solved(cls, objective_value: float, best_bound: float, *, sense: str, solver: str,
               wall_time_s: float, time_limit_s: float | None,
               stats: dict[str, Any] | None = None) -> SolveInfo:
        """A solve with a plan: the gap from objective and bound, ``optimal`` only within
        ``OPTIMAL_GAP`` of a proven bound."""
        gap = relative_gap(objective_value, best_bound, sense)
        status = SolveStatus.OPTIMAL if gap <= OPTIMAL_GAP else SolveStatus.FEASIBLE
        return cls(status, float(objective_value), float(best_bound), gap, solver, wall_time_s,
                   time_limit_s, sense, stats or {})

    @classmethod
    def not_solved(cls) -> SolveInfo:
        return cls(SolveStatus.NOT_SOLVED, math.nan, math.nan, math.inf, "", 0.0)


class InfeasibleInputError(ValueError):
    """Raised before solving when the data alone prove the model infeasible.

    The message carries the numbers, e.g. "demand 1,240 exceeds the capacity 1,100 of all
    eligible sites in province 01".
    """


class SolutionCheckError(AssertionError):
    """Raised by ``check_solution()`` when a recomputed constraint or objective disagrees."""
