"""The order of reuse: public uses before sale, hand-over or hold (Dispatch 213/CĐ-TTg).

Under ``public_first`` the objective counts money in units of ``money_unit_vnd`` (a power of
ten) chosen so that one unit of any need outweighs all the money of any single switch:

    pen_n > net'(o) - min_{o' non-public of p} net'(o') + cost'(a)   for every arc a = (o, n)

(primes: rounded to the money unit). Then a plan in which a non-public property p reaches a
need n left unmet through an option o whose renovation fits every budget's slack is never
optimal: switching p to o and sending one unit to n lowers the objective by at least the
margin above. The solve ends with such switches until none is left, each an improvement of
the model's own objective, and ``check_solution`` verifies the rule on the result frames.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from optimization.disposition.common import (
    HOLD,
    N_SERVICE,
    CandidatePlan,
    first_of_groups,
    halving_batch,
)
from optimization.disposition.state import DispositionState

Ints = NDArray[np.int64]
DISPOSAL_ORDERS = ("public_first", "value")


def in_money_units(vnd: Ints, unit_vnd: int) -> Ints:
    """VND rounded (half up) to whole money units."""
    return np.asarray((vnd + unit_vnd // 2) // unit_vnd, dtype=np.int64)


def money_unit_vnd(need_pen: Ints, arc_o: Ints, arc_n: Ints, opt_p: Ints, opt_u: Ints,
                   opt_net_vnd: Ints, arc_cost_vnd: Ints, opt_rate_vnd: Ints,
                   movable: NDArray[np.bool_], n_p: int) -> int:
    """The smallest power of ten for which every arc meets the margin of the docstring."""
    counted = (need_pen[arc_n] > 0) & movable[opt_p[arc_o]]
    nonpublic = opt_u >= N_SERVICE
    unit = 1
    while True:
        net = in_money_units(opt_net_vnd, unit)
        least = np.full(n_p, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(least, opt_p[nonpublic], net[nonpublic])
        switch = (net[arc_o] - least[opt_p[arc_o]] + in_money_units(arc_cost_vnd, unit)
                  + in_money_units(opt_rate_vnd, unit)[arc_o])
        if (need_pen[arc_n][counted] > switch[counted]).all():
            return unit
        unit *= 10


class _Order(DispositionState):
    """Violations of the order of reuse, and the switches that remove them."""

    def _order_violations(self, choice: Ints, area: Ints, unmet: Ints,
                          extra: NDArray[np.bool_] | None = None) -> Ints:
        """Arcs (o, n) where o's property is non-public (not fixed), n has unmet need of
        positive weight, and switching the property to o to serve one unit fits every
        budget."""
        if self.disposal_order != "public_first" or self.n_a == 0:
            return np.zeros(0, dtype=np.int64)
        p = self.opt_p[self.arc_o]
        cur = choice[p]
        cand = np.flatnonzero((self.opt_u[cur] >= N_SERVICE) & (self.fixed_opt[p] < 0)
                              & (unmet[self.arc_n] > 0) & (self.need_pen[self.arc_n] > 0))
        if len(cand) and self.budget_rows:
            o, c = self.arc_o[cand], cur[cand]
            masks = self.budget_masks
            after = (self._spending(choice, area, extra)[:, None]
                     + masks[:, o] * (self.opt_reno[o] + self.opt_rate[o])
                     - masks[:, c] * self.opt_reno[c])
            cand = cand[(after <= self._budget_caps()[:, None]).all(axis=0)]
        return cand

    def _public_first(self, plan: CandidatePlan) -> CandidatePlan:
        """Switch non-public properties to public uses while the order of reuse is broken.

        Per round at most one switch per need and per property, highest weight first, each
        with the area the budgets leave it (at least one unit); the batch is evaluated with
        every option free to serve what it can, or, if that breaks a budget, with the other
        options held to the areas they renovate now. A batch that does not improve is
        halved; one switch always improves (see the module docstring).
        """
        masks = self.budget_masks
        caps = self._budget_caps()
        while True:
            bad = self._order_violations(plan.choice, plan.area, plan.unmet, plan.extra)
            if len(bad) == 0:
                return plan
            o_b, n_b = self.arc_o[bad], self.arc_n[bad]
            ranked = bad[np.lexsort((self.opt_reno[o_b], -self.need_pen[n_b]))]
            spent = self._spending(plan.choice, plan.area, plan.extra)
            taken_p = np.zeros(self.n_p, dtype=bool)
            taken_n = np.zeros(self.n_n, dtype=bool)
            moves: list[tuple[int, int, int]] = []
            for a in ranked:
                o, n = int(self.arc_o[a]), int(self.arc_n[a])
                p = int(self.opt_p[o])
                if taken_p[p] or taken_n[n]:
                    continue
                old = int(plan.choice[p])
                hits = masks[:, o]
                slack = (caps - spent + masks[:, old] * self.opt_reno[old])[hits]
                room = int(slack.min()) - int(self.opt_reno[o]) if hits.any() else None
                rate = int(self.opt_rate[o])
                units = int(self.opt_cap[o]) if room is None or rate == 0 else min(
                    int(self.opt_cap[o]), room // rate)
                if units < 1 or (room is not None and room < 0):
                    continue
                spent = spent + hits * (self.opt_reno[o] + rate * units) \
                    - masks[:, old] * self.opt_reno[old]
                taken_p[p] = taken_n[n] = True
                moves.append((p, o, units))
            def switch(batch: list[tuple[int, int, int]], p: CandidatePlan = plan
                       ) -> CandidatePlan:
                idx = np.array(batch, dtype=np.int64)
                choice = p.choice.copy()
                choice[idx[:, 0]] = idx[:, 1]
                trial = self.evaluate(choice, p.source, extra=p.extra)
                if not self._within_budget(trial):
                    area = p.area.copy()
                    area[idx[:, 1]] = idx[:, 2]
                    trial = self.evaluate(choice, p.source, area, p.extra)
                return trial

            def improves(t: CandidatePlan, objective: int = plan.objective) -> bool:
                return t.objective < objective and self._within_budget(t)

            plan = halving_batch(plan, moves, switch, improves, "a switch to a public use did "
                                 "not improve the plan; the money unit of the order of reuse "
                                 "is wrong")

    def _best_non_public(self) -> Ints:
        """Per property its non-public option that earns most without renovation, hold on
        equal money (-1 where it has none; hold is always eligible)."""
        free = np.flatnonzero((self.opt_u >= N_SERVICE) & (self.opt_reno == 0))
        order = np.lexsort((self.opt_u[free] != HOLD, self.opt_net[free], self.opt_p[free]))
        first = first_of_groups(free[order], self.opt_p)
        best = np.full(self.n_p, -1, dtype=np.int64)
        best[self.opt_p[first]] = first
        return best

    def _settle_non_public(self, plan: CandidatePlan) -> CandidatePlan:
        """A property left without a public use takes its non-public option that earns most
        without renovation; on equal money it is held rather than transferred or sold, as
        nothing in the model asks for the transfer."""
        best = self._best_non_public()
        cur = plan.choice
        move = (self.opt_u[cur] >= N_SERVICE) & (self.fixed_opt < 0) & (best >= 0) \
            & (best != cur) & (self.opt_reno[cur] == 0)
        if not move.any():
            return plan
        choice = np.where(move, best, cur)
        trial = self.evaluate(choice, plan.source, plan.area, plan.extra)
        if trial.objective <= plan.objective and self._within_budget(trial):
            trial.history = [*plan.history, trial.objective]
            return trial
        return plan

    def _grow_areas(self, plan: CandidatePlan) -> CandidatePlan:
        """Let open options renovate more of their floor where a need they reach is still
        unmet and the budgets leave room (plans taken from a solver keep its areas), while
        that improves the plan."""
        caps = self._budget_caps()
        while True:
            open_opt = plan.open_options()
            is_open = open_opt[self.arc_o]
            want = is_open & (plan.unmet[self.arc_n] > 0) & (plan.area[self.arc_o]
                                                               < self.opt_cap[self.arc_o])
            if not want.any():
                return plan
            limit = plan.area.copy()
            floor = self._floor_left(open_opt, plan.area)
            slack = caps - self._spending(plan.choice, plan.area, plan.extra)
            arcs = np.flatnonzero(want)
            order = arcs[np.lexsort((self.opt_rate[self.arc_o[arcs]],
                                     -self.need_pen[self.arc_n[arcs]]))]
            for a in order:
                o = int(self.arc_o[a])
                hits = self.budget_masks[:, o]
                room = int(slack[hits].min()) if hits.any() else None
                rate = int(self.opt_rate[o])
                units = min(int(self.opt_cap[o] - limit[o]), int(plan.unmet[self.arc_n[a]]))
                if rate > 0 and room is not None:
                    units = min(units, room // rate)
                p = int(self.opt_p[o])
                if self.opt_on_floor[o]:
                    units = min(units, int(floor[p]))
                if units < 1:
                    continue
                limit[o] += units
                if self.opt_on_floor[o]:
                    floor[p] -= units
                slack = slack - hits * rate * units
            if np.array_equal(limit, plan.area):
                return plan
            trial = self.evaluate(plan.choice, plan.source, limit, plan.extra)
            if not (trial.objective < plan.objective and self._within_budget(trial)):
                return plan
            trial.history = [*plan.history, trial.objective]
            plan = trial
