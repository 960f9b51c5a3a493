"""Units served first (island communes by default): their needs before any other's.

A need marked ``served_first`` gets the renovation budget before every need that is not:
in the final plan no unmet unit of it is left that a candidate property could serve with the
budget left plus all the renovation spent on properties that serve no served-first need
(those could be released to pay for it). Written for an arc a = (o, n), property p of o not
fixed, n served first with unmet need, and serving it worth its cost in the model's own terms
(pen_n > cost_a), the rule is broken when, in every budget row s that counts o,

    c_a <= slack_s + sum of the spend in s of the releasable properties other than p

where c_a is rho_o (o open and not full, with floor left), r_o + rho_o (o can open beside
p's uses) or r_o + rho_o with p's own spend released too (p serves no served-first need: it
switches to o). ``check_solution`` verifies it on the result frames.

The solve ends by removing such cases: release releasable properties (least weighted need
served per VND first) until the budget pays for the units, open or grow o by them, hold
every other option to the area it renovates, and evaluate. Each such move serves at least
one more unit of served-first need because every served-first penalty is lifted to

    pen_n >= max {pen_m : m not served first, same use} + 2 max {cost_a : arcs of that use} + 1

(``lifted_penalties``): then any flow that gives the new units to other needs, or reroutes
to save costs, gains less than the flow that gives them to n. The number of served-first
units served rises with every accepted round, so the pass ends.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimization.disposition.common import USES, CandidatePlan, halving_batch
from optimization.disposition.state import DispositionState
from optimization.result import SolutionCheckError

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]


def lifted_penalties(need_pen: Ints, need_u: Ints, need_first: Bools, arc_n: Ints,
                     arc_cost: Ints) -> Ints:
    """Penalties with every served-first need above any other need of its use (docstring)."""
    pen = need_pen.copy()
    for u in np.unique(need_u[need_first]):
        others = pen[(need_u == u) & ~need_first]
        if len(others) == 0:
            continue
        costs = arc_cost[need_u[arc_n] == u]
        floor = int(others.max()) + 2 * (int(costs.max()) if len(costs) else 0) + 1
        lift = need_first & (need_u == u)
        pen[lift] = np.maximum(pen[lift], floor)
    return pen


class _Priority(DispositionState):
    """Violations of the served-first rule, and the moves that remove them."""

    def _serves_first(self, y: Ints) -> Bools:
        """Per property: whether it serves any served-first need."""
        out = np.zeros(self.n_p, dtype=bool)
        out[self.opt_p[self.arc_o[(y > 0) & self.need_first[self.arc_n]]]] = True
        return out

    def _first_cases(self, choice: Ints, extra: Bools, area: Ints, unmet: Ints,
                     serves_first: Bools) -> tuple[Ints, Ints, Ints, Bools]:
        """Arcs that break the rule, with per arc the fixed part to pay, its rate, and
        whether the property switches to the option (dropping its uses)."""
        empty = np.zeros(0, dtype=np.int64)
        if self.n_a == 0 or not self.need_first.any():
            return empty, empty, empty, np.zeros(0, dtype=bool)
        o, n = self.arc_o, self.arc_n
        p = self.opt_p[o]
        is_open = extra.copy()
        is_open[choice] = True
        floor = self._floor_left(is_open, area)
        grow = is_open[o] & (area[o] < self.opt_cap[o]) & (~self.opt_on_floor[o] | (floor[p] > 0))
        add = self._addable_arrays(choice, extra, area)[o]
        switch = ~is_open[o] & ~add & ~serves_first[p]
        cand = np.flatnonzero((grow | add | switch) & self.need_first[n] & (unmet[n] > 0)
                              & (self.fixed_opt[p] < 0) & (self.need_pen[n] > self.arc_cost))
        fixed = np.where(is_open[o[cand]], 0, self.opt_reno[o[cand]])
        rate = self.opt_rate[o[cand]]
        if len(cand) and self.budget_rows:
            own = self._releasable_spend(choice, extra, area, serves_first)
            avail = self._first_budget(choice, extra, area, own)
            scope = self.budget_masks[:, self.prop_first]
            pc = p[cand]
            room = avail[:, None] - np.where(switch[cand], 0, scope[:, pc] * own[pc])
            fits = ~self.budget_masks[:, o[cand]] | (fixed + rate <= room)
            keep = fits.all(axis=0)
            cand, fixed, rate = cand[keep], fixed[keep], rate[keep]
        return cand, fixed, rate, switch[cand]

    def _check_served_first(self, choice: Ints, extra: Bools, area: Ints, unmet: Ints,
                            serves_first: Bools) -> None:
        cases, fixed, rate, switch = self._first_cases(choice, extra, area, unmet,
                                                       serves_first)
        if len(cases):
            a = int(cases[0])
            o, n = int(self.arc_o[a]), int(self.arc_n[a])
            raise SolutionCheckError(
                f"served-first rule broken in {len(cases)} case(s): commune "
                f"{self.needs['commune_code'].iloc[n]!r} has {int(unmet[n])} unit(s) of "
                f"{USES[self.opt_u[o]]} need unmet that property "
                f"{self.properties['property_id'].iloc[self.opt_p[o]]!r} "
                f"({self.arc_km[a]:g} km) could serve for {int(fixed[0] + rate[0]):,} VND, "
                "within the budget left and what properties serving no served-first need spend")

    def _releasable_spend(self, choice: Ints, extra: Bools, area: Ints,
                          serves_first: Bools) -> Ints:
        """Per property the renovation it could give back: all of it for a property not fixed
        that serves no served-first need, else 0."""
        is_open = extra.copy()
        is_open[choice] = True
        spend = self._spend_per_property(is_open, area)
        return np.where(~serves_first & (self.fixed_opt < 0), spend, 0)

    def _first_budget(self, choice: Ints, extra: Bools, area: Ints, rel: Ints) -> Ints:
        """Per budget row: its slack plus what the releasable properties (``rel``: their
        spend) in it spend."""
        scope = self.budget_masks[:, self.prop_first].astype(np.int64)
        return self._budget_caps() - self._spending(choice, area, extra) + scope @ rel

    def _served_first(self, plan: CandidatePlan) -> CandidatePlan:
        """Serve served-first needs with what the budgets leave and what releasing other
        properties gives back, until no case is left (module docstring). Per round at most
        one move per need and per property; a batch that does not serve more served-first
        need is halved; one move always does."""
        if not self.need_first.any():
            return plan
        first_n = self.need_first
        while True:
            sf = self._serves_first(plan.y)
            cases, fixed, rate, switch = self._first_cases(plan.choice, plan.extra, plan.area,
                                                           plan.unmet, sf)
            if len(cases) == 0:
                return plan
            moves = self._first_moves(plan, sf, cases, fixed, rate, switch)

            def apply(batch: list[Any], p: CandidatePlan = plan) -> CandidatePlan:
                return self._apply_first_moves(p, batch)

            def serves_more(t: CandidatePlan, before: int = int(plan.unmet[first_n].sum())
                            ) -> bool:
                return int(t.unmet[first_n].sum()) < before and self._within_budget(t)

            plan = halving_batch(plan, moves, apply, serves_more, "a move for a served-first "
                                 "need did not serve it; the lifted penalties are wrong")

    def _first_moves(self, plan: CandidatePlan, sf: Bools, cases: Ints, fixed: Ints,
                     rate: Ints, switch: Bools) -> list[tuple[int, int, bool, list[int]]]:
        """Moves (arc, units, switch, released properties), highest penalty first, each
        with the units the budgets leave it after releasing what it needs."""
        rel = self._releasable_spend(plan.choice, plan.extra, plan.area, sf)
        scope = self.budget_masks[:, self.prop_first]
        spent = self._spending(plan.choice, plan.area, plan.extra)
        caps = self._budget_caps()
        # Least weighted need served per VND given back is released first.
        loss = np.bincount(self.opt_p[self.arc_o], weights=plan.y * self.need_pen[self.arc_n],
                           minlength=self.n_p)
        givers = np.flatnonzero(rel > 0)
        pool = [int(q) for q in givers[np.lexsort((givers, loss[givers] / rel[givers]))]]
        is_open = plan.open_options()
        floor = self._floor_left(is_open, plan.area)
        busy = np.zeros(self.n_p, dtype=bool)
        done_n = np.zeros(self.n_n, dtype=bool)
        moves: list[tuple[int, int, bool, list[int]]] = []
        order = np.lexsort((fixed + rate, -self.need_pen[self.arc_n[cases]]))
        for i in order:
            a, sw = int(cases[i]), bool(switch[i])
            o, n = int(self.arc_o[a]), int(self.arc_n[a])
            p = int(self.opt_p[o])
            if busy[p] or done_n[n]:
                continue
            room = int(self.opt_cap[o]) - (0 if sw else int(plan.area[o]))
            if self.opt_on_floor[o]:
                room = min(room, int(self.prop_floor[p]) if sw else int(floor[p]))
            units = min(room, int(plan.unmet[n]))
            hits = self.budget_masks[:, o]
            freed = np.zeros(len(caps), dtype=np.int64)
            if sw:
                freed += scope[:, p] * rel[p]
            released: list[int] = []
            if hits.any():
                want = spent + int(fixed[i]) + int(rate[i]) * units - caps
                for q in pool:
                    short = hits & (want - freed > 0)
                    if not short.any():
                        break
                    if not busy[q] and q != p and (scope[:, q] & short).any():
                        released.append(int(q))
                        freed += scope[:, q] * rel[q]
                left = int((caps - spent + freed - int(fixed[i]))[hits].min())
                if int(rate[i]) > 0:
                    units = min(units, left // int(rate[i]))
                elif left < 0:
                    units = 0
            if units < 1:
                continue
            busy[[p, *released]] = True
            done_n[n] = True
            spent = spent - freed + hits * (int(fixed[i]) + int(rate[i]) * units)
            moves.append((a, units, sw, released))
        return moves

    def _apply_first_moves(self, plan: CandidatePlan,
                           moves: list[tuple[int, int, bool, list[int]]]) -> CandidatePlan:
        """The plan after the moves: released properties take their best non-public use,
        every option held to the area it renovates, the moved ones grown by their units."""
        choice, extra, area = plan.choice.copy(), plan.extra.copy(), plan.area.copy()
        released = np.array([q for *_, qs in moves for q in qs], dtype=np.int64)
        switched = np.array([self.opt_p[self.arc_o[a]] for a, _, sw, _ in moves if sw],
                            dtype=np.int64)
        cleared = np.isin(self.opt_p, np.concatenate([released, switched]))
        extra[cleared] = False
        area[cleared] = 0
        choice[released] = self._best_non_public()[released]
        for a, units, sw, _ in moves:
            o = int(self.arc_o[a])
            if sw:
                choice[self.opt_p[o]] = o
            elif choice[self.opt_p[o]] != o:
                extra[o] = True
            area[o] += units
        return self.evaluate(choice, plan.source, area, extra)
