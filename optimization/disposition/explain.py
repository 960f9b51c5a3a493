"""Why the solved plan decides as it does: a reason code and its numbers for every property
and every need left unmet, read from the plan, the arcs and the budgets of the model.

Property codes: ``fixed`` (decided beforehand), ``serves`` (a public use serving needs),
``no_public_option`` (not eligible for any public use), ``no_need_in_reach`` (eligible, but
no need of those uses among the communes it may serve), ``needs_met`` (every need it reaches
is met by others), ``budget`` (the best public alternative does not fit a budget: its cost
for one unit and for the unmet need against what is left), ``value`` (order ``value`` only:
it fits, but the money outweighs the weighted need it would serve).

Need codes (for each need with unmet units; the candidate property that decides it):
``no_candidate``, ``budget`` (a candidate could be converted, or its area grown, but that
does not fit a budget), ``value``, ``other_use`` (the candidate serves another public use),
``capacity_taken`` (the candidate serves this use to its full capacity, for the units it
names), ``fixed``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimization.disposition.common import N_SERVICE, USES, CandidatePlan, first_of_groups
from optimization.disposition.state import DispositionState

NEED_ORDER = ("budget", "value", "other_use", "capacity_taken", "fixed")


class _Explain(DispositionState):
    """Reason codes and numbers computed from the solved plan."""

    def _switch_room(self, plan: CandidatePlan, opt: NDArray[np.int64]
                     ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Per option: the budget left for it if its property took it (inf without a
        budget) and the row that binds (-1 if none)."""
        if not self.budget_rows:
            return np.full(len(opt), np.inf), np.full(len(opt), -1)
        masks = self.budget_masks
        choice, area = plan.choice, plan.area
        spent = self._spending(choice, area, plan.extra)
        cur = choice[self.opt_p[opt]]
        is_open = plan.open_options()
        spend_p = self._property_spend(plan)
        # What the property spends now comes back when it switches; an option already open,
        # or one that would open beside it on a shared floor, keeps it (the change is one
        # more unit, or the new conversion).
        keeps = is_open[opt] | self._addable(plan)[opt]
        own = np.where(keeps, 0, spend_p[self.opt_p[opt]])
        left = (self._budget_caps()[:, None] - spent[:, None] + masks[:, cur] * own)
        left = np.where(masks[:, opt], left, np.inf).astype(float)
        row = np.argmin(left, axis=0)
        return left[row, np.arange(len(opt))], np.where(np.isfinite(left.min(axis=0)), row, -1)

    def _scope(self, row: NDArray[np.int64]) -> NDArray[np.object_]:
        names = np.array([("national" if s == "national" else f"province {k}")
                          for s, k, _, _ in self.budget_rows] + [""], dtype=object)
        return names[row]

    def property_reasons(self) -> pd.DataFrame:
        """One row per property: reason_code and the numbers of the best public alternative
        (alt_use, alt_commune_code, alt_unmet, alt_distance_km, alt_cost_one_unit_vnd,
        alt_cost_vnd for the whole unmet, budget_scope, budget_left_vnd)."""
        plan = self._plan
        choice = plan.choice
        n_p = self.n_p
        public = self.opt_u[choice] < N_SERVICE
        has_option = np.bincount(self.opt_p[self.opt_u < N_SERVICE], minlength=n_p) > 0
        arc_p = self.opt_p[self.arc_o]
        has_arc = np.bincount(arc_p, minlength=n_p) > 0
        code = np.select(
            [self.fixed_opt >= 0, public, ~has_option, ~has_arc],
            ["fixed", "serves", "no_public_option", "no_need_in_reach"], "needs_met"
        ).astype(object)
        out = pd.DataFrame({"property_id": self.properties["property_id"].to_numpy(),
                            "reason_code": code})
        if self.n_a == 0:
            return out
        open_unmet = (plan.unmet[self.arc_n] > 0) & (self.need_pen[self.arc_n] > 0)
        units = np.minimum(self.opt_cap[self.arc_o], plan.unmet[self.arc_n])
        left, row = self._switch_room(plan, self.arc_o)
        one = self.opt_reno[self.arc_o] + self.opt_rate[self.arc_o]
        full = self.opt_reno[self.arc_o] + self.opt_rate[self.arc_o] * units
        # Best alternative per property: an unmet need first (most weighted need it could
        # serve), else the nearest need it reaches.
        worth = np.where(open_unmet, self.need_pen[self.arc_n] * units, -1.0)
        order = np.lexsort((self.arc_km, -worth, arc_p))
        first = first_of_groups(order, arc_p)
        best = np.full(n_p, -1, dtype=np.int64)
        best[arc_p[first]] = first
        b = np.maximum(best, 0)
        alt = (code == "needs_met") & (best >= 0) & open_unmet[b]
        code[alt] = np.where(one[b] > left[b], "budget", "value")[alt]
        show = (best >= 0) & ~public & (self.fixed_opt < 0)
        uses = np.asarray(USES, dtype=object)
        communes = self.needs["commune_code"].to_numpy().astype(object)
        return out.assign(
            reason_code=code,
            alt_use=np.where(show, uses[self.opt_u[self.arc_o[b]]], ""),
            alt_commune_code=np.where(show, communes[self.arc_n[b]], ""),
            alt_unmet=np.where(show, plan.unmet[self.arc_n[b]], 0),
            alt_distance_km=np.where(show, self.arc_km[b], np.nan),
            alt_cost_one_unit_vnd=np.where(show, one[b], 0),
            alt_cost_vnd=np.where(show, full[b], 0),
            budget_scope=np.where(show, self._scope(row[b]), ""),
            budget_left_vnd=np.where(show & np.isfinite(left[b]), left[b], np.nan))

    def need_reasons(self) -> pd.DataFrame:
        """One row per need with unmet units (commune_code, use): reason_code, the deciding
        candidate (candidate_property_id, candidate_distance_km, candidate_use: its use now),
        cost_one_unit_vnd and cost_vnd (to serve the unmet from it), budget_scope,
        budget_left_vnd, and for
        ``capacity_taken`` or ``other_use`` what it serves (``serves``: commune_code:quantity,
        largest first)."""
        plan = self._plan
        choice, area = plan.choice, plan.area
        left_unmet = np.flatnonzero(plan.unmet > 0)
        open_opt = plan.open_options()
        out = pd.DataFrame({"commune_code": self.needs["commune_code"].to_numpy()[left_unmet],
                            "use": self.needs["use"].to_numpy()[left_unmet],
                            "reason_code": "no_candidate"})
        if self.n_a == 0:
            return out
        arc_p = self.opt_p[self.arc_o]
        cur = choice[arc_p]
        left, row = self._switch_room(plan, self.arc_o)
        is_open = open_opt[self.arc_o]
        beside = self._addable(plan)[self.arc_o]
        one = np.where(is_open, self.opt_rate[self.arc_o],
                       self.opt_reno[self.arc_o] + self.opt_rate[self.arc_o])
        # An option on a shared floor can grow only into the floor its property has left.
        room = np.where(self.opt_on_floor, self._floor_left(open_opt, area)[self.opt_p],
                        self.opt_cap)
        cap_left = np.minimum(self.opt_cap - np.where(open_opt, area, 0), room)[self.arc_o]
        units = np.minimum(cap_left, plan.unmet[self.arc_n])
        cost = (np.where(is_open, 0, self.opt_reno[self.arc_o])
                + self.opt_rate[self.arc_o] * units)
        full_area = cap_left <= 0
        state = np.select(
            [is_open & full_area, is_open & (one > left), is_open,
             self.fixed_opt[arc_p] >= 0, beside & (one > left), beside,
             self.opt_u[cur] < N_SERVICE, one > left],
            ["capacity_taken", "budget", "value", "fixed", "budget", "value", "other_use",
             "budget"], "value")
        rank = pd.Index(NEED_ORDER).get_indexer(state)
        order = np.lexsort((self.arc_km, rank, self.arc_n))
        first = first_of_groups(order, self.arc_n)
        pick = np.full(self.n_n, -1, dtype=np.int64)
        pick[self.arc_n[first]] = first
        a = pick[left_unmet]
        has = a >= 0
        a0 = np.maximum(a, 0)
        ids = self.properties["property_id"].to_numpy().astype(object)
        uses = np.asarray(USES, dtype=object)
        return out.assign(
            reason_code=np.where(has, state[a0], "no_candidate"),
            candidate_property_id=np.where(has, ids[arc_p[a0]], ""),
            candidate_distance_km=np.where(has, self.arc_km[a0], np.nan),
            candidate_use=np.where(has, uses[self.opt_u[np.where(is_open, self.arc_o, cur)[a0]]],
                                   ""),
            cost_one_unit_vnd=np.where(has, one[a0], 0),
            cost_vnd=np.where(has, cost[a0], 0),
            budget_scope=np.where(has, self._scope(row[a0]), ""),
            budget_left_vnd=np.where(has & np.isfinite(left[a0]), left[a0], np.nan),
            serves=self._serves_text(np.where(is_open, self.arc_o, cur)[a0], has))

    def _serves_text(self, opt: NDArray[np.int64], has: NDArray[np.bool_]
                     ) -> NDArray[np.object_]:
        """'commune_code:quantity, ...' (largest first, at most five) of what ``opt``
        serves."""
        plan = self._plan
        used = np.flatnonzero(plan.y > 0)
        by_opt: dict[int, list[tuple[int, str]]] = {}
        communes = self.needs["commune_code"].to_numpy()
        for a in used[np.argsort(-plan.y[used], kind="stable")]:
            by_opt.setdefault(int(self.arc_o[a]), []).append(
                (int(plan.y[a]), str(communes[self.arc_n[a]])))
        out = np.full(len(opt), "", dtype=object)
        for i in np.flatnonzero(has):
            out[i] = ", ".join(f"{c}:{q}" for q, c in by_opt.get(int(opt[i]), [])[:5])
        return out
