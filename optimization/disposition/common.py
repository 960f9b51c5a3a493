"""Constants and the small pieces every part of the disposition model shares (the uses, from
``optimization.vocabulary``, as indices: service uses first, hold last)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimization.vocabulary import SERVICE_USES, USES

N_SERVICE = len(SERVICE_USES)
HOLD = USES.index("hold")

# HiGHS works in doubles and warns on cost ranges beyond ~1e9: the LP/MIP objective is passed in
# million VND (scale 1e-6); every reported figure is recomputed in whole VND.
MONEY_SCALE = 1e-6
# Groups of independent blocks are packed up to about this many matrix nonzeros per solve.
GROUP_NNZ = 60_000
# Work limit of one neighbourhood sub-MIP (they are small but can be hard to prove):
# branch-and-bound nodes, not seconds, so that a plan does not depend on the machine's speed.
LNS_NODES = 200

Num = int | float
PerUse = Num | Mapping[str, Num]


def per_use(value: PerUse, name: str, required: Sequence[str]) -> NDArray[np.float64]:
    """Scalar or mapping use -> value, as an array over SERVICE_USES (NaN where absent)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(SERVICE_USES))
        if unknown:
            raise ValueError(f"{name} names unknown service use(s) {unknown}")
        missing = sorted(set(required) - set(value))
        if missing:
            raise ValueError(f"{name} has no value for use(s) {missing}")
        out = np.array([float(value.get(u, np.nan)) for u in SERVICE_USES])
    else:
        out = np.full(N_SERVICE, float(value))
    given = out[~np.isnan(out)]
    if (given < 0).any() or np.isnan(given).any():
        raise ValueError(f"{name} must be >= 0")
    return out



def first_of_groups(order: NDArray[np.int64], group: NDArray[np.int64]) -> NDArray[np.int64]:
    """The first index of each group in ``order`` (indices sorted by group, then by rank)."""
    g = group[order]
    return order[np.r_[True, g[1:] != g[:-1]]] if len(order) else order


def pack_bins(sizes: NDArray[Any], target: float) -> NDArray[np.int64]:
    """Pack items into consecutive bins of about ``target`` total size, largest first."""
    order = np.argsort(-np.asarray(sizes, dtype=float), kind="stable")
    out = np.empty(len(order), dtype=np.int64)
    g, load = 0, 0.0
    for i in order:
        if load > 0 and load + sizes[i] > target:
            g, load = g + 1, 0.0
        out[i] = g
        load += float(sizes[i])
    return out



@dataclass
class CandidatePlan:
    """Uses (an option per property, and on a shared building the further service options
    open beside it: ``extra``, a mask over options), the area each option renovates (what
    it serves), service flows and the exact objective."""

    choice: NDArray[np.int64]
    area: NDArray[np.int64]
    y: NDArray[np.int64]
    unmet: NDArray[np.int64]
    objective: int
    extra: NDArray[np.bool_]
    source: str = "heuristic"
    history: list[int] = field(default_factory=list)

    def open_options(self) -> NDArray[np.bool_]:
        """Mask of every open option: the chosen one per property and the extra ones."""
        out = self.extra.copy()
        out[self.choice] = True
        return out


def halving_batch(plan: CandidatePlan, moves: list[Any],
                  apply: Callable[[list[Any]], CandidatePlan],
                  better: Callable[[CandidatePlan], bool], failure: str) -> CandidatePlan:
    """The plan after the batch of ``moves``, halved until ``better`` accepts it; a single
    move must be accepted (``failure`` is raised otherwise: the end passes prove it)."""
    while True:
        trial = apply(moves)
        if better(trial):
            trial.history = [*plan.history, trial.objective]
            return trial
        if len(moves) == 1:
            raise RuntimeError(failure)
        moves = moves[:len(moves) // 2]
