"""Location set covering (LSCP), with spopt's capacitated variant (CLSCP-SO)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimization.location._base import LocationModel
from optimization.location._heuristics import greedy_cover
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


class LSCP(LocationModel):
    r"""Location set covering: cover every demand within ``service_radius`` at the least number
    of sites (or least total opening cost), optionally within a budget and site capacities.

    Formulation (Toregas et al. 1971, as in spopt), ``N_i = {j : (i,j) in P, c_ij <= S}``::

        minimise    sum_j f_j x_j                       (f_j = 1 without opening_costs)
        subject to  sum_{j in N_i} x_j >= 1             for every demand i   (cover)
                    sum_j f_j x_j <= B                                       (budget, if B)
                    x_j = 1                             for every required j (required)
                    x_j in {0,1}

    With ``facility_capacity_arr`` (spopt's CLSCP-SO, Current and Storbeck 1988) the cover rows
    give way to an assignment of each demand's quantity to open sites within the radius::

                    sum_{j in N_i} z_ij = 1              for every demand i   (assign)
                    z_ij <= x_j                          for every (i,j), j in N_i  (link)
                    sum_i q_i z_ij <= Q_j x_j            for every site j     (capacity)
                    z_ij in [0,1]  (binary with single_source=True)

    ============  =================================================================
    symbol        meaning
    ============  =================================================================
    S             ``service_radius`` (same unit as the costs, e.g. km)
    f_j, B        ``opening_costs`` (e.g. VND, default 1 per site), ``budget``
    Q_j, q_i      ``facility_capacity_arr``, ``demand_quantity_arr`` (default 1, as in spopt)
    x_j           site j opened
    z_ij          share of demand i served by site j
    ============  =================================================================

    As in spopt, a demand's quantity may be split between several open sites ("system
    optimal"); ``single_source=True`` asks for one site per demand instead. The link rows
    are not in spopt's formulation; they change nothing for a demand with a positive quantity
    (its capacity row already closes a closed site), and make a demand of quantity 0 need an
    open site within the radius too, as in the uncapacitated model.

    Objective units: number of sites, or the unit of ``opening_costs``. ``weights`` (optional)
    only fill the ``weight`` column of ``assignment``; each demand is reported with its nearest
    open site within the radius, or, with capacities, with the site carrying its largest share
    (``allocation`` lists every share: demand, site, cost, share, quantity).

    Solve strategy: greedy cover (cost per newly covered demand) with redundant sites dropped,
    handed to SCIP as a hint. Set covering LPs are tight, so SCIP usually proves optimality.
    Capacitated: SCIP alone.
    """

    sense = "min"
    model_name = "LSCP"

    def __init__(
        self,
        pairs: CandidatePairs,
        service_radius: float,
        required: BoolArray,
        opening_costs: FloatArray | None = None,
        budget: float | None = None,
        weights: FloatArray | None = None,
        name: str = "lscp",
        *,
        facility_capacities: FloatArray | None = None,
        demand_quantity: FloatArray | None = None,
        single_source: bool = False,
    ) -> None:
        self.service_radius = check_radius(service_radius)
        w = np.ones(pairs.n_demands) if weights is None else weights
        super().__init__(pairs.within(self.service_radius), w, required, name)
        self.opening_costs = opening_costs
        self.budget = None if budget is None else float(budget)
        self.capacities = facility_capacities
        if demand_quantity is not None and facility_capacities is None:
            raise ValueError(
                "LSCP: demand_quantity_arr given without facility_capacity_arr; quantities "
                "only matter against capacities"
            )
        self.demand_quantity = (
            np.ones(self.n_demands) if demand_quantity is None else demand_quantity
        )
        self.single_source = bool(single_source)
        self.allocation = _empty_allocation()
        self._z0 = 0
        self._check_input()

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: object,
        service_radius: float,
        predefined_facilities_arr: object = None,
        demand_quantity_arr: object = None,
        facility_capacity_arr: object = None,
        opening_costs: object = None,
        budget: float | None = None,
        weights: object = None,
        single_source: bool = False,
        name: str = "lscp",
    ) -> LSCP:
        """Dense costs; spopt's positional order (``cost_matrix, service_radius,
        predefined_facilities_arr, demand_quantity_arr, facility_capacity_arr``)."""
        radius = check_radius(service_radius)
        return cls._from_candidates(
            pairs_from_matrix(cost_matrix, radius),
            weights,
            radius,
            predefined_facilities_arr,
            opening_costs,
            budget,
            demand_quantity_arr,
            facility_capacity_arr,
            single_source,
            name,
        )

    @classmethod
    def from_pairs(
        cls,
        demand_index: object,
        site_index: object,
        cost: object,
        weights: object = None,
        *,
        n_sites: int,
        service_radius: float,
        n_demands: int | None = None,
        predefined_facilities_arr: object = None,
        opening_costs: object = None,
        budget: float | None = None,
        demand_quantity_arr: object = None,
        facility_capacity_arr: object = None,
        single_source: bool = False,
        name: str = "lscp",
    ) -> LSCP:
        """Sparse pairs; give ``weights`` or ``n_demands`` so that uncovered demands are known."""
        if weights is None and n_demands is None:
            raise ValueError("LSCP.from_pairs needs weights or n_demands")
        n_d = int(np.asarray(weights).size) if weights is not None else int(n_demands or 0)
        return cls._from_candidates(
            make_pairs(demand_index, site_index, cost, n_demands=n_d, n_sites=n_sites),
            weights,
            service_radius,
            predefined_facilities_arr,
            opening_costs,
            budget,
            demand_quantity_arr,
            facility_capacity_arr,
            single_source,
            name,
        )

    @classmethod
    def _from_candidates(
        cls,
        pairs: CandidatePairs,
        weights: object,
        service_radius: float,
        predefined_facilities_arr: object,
        opening_costs: object,
        budget: float | None,
        demand_quantity_arr: object,
        facility_capacity_arr: object,
        single_source: bool,
        name: str,
    ) -> LSCP:
        """The one path of both constructors: validated arrays around sorted pairs."""
        n_d, n_s = pairs.n_demands, pairs.n_sites
        qty = None
        if demand_quantity_arr is not None:
            qty = as_weights(demand_quantity_arr, n_d, "demand_quantity_arr")
        return cls(
            pairs,
            service_radius,
            as_required_mask(predefined_facilities_arr, n_s),
            as_site_values(opening_costs, n_s, "opening_costs"),
            budget,
            None if weights is None else as_weights(weights, n_d),
            name,
            facility_capacities=as_site_values(facility_capacity_arr, n_s, "facility_capacity_arr"),
            demand_quantity=qty,
            single_source=single_source,
        )

    def _site_cost(self) -> FloatArray:
        return np.ones(self.n_sites) if self.opening_costs is None else self.opening_costs

    def _check_input(self) -> None:
        lonely = np.flatnonzero(self.pairs.pairs_per_demand() == 0)
        if lonely.size:
            self._fail(
                f"demand {lonely[0]} has no candidate site within service_radius "
                f"{self.service_radius:g} ({lonely.size} such demand(s))"
            )
        if self.budget is not None:
            fc = self._site_cost()
            req_cost = float(fc[self.required].sum())
            if req_cost > self.budget + TOL:
                self._fail(
                    f"the {int(self.required.sum())} required sites cost {req_cost:,.6g} > "
                    f"budget {self.budget:,.6g}"
                )
            cheapest = np.full(self.n_demands, np.inf)
            np.minimum.at(cheapest, self.pairs.demand, fc[self.pairs.site])
            i = int(np.argmax(cheapest))
            if cheapest[i] > self.budget + TOL:
                self._fail(
                    f"demand {i}: its cheapest covering site costs {cheapest[i]:,.6g} > budget "
                    f"{self.budget:,.6g}"
                )
        if self.capacities is not None:
            self._check_capacities(self.capacities)

    def _check_capacities(self, caps: FloatArray) -> None:
        qty, pr = self.demand_quantity, self.pairs
        total, offered = float(qty.sum()), float(caps.sum())
        if total > offered + TOL * max(1.0, offered):
            self._fail(
                f"Infeasible model. Demand greater than capacity ({total:,.6g} > {offered:,.6g})"
            )
        # what the sites within the radius of each demand can take: all of them together, or
        # the largest one alone when the demand may not be split
        reach: FloatArray = np.zeros(self.n_demands)
        if self.single_source:
            np.maximum.at(reach, pr.demand, caps[pr.site])
        else:
            np.add.at(reach, pr.demand, caps[pr.site])
        short = qty > reach + TOL * np.maximum(1.0, reach)
        if short.any():
            i = int(np.flatnonzero(short)[0])
            what = "the largest capacity" if self.single_source else "the total capacity"
            self._fail(
                f"demand {i} (quantity {qty[i]:,.6g}) exceeds {what} {reach[i]:,.6g} of the "
                f"sites within service_radius {self.service_radius:g}"
            )

    def _define(self, m: SparseModel) -> None:
        pr = self.pairs
        n_s, n_d = self.n_sites, self.n_demands
        fc = self._site_cost()
        self._x0 = m.add_variables("open", n_s, lb=self.required.astype(float), cost=fc,
                                   integer=True)
        x = self._x0 + np.arange(n_s)
        if self.capacities is None:
            m.add_constraints("cover", pr.demand, self._x0 + pr.site, 1.0, 1.0, np.inf, n_d)
        else:
            self._z0 = m.add_variables("share", pr.n_pairs, integer=self.single_source)
            z = self._z0 + np.arange(pr.n_pairs)
            m.add_constraints("assign", pr.demand, z, 1.0, 1.0, 1.0, n_d)
            self._add_link_rows(m, self._z0)
            self._add_capacity_rows(m, self._z0, self.demand_quantity, self.capacities)
        if self.budget is not None:
            m.add_constraints("budget", np.zeros(n_s, dtype=np.int64), x, fc, -np.inf,
                              self.budget, 1)

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        if self.capacities is not None:
            return None
        mask = greedy_cover(self.pairs, self.required, self.opening_costs, deadline=deadline)
        if mask is None:
            return None
        if self.budget is not None and self._site_cost()[mask].sum() > self.budget + TOL:
            return None  # the greedy cover overspends; leave it to the MIP
        return mask

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        return open_mask.astype(float)

    def _evaluate(
        self, open_mask: BoolArray, values: FloatArray | None
    ) -> tuple[float, pd.DataFrame]:
        total = float(self._site_cost()[open_mask].sum())
        if self.capacities is None:
            site, cost = self.pairs.nearest_open(open_mask)
            return (total if (site >= 0).all() else np.inf), self._assignment_frame(site, cost)
        if values is None:  # no allocation without the MIP's shares
            site, cost = self.pairs.nearest_open(open_mask)
            self.allocation = _empty_allocation()
            return np.inf, self._assignment_frame(site, cost)
        return total, self._allocate(values[self._z0 : self._z0 + self.pairs.n_pairs])

    def _allocate(self, share: FloatArray) -> pd.DataFrame:
        """The MIP's shares as ``allocation``; each demand's largest share as ``assignment``."""
        pr = self.pairs
        share = np.where(share > 1e-9, share, 0.0)
        if self.single_source:
            share = (share > 0.5).astype(float)
        # the solver's shares sum to 1 within its tolerance; make it exact
        total = np.bincount(pr.demand, weights=share, minlength=self.n_demands)
        share = share / np.where(total > 0, total, 1.0)[pr.demand]
        on = share > 0
        self.allocation = pd.DataFrame(
            {
                "demand": pr.demand[on],
                "site": pr.site[on],
                "cost": pr.cost[on],
                "share": share[on],
                "quantity": share[on] * self.demand_quantity[pr.demand[on]],
            }
        )
        # largest share first, then the pairs' own (cost, site) order
        order = np.lexsort((np.arange(pr.n_pairs), -share, pr.demand))
        first = np.ones(order.size, dtype=bool)
        first[1:] = pr.demand[order][1:] != pr.demand[order][:-1]
        top = order[first]
        site = np.full(self.n_demands, -1, dtype=np.int64)
        cost = np.full(self.n_demands, np.nan)
        site[pr.demand[top]] = np.where(on[top], pr.site[top], -1)
        cost[pr.demand[top]] = pr.cost[top]
        return self._assignment_frame(site, cost)

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        site = frame["site"].to_numpy(dtype=np.int64)
        if (site < 0).any():
            i = int(frame["demand"].to_numpy()[site < 0][0])
            raise SolutionCheckError(f"LSCP: demand {i} is not covered")
        if np.any(frame["cost"].to_numpy(dtype=float) > self.service_radius + 1e-9):
            raise SolutionCheckError("LSCP: a demand is assigned beyond service_radius")
        total = float(self._site_cost()[open_mask].sum())
        if self.budget is not None and total > self.budget + TOL * max(1.0, abs(self.budget)):
            raise SolutionCheckError(f"LSCP: opening cost {total:,.6g} > budget {self.budget:,.6g}")
        if self.capacities is not None:
            self._check_allocation(open_mask, frame, self.capacities)
        return total

    def _check_allocation(
        self, open_mask: BoolArray, frame: pd.DataFrame, caps: FloatArray
    ) -> None:
        """Every share on an open site within the radius, each demand's shares summing to 1
        (one share of 1 when single-source), site loads within capacity, and ``assignment``
        naming a site of each demand's largest share."""
        alloc = self.allocation
        dem = alloc["demand"].to_numpy(dtype=np.int64)
        site = alloc["site"].to_numpy(dtype=np.int64)
        share = alloc["share"].to_numpy(dtype=float)
        n_d, n_s = self.n_demands, self.n_sites
        if dem.size and (dem.min() < 0 or dem.max() >= n_d or site.min() < 0 or site.max() >= n_s):
            raise SolutionCheckError("LSCP: allocation holds an index out of range")
        if np.unique(dem * n_s + site).size != dem.size:
            raise SolutionCheckError("LSCP: allocation lists a (demand, site) pair twice")
        if np.any(share <= 0) or np.any(share > 1 + TOL):
            raise SolutionCheckError("LSCP: allocation shares must lie in (0, 1]")
        if not open_mask[site].all():
            raise SolutionCheckError(
                f"LSCP: demand {int(dem[~open_mask[site]][0])} allocated to a closed site"
            )
        cost = self.pairs.lookup(dem, site)
        if np.isnan(cost).any() or np.any(cost > self.service_radius + 1e-9):
            raise SolutionCheckError("LSCP: a share is allocated beyond service_radius")
        if not np.allclose(alloc["cost"].to_numpy(dtype=float), cost, rtol=1e-9, atol=1e-9):
            raise SolutionCheckError("LSCP: allocation costs differ from the pairs")
        qty = self.demand_quantity
        if not np.allclose(
            alloc["quantity"].to_numpy(dtype=float), share * qty[dem], rtol=1e-9, atol=1e-9
        ):
            raise SolutionCheckError("LSCP: allocation quantities differ from share x quantity")
        served = np.bincount(dem, weights=share, minlength=n_d)
        bad = np.abs(served - 1.0) > TOL
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SolutionCheckError(
                f"LSCP: demand {i} has shares summing to {served[i]:.9g}, not 1"
            )
        if self.single_source and (np.bincount(dem, minlength=n_d) != 1).any():
            raise SolutionCheckError("LSCP: single_source, but a demand is split between sites")
        load = np.bincount(site, weights=share * qty[dem], minlength=n_s)
        over = load > caps + TOL * np.maximum(1.0, caps)
        if over.any():
            j = int(np.flatnonzero(over)[0])
            raise SolutionCheckError(
                f"LSCP: site {j} serves {load[j]:,.6g} > capacity {caps[j]:,.6g}"
            )
        top = np.zeros(n_d)
        np.maximum.at(top, dem, share)
        fdem = frame["demand"].to_numpy(dtype=np.int64)
        fkey = fdem * n_s + frame["site"].to_numpy(dtype=np.int64)
        akey = dem * n_s + site
        order = np.argsort(akey)
        pos = np.minimum(np.searchsorted(akey[order], fkey), max(akey.size - 1, 0))
        found = akey[order][pos] == fkey if akey.size else np.zeros(fkey.size, dtype=bool)
        if not found.all():
            raise SolutionCheckError(
                f"LSCP: demand {int(fdem[~found][0])} is reported at a site it is not allocated to"
            )
        if np.any(share[order][pos] < top[fdem] - TOL):
            raise SolutionCheckError("LSCP: assignment does not name each demand's largest share")


def _empty_allocation() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "demand": np.zeros(0, dtype=np.int64),
            "site": np.zeros(0, dtype=np.int64),
            "cost": np.zeros(0),
            "share": np.zeros(0),
            "quantity": np.zeros(0),
        }
    )
