"""Result frames from a plan, and their verification from the frames alone."""
from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimization.disposition.common import (
    N_SERVICE,
    USES,
    CandidatePlan,
)
from optimization.disposition.order import in_money_units
from optimization.disposition.state import DispositionState
from optimization.result import (
    SolutionCheckError,
)
from optimization.solver import check_info


class _Check(DispositionState):
    """Result frames and ``check_solution``."""

    def _write_results(self, plan: CandidatePlan) -> None:
        props = self.properties
        o = plan.choice
        spend = self._property_spend(plan)
        shared = np.full(self.n_p, "", dtype=object)
        for e in np.flatnonzero(plan.extra):  # options are sorted by property, then use
            p = self.opt_p[e]
            shared[p] = f"{shared[p]}+{USES[self.opt_u[e]]}" if shared[p] else USES[self.opt_u[e]]
        self.assignment = pd.DataFrame({
            "property_id": props["property_id"].to_numpy(),
            "province_code": props["province_code"].to_numpy(),
            "commune_code": props["commune_code"].to_numpy(),
            "use": np.asarray(USES, dtype=object)[self.opt_u[o]],
            "shared_uses": shared,
            "renovation_cost_vnd": spend,
            "revenue_vnd": self.opt_rev[o],
        })
        used = plan.y > 0
        a_o, a_n = self.arc_o[used], self.arc_n[used]
        self.service = pd.DataFrame({
            "property_id": props["property_id"].to_numpy()[self.opt_p[a_o]],
            "commune_code": self.needs["commune_code"].to_numpy()[a_n],
            "use": np.asarray(USES, dtype=object)[self.opt_u[a_o]],
            "quantity": plan.y[used],
            "distance_km": self.arc_km[used],
            "cost_vnd": plan.y[used] * self.arc_cost_vnd[used],
        })
        served = np.bincount(self.arc_n, weights=plan.y, minlength=self.n_n).astype(np.int64)
        self.unmet = pd.DataFrame({
            "commune_code": self.needs["commune_code"].to_numpy(),
            "use": self.needs["use"].to_numpy(),
            "need": self.need_q, "served": served, "unmet": plan.unmet,
            "priority_weight": self.needs["priority_weight"].to_numpy(),
            "served_first": self.need_first,
            "penalty_vnd": plan.unmet * self.need_pen,
        })

    def _objective_parts(self, plan: CandidatePlan) -> dict[str, int | str]:
        """The objective's two parts in whole VND, and the unit money is counted in."""
        o = plan.open_options()
        return {"disposal_order": self.disposal_order, "money_unit_vnd": self.money_unit_vnd,
                "shared_properties": int(np.unique(self.opt_p[plan.extra]).size),
                "unmet_penalty_vnd": int((plan.unmet * self.need_pen).sum()),
                "net_cost_vnd": int(self.opt_net_vnd[o].sum())
                + int((self.opt_rate * plan.area).sum())
                + int((plan.y * self.arc_cost_vnd).sum())}

    # ------------------------------------------------------------------ verification
    def check_solution(self) -> Self:
        """Recompute every constraint and the objective from the result frames alone."""
        if not self.info.status.has_solution:
            raise SolutionCheckError(f"no solution to check (status {self.info.status})")
        props = self.properties
        asg = self.assignment
        if len(asg) != self.n_p or not np.array_equal(asg["property_id"].to_numpy(),
                                                       props["property_id"].to_numpy()):
            raise SolutionCheckError("assignment must list every property exactly once")
        u = pd.Index(USES).get_indexer(asg["use"])
        key = pd.MultiIndex.from_arrays([self.opt_p, self.opt_u])
        o = key.get_indexer(pd.MultiIndex.from_arrays([np.arange(self.n_p), u]))
        if (o < 0).any():
            i = int(np.flatnonzero(o < 0)[0])
            raise SolutionCheckError(f"property {asg['property_id'].iloc[i]!r} gets use "
                                     f"{asg['use'].iloc[i]!r} it is not eligible for")
        fixed = self.fixed_opt >= 0
        if (o[fixed] != self.fixed_opt[fixed]).any():
            raise SolutionCheckError("a property with a fixed use got another use")
        is_open = self._open_from_frame(asg, o, key)
        # Service rows: the property's use, a given pair within radius, a need, capacity.
        s = self.service
        sp_ = pd.Index(props["property_id"]).get_indexer(s["property_id"])
        if (sp_ < 0).any():
            raise SolutionCheckError("service names an unknown property")
        su = pd.Index(USES).get_indexer(s["use"])
        so = key.get_indexer(pd.MultiIndex.from_arrays([sp_, su]))
        if (so < 0).any() or not is_open[so].all():
            raise SolutionCheckError("a property serves a use other than its assigned uses")
        n = pd.MultiIndex.from_frame(self.needs[["commune_code", "use"]]).get_indexer(
            pd.MultiIndex.from_frame(s[["commune_code", "use"]]))
        if (n < 0).any():
            raise SolutionCheckError("service to a commune without that need")
        pr = pd.MultiIndex.from_frame(self.pairs[["property_id", "commune_code"]]).get_indexer(
            pd.MultiIndex.from_frame(s[["property_id", "commune_code"]]))
        if (pr < 0).any():
            raise SolutionCheckError("service over a pair that is not given")
        km = self.pairs["distance_km"].to_numpy()[pr]
        if not np.allclose(s["distance_km"].to_numpy(dtype=float), km):
            raise SolutionCheckError("service.distance_km differs from the pair distance")
        minutes = self.pairs["minutes"].iloc[pr] if "minutes" in self.pairs else None
        if not self.in_reach(km, minutes, su).all():
            raise SolutionCheckError("service beyond the use's radius or travel time")
        across = self._across(sp_, n)
        if self.same_province and across.any():
            raise SolutionCheckError("service across provinces although same_province=True")
        if pd.MultiIndex.from_frame(s[["property_id", "commune_code", "use"]]).has_duplicates:
            raise SolutionCheckError("service has duplicate rows")
        q = s["quantity"].to_numpy()
        if (q <= 0).any() or not np.array_equal(q, np.round(q)):
            raise SolutionCheckError("service quantities must be positive whole numbers")
        used_cap = np.bincount(so, weights=q, minlength=self.n_o)
        over = used_cap > self.opt_cap + 1e-9
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise SolutionCheckError(
                f"property {props['property_id'].iloc[self.opt_p[i]]!r} serves "
                f"{used_cap[i]:g} > capacity {int(self.opt_cap[i])} for {USES[self.opt_u[i]]}")
        floor = self._floor_left(is_open, used_cap.astype(np.int64))
        if (floor < 0).any():
            i = int(np.flatnonzero(floor < 0)[0])
            raise SolutionCheckError(
                f"property {props['property_id'].iloc[i]!r}: its uses take "
                f"{int(self.prop_floor[i] - floor[i]):,} m2 of its {int(self.prop_floor[i]):,} m2")
        # Renovation: the fixed part of each conversion plus the rate per unit it serves.
        served_o = used_cap.astype(np.int64)
        reno = np.bincount(self.opt_p, weights=is_open * self.opt_reno + self.opt_rate
                           * served_o, minlength=self.n_p).astype(np.int64)
        if not (np.array_equal(asg["renovation_cost_vnd"].to_numpy(), reno)
                and np.array_equal(asg["revenue_vnd"].to_numpy(), self.opt_rev[o])):
            raise SolutionCheckError("assignment renovation or revenue differs from the options "
                                     "and the area each property serves")
        for scope, k, b, mask in self.budget_rows:
            spent = int(reno[mask[o]].sum())
            if spent > b:
                where = "national" if scope == "national" else f"province {k!r}"
                raise SolutionCheckError(f"{where} renovation {spent:,} VND > budget {b:,}")
        unit_cost = self._unit_cost_vnd(km, su, across)
        travel = q.astype(np.int64) * unit_cost
        if not np.array_equal(s["cost_vnd"].to_numpy(), travel):
            raise SolutionCheckError("service.cost_vnd differs from quantity x (travel cost + "
                                     "cross-province penalty)")
        # Needs: served from the service rows, unmet = need - served >= 0.
        um = self.unmet
        served = np.bincount(n, weights=q, minlength=self.n_n)
        if not (np.array_equal(um["need"].to_numpy(), self.need_q)
                and np.array_equal(um["served"].to_numpy(), served)):
            raise SolutionCheckError("unmet frame disagrees with needs or service")
        m = um["unmet"].to_numpy()
        if (m < 0).any() or (served + m < self.need_q).any():
            raise SolutionCheckError("served + unmet must cover every need, unmet >= 0")
        pen = m.astype(np.int64) * self.need_pen
        if not np.array_equal(um["penalty_vnd"].to_numpy(), pen):
            raise SolutionCheckError("unmet.penalty_vnd differs from unmet x penalty")
        # Objective: weighted unmet need in VND plus money in money units (1 VND under value).
        unit = self.money_unit_vnd
        opened = np.flatnonzero(is_open)
        total = (int(pen.sum()) + int(in_money_units(self.opt_reno[opened]
                                                      - self.opt_rev[opened], unit).sum())
                 + int((served_o * in_money_units(self.opt_rate, unit)).sum())
                 + int((q.astype(np.int64) * in_money_units(
                     unit_cost, unit)).sum()))
        if total != self.info.objective_value:
            raise SolutionCheckError(f"objective recomputed as {total:,}, solver reported "
                                     f"{self.info.objective_value:,.0f}")
        extra = is_open.copy()
        extra[o] = False
        self._check_order(o, served_o, m.astype(np.int64), extra)
        serves_first = np.zeros(self.n_p, dtype=bool)
        serves_first[sp_[self.need_first[n]]] = True
        self._check_served_first(o, extra, served_o, m.astype(np.int64), serves_first)
        check_info(self.info, "disposition")
        return self


    def _open_from_frame(self, asg: pd.DataFrame, choice: NDArray[np.int64],
                         key: pd.MultiIndex) -> NDArray[np.bool_]:
        """The open options the assignment names: its use and its ``shared_uses``, checked
        against the rules of shared buildings."""
        is_open = np.zeros(self.n_o, dtype=bool)
        is_open[choice] = True
        ids = self.properties["property_id"]
        for p, text in enumerate(asg["shared_uses"].fillna("").astype(str)):
            if not text:
                continue
            names = text.split("+")
            if self.prop_floor[p] <= 0 or len(names) + 1 > self.prop_uses[p]:
                raise SolutionCheckError(f"property {ids.iloc[p]!r} takes {len(names) + 1} "
                                         f"uses; it may take {int(self.prop_uses[p])}")
            opts = key.get_indexer(pd.MultiIndex.from_arrays(
                [np.full(len(names), p), pd.Index(USES).get_indexer(names)]))
            if ((opts < 0).any() or is_open[opts].any() or len(set(names)) < len(names)
                    or (self.opt_u[opts] >= N_SERVICE).any()
                    or self.opt_u[choice[p]] >= N_SERVICE):
                raise SolutionCheckError(f"property {ids.iloc[p]!r}: shared uses {text!r} "
                                         "must be other public uses it is eligible for, "
                                         "beside a public use")
            is_open[opts] = True
        return is_open

    def _check_order(self, choice: NDArray[np.int64], area: NDArray[np.int64],
                     unmet: NDArray[np.int64], extra: NDArray[np.bool_]) -> None:
        """Under public_first no non-public property may reach an unmet need it could serve
        within every budget."""
        bad = self._order_violations(choice, area, unmet, extra)
        if len(bad):
            a = int(bad[0])
            o, n = int(self.arc_o[a]), int(self.arc_n[a])
            raise SolutionCheckError(
                f"order of reuse broken in {len(bad)} case(s): property "
                f"{self.properties['property_id'].iloc[self.opt_p[o]]!r} is "
                f"{USES[self.opt_u[choice[self.opt_p[o]]]]} although commune "
                f"{self.needs['commune_code'].iloc[n]!r} has {int(unmet[n])} unit(s) of "
                f"{USES[self.opt_u[o]]} need unmet within {self.arc_km[a]:g} km and its "
                f"renovation ({int(self.opt_reno[o]):,} VND) fits the budgets")
