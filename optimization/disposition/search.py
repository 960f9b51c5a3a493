"""Incumbents: rounding, budget repair, local search and neighbourhood sub-MIPs."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimization.disposition.common import (
    LNS_NODES,
    MONEY_SCALE,
    N_SERVICE,
    CandidatePlan,
    first_of_groups,
)
from optimization.disposition.state import DispositionState
from optimization.result import relative_gap
from optimization.solver import Deadline, MipArrays, SolveOptions, solve_arrays


class _Search(DispositionState):
    """Heuristic plans, each evaluated exactly."""

    def _round(self, x: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Per property the option with the largest LP share (ties: lower net cost) and,
        beside a public use on a shared floor, the other public uses above one half, the
        largest shares first, as many as the property may take beside its use (the LP may
        have more above one half: five at 0.6 fit three uses)."""
        choice = first_of_groups(np.lexsort((self.opt_net, -np.round(x, 9), self.opt_p)),
                                 self.opt_p)
        fixed = self.fixed_opt >= 0
        choice[fixed] = self.fixed_opt[fixed]
        p = self.opt_p
        extra = ((x > 0.5) & (self.opt_u < N_SERVICE) & (self.prop_floor[p] > 0)
                 & (self.opt_u[choice[p]] < N_SERVICE))
        extra[choice] = False
        cand = np.flatnonzero(extra)
        cand = cand[np.lexsort((cand, -x[cand], p[cand]))]
        starts = np.r_[True, p[cand][1:] != p[cand][:-1]] if len(cand) else np.zeros(0, bool)
        first = np.maximum.accumulate(np.where(starts, np.arange(len(cand)), 0))
        rank = np.arange(len(cand)) - first
        extra[cand[rank >= self.prop_uses[p[cand]] - 1]] = False
        return choice, extra

    def _cheapest_free(self) -> NDArray[np.int64]:
        """Per property its best option that needs no renovation (hold at worst)."""
        net = np.where((self.opt_reno == 0) & (self.opt_rate == 0), self.opt_net,
                       np.iinfo(np.int64).max // 4)
        out = first_of_groups(np.lexsort((net, self.opt_p)), self.opt_p)
        fixed = self.fixed_opt >= 0
        out[fixed] = self.fixed_opt[fixed]
        return out

    def _repair_budget(self, plan: CandidatePlan) -> CandidatePlan:
        """Drop conversions, least service value per VND first, until every budget holds.

        Dropping one may move its service to another open option that then renovates more,
        so the plan is re-evaluated and the step repeated; the last resort keeps only the
        fixed uses, renovating no area.
        """
        if not self.budget_rows:
            return plan
        caps = self._budget_caps()
        free = self._cheapest_free()
        masks = self.budget_masks
        for _ in range(self.n_p + 1):
            spent = self._spending(plan.choice, plan.area, plan.extra)
            if (spent <= caps).all():
                return plan
            choice, extra = plan.choice.copy(), plan.extra.copy()
            is_open = plan.open_options()
            value = np.bincount(self.opt_p[self.arc_o], weights=plan.y * (
                self.need_pen[self.arc_n] - self.arc_cost), minlength=self.n_p)
            spend_p = self._property_spend(plan)
            net_p = np.bincount(self.opt_p, weights=is_open * self.opt_net, minlength=self.n_p)
            gain = value - (self.opt_net[free] - net_p)
            ratio = np.where((spend_p > 0) & (self.fixed_opt < 0),
                             gain / np.maximum(spend_p, 1), np.inf)
            dropped = np.zeros(self.n_p, dtype=bool)
            for p in np.argsort(ratio, kind="stable"):
                over = spent > caps
                if not over.any() or not np.isfinite(ratio[p]):
                    break
                hits = masks[:, choice[p]]
                if not (hits & over).any():
                    continue
                spent = spent - np.where(hits, int(spend_p[p]), 0)
                choice[p] = free[p]
                dropped[p] = True
            if not dropped.any():
                break
            extra &= ~dropped[self.opt_p]
            plan = self.evaluate(choice, plan.source, extra=extra)
        return self.evaluate(free, "no renovation", np.zeros(self.n_o, dtype=np.int64))

    def _option_values(self, residual: NDArray[np.int64],
                       arcs: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """Value of each option's capacity poured into residual needs, best arcs first."""
        if arcs is None:
            arcs = np.arange(self.n_a)
        v = (self.need_pen[self.arc_n[arcs]] - self.arc_cost[arcs]).astype(float)
        lim = np.minimum(self.arc_lim[arcs], residual[self.arc_n[arcs]]).astype(float)
        ok = (v > 0) & (lim > 0)
        arcs, v, lim = arcs[ok], v[ok], lim[ok]
        o = self.arc_o[arcs]
        order = np.lexsort((-v, o))
        o, v, lim = o[order], v[order], lim[order]
        cum = np.cumsum(lim)
        start = np.searchsorted(o, o, side="left")
        before = cum - lim - np.where(start > 0, cum[start - 1], 0.0)
        take = np.clip(self.opt_cap[o] - before, 0, lim)
        return np.asarray(np.bincount(o, weights=take * v, minlength=self.n_o), dtype=float)

    def _local_search(self, plan: CandidatePlan, deadline: float) -> CandidatePlan:
        """Alternate the two move scorings until neither improves the plan."""
        best = plan
        stalled = 0
        optimistic = False
        while stalled < 2 and time.perf_counter() <= deadline:
            trial = self._move_rounds(best, deadline, optimistic)
            stalled = 0 if trial.objective < best.objective else stalled + 1
            best = trial
            optimistic = not optimistic
        return best

    def _move_rounds(self, plan: CandidatePlan, deadline: float, optimistic: bool,
                     max_rounds: int = 60) -> CandidatePlan:
        """Move single properties between uses while the exact objective improves.

        Each round scores every (property, new use) move against the current plan: the value
        its capacity adds to unmet needs (best arcs first) minus the value its current use
        loses, plus the change in net cost. The loss is counted in full (pessimistic) or net
        of the spare capacity of other open options in reach (``optimistic``). The best
        compatible moves are applied together and the plan is re-evaluated exactly; if the
        batch does not improve, its first half is tried, and so on.
        """
        best = plan
        caps = self._budget_caps()
        arc_start = np.searchsorted(self.arc_o, np.arange(self.n_o + 1))
        masks = self.budget_masks
        movable = self.fixed_opt < 0
        v_arc = (self.need_pen[self.arc_n] - self.arc_cost).astype(float)
        opt_end = np.r_[self.prop_first[1:], self.n_o]
        for _ in range(max_rounds):
            if time.perf_counter() > deadline:
                break
            choice = best.choice
            residual = best.unmet.copy()
            open_opt = best.open_options()
            # Spare capacity of open options that could take over a need if its server left.
            used = np.bincount(self.arc_o, weights=best.y, minlength=self.n_o)
            spare = np.where(open_opt, self.opt_cap - used, 0)
            cover = np.bincount(self.arc_n, weights=np.minimum(
                spare[self.arc_o], self.arc_lim - best.y), minlength=self.n_n)
            kept = (np.minimum(best.y, np.floor(cover[self.arc_n])).astype(np.int64)
                    if optimistic else np.zeros(self.n_a, dtype=np.int64))
            lost_arc = (best.y - kept) * v_arc
            # What a property loses when it switches: every open option of it.
            lost = np.bincount(self.opt_p[self.arc_o], weights=lost_arc, minlength=self.n_p)
            net_p = np.bincount(self.opt_p, weights=open_opt * self.opt_net, minlength=self.n_p)
            spend_p = self._property_spend(best)
            value = self._option_values(residual)
            p_o = self.opt_p
            gain = net_p[p_o] - self.opt_net + value - lost[p_o]
            # Or open it beside the property's public uses on a shared floor.
            addable = self._addable(best)
            adds = addable & (value - self.opt_net > gain)
            gain = np.where(adds, value - self.opt_net, gain)
            gain[open_opt | ~movable[p_o]] = -np.inf  # an addable option is never open
            cand = np.flatnonzero(gain > 0)
            if len(cand) == 0:
                break
            cand = cand[np.argsort(-gain[cand], kind="stable")]
            spent = self._spending(choice, best.area, best.extra)
            moved = np.zeros(self.n_p, dtype=bool)
            moves: list[tuple[int, int, bool]] = []
            for o in cand[:5000]:
                p = self.opt_p[o]
                if moved[p]:
                    continue
                arcs = np.arange(arc_start[o], arc_start[o + 1])
                add = float(self._option_values(residual, arcs)[o]) if len(arcs) else 0.0
                beside = bool(adds[o])
                g = add - self.opt_net[o] + (0 if beside else net_p[p] - lost[p])
                if g <= 0:
                    continue
                trial_residual = residual.copy()
                if not beside:
                    old_arcs = np.arange(arc_start[self.prop_first[p]], arc_start[opt_end[p]])
                    trial_residual[self.arc_n[old_arcs]] += best.y[old_arcs] - kept[old_arcs]
                units = self._pour(o, arcs, trial_residual) if len(arcs) else 0
                if len(masks):
                    # Estimated from the units it would pour; the evaluation checks exactly.
                    delta = masks[:, o] * (self.opt_reno[o] + self.opt_rate[o] * units
                                           - (0 if beside else spend_p[p]))
                    if ((spent + delta > caps) & (delta > 0)).any():
                        continue
                    spent += delta.astype(np.int64)
                moved[p] = True
                moves.append((int(p), int(o), beside))
                residual = trial_residual
            improved = False
            while moves and time.perf_counter() <= deadline:
                trial_choice, trial_extra = choice.copy(), best.extra.copy()
                idx = np.array(moves, dtype=np.int64)
                switch = idx[idx[:, 2] == 0]
                trial_choice[switch[:, 0]] = switch[:, 1]
                switched = np.zeros(self.n_p, dtype=bool)
                switched[switch[:, 0]] = True
                trial_extra &= ~switched[self.opt_p]
                trial_extra[idx[idx[:, 2] == 1, 1]] = True
                trial = self.evaluate(trial_choice, extra=trial_extra)
                if trial.objective < best.objective and self._within_budget(trial):
                    trial.history = [*best.history, trial.objective]
                    best, improved = trial, True
                    break
                moves = moves[:len(moves) // 2]
            if not improved:
                break
        return best

    def _pour(self, o: int, arcs: NDArray[np.int64], residual: NDArray[np.int64]) -> int:
        """Take option o's capacity out of the residual needs, best arcs first; the units
        taken."""
        v = self.need_pen[self.arc_n[arcs]] - self.arc_cost[arcs]
        left = int(self.opt_cap[o])
        for i in np.argsort(-v, kind="stable"):
            if left <= 0 or v[i] <= 0:
                break
            n = self.arc_n[arcs[i]]
            t = min(left, int(self.arc_lim[arcs[i]]), int(residual[n]))
            residual[n] -= t
            left -= t
        return int(self.opt_cap[o]) - left

    # ------------------------------------------------------------------ large neighbourhoods
    def _neighbourhood(self, seed_p: int, size: int, rng: np.random.Generator
                       ) -> NDArray[np.int64]:
        """About ``size`` properties around ``seed_p``: those that can serve the same needs,
        then the needs those serve, and so on (breadth first, last layer sampled)."""
        chosen = np.array([seed_p], dtype=np.int64)
        seen = np.zeros(self.n_p, dtype=bool)
        seen[seed_p] = True
        frontier = chosen
        while len(chosen) < size and len(frontier):
            needs = np.unique(self._p2n[frontier].indices)
            layer = np.unique(self._n2p[needs].indices)
            layer = layer[~seen[layer]]
            if len(layer) > size - len(chosen):
                layer = np.sort(rng.choice(layer, size - len(chosen), replace=False))
            seen[layer] = True
            chosen = np.concatenate([chosen, layer])
            frontier = layer
        return chosen

    def _sub_mip(self, plan: CandidatePlan, free: NDArray[np.int64], time_limit_s: float | None,
                 seed: int | None, slack_share: float = 1.0
                 ) -> tuple[NDArray[np.int64] | None, NDArray[np.int64], bool]:
        """Re-optimise the uses of ``free`` properties with everything else kept as planned.

        The sub-model holds the free properties' options, the needs they reach, every arc into
        those needs from a free or an open option with its area, and the budgets less what
        the rest spends; open fixed options keep only the capacity they do not use elsewhere.
        Returns the free properties' new options (or None), every option's area in that
        solution, and whether it is proven.
        """
        is_free = np.zeros(self.n_p, dtype=bool)
        is_free[free] = True
        opt_free = is_free[self.opt_p]
        open_opt = plan.open_options()
        in_n = np.zeros(self.n_n, dtype=bool)
        in_n[self.arc_n[opt_free[self.arc_o]]] = True
        arcs = np.flatnonzero(in_n[self.arc_n] & (opt_free[self.arc_o] | open_opt[self.arc_o]))
        needs = np.flatnonzero(in_n)
        x_cols = np.flatnonzero(opt_free)
        a_opts = np.unique(self.arc_o[arcs])
        z_idx = np.searchsorted(self.area_opts, a_opts)
        cols = np.concatenate([x_cols, self.col_z + z_idx, self.col_y + arcs,
                               self.col_m + needs])
        free_link = arcs[opt_free[self.arc_o[arcs]]]
        free_floor = np.searchsorted(self.floor_props, free[self.prop_floor[free] > 0])
        rows = np.concatenate([self.row_start["one_use"] + free,
                               self.row_start["capacity"] + z_idx,
                               self.row_start["area"] + z_idx,
                               self.row_start["need"] + needs,
                               self.row_start["link"] + free_link,
                               self.row_start["floor"] + free_floor])
        row_ub = self.row_ub[rows].copy()
        # Fixed open options: the area left after their service outside these needs (on a
        # shared floor, within what the floor leaves them).
        fixed_open = ~opt_free[a_opts]
        outside = np.bincount(self.arc_o, weights=np.where(in_n[self.arc_n], 0, plan.y),
                              minlength=self.n_o).astype(np.int64)
        room = self.opt_cap.copy()
        left = self._floor_left(open_opt, plan.area)
        on_floor = self.opt_on_floor & open_opt
        room[on_floor] = np.minimum(room, plan.area + left[self.opt_p])[on_floor]
        start = len(free) + len(a_opts)
        row_ub[start:start + len(a_opts)][fixed_open] = (
            room[a_opts[fixed_open]] - outside[a_opts[fixed_open]])
        hint = np.concatenate([open_opt[x_cols].astype(float),
                               (plan.area[a_opts] - outside[a_opts]).astype(float),
                               plan.y[arcs], plan.unmet[needs]])
        if self.budget_rows:
            # The sub-model may spend what its columns spend now plus its share of the slack
            # (neighbourhoods solved side by side split it).
            b_rows = self.row_start["budget"] + np.arange(len(self.budget_rows))
            spend_sub = self.matrix[b_rows][:, cols] @ hint
            slack = self._budget_caps() - self._spending(plan.choice, plan.area, plan.extra)
            rows = np.concatenate([rows, b_rows])
            row_ub = np.concatenate([row_ub, spend_sub + slack_share * np.maximum(slack, 0)])
        res = solve_arrays(MipArrays(self.cost[cols] * MONEY_SCALE, self.matrix[rows][:, cols],
                                     self.row_lb[rows], row_ub, self.lb[cols], self.ub[cols],
                                     self.integer[cols]),
                           backend="highs", deadline=Deadline(time_limit_s), hint=hint,
                           options=SolveOptions(mip_gap=self._lns_gap, seed=seed or 0,
                                                node_limit=LNS_NODES),
                           absolute_gap=0.5 * MONEY_SCALE)
        self._lns_dims = (len(cols), len(rows))
        area = plan.area.copy()
        if res.x is None:
            return None, area, False
        k = len(x_cols)
        area[a_opts] = np.rint(res.x[k:k + len(a_opts)]).astype(np.int64) + np.where(
            fixed_open, outside[a_opts], 0)
        return x_cols[res.x[:k] > 0.5], area, res.proven

    def _evaluate_within(self, choice: NDArray[np.int64], area: NDArray[np.int64],
                         source: str, extra: NDArray[np.bool_]) -> CandidatePlan:
        """The plan of ``choice`` (and ``extra``) with each option serving what it can, or,
        when that breaks a budget, with the areas a solver chose."""
        plan = self.evaluate(choice, source, extra=extra)
        if self.budget_rows and not self._within_budget(plan):
            plan = self.evaluate(choice, source, area, extra)
        return plan

    def _lns(self, plan: CandidatePlan, deadline: float, seed: int | None, max_stall: int,
             workers: int = 1, bound: float = -math.inf, gap_goal: float = 0.0,
             ) -> tuple[CandidatePlan, int]:
        """Sub-MIPs on neighbourhoods of properties while they improve the plan and its gap to
        ``bound`` is above ``gap_goal``.

        ``workers`` neighbourhoods (made disjoint) are solved side by side against the same
        plan; their changes are applied together when that improves, else the best single
        one. Neighbourhoods come from a generator seeded with ``seed``; sub-MIPs get at most
        ``LNS_NODES`` branch-and-bound nodes each (and the time left before the deadline) and
        the neighbourhood grows while they are proven and shrinks when they are not, so a run
        is reproducible unless the run's time limit cuts it.
        """
        rng = np.random.default_rng(seed)
        p_of_arc = self.opt_p[self.arc_o]
        inc = sp.csr_matrix((np.ones(self.n_a, dtype=bool), (p_of_arc, self.arc_n)),
                            shape=(self.n_p, self.n_n))
        self._p2n, self._n2p = inc, inc.T.tocsr()
        movable = (self.fixed_opt < 0) & (np.diff(inc.indptr) > 0)
        seeds = np.flatnonzero(movable)
        if len(seeds) == 0:
            return plan, 0
        size, stall, iters = 20, 0, 0
        self._lns_gap = 1e-4
        with ThreadPoolExecutor(workers) as pool:
            while stall < max_stall and time.perf_counter() < deadline \
                    and relative_gap(plan.objective, bound) > gap_goal:
                iters += 1
                taken = ~movable
                frees = []
                for s in rng.choice(seeds, size=min(workers, len(seeds)), replace=False):
                    if taken[s]:
                        continue
                    f = self._neighbourhood(int(s), size, rng)
                    f = f[~taken[f]]
                    taken[f] = True
                    frees.append(f)
                # A node limit (the same work on any machine) ends a sub-MIP; the deadline
                # only when it is nearer, so a slow machine changes the plan only when the
                # run's own time limit binds.
                limit = deadline - time.perf_counter() if math.isfinite(deadline) else None
                if limit is not None and limit < 0.05:
                    break
                base = plan
                share = 1.0 / max(len(frees), 1)
                outs = list(pool.map(lambda f, b=base, lim=limit, sh=share: self._sub_mip(
                    b, f, lim, seed, sh), frees))
                proven = all(pr for _, _, pr in outs)
                whole = proven and len(frees) == 1 and len(frees[0]) >= len(seeds)
                # Grow the neighbourhood while sub-MIPs are proven, shrink otherwise.
                size = min(200, int(size * 1.15) + 1) if proven else max(8, int(size * 0.7))
                news = [(n, ar) for n, ar, _ in outs if n is not None]
                trials = []
                if news:
                    choice, extra = base.choice, base.extra
                    area = base.area.copy()
                    for n, ar in news:
                        choice, extra = self._split_open(n, choice, extra)
                        changed = ar != base.area
                        area[changed] = ar[changed]
                    trials.append(self._evaluate_within(choice, area, base.source, extra))
                if len(news) > 1 and trials[0].objective >= base.objective:
                    for n, ar in news:
                        choice, extra = self._split_open(n, base.choice, base.extra)
                        trials.append(self._evaluate_within(choice, ar, base.source, extra))
                # Budgets are checked in whole VND: a solver's tolerance is not a licence.
                trials = [t for t in trials if self._within_budget(t)]
                best = min(trials, key=lambda t: t.objective, default=base)
                if best.objective < base.objective:
                    best.history = [*base.history, best.objective]
                    plan, stall = best, 0
                else:
                    stall += 1
                if whole:  # the neighbourhood was everything and its optimum is proven
                    break
        return plan, iters

    def _hint(self, plan: CandidatePlan) -> NDArray[np.float64]:
        x = np.zeros(self.n_var)
        x[:self.n_o][plan.open_options()] = 1.0
        x[self.col_z:self.col_y] = plan.area[self.area_opts]
        x[self.col_y:self.col_m] = plan.y
        x[self.col_m:] = plan.unmet
        return x

    def _choice_from_x(self, x: NDArray[np.float64],
                       cols: NDArray[np.int64]) -> NDArray[np.int64]:
        """Options at 1 in a MIP solution restricted to ``cols``."""
        xo = cols[(cols < self.n_o)]
        on = xo[x[np.searchsorted(cols, xo)] > 0.5]
        return on

    # ------------------------------------------------------------------ solve

    def _areas_from_x(self, x: NDArray[np.float64], cols: NDArray[np.int64],
                      base: NDArray[np.int64]) -> NDArray[np.int64]:
        """``base`` with the areas of a MIP solution restricted to ``cols``."""
        area = base.copy()
        zc = cols[(cols >= self.col_z) & (cols < self.col_y)]
        area[self.area_opts[zc - self.col_z]] = np.rint(x[np.searchsorted(cols, zc)])
        return area
