"""The transfer model's checks: feasibility before solving (every shortfall met, when asked)
and the verification of a solution from its result frames alone."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow

from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus

if TYPE_CHECKING:
    from optimization.transfer import TransferModel


def check_inputs(self: TransferModel, arcs: pd.DataFrame) -> None:
    """Raise :class:`InfeasibleInputError` when every shortfall must be met and cannot."""
    if self.allow_unmet:
        return
    n_s, n_d = len(self.supplies), len(self.demands)
    if n_d == 0:
        return
    reached = np.zeros(n_d, dtype=bool)
    reached[arcs["d"].to_numpy()] = True
    if not reached.all():
        lonely = self.demands[~reached].head(5)
        raise InfeasibleInputError(
            f"{int((~reached).sum())} shortfall(s) of "
            f"{int(self.demands['shortfall'][~reached].sum()):,} item(s) have no holder "
            "within reach (no pair, or only pairs across provinces), e.g. "
            + ", ".join(f"{c!r}/{k!r}" for c, k in zip(lonely["commune_code"],
                                                         lonely["category"], strict=True)))
    # Max flow source -> holders -> communes -> sink tells what can be delivered.
    mf = max_flow.SimpleMaxFlow()
    src, snk = n_s + n_d, n_s + n_d + 1
    tails = np.concatenate([np.full(n_s, src), arcs["s"].to_numpy(),
                            n_s + np.arange(n_d)]).astype(np.int32)
    heads = np.concatenate([np.arange(n_s), n_s + arcs["d"].to_numpy(),
                            np.full(n_d, snk)]).astype(np.int32)
    caps = np.concatenate([self.supplies["surplus"].to_numpy(),
                           np.minimum(self.supplies["surplus"].to_numpy()[arcs["s"]],
                                      self.demands["shortfall"].to_numpy()[arcs["d"]]),
                           self.demands["shortfall"].to_numpy()]).astype(np.int64)
    mf.add_arcs_with_capacity(tails, heads, caps)
    if mf.solve(src, snk) != mf.OPTIMAL:
        raise RuntimeError("max-flow check failed")
    flows = np.asarray(mf.flows(np.arange(len(tails) - n_d, len(tails), dtype=np.int32)))
    got = pd.Series(flows).groupby(self.demands["category"].to_numpy()).sum()
    need = self.demands.groupby("category")["shortfall"].sum()
    have = self.supplies.groupby("category")["surplus"].sum().reindex(need.index,
                                                                       fill_value=0)
    short = need.index[got.reindex(need.index).to_numpy() < need.to_numpy()]
    if len(short):
        k = short[0]
        raise InfeasibleInputError(
            f"category {k!r}: shortfall {int(need[k]):,} cannot all be met; surplus is "
            f"{int(have[k]):,} and at most {int(got[k]):,} can reach the communes short of "
            "it (allow_unmet=False)")


def check_solution(self: TransferModel) -> None:
    """Recompute every constraint and the objective from the result frames alone."""
    if not self.info.status.has_solution:
        raise SolutionCheckError(f"no solution to check (status {self.info.status})")
    f = self.flows
    # Look every flow up in the inputs directly, not in the arcs the model built.
    s = pd.MultiIndex.from_frame(self.supplies[["holder_code", "category"]]).get_indexer(
        pd.MultiIndex.from_frame(f[["holder_code", "category"]]))
    d = pd.MultiIndex.from_frame(self.demands[["commune_code", "category"]]).get_indexer(
        pd.MultiIndex.from_frame(f[["commune_code", "category"]]))
    if (s < 0).any() or (d < 0).any():
        raise SolutionCheckError("a flow names a holder or commune without surplus or "
                                 "shortfall in its category")
    if pd.MultiIndex.from_frame(f[["holder_code", "commune_code", "category"]]).has_duplicates:
        raise SolutionCheckError("flows has duplicate (holder, commune, category) rows")
    if self.pairs is None:
        from optimization.transfer import _haversine_km

        km = _haversine_km(self.supplies["lon"].to_numpy()[s],
                           self.supplies["lat"].to_numpy()[s],
                           self.demands["lon"].to_numpy()[d],
                           self.demands["lat"].to_numpy()[d])
    else:
        p = pd.MultiIndex.from_frame(self.pairs[["holder_code", "commune_code"]]).get_indexer(
            pd.MultiIndex.from_frame(f[["holder_code", "commune_code"]]))
        if (p < 0).any():
            bad = f[p < 0].iloc[0]
            raise SolutionCheckError(f"flow on a pair that is not given: {dict(bad)}")
        km = self.pairs["distance_km"].to_numpy()[p]
    sea = (self.sea_legs(len(f)) if self.pairs is None
           else self.sea_legs(self.pairs)[p])
    if not np.array_equal(f["sea_leg"].to_numpy(dtype=bool), sea):
        raise SolutionCheckError("flows.sea_leg differs from the pair's")
    cross = self._cross(s, d)
    if self.same_province and cross.any():
        raise SolutionCheckError("flow across provinces although same_province=True")
    q = f["quantity"].to_numpy()
    if not np.array_equal(q, np.round(q)) or (q <= 0).any():
        raise SolutionCheckError("flow quantities must be positive integers")
    if not np.allclose(f["distance_km"].to_numpy(dtype=float), km):
        raise SolutionCheckError("flows.distance_km differs from the pair distance")
    want_cost = q.astype(np.int64) * self._unit_cost_vnd(km, self._category_codes()[0][s],
                                                         cross, sea)
    if not np.array_equal(f["cost_vnd"].to_numpy(), want_cost):
        raise SolutionCheckError("flows.cost_vnd differs from quantity x unit cost")
    shipped = np.bincount(s, weights=q, minlength=len(self.supplies))
    over = shipped > self.supplies["surplus"].to_numpy()
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise SolutionCheckError(
            f"holder {self.supplies['holder_code'].iloc[i]!r} ships {int(shipped[i])} "
            f"> surplus {int(self.supplies['surplus'].iloc[i])}")
    if not np.array_equal(self.remaining["shipped"].to_numpy(), shipped) or \
            not np.array_equal(self.remaining["remaining"].to_numpy(),
                               self.supplies["surplus"].to_numpy() - shipped):
        raise SolutionCheckError("remaining frame disagrees with the flows")
    u = self.unmet
    received = np.bincount(d, weights=q, minlength=len(self.demands))
    if not np.array_equal(u["received"].to_numpy(), received):
        raise SolutionCheckError("unmet.received disagrees with the flows")
    if not np.array_equal(u["shortfall"].to_numpy(), self.demands["shortfall"].to_numpy()):
        raise SolutionCheckError("unmet.shortfall disagrees with the demands")
    if (u["unmet"].to_numpy() < 0).any() or not np.array_equal(
            u["received"].to_numpy() + u["unmet"].to_numpy(), u["shortfall"].to_numpy()):
        raise SolutionCheckError("received + unmet must equal the shortfall, unmet >= 0")
    if not self.allow_unmet and u["unmet"].to_numpy().any():
        raise SolutionCheckError("unmet shortfall although allow_unmet=False")
    pen = u["unmet"].to_numpy() * self.unit_penalty_vnd()
    if not np.array_equal(u["penalty_vnd"].to_numpy(), pen):
        raise SolutionCheckError("unmet.penalty_vnd disagrees with the penalties")
    total = int(want_cost.sum()) + int(pen.sum())
    if total != self.info.objective_value:
        raise SolutionCheckError(f"objective recomputed as {total:,} VND, solver reported "
                                 f"{self.info.objective_value:,.0f}")
    check_fixed_flows(self)
    if self.info.status is SolveStatus.OPTIMAL and self.info.best_bound != total:
        raise SolutionCheckError("an exact min-cost flow must have bound == objective")


def check_fixed_flows(self: TransferModel) -> None:
    """Every fixed flow moves at least its quantity."""
    f = self.fixed_flows
    if len(f) == 0:
        return
    moved = self.flows.set_index(["holder_code", "commune_code", "category"])["quantity"].reindex(
        pd.MultiIndex.from_frame(f[["holder_code", "commune_code", "category"]])).fillna(0)
    short = moved.to_numpy() < f["quantity"].to_numpy()
    if short.any():
        row = f[short].iloc[0]
        raise SolutionCheckError(f"fixed flow {row['holder_code']!r} -> {row['commune_code']!r} "
                                 f"({row['category']}) moves less than {row['quantity']}")
