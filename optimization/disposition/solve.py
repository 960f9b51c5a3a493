"""The solve: LP bounds per group (Lagrangian on a national budget), search, polish."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from optimization.disposition.check import _Check
from optimization.disposition.common import (
    GROUP_NNZ,
    MONEY_SCALE,
    N_SERVICE,
    USES,
    CandidatePlan,
    pack_bins,
)
from optimization.disposition.explain import _Explain
from optimization.disposition.order import _Order
from optimization.disposition.priority import _Priority
from optimization.disposition.search import _Search
from optimization.result import OPTIMAL_GAP, InfeasibleInputError, SolveInfo, relative_gap
from optimization.solver import (
    Deadline,
    MipArrays,
    MipResult,
    Runs,
    SolveOptions,
    proven_bound,
    solve_arrays,
)

# Under a time limit a national budget's last branch-and-bound runs on the whole model only up
# to this many nonzeros: HiGHS sets a larger one up slower than any limit it is given.
WHOLE_MODEL_NNZ = 200_000


class _Solve(Runs, _Search, _Order, _Priority, _Explain, _Check):
    """Bounds, incumbent and polish in the time given."""

    #: independent blocks are packed into groups of about this many nonzeros per solve
    group_nnz: int = GROUP_NNZ
    #: the national budget's price (VND per VND of renovation) at the best Lagrangian bound
    budget_price: float = 0.0

    def solve(self, options: SolveOptions | None = None, *, start: pd.DataFrame | None = None,
              budget_price: float | None = None, **overrides: Any) -> Self:
        """LP bound per block, local-search incumbent, HiGHS branch-and-bound in the time left.

        ``start`` (property_id, use, optional area: an earlier plan's open options, a
        re-plan's) becomes a first incumbent where its uses are still options, repaired to
        the budgets; the search goes on from the better of it and the LP's rounding.
        ``budget_price``: the national budget's price an earlier solve found (its
        ``budget_price``), where a re-plan's price search begins.

        ``threads`` groups are solved side by side (HiGHS releases the GIL); each HiGHS run is
        serial. ``mip_gap`` is the relative gap at which a group is left alone; 0 asks for
        proofs. The results do not depend on ``threads`` unless a time limit cuts a search.
        With a national budget coupling the groups, the last phase is one branch-and-bound on
        the whole model (budget row included), so its bound holds for the whole plan.
        """
        opts = SolveOptions.of(options, **overrides)
        if not self._built:
            self.build()
        clock = Deadline(opts.time_limit_s)
        t0, deadline = clock.start, clock.end
        gap_goal, seed, workers = opts.mip_gap, opts.seed, opts.workers
        groups = [(np.flatnonzero(self.col_group == g), np.flatnonzero(self.row_group == g))
                  for g in range(self.n_groups)]
        weight = np.array([len(c) + 1 for c, _ in groups], dtype=float)
        by_size = [int(g) for g in np.argsort(-weight, kind="stable")]
        # 1. LP relaxation per group: bound and fractional plan (Lagrangian on the national
        #    budget when there is one).
        # A national budget is priced in rounds of group LPs (see _lp_phase): they get half.
        lp_share = 0.5 if self.national_row >= 0 else 0.35
        lp_deadline = t0 + lp_share * (deadline - t0)
        x_lp, bound, lagrangian = self._lp_phase(groups, by_size, workers, lp_deadline, seed,
                                                 gap_goal, budget_price)
        lp_bound = float(bound.sum() / MONEY_SCALE)
        lp_time = time.perf_counter() - t0
        # 2. Incumbent: rounding, budget repair, local search with exact evaluation.
        t = time.perf_counter()
        rounded, rounded_extra = self._round(x_lp[:self.n_o])
        first = self._repair_budget(self.evaluate(rounded, "lp rounding", extra=rounded_extra))
        hold = self._repair_budget(self.evaluate(self._cheapest_free(), "no renovation"))
        plan = first if first.objective <= hold.objective else hold
        if start is not None:
            choice, area, extra = self._from_frame(start)
            given = self._repair_budget(self.evaluate(choice, "start", area, extra))
            plan = given if given.objective < plan.objective else plan
        # The local search gets at most 25 % of the time left, the neighbourhood search half of
        # what remains, branch-and-bound on whole groups (mostly for the bound) the rest.
        left = deadline - time.perf_counter()
        plan = self._local_search(plan, time.perf_counter() + 0.25 * left)
        heur_time = time.perf_counter() - t
        heur_obj = plan.objective
        t = time.perf_counter()
        goal = max(gap_goal, OPTIMAL_GAP)
        lns_iters = 0
        if relative_gap(plan.objective, bound.sum() / MONEY_SCALE) > goal:
            plan, lns_iters = self._lns(plan, t + 0.5 * (deadline - t), seed,
                                        max_stall=max(20, self.n_p // 20), workers=workers,
                                        bound=float(bound.sum() / MONEY_SCALE), gap_goal=goal)
        lns_time = time.perf_counter() - t
        lns_obj = plan.objective
        # 3. Branch-and-bound from the plan: per group not yet within the gap, or on the whole
        #    model when a national budget couples the groups.
        t = time.perf_counter()
        plan, total_bound, nodes = self._branch_and_bound(plan, groups, by_size, weight, bound,
                                                          lagrangian, clock, opts, goal)
        mip_time = time.perf_counter() - t
        t = time.perf_counter()
        plan = self._canonical(self._grow_areas(self._public_first(self._served_first(
            self._settle_non_public(plan)))))
        order_time = time.perf_counter() - t
        self._plan = plan
        objective = float(plan.objective)
        best_bound = proven_bound(total_bound, objective, "min", integral=True)
        self.info = SolveInfo.solved(objective, best_bound, sense="min", solver=self.SOLVER,
                                     wall_time_s=clock.elapsed(), time_limit_s=opts.time_limit_s,
                                     stats={
                                  "properties": self.n_p, "options": self.n_o,
                                  "service_arcs": self.n_a, "needs": self.n_n,
                                  "rows": int(self.matrix.shape[0]),
                                  "nonzeros": int(self.matrix.nnz),
                                  "components": self.n_components, "groups": self.n_groups,
                                  "lp_bound_vnd": lp_bound,
                                  "lp_time_s": lp_time, "heuristic_time_s": heur_time,
                                  "heuristic_objective_vnd": heur_obj,
                                  "lns_time_s": lns_time, "lns_iterations": lns_iters,
                                  "lns_objective_vnd": lns_obj, "mip_time_s": mip_time,
                                  "mip_nodes": nodes, "order_time_s": order_time,
                                  "incumbent_from": plan.source, "seed": seed,
                                  "budget_price": self.budget_price,
                                  "threads": workers, **self._objective_parts(plan)})
        self._write_results(plan)
        return self

    def _branch_and_bound(self, plan: CandidatePlan,
                          groups: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
                          by_size: list[int], weight: NDArray[np.float64],
                          bound: NDArray[np.float64], lagrangian: bool, clock: Deadline,
                          opts: SolveOptions, goal: float
                          ) -> tuple[CandidatePlan, float, int]:
        """HiGHS from the plan; returns the plan, the proven bound (VND) and the nodes.

        Independent groups: each group not within ``goal`` is solved alone (side by side),
        its bound replacing the group's LP bound. Groups coupled by the national budget: each
        group is solved within what it spends plus its share of the slack (so their plans stay
        jointly within the budget), for the plan only, since such a bound holds for the share
        and not for the model; then, when the whole model is small enough for HiGHS to set up
        within the limit (or there is no limit), one solve of the whole model, whose bound
        holds for the whole plan. The Lagrangian bound stays when it is the stronger.
        """
        total = float(bound.sum() / MONEY_SCALE)
        if relative_gap(plan.objective, total) <= goal or clock.left() < 0.05:
            return plan, total, 0
        hint = self._hint(plan)
        if not lagrangian:
            todo = [g for g in by_size if relative_gap(
                self._group_objective(plan)[g] * MONEY_SCALE, bound[g]) > goal]
            plan, found = self._polish(plan, todo, groups, weight, hint, clock, opts, None)
            for g, res in found.items():
                bound[g] = max(bound[g], res.bound)
            return plan, float(bound.sum() / MONEY_SCALE), sum(r.nodes for r in found.values())
        whole = clock.limit_s is None or self.matrix.nnz <= WHOLE_MODEL_NNZ
        spend = np.bincount(self.col_group, weights=self.budget_coef * hint,
                            minlength=self.n_groups)
        slack = max(float(self.budget_vnd or 0) - float(spend.sum()), 0.0)
        share = {g: float(spend[g] + slack * weight[g] / weight.sum()) for g in by_size}
        nodes = 0
        if clock.limit_s is not None:
            plan, found = self._polish(plan, by_size, groups, weight, hint,
                                       clock.share(0.5) if whole else clock, opts, share)
            nodes += sum(r.nodes for r in found.values())
        if whole and clock.left() >= 0.05:
            every = np.arange(self.n_var)
            res = self._solve_group(every, np.arange(self.matrix.shape[0]), integer=True,
                                    deadline=clock, options=opts, hint=self._hint(plan))
            total = max(total, res.bound / MONEY_SCALE)
            plan, nodes = self._take(plan, res, every), nodes + res.nodes
        return plan, total, nodes

    def _polish(self, plan: CandidatePlan, todo: list[int],
                groups: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
                weight: NDArray[np.float64], hint: NDArray[np.float64], clock: Deadline,
                opts: SolveOptions, budget_share: dict[int, float] | None
                ) -> tuple[CandidatePlan, dict[int, MipResult]]:
        """Branch-and-bound on the groups ``todo`` side by side, each for its share of the
        time (and, given ``budget_share``, within that much renovation); the plan takes every
        group's better solution."""
        left = clock.left() * opts.workers
        share = {g: left * weight[g] / weight[todo].sum() for g in todo} if todo else {}

        def polish(g: int) -> MipResult | None:
            limit = clock.earlier(share[g])
            if limit.left() < 0.05:
                return None
            cols, rows = groups[g]
            return self._solve_group(cols, rows, integer=True, deadline=limit, options=opts,
                                     hint=hint[cols], budget_vnd=None if budget_share is None
                                     else budget_share[g])

        with ThreadPoolExecutor(opts.workers) as pool:
            results = dict(zip(todo, pool.map(polish, todo), strict=True))
        found = {g: r for g, r in results.items() if r is not None}
        for g, res in found.items():
            plan = self._take(plan, res, groups[g][0])
        return plan, found

    def _take(self, plan: CandidatePlan, res: MipResult, cols: NDArray[np.int64]
              ) -> CandidatePlan:
        """The plan with ``cols`` as the branch-and-bound solution sets them, if better."""
        if res.x is None:
            return plan
        on = self._choice_from_x(res.x, cols)
        choice, extra = self._split_open(on, plan.choice, plan.extra)
        trial = self._evaluate_within(choice, self._areas_from_x(res.x, cols, plan.area),
                                      "HiGHS branch-and-bound", extra)
        if trial.objective < plan.objective and self._within_budget(trial):
            trial.history = [*plan.history, trial.objective]
            return trial
        return plan

    def define_blocks(self) -> None:
        """Independent blocks (components over variables sharing a row), packed in groups.

        The national budget row is left out: it would join everything into one block, so it
        is handled by Lagrangian relaxation instead (see ``solve``).
        """
        self.national_row = (self.row_start["budget"] if self.budget_vnd is not None
                             else -1)
        self._components(drop_row=self.national_row)
        if self.national_row >= 0 and self.n_groups <= 1:
            # One group anyway: keep the budget row in it, no relaxation needed.
            self.national_row = -1
            self._components(drop_row=-1)

    def _components(self, drop_row: int) -> None:
        a = self.matrix.tocsc()
        # Column-column adjacency through rows: connect each row's columns in a chain.
        coo = self.matrix.tocoo()
        keep = coo.row != drop_row
        coo = sp.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
        order = np.lexsort((coo.col, coo.row))
        r, c = coo.row[order], coo.col[order]
        same = r[1:] == r[:-1]
        adj = sp.coo_matrix((np.ones(int(same.sum())), (c[:-1][same], c[1:][same])),
                            shape=(self.n_var, self.n_var))
        n_comp, label = connected_components(adj, directed=False)
        nnz_col = np.diff(a.indptr)
        size = np.bincount(label, weights=nnz_col + 1, minlength=n_comp)
        group_of = pack_bins(size, self.group_nnz)
        self.col_group = group_of[label]
        self.n_groups = int(group_of.max()) + 1 if n_comp else 0
        # A row belongs to the group of its columns; an empty row (a budget nobody can spend)
        # belongs to none: its bounds were checked to hold at zero.
        has = np.diff(self.matrix.indptr) > 0
        first = self.matrix.indices[np.minimum(self.matrix.indptr[:-1],
                                               max(self.matrix.nnz - 1, 0))]
        self.row_group = np.where(has, self.col_group[first] if len(first) else 0, -1)
        if self.national_row >= 0:
            self.row_group[self.national_row] = -1
        self.n_components = int(n_comp)

    def _lp_phase(self, groups: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
                  order: list[int], workers: int, deadline: float, seed: int | None,
                  gap_goal: float, price_hint: float | None = None
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
        """Group LPs: fractional plan, per-group bounds (million VND), Lagrangian flag.

        With a national budget B the groups are solved with renovation priced at lambda
        VND per VND and without the budget row; for any lambda >= 0,
        sum_g LP_g(lambda) - lambda B is a lower bound (Lagrangian relaxation). lambda = 0
        first; if that plan overspends, lambda is searched until the bound cannot rise by a
        tenth of ``gap_goal`` (or time runs out), keeping the best bound (its price is left
        in ``budget_price``). ``price_hint`` (an earlier solve's price, a re-plan's) is
        tried first instead of lambda = 0, and the bracket is sought around it in small
        steps. The plan returned is the blend of the LP plans at the two ends of the last
        bracket that spends exactly B (rounding the fitting end alone renovated nothing when
        that price overshot). A group LP stopped by the deadline has no bound (-inf), so the
        gap stays honest.
        """
        options = SolveOptions(time_limit_s=None, seed=seed or 0)
        self.budget_price = 0.0

        def lps(price: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
            # a round that starts at the deadline still gets a moment: its plan is needed
            clock = Deadline(None if not math.isfinite(deadline) else max(
                0.1, deadline - time.perf_counter()))
            with ThreadPoolExecutor(workers) as pool:
                res = dict(zip(order, pool.map(lambda g: self._solve_group(
                    *groups[g], integer=False, deadline=clock, options=options, price=price),
                    order), strict=True))
            x = np.zeros(self.n_var)
            b = np.full(self.n_groups, -np.inf)
            for g, r in res.items():
                if r.x is not None:
                    x[groups[g][0]] = r.x
                if r.proven:
                    b[g] = r.bound
            return x, b, float(self.budget_coef @ x)

        coupled = self.national_row >= 0 and self.budget_vnd is not None
        hinted = coupled and price_hint is not None and price_hint > 0
        budget = float(self.budget_vnd or 0)
        # The bracket [lo, hi]: lo overspends, hi fits; a side not yet seen is nan. The dual
        # function is concave with slope (spend - B) at each price.
        lo = lo_val = lo_slope = hi_val = hi_slope = math.nan
        last_x: NDArray[np.float64] | None = None  # the plan at the highest overspending price
        last_spend = fit_spend = 0.0
        fit_x: NDArray[np.float64] | None = None
        best, bound = -math.inf, np.full(self.n_groups, -np.inf)
        if hinted:
            # Near an earlier price the bracket is sought in steps of 5 %, squared each time
            # the price moves on the same side.
            price, step = float(price_hint or 0), 1.05
        else:
            x, bound, spend = lps(0.0)
            if not coupled or spend <= budget:
                return x, bound, coupled
            # First price: where the LP's renovations, ranked by value per VND, use up the
            # budget, raised by half until the LP plan fits.
            best = float(bound.sum())
            lo, lo_val, lo_slope = 0.0, best, (spend - budget) * MONEY_SCALE
            last_x, last_spend = x, spend
            price, step = self._price_estimate(x, budget), 1.5
        # Then the price where the tangents at the bracket's ends cross (they cross above the
        # maximum), kept inside the bracket's middle 80 %, until that cap is within a tenth of
        # the gap goal of the best bound (benchmarks/RESULTS.md, issues 11 and 15).
        tol = 0.1 * max(gap_goal, 1e-4) * abs(best)
        first = hinted
        while first or time.perf_counter() < deadline:
            x_l, b_l, spend_l = lps(price)
            if not np.isfinite(b_l).all():
                if first:  # not one round within the time: its plan, and no bound
                    return x_l, b_l, True
                break  # a round cut by the deadline is not the LP's plan at that price
            if first:
                tol = 0.1 * max(gap_goal, 1e-4) * abs(float(b_l.sum()))
            first = False
            value = float(b_l.sum()) - price * budget * MONEY_SCALE
            if value > best:
                best, bound, self.budget_price = value, b_l.copy(), price
                bound[0] -= price * budget * MONEY_SCALE  # the bound is read as a sum
            slope = (spend_l - budget) * MONEY_SCALE
            if spend_l > budget:
                lo, lo_val, lo_slope = price, value, slope
                last_x, last_spend = x_l, spend_l
                if fit_x is None:
                    price, step = price * step, step * step if hinted else step
                    continue
            else:
                hi, hi_val, hi_slope, fit_x, fit_spend = price, value, slope, x_l, spend_l
                if last_x is None:
                    price, step = price / step, step * step
                    continue
            if hi - lo < 1e-3 * hi or lo_slope <= hi_slope:
                break
            cross = (hi_val - lo_val + lo_slope * lo - hi_slope * hi) / (lo_slope - hi_slope)
            if lo_val + lo_slope * (cross - lo) - best <= tol:
                break
            price = float(np.clip(cross, lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)))
        if last_x is None:
            assert fit_x is not None  # a hinted search returns above without a first round
            return fit_x, bound, True
        if fit_x is None:
            return last_x, bound, True
        # The dual optimum lies between the two prices; the blend of their plans that spends
        # exactly B is feasible for every group LP (a convex combination) and for the budget.
        theta = (budget - fit_spend) / (last_spend - fit_spend)
        return theta * last_x + (1.0 - theta) * fit_x, bound, True

    def _price_estimate(self, x: NDArray[np.float64], budget: float) -> float:
        """Renovation price (VND per VND) at which the LP plan's renovations fit the budget.

        Each renovated option is worth (served value - net cost) / renovation per VND; the
        price is that ratio where the cumulative renovation, best ratios first, reaches B.
        """
        xo = x[:self.n_o]
        served = np.bincount(self.arc_o, weights=x[self.col_y:self.col_m]
                             * (self.need_pen[self.arc_n] - self.arc_cost), minlength=self.n_o)
        spend = xo * self.opt_reno
        spend[self.area_opts] += x[self.col_z:self.col_y] * self.opt_rate[self.area_opts]
        use = np.flatnonzero((xo > 1e-9) & (spend > 0))
        if len(use) == 0:
            return 1.0
        ratio = (served[use] - xo[use] * self.opt_net[use]) / spend[use]
        order = np.argsort(-ratio, kind="stable")
        cum = np.cumsum(spend[use][order])
        k = min(int(np.searchsorted(cum, budget)), len(order) - 1)
        return float(max(ratio[order][k], 1e-3))

    def _group_objective(self, plan: CandidatePlan) -> NDArray[np.float64]:
        """The plan's objective split by group (VND)."""
        is_open = np.flatnonzero(plan.open_options())
        out = np.bincount(self.col_group[is_open], weights=self.opt_net[is_open],
                          minlength=self.n_groups)
        out += np.bincount(self.col_group[self.col_y + np.arange(self.n_a)],
                           weights=plan.y * self.arc_cost, minlength=self.n_groups)
        out += np.bincount(self.col_group[self.col_m + np.arange(self.n_n)],
                           weights=plan.unmet * self.need_pen, minlength=self.n_groups)
        return np.asarray(out, dtype=float)

    def _solve_group(self, cols: NDArray[np.int64], rows: NDArray[np.int64], *, integer: bool,
                     deadline: Deadline, options: SolveOptions,
                     hint: NDArray[np.float64] | None = None, price: float = 0.0,
                     budget_vnd: float | None = None) -> MipResult:
        """One group's LP or MIP (or the whole model's: all columns and rows). ``price`` (VND
        per VND) is the Lagrangian multiplier of the national budget added to renovation
        costs; ``budget_vnd`` a national budget row restricted to the group. An infeasible
        group is an error of the data (the hold option is always free)."""
        cost = (self.cost[cols] + price * self.budget_coef[cols]) * MONEY_SCALE
        a, row_lb, row_ub = self.matrix[rows][:, cols], self.row_lb[rows], self.row_ub[rows]
        if budget_vnd is not None:
            a = sp.vstack([a, sp.csr_matrix(self.budget_coef[cols][None, :])], format="csr")
            row_lb, row_ub = np.append(row_lb, -np.inf), np.append(row_ub, budget_vnd)
        arrays = MipArrays(cost, a, row_lb, row_ub, self.lb[cols], self.ub[cols],
                           self.integer[cols] & integer)
        # Half a VND of absolute gap: optimal objectives are whole VND (see the docstring).
        res = solve_arrays(arrays, backend="highs", deadline=deadline, options=options,
                           hint=hint, relax=not integer,
                           absolute_gap=0.5 * MONEY_SCALE if integer else None)
        if res.infeasible:
            raise InfeasibleInputError("HiGHS proved the disposition model infeasible")
        return res

    def _from_frame(self, start: pd.DataFrame
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """(choice, area, extra) of a plan given as rows (property_id, use, optional area):
        a property's first row is its use, the others are open beside it where it may share;
        a property whose use is no longer an option (or that is not named) takes its
        cheapest free option; without ``area`` an option may serve its capacity."""
        choice = self._cheapest_free()
        key = pd.MultiIndex.from_arrays([self.opt_p, self.opt_u])
        p = pd.Index(self.properties["property_id"]).get_indexer(start["property_id"])
        o = key.get_indexer(pd.MultiIndex.from_arrays([p, pd.Index(USES).get_indexer(
            start["use"])]))
        area = self.opt_cap.copy()
        if "area" in start:
            given = start["area"].to_numpy(dtype=np.int64)
            area[o[o >= 0]] = np.minimum(given[o >= 0], self.opt_cap[o[o >= 0]])
        fixed = self.fixed_opt[np.maximum(p, 0)]
        ok = (o >= 0) & (fixed < 0)
        first = ok & ~pd.Series(p).where(ok).duplicated().to_numpy()
        choice[p[first]] = o[first]
        extra = np.zeros(self.n_o, dtype=bool)
        # A fixed use stays the choice; the start's other uses of it may share its floor.
        beside = np.flatnonzero((ok & ~first) | ((o >= 0) & (fixed >= 0) & (o != fixed)))
        public = self.opt_u[choice[p[beside]]] < N_SERVICE
        extra[o[beside][public & (self.opt_u[o[beside]] < N_SERVICE)
                        & (self.prop_floor[p[beside]] > 0)]] = True
        extra[choice] = False
        # At most the property's number of uses: the first ones given.
        count = np.bincount(self.opt_p[extra], minlength=self.n_p)
        over = np.flatnonzero(count > self.prop_uses - 1)
        for q in over:
            opts = np.flatnonzero(extra & (self.opt_p == q))
            extra[opts[int(self.prop_uses[q]) - 1:]] = False
        return choice, area, extra

    # ------------------------------------------------------------------ results
