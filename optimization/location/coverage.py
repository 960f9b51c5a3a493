"""The maximal covering location model (MCLP); set covering (LSCP, LSCP-B) is in ``lscp``
and ``lscpb``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimization.location._base import LocationModel
from optimization.location._cover_search import CoverNeighbourhoodSearch
from optimization.location._heuristics import SwapEngine
from optimization.location._pairs import (
    BoolArray,
    CandidatePairs,
    FloatArray,
    as_required_mask,
    as_site_values,
    as_weights,
    check_radius,
    make_pairs,
    pairs_from_matrix,
)
from optimization.result import SolutionCheckError
from optimization.solver import TOL, Deadline, SparseModel


class MCLP(LocationModel):
    r"""Maximal covering location: open ``p`` sites (and/or stay within an opening budget) to
    maximise the weight of demand within ``service_radius`` of an open site.

    Formulation (Church and ReVelle 1974, as in spopt), ``N_i = {j : (i,j) in P, c_ij <= S}``::

        maximise    sum_i w_i z_i
        subject to  z_i <= sum_{j in N_i} x_j          for every demand i       (cover)
                    sum_j x_j = p                                               (count, if p)
                    sum_j f_j x_j <= B                                          (budget, if B)
                    x_j = 1                            for every required j     (required)
                    x_j, z_i in {0,1}

    With ``facility_capacities`` each covered demand is assigned whole to one open site within
    the radius (``y_ij`` binary, ``z_i = sum_j y_ij``)::

                    sum_{j in N_i} y_ij <= 1;  y_ij <= x_j;  sum_i q_i y_ij <= Q_j x_j

    ============  =================================================================
    symbol        meaning
    ============  =================================================================
    S             ``service_radius`` (same unit as the costs, e.g. km)
    w_i           demand weight (``weights``, e.g. population)
    p             ``p_facilities`` (optional when a budget is given)
    f_j, B        ``opening_costs`` (e.g. VND), ``budget``
    Q_j, q_i      ``facility_capacities``, ``demand_quantity_arr`` (default ``w_i``)
    x_j, z_i      site j opened, demand i covered
    ============  =================================================================

    Objective units: weight (e.g. people covered). ``assignment`` gives each demand its nearest
    open site within the radius (``site`` -1 and ``covered`` False when none).

    Solve strategy (uncapacitated): sites whose demands another site also covers (at no higher
    opening cost) are fixed closed (``_undominated_sites``). Two starts, each improved by
    best-improvement swaps: greedy by marginal coverage, and the top ``p`` sites of the LP
    relaxation (GLOP). With ``p`` fixed and no budget, the better start is improved by
    ``CoverNeighbourhoodSearch`` (regions re-solved exactly by SCIP) while SCIP, its own
    primal heuristics off, works on the whole model for the bound (``threads >= 2``; with one
    thread, one after the other, SCIP starting from the improved plan). Side by side, SCIP
    starts from the greedy start, before the LP start exists. The bound is the better of
    SCIP's and the LP relaxation's, rounded down when the weights are integers (the objective
    then is an integer). Capacitated: SCIP alone. Measurements: benchmarks/RESULTS.md.
    """

    sense = "max"
    model_name = "MCLP"
    #: neighbourhood-search steps after the swap search (see ``CoverNeighbourhoodSearch``)
    lns_steps = 5_000

    def __init__(
        self,
        pairs: CandidatePairs,
        weights: FloatArray,
        service_radius: float,
        p_facilities: int | None,
        required: BoolArray,
        opening_costs: FloatArray | None = None,
        budget: float | None = None,
        facility_capacities: FloatArray | None = None,
        demand_quantity: FloatArray | None = None,
        name: str = "mclp",
    ) -> None:
        self.service_radius = check_radius(service_radius)
        super().__init__(pairs.within(self.service_radius), weights, required, name)
        self.p_facilities = None if p_facilities is None else int(p_facilities)
        self.opening_costs = opening_costs
        self.budget = None if budget is None else float(budget)
        self.capacities = facility_capacities
        self.demand_quantity = weights if demand_quantity is None else demand_quantity
        self._check_input()
        self.allowed = self._undominated_sites()
        self._x_lp: FloatArray | None = None  # site values of the LP relaxation, once solved
        self._greedy_done: BoolArray | None = None

    def _undominated_sites(self) -> BoolArray:
        """Sites worth opening: a site whose demands another site also covers, at no higher
        opening cost, never adds coverage. Kept
        exact: with ``p`` fixed only when there are no opening costs (a useless site must be
        swappable for any closed one), and with at least ``p`` sites left."""
        everything = np.ones(self.n_sites, dtype=bool)
        p = self.p_facilities
        if self.capacities is not None or (p is not None and self.opening_costs is not None):
            return everything
        allowed = ~self.pairs.dominated_sites(self.opening_costs) | self.required
        if p is not None and allowed.sum() < p:
            allowed[np.flatnonzero(~allowed)[: p - int(allowed.sum())]] = True
        return allowed

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: object,
        weights: object,
        service_radius: float,
        p_facilities: int | None = None,
        predefined_facilities_arr: object = None,
        opening_costs: object = None,
        budget: float | None = None,
        facility_capacities: object = None,
        demand_quantity_arr: object = None,
        name: str = "mclp",
    ) -> MCLP:
        """Dense costs; a demand is covered by j when ``cost_matrix[i, j] <= service_radius``.

        Only the entries within the radius become pairs (``pairs_from_matrix``), so a
        national matrix (3,321 x 10,035) is read in a fraction of a second."""
        radius = check_radius(service_radius)
        return cls._from_candidates(
            pairs_from_matrix(cost_matrix, radius),
            weights,
            radius,
            p_facilities,
            predefined_facilities_arr,
            opening_costs,
            budget,
            facility_capacities,
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
        service_radius: float,
        p_facilities: int | None = None,
        predefined_facilities_arr: object = None,
        opening_costs: object = None,
        budget: float | None = None,
        facility_capacities: object = None,
        demand_quantity_arr: object = None,
        name: str = "mclp",
    ) -> MCLP:
        """Sparse pairs; pairs with ``cost > service_radius`` are dropped."""
        n_d = np.asarray(weights).size
        return cls._from_candidates(
            make_pairs(demand_index, site_index, cost, n_demands=n_d, n_sites=n_sites),
            weights,
            service_radius,
            p_facilities,
            predefined_facilities_arr,
            opening_costs,
            budget,
            facility_capacities,
            demand_quantity_arr,
            name,
        )

    @classmethod
    def _from_candidates(
        cls,
        pairs: CandidatePairs,
        weights: object,
        service_radius: float,
        p_facilities: int | None,
        predefined_facilities_arr: object,
        opening_costs: object,
        budget: float | None,
        facility_capacities: object,
        demand_quantity_arr: object,
        name: str,
    ) -> MCLP:
        """The one path of both constructors: validated arrays around sorted pairs."""
        n_d, n_s = pairs.n_demands, pairs.n_sites
        qty = None
        if demand_quantity_arr is not None:
            qty = as_weights(demand_quantity_arr, n_d, "demand_quantity_arr")
        return cls(
            pairs,
            as_weights(weights, n_d),
            service_radius,
            p_facilities,
            as_required_mask(predefined_facilities_arr, n_s),
            as_site_values(opening_costs, n_s, "opening_costs"),
            budget,
            as_site_values(facility_capacities, n_s, "facility_capacities"),
            qty,
            name,
        )

    def _check_input(self) -> None:
        n_req = int(self.required.sum())
        p = self.p_facilities
        if p is None and self.budget is None:
            raise ValueError("MCLP needs p_facilities, a budget, or both")
        if (self.budget is None) != (self.opening_costs is None):
            raise ValueError("MCLP: opening_costs and budget go together")
        if p is not None:
            if p < 1 or p > self.n_sites:
                self._fail(f"p_facilities {p} must be between 1 and the {self.n_sites} sites")
            if p < n_req:
                self._fail(f"p_facilities {p} < {n_req} required sites")
        if self.budget is not None and self.opening_costs is not None:
            fc = self.opening_costs
            req_cost = float(fc[self.required].sum())
            if req_cost > self.budget + TOL:
                self._fail(
                    f"the {n_req} required sites cost {req_cost:,.6g} > budget {self.budget:,.6g}"
                )
            if p is not None:
                cheapest = req_cost + float(np.sort(fc[~self.required])[: p - n_req].sum())
                if cheapest > self.budget + TOL:
                    self._fail(
                        f"the cheapest {p} sites cost {cheapest:,.6g} > budget {self.budget:,.6g}"
                    )

    # ------------------------------------------------------------------- MIP
    def _define(self, m: SparseModel) -> None:
        pr = self.pairs
        n_s, n_d = self.n_sites, self.n_demands
        self._x0 = m.add_variables(
            "open", n_s, lb=self.required.astype(float), ub=self.allowed.astype(float),
            integer=True
        )
        x = self._x0 + np.arange(n_s)
        if self.capacities is None:
            has = pr.pairs_per_demand() > 0
            self._z0 = m.add_variables("covered", n_d, ub=has.astype(float), cost=self.weights,
                                       integer=True)
            m.add_constraints(
                "cover",
                np.r_[np.arange(n_d), pr.demand],
                np.r_[self._z0 + np.arange(n_d), self._x0 + pr.site],
                np.r_[np.ones(n_d), -np.ones(pr.n_pairs)],
                -np.inf,
                0.0,
                n_d,
            )  # cover
        else:
            self._y0 = m.add_variables("assign", pr.n_pairs, cost=self.weights[pr.demand],
                                       integer=True)
            y = self._y0 + np.arange(pr.n_pairs)
            m.add_constraints("one_site", pr.demand, y, 1.0, -np.inf, 1.0, n_d)
            self._add_link_rows(m, self._y0)
            self._add_capacity_rows(m, self._y0, self.demand_quantity, self.capacities)
        zeros = np.zeros(n_s, dtype=np.int64)
        if self.p_facilities is not None:
            m.add_constraints("count", zeros, x, 1.0, self.p_facilities, self.p_facilities, 1)
        if self.budget is not None and self.opening_costs is not None:
            m.add_constraints("budget", zeros, x, self.opening_costs, -np.inf, self.budget, 1)

    def _early_start(self, deadline: Deadline) -> BoolArray | None:
        # greedy alone is much cheaper than the LP start, so SCIP starts sooner
        return self._greedy(deadline) if self._improves() else None

    def _greedy(self, deadline: Deadline) -> BoolArray | None:
        """Greedy start by marginal coverage (deterministic; kept once it is complete)."""
        if self._greedy_done is None:
            mask = self._new_engine().greedy(deadline)
            if deadline.expired():
                return mask
            self._greedy_done = mask
        return self._greedy_done

    def _new_engine(self) -> SwapEngine:
        return SwapEngine(
            self.pairs,
            np.zeros(self.pairs.n_pairs),
            self.weights.copy(),
            p=self.p_facilities,
            required=self.required,
            allowed=self.allowed,
            site_cost=self.opening_costs,
            budget=self.budget,
        )

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        if self.capacities is not None:
            return None
        eng = self._new_engine()
        starts = []
        greedy = self._greedy(deadline)
        if greedy is not None:
            starts.append(("greedy", greedy))
        p = self.p_facilities
        if p is not None and self.budget is None:
            # Rounding the LP relaxation (top p sites by x_j) and then swapping beats greedy
            # starts on the national instance (benchmarks/RESULTS.md).
            x_lp = self._lp_site_values(deadline)
            self._x_lp = x_lp
            if x_lp is not None:
                order = np.lexsort((np.arange(self.n_sites), -x_lp))
                order = order[self.allowed[order] & ~self.required[order]]
                start = self.required.copy()
                start[order[: p - int(self.required.sum())]] = True
                starts.append(("lp_rounding", start))
        best, best_val, best_name = None, np.inf, ""
        for name, start in starts:
            mask, iters = eng.improve(start, deadline=deadline)
            val = eng.objective(mask)  # uncovered weight, lower is better
            self._heuristic_stats[f"swaps_{name}"] = iters - 1
            if val < best_val - eng.tol:
                best, best_val, best_name = mask, val, name
        self._heuristic_stats["heuristic_start"] = best_name
        return best

    def _improves(self) -> bool:
        return self.capacities is None and self.budget is None and self.p_facilities is not None

    def _improve(self, open_mask: BoolArray, seed: int, deadline: Deadline) -> BoolArray:
        if not self._improves():
            return open_mask
        search = CoverNeighbourhoodSearch(
            self.pairs, self.weights, self.required, self.allowed, self._x_lp
        )
        best, stats = search.run(open_mask, seed, max_steps=self.lns_steps, deadline=deadline)
        self._heuristic_stats.update(stats)
        return best

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        site, _ = self.pairs.nearest_open(open_mask)
        hint = np.zeros(self._z0 + self.n_demands)
        hint[self._x0 : self._x0 + self.n_sites] = open_mask
        hint[self._z0 : self._z0 + self.n_demands] = site >= 0
        return hint

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
        covered = site >= 0
        obj = float(self.weights[covered].sum())
        return obj, self._assignment_frame(site, cost, {"covered": covered})

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        n_open = int(open_mask.sum())
        if self.p_facilities is not None and n_open != self.p_facilities:
            raise SolutionCheckError(
                f"MCLP: {n_open} sites open, p_facilities is {self.p_facilities}"
            )
        if self.budget is not None and self.opening_costs is not None:
            spent = float(self.opening_costs[open_mask].sum())
            if spent > self.budget + TOL * max(1.0, abs(self.budget)):
                raise SolutionCheckError(
                    f"MCLP: opening cost {spent:,.6g} > budget {self.budget:,.6g}"
                )
        dem = frame["demand"].to_numpy(dtype=np.int64)
        site = frame["site"].to_numpy(dtype=np.int64)
        covered = frame["covered"].to_numpy(dtype=bool)
        if not np.array_equal(covered, site >= 0):
            raise SolutionCheckError("MCLP: 'covered' disagrees with the assigned site")
        cost = frame["cost"].to_numpy(dtype=float)
        if np.any(cost[covered] > self.service_radius + 1e-9):
            raise SolutionCheckError("MCLP: a covered demand is beyond service_radius")
        if self.capacities is None:
            reach, _ = self.pairs.nearest_open(open_mask)
            missed = (reach[dem] >= 0) & ~covered
            if missed.any():
                raise SolutionCheckError(
                    f"MCLP: demand {int(dem[missed][0])} is within service_radius of open site "
                    f"{int(reach[dem[missed][0]])} but not counted as covered"
                )
        else:
            load = np.bincount(
                site[covered], weights=self.demand_quantity[dem[covered]], minlength=self.n_sites
            )
            over = load > self.capacities + TOL * np.maximum(1.0, self.capacities)
            if over.any():
                j = int(np.flatnonzero(over)[0])
                raise SolutionCheckError(
                    f"MCLP: site {j} serves {load[j]:,.6g} > capacity {self.capacities[j]:,.6g}"
                )
        return float(self.weights[dem[covered]].sum())
