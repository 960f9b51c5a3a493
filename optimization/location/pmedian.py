"""The p-median model on sparse candidate pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimization.location._base import LocationModel
from optimization.location._heuristics import SwapEngine, pmedian_lagrangian
from optimization.location._pairs import (
    BoolArray,
    CandidatePairs,
    FloatArray,
    as_required_mask,
    as_site_values,
    as_weights,
    make_pairs,
    pairs_from_matrix,
)
from optimization.result import SolutionCheckError
from optimization.solver import TOL, Deadline, SparseModel


class PMedian(LocationModel):
    r"""p-median: open exactly ``p`` sites and serve every demand from one open candidate site,
    minimising the weighted total cost (e.g. person-km).

    Formulation (Daskin 2013, as in spopt, on the sparse candidate set ``P``)::

        minimise    sum_{(i,j) in P} w_i c_ij y_ij
        subject to  sum_{j:(i,j) in P} y_ij = 1                for every demand i      (assign)
                    y_ij <= x_j                                for every (i,j) in P    (link)
                    sum_j x_j = p                                                      (count)
                    x_j = 1                                    for every required j    (required)
                    sum_{i:(i,j) in P} q_i y_ij <= Q_j x_j     for every site j        (capacity,
                                                                          only with capacities)
                    sum_{i:(i,j) in P} q_i y_ij = Q_j          for every required j    (fulfil,
                                                               with fulfill_predefined_fac)
                    x_j in {0,1};  y_ij in [0,1], binary when capacitated

    ============  =================================================================
    symbol        meaning
    ============  =================================================================
    i, j          demand index, candidate site index
    P             candidate pairs (radius or k-nearest from ``geodata``, or a dense matrix)
    c_ij          cost of serving i from j (km or any non-negative unit)
    w_i           demand weight (``weights``, e.g. population)
    p             ``p_facilities``
    Q_j, q_i      ``facility_capacities``, ``demand_quantity_arr`` (default ``w_i``)
    x_j           1 if site j is opened
    y_ij          share of demand i served by j (uncapacitated: integral at the optimum)
    ============  =================================================================

    Objective units: weight x cost unit. The model is exact on the given pairs: with k-nearest
    pairs a demand can only be served by one of its k candidates. Capacitated assignment is
    single-source (binary ``y``), as in spopt. ``fulfill_predefined_fac`` (spopt's option, with
    ``facility_capacities`` only) fills each required site exactly to its capacity; spopt
    refuses it without capacities, and when the required sites' capacity exceeds the total
    demand, and so does this model (``ValueError``, ``InfeasibleInputError``).

    Solve strategy (uncapacitated): greedy addition then best-improvement swaps (see
    ``_heuristics``); a Lagrangian relaxation of the assignment rows (subgradient ascent, numpy
    only) gives a bound, which on large k-nearest instances comes long before SCIP's root LP,
    and its relaxed plans, improved by swaps, the start (Beasley's Lagrangian heuristic); kicks
    then perturb the best plan until the deadline, while SCIP, hinted, works for its own
    bound. The reported bound is the better of SCIP's and the Lagrangian one. Capacitated: SCIP
    alone, since nearest-site assignment does not respect capacities.
    """

    sense = "min"
    model_name = "PMedian"
    #: perturbation kicks after the swap search (see ``SwapEngine.perturb_search``)
    kicks = 2_000

    def __init__(
        self,
        pairs: CandidatePairs,
        weights: FloatArray,
        p_facilities: int,
        required: BoolArray,
        facility_capacities: FloatArray | None = None,
        demand_quantity: FloatArray | None = None,
        name: str = "p-median",
        *,
        fulfill_predefined_fac: bool = False,
    ) -> None:
        super().__init__(pairs, weights, required, name)
        self.p_facilities = int(p_facilities)
        self.capacities = facility_capacities
        self.demand_quantity = weights if demand_quantity is None else demand_quantity
        self.fulfill_predefined_fac = bool(fulfill_predefined_fac)
        # sites that must be filled exactly to capacity
        self.fulfilled = self.required & self.fulfill_predefined_fac
        self._check_input()
        self._engine: SwapEngine | None = None  # the heuristic's, reused by _improve

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: object,
        weights: object,
        p_facilities: int,
        predefined_facilities_arr: object = None,
        facility_capacities: object = None,
        fulfill_predefined_fac: bool = False,
        demand_quantity_arr: object = None,
        name: str = "p-median",
    ) -> PMedian:
        """Dense ``n_demands x n_sites`` costs (``inf`` = not a candidate), spopt's names and
        positional order."""
        return cls._from_candidates(
            pairs_from_matrix(cost_matrix),
            weights,
            p_facilities,
            predefined_facilities_arr,
            facility_capacities,
            fulfill_predefined_fac,
            demand_quantity_arr,
            name,
        )

    @classmethod
    def from_pairs(
        cls,
        demand_index: object,
        site_index: object,
        cost: object,
        weights: object,
        *,
        n_sites: int,
        p_facilities: int,
        predefined_facilities_arr: object = None,
        facility_capacities: object = None,
        fulfill_predefined_fac: bool = False,
        demand_quantity_arr: object = None,
        name: str = "p-median",
    ) -> PMedian:
        """Sparse candidate pairs as numpy arrays; ``len(weights)`` is the number of demands."""
        n_d = np.asarray(weights).size
        return cls._from_candidates(
            make_pairs(demand_index, site_index, cost, n_demands=n_d, n_sites=n_sites),
            weights,
            p_facilities,
            predefined_facilities_arr,
            facility_capacities,
            fulfill_predefined_fac,
            demand_quantity_arr,
            name,
        )

    @classmethod
    def _from_candidates(
        cls,
        pairs: CandidatePairs,
        weights: object,
        p_facilities: int,
        predefined_facilities_arr: object,
        facility_capacities: object,
        fulfill_predefined_fac: bool,
        demand_quantity_arr: object,
        name: str,
    ) -> PMedian:
        """The one path of both constructors: validated arrays around sorted pairs."""
        n_d, n_s = pairs.n_demands, pairs.n_sites
        qty = None
        if demand_quantity_arr is not None:
            qty = as_weights(demand_quantity_arr, n_d, "demand_quantity_arr")
        return cls(
            pairs,
            as_weights(weights, n_d),
            p_facilities,
            as_required_mask(predefined_facilities_arr, n_s),
            as_site_values(facility_capacities, n_s, "facility_capacities"),
            qty,
            name,
            fulfill_predefined_fac=fulfill_predefined_fac,
        )

    # ---------------------------------------------------------------- checks
    def _check_input(self) -> None:
        self._check_fulfilment()  # first, as in spopt
        p, n_req = self.p_facilities, int(self.required.sum())
        if p < 1 or p > self.n_sites:
            self._fail(f"p_facilities {p} must be between 1 and the {self.n_sites} sites")
        if p < n_req:
            self._fail(f"p_facilities {p} < {n_req} required sites")
        lonely = np.flatnonzero(self.pairs.pairs_per_demand() == 0)
        if lonely.size:
            self._fail(f"{lonely.size} demand(s) have no candidate site, e.g. demand {lonely[0]}")
        if self.capacities is not None:
            total = float(self.demand_quantity.sum())
            caps = self.capacities
            best = float(caps[self.required].sum()) + float(
                np.sort(caps[~self.required])[::-1][: p - n_req].sum()
            )
            if best + TOL < total:
                self._fail(
                    f"capacity shortfall: total demand {total:,.6g} exceeds {best:,.6g}, the "
                    f"largest capacity any {p} sites (with the {n_req} required) can offer"
                )
            # each demand must fit whole into one of its candidate sites
            fits = caps[self.pairs.site] + TOL >= self.demand_quantity[self.pairs.demand]
            ok = np.bincount(self.pairs.demand[fits], minlength=self.n_demands) > 0
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                self._fail(
                    f"demand {i} (quantity {self.demand_quantity[i]:,.6g}) exceeds the capacity of "
                    f"each of its candidate sites"
                )

    def _check_fulfilment(self) -> None:
        """``fulfill_predefined_fac``: capacities needed; the required sites must be fillable."""
        if not (self.fulfill_predefined_fac and self.required.any()):
            return
        if self.capacities is None:
            raise ValueError(
                "PMedian: fulfill_predefined_fac needs facility_capacities (data on the "
                "capacity of the facility is missing, so the model cannot be calculated)"
            )
        total = float(self.demand_quantity.sum())
        caps = self.capacities
        fill = float(caps[self.fulfilled].sum())
        if fill > total + TOL * max(1.0, total):
            self._fail(
                f"the predefined facilities can't be fulfilled: their capacity {fill:,.6g} "
                f"is larger than the total demand {total:,.6g}"
            )
        reach = np.bincount(
            self.pairs.site, weights=self.demand_quantity[self.pairs.demand], minlength=self.n_sites
        )
        short = self.fulfilled & (reach + TOL * np.maximum(1.0, caps) < caps)
        if short.any():
            j = int(np.flatnonzero(short)[0])
            self._fail(
                f"predefined site {j} can't be fulfilled: its candidate demands total "
                f"{reach[j]:,.6g} < its capacity {caps[j]:,.6g}"
            )

    # ------------------------------------------------------------------- MIP
    def _define(self, m: SparseModel) -> None:
        pr = self.pairs
        n_pairs = pr.n_pairs
        self._x0 = m.add_variables("open", self.n_sites, lb=self.required.astype(float),
                                   integer=True)
        self._y0 = m.add_variables(
            "assign",
            n_pairs,
            cost=self.weights[pr.demand] * pr.cost,
            integer=self.capacities is not None,
        )
        y = self._y0 + np.arange(n_pairs)
        m.add_constraints("assign", pr.demand, y, 1.0, 1.0, 1.0, self.n_demands)
        self._add_link_rows(m, self._y0)
        m.add_constraints(
            "count",
            np.zeros(self.n_sites, dtype=np.int64),
            self._x0 + np.arange(self.n_sites),
            1.0,
            self.p_facilities,
            self.p_facilities,
            1,
        )
        if self.capacities is not None:
            self._add_capacity_rows(m, self._y0, self.demand_quantity, self.capacities,
                                    np.where(self.fulfilled, 0.0, -np.inf))

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        if self.capacities is not None:
            return None
        pr = self.pairs
        a = self.weights[pr.demand] * pr.cost
        worst = np.zeros(self.n_demands)
        np.maximum.at(worst, pr.demand, a)
        # Larger than any feasible total: an unserved demand is never preferred.
        big = 2.0 * float(worst.sum()) + 1.0
        eng = SwapEngine(
            pr, a, np.full(self.n_demands, big), p=self.p_facilities, required=self.required
        )
        start = eng.greedy(deadline)
        if start is None:
            return None
        # the greedy's swaps leave most of the time to the bound and its starts
        mask, iters = eng.improve(start, deadline=deadline.share(1 / 3))
        self._heuristic_stats["swaps"] = iters - 1
        self._engine = eng
        # SCIP's root LP on national k-nearest instances outlasts the limit; the Lagrangian
        # bound keeps the reported gap honest and small, and its relaxed plans are starts.
        bound, lag_iters, starts = pmedian_lagrangian(
            pr, a, self.p_facilities, self.required, eng.objective(mask),
            deadline=deadline.share(1 / 3),
        )
        self._heuristic_stats.update(lagrangian_bound=bound, lagrangian_iterations=lag_iters,
                                     greedy_objective=eng.objective(mask))
        self._extra_bound = bound
        # The relaxed plans, best first, each improved by swaps, in half the time left.
        # ranking evaluates every start: only the latest (best-priced) ones, so that it stays
        # a small part of any limit
        starts = starts[-50:]
        by_value = sorted(range(len(starts)), key=lambda k: (eng.objective(starts[k]), -k))
        search = deadline.share(0.5)
        tried = 0
        for k in by_value:
            if search.expired():
                break
            trial, _ = eng.improve(starts[k], deadline=search)
            tried += 1
            if eng.objective(trial) < eng.objective(mask) - eng.tol:
                mask = trial
        self._heuristic_stats["lagrangian_starts"] = tried
        _, cost = pr.nearest_open(mask)
        return mask if np.isfinite(cost).all() else None

    def _improve(self, open_mask: BoolArray, seed: int, deadline: Deadline) -> BoolArray:
        """Local kicks (``SwapEngine.perturb_search``), at most ``kicks`` of them."""
        if self._engine is None:
            return open_mask
        n_kicks = min(self.kicks, 10 * self.p_facilities)  # tiny instances need few
        mask, done = self._engine.perturb_search(open_mask, seed, n_kicks, deadline)
        self._heuristic_stats["kicks"] = done
        return mask

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        hint = np.zeros(self._y0 + self.pairs.n_pairs)
        hint[self._x0 : self._x0 + self.n_sites] = open_mask
        site, _ = self.pairs.nearest_open(open_mask)
        first = self._first_pair_of(site)
        hint[self._y0 + first[first >= 0]] = 1.0
        return hint

    def _first_pair_of(self, site: np.ndarray) -> np.ndarray:
        """Index of pair (i, site[i]) for each demand (-1 when site[i] < 0)."""
        pr = self.pairs
        key = pr.demand * self.n_sites + pr.site
        order = np.argsort(key)
        q = np.arange(self.n_demands) * self.n_sites + np.maximum(site, 0)
        pos = order[np.minimum(np.searchsorted(key[order], q), key.size - 1)]
        return np.where(site >= 0, pos, -1)

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        pr = self.pairs
        if self.capacities is None or values is None:
            site, cost = pr.nearest_open(open_mask)
        else:
            yv = values[self._y0 : self._y0 + pr.n_pairs] > 0.5
            site = np.full(self.n_demands, -1, dtype=np.int64)
            cost = np.full(self.n_demands, np.inf)
            site[pr.demand[yv]] = pr.site[yv]
            cost[pr.demand[yv]] = pr.cost[yv]
        obj = float(np.sum(self.weights * cost)) if (site >= 0).all() else np.inf
        return obj, self._assignment_frame(site, cost)

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        n_open = int(open_mask.sum())
        if n_open != self.p_facilities:
            raise SolutionCheckError(
                f"PMedian: {n_open} sites open, p_facilities is {self.p_facilities}"
            )
        site = frame["site"].to_numpy(dtype=np.int64)
        dem = frame["demand"].to_numpy(dtype=np.int64)
        cost = frame["cost"].to_numpy(dtype=float)
        if (site < 0).any():
            raise SolutionCheckError(f"PMedian: demand {int(dem[site < 0][0])} is not served")
        if self.capacities is None:
            _, nearest = self.pairs.nearest_open(open_mask)
            bad = cost > nearest[dem] + 1e-9
            if bad.any():
                raise SolutionCheckError(
                    f"PMedian: demand {int(dem[bad][0])} is not served by its nearest open site"
                )
        else:
            load = np.bincount(site, weights=self.demand_quantity[dem], minlength=self.n_sites)
            slack = TOL * np.maximum(1.0, self.capacities)
            over = load > self.capacities + slack
            if over.any():
                j = int(np.flatnonzero(over)[0])
                raise SolutionCheckError(
                    f"PMedian: site {j} serves {load[j]:,.6g} > capacity {self.capacities[j]:,.6g}"
                )
            under = self.fulfilled & (load < self.capacities - slack)
            if under.any():
                j = int(np.flatnonzero(under)[0])
                raise SolutionCheckError(
                    f"PMedian: predefined site {j} serves {load[j]:,.6g}, not its capacity "
                    f"{self.capacities[j]:,.6g} (fulfill_predefined_fac)"
                )
        return float(np.sum(self.weights[dem] * cost))
