"""Disposition of surplus houses and land: a use per property (on a shared building up to
``max_uses_per_property`` public uses), serving communes' needs.

The model is a capacitated, multi-use facility-location MIP. It is solved in five steps that
all work on the same sparse arrays:

1. **Decomposition**: without a national budget the problem splits into independent blocks
   (connected components of property - need service arcs, joined by provincial budgets);
   blocks are packed into groups of moderate size.
2. **Bound**: the LP relaxation of every group (HiGHS through ``ortools.math_opt``) gives a
   valid lower bound and a fractional plan.
3. **Incumbent**: the fractional plan is rounded (largest share per property), repaired to
   respect the budgets, and improved by a local search that moves single properties between
   uses; every candidate plan is evaluated exactly by a min-cost flow (the service part of
   the model, with the uses fixed, is a transportation problem).
4. **Neighbourhoods**: small sub-MIPs (HiGHS) re-optimise the uses of a few dozen properties
   that compete for the same needs, everything else kept; accepted when the exact objective
   improves.
5. **Polish**: HiGHS branch-and-bound on every group that is not yet within the gap, started
   from the incumbent, in the time left (with a national budget coupling the groups: on the
   whole model). Its incumbent replaces ours only when better, and its proven bound replaces
   the LP (or Lagrangian) bound when higher.

The reported bound is the sum of the groups' best proven bounds (or the whole model's), so
the gap is honest. Why
not one MIP: handed the national model whole, HiGHS, SCIP and CP-SAT all stall far from the
optimum in a minute (``benchmarks/results_models.md``); the LP relaxation is weak where a
property's lumpy capacity meets small needs, and branch-and-bound closes that slowly.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimization._frames import checked_frame, require_unique
from optimization.disposition.arcs import _Arcs
from optimization.disposition.common import (
    N_SERVICE,
    SERVICE_USES,
    USES,
    CandidatePlan,
    PerUse,
    per_use,
)
from optimization.disposition.fixed import _Fixed
from optimization.disposition.flow import ServiceFlows
from optimization.disposition.frames import normalise_options, options_from_wide
from optimization.disposition.order import DISPOSAL_ORDERS, in_money_units, money_unit_vnd
from optimization.disposition.priority import lifted_penalties
from optimization.disposition.sharing import _Sharing
from optimization.disposition.solve import _Solve
from optimization.result import (
    SolveInfo,
)
from optimization.solver import SparseModel


class DispositionModel(_Solve, _Sharing, _Arcs, _Fixed):
    r"""Give every surplus property a use, serving communes' needs at least cost.

    **Sets**: properties :math:`p`; uses :math:`u \in` {health, education, office,
    service_point, housing, culture} (service uses) :math:`\cup` {transfer, sale, hold};
    options :math:`o = (p, u)` where p is eligible for u (hold is always eligible, at zero cost);
    needs :math:`n = (c, u)`; service arcs :math:`a = (o, n)` for the given pairs (p, c) with
    :math:`\delta_{pc} \le` ``radius_km[u]``, and for a use with a ``radius_min`` also a
    travel time :math:`\tau_{pc} \le` ``radius_min[u]`` (a pair without a time is out of its
    reach); with ``same_province``, p and c in one province.

    **Variables**: :math:`x_o \in \{0, 1\}`; :math:`z_o \in \mathbb{Z}_{\ge 0}` (the area o
    renovates: what it serves); :math:`y_a \ge 0`; :math:`m_n \ge 0` (unmet).

    **Objective** (minimised): the priority-weighted unmet need in VND plus money counted in
    units of :math:`\mu` VND (``money_unit_vnd``; :math:`[\cdot]` rounds half up):

    .. math::
        \sum_n w_c \pi_u m_n + \sum_o [(r_o - v_o)/\mu] x_o + \sum_o [\rho_o/\mu] z_o
        + \sum_a [(t_u \delta_a + \kappa_a)/\mu] y_a

    Under ``disposal_order="value"`` :math:`\mu = 1`: money is traded in VND against weighted
    need. Under ``public_first`` (the default) :math:`\mu` is the smallest power of ten for
    which one unit of any need outweighs the money of switching any property to a public use
    that reaches it; the solve ends with such switches while one fits the budgets, and
    ``check_solution`` verifies that none is left (see ``order``).

    **Constraints**

    - one use: :math:`\sum_{o \ni p} x_o = 1` for every p (fixed uses: :math:`x_o = 1`); on
      a shared property up to N public uses whose areas add up within its floor instead
      (rows in ``sharing``);
    - area: :math:`\sum_{a \ni o} y_a \le z_o \le \min(k_o, \text{reach}_o) x_o`;
    - strong link: :math:`y_a \le \min(k_o, q_n) x_o` (tightens the LP, same integer set);
    - need: :math:`\sum_{a \ni n} y_a + m_n \ge q_n`;
    - budgets: :math:`\sum_o (r_o x_o + \rho_o z_o) \le B` nationally and the same sum over
      the options of province s :math:`\le B_s` per listed province.

    ========================  =========================================================  ========
    symbol                    meaning                                                    unit
    ========================  =========================================================  ========
    :math:`k_o`               capacity of p for use u (beds, places, m2, counters, ...)  need unit
    :math:`q_n`               need of commune c for use u                                need unit
    :math:`r_o`               fixed part of converting p to use u (``renovation_cost_vnd``) VND
    :math:`\rho_o`            renovation per unit the use takes (per m2 served)          VND/unit
    :math:`v_o`               revenue of p for use u (sale price; 0 otherwise)           VND
    :math:`w_c`               priority weight of the need (mountain, island, ...)        1
    :math:`\pi_u`             ``unmet_penalty_vnd[u]``: cost of one unit left unmet      VND/unit
    :math:`t_u`               ``travel_cost_vnd_per_unit_km[u]`` (default 0)             VND/unit/km
    :math:`\kappa_a`          ``cross_province_penalty_vnd`` if arc a crosses a province VND/unit
                              border, else 0
    :math:`\delta_a`          distance property - commune                                km
    :math:`B, B_s`            ``budget_vnd``, ``province_budget_vnd[s]``                 VND
    ========================  =========================================================  ========

    **Integers and scale factors**: capacities, needs and areas are whole numbers, so for fixed
    uses and area limits the service part is a transportation problem with an integral optimum;
    it is solved exactly by a min-cost flow (renovated area = what an option serves) whose unit
    costs are whole objective units: penalty round(:math:`w_c \pi_u`), money per unit served
    :math:`[\rho_o/\mu] + [(t_u \delta_a + \kappa_a)/\mu]`. The reported objective is
    recomputed from the plan (``check_solution`` from the result frames alone). For HiGHS
    (LP bound, branch-and-bound) the objective is multiplied by ``MONEY_SCALE`` = 1e-6 and the
    bound is scaled back. Every optimal objective is a whole number (integral costs, an
    integral service optimum for any fixed uses and areas), so the bound is rounded up.

    **National budget**: it is the only row joining the provinces' blocks, so it is relaxed
    with a price :math:`\lambda` on renovation (fixed parts and areas): for every
    :math:`\lambda \ge 0`, :math:`\sum_g LP_g(\lambda) - \lambda B` is a lower bound;
    :math:`\lambda` starts where the LP's renovations ranked by value per VND exhaust B and
    is bisected until the tangents of the (concave) dual function show the bound cannot rise
    by a tenth of ``mip_gap``.
    Plans always respect the budget itself (repair, moves and sub-MIPs check it); the last
    branch-and-bound runs on the whole model with the budget row, so its bound is global.

    **Status**: ``optimal`` only when the gap is below ``OPTIMAL_GAP``; otherwise
    ``feasible`` with the proven bound (LP relaxation, Lagrangian bound or HiGHS
    branch-and-bound, per block). Without a time limit every step is deterministic for a
    seed (sub-MIPs stop on node counts); with one, searches stop on wall-clock time, so two
    runs give the same plan only when the limit is not what stopped them.

    Results: ``assignment`` (property_id, province_code, commune_code, use, shared_uses (the other
    public uses of a shared building, joined by '+'; use is the one serving most),
    renovation_cost_vnd (all its uses),
    revenue_vnd), ``service`` (property_id, commune_code, use, quantity, distance_km, cost_vnd)
    and ``unmet`` (commune_code, use, need, served, unmet, priority_weight, served_first,
    penalty_vnd).
    """

    SOLVER = "HiGHS (ortools.math_opt) + min-cost-flow local search"

    def __init__(self, properties: pd.DataFrame, options: pd.DataFrame, needs: pd.DataFrame,
                 pairs: pd.DataFrame, *, radius_km: NDArray[np.float64],
                 radius_min: NDArray[np.float64] | None = None,
                 unmet_penalty_vnd: NDArray[np.float64],
                 travel_cost_vnd_per_unit_km: NDArray[np.float64], budget_vnd: int | None,
                 province_budget_vnd: dict[Any, int], same_province: bool,
                 cross_province_penalty_vnd: float = 0.0,
                 disposal_order: str = "public_first", max_uses_per_property: int = 1) -> None:
        self.properties = properties
        self.options = options
        self.needs = needs
        self.pairs = pairs
        self.radius_km = radius_km
        self.radius_min = np.full(radius_km.shape, np.nan) if radius_min is None else radius_min
        self.unmet_penalty_vnd = unmet_penalty_vnd
        self.travel_cost_vnd_per_unit_km = travel_cost_vnd_per_unit_km
        self.budget_vnd = budget_vnd
        self.province_budget_vnd = province_budget_vnd
        self.same_province = same_province
        self.cross_province_penalty_vnd = cross_province_penalty_vnd
        self.disposal_order = disposal_order
        self.max_uses = max_uses_per_property
        self.info = SolveInfo.not_solved()
        self.assignment = pd.DataFrame()
        self.service = pd.DataFrame()
        self.unmet = pd.DataFrame()
        self._built = False

    # ------------------------------------------------------------------ constructor
    @classmethod
    def from_frames(cls, properties: pd.DataFrame, needs: pd.DataFrame, pairs: pd.DataFrame,
                    *, options: pd.DataFrame | None = None, radius_km: PerUse,
                    radius_min: PerUse | None = None,
                    unmet_penalty_vnd: PerUse, travel_cost_vnd_per_unit_km: PerUse = 0,
                    budget_vnd: int | None = None,
                    province_budget_vnd: Mapping[Any, int] | pd.Series | None = None,
                    same_province: bool = True, cross_province_penalty_vnd: float = 0,
                    allowed_uses: Sequence[str] | None = None,
                    disposal_order: str = "public_first",
                    max_uses_per_property: int = 1) -> DispositionModel:
        """Validate the frames and return an unbuilt model.

        ``properties``: property_id, province_code, commune_code, optional ``fixed_use`` (a
        use decided beforehand; missing means free), and, unless ``options`` is given, wide
        columns
        ``eligible_<use>`` (bool), ``capacity_<use>`` and ``renovation_cost_vnd_<use>`` for
        service uses, ``eligible_transfer``, ``eligible_sale`` and ``sale_revenue_vnd``.
        ``options`` (long form, eligible rows only): property_id, use, capacity,
        renovation_cost_vnd (the fixed part of a conversion), optional
        renovation_vnd_per_unit (per unit of capacity the use takes: per m2 served) and
        revenue_vnd; wide columns ``renovation_vnd_per_unit_<use>`` likewise. ``needs``:
        commune_code, use, need (whole units), priority_weight (default 1), served_first (bool,
        default false: needs served before all others, see ``priority``), province_code (needed
        with ``same_province`` or a ``cross_province_penalty_vnd``, VND per unit served across
        a province border).
        ``pairs``: property_id, commune_code, distance_km (sparse), optional minutes (needed by
        ``radius_min``: per use, a travel time a pair must be within besides its radius, for
        the uses it names; NaN minutes are out of reach). ``allowed_uses`` restricts the
        uses a scenario permits (hold is always allowed). ``disposal_order``: ``public_first``
        (the order of reuse of Dispatch 213, see ``order``) or ``value`` (money traded against
        weighted need). ``max_uses_per_property`` > 1 lets a property with a
        ``shared_floor_m2`` (properties, optional) take that many public uses whose areas add
        up within it; an option's ``floor_m2_fixed`` (options, optional) is the floor it
        occupies whatever it serves (see ``sharing``).
        """
        if disposal_order not in DISPOSAL_ORDERS:
            raise ValueError(f"disposal_order must be one of {list(DISPOSAL_ORDERS)}; got "
                             f"{disposal_order!r}")
        if not (isinstance(max_uses_per_property, int) and max_uses_per_property >= 1):
            raise ValueError("max_uses_per_property must be a whole number >= 1")
        props = checked_frame(properties, "properties",
                       {"property_id": "id", "province_code": "id", "commune_code": "id"},
                       {"shared_floor_m2": "float"})
        if "shared_floor_m2" not in props:
            props["shared_floor_m2"] = 0.0
        shared = props["shared_floor_m2"].to_numpy(dtype=float)
        if (shared < 0).any():
            raise ValueError("properties.shared_floor_m2 must be >= 0")
        props["shared_floor_m2"] = np.floor(shared).astype(np.int64)
        require_unique(props, ["property_id"], "properties")
        if "fixed_use" in properties.columns:
            fixed = properties["fixed_use"].reset_index(drop=True)
            given = fixed.notna().to_numpy()
            bad = sorted(set(fixed[given].astype(str)) - set(USES))
            if bad:
                raise ValueError(f"properties.fixed_use has unknown use(s) {bad}")
            props["fixed_use"] = np.where(given, fixed.astype(object).to_numpy(), "")
        else:
            props["fixed_use"] = ""
        opts = (options_from_wide(properties) if options is None
                else checked_frame(options, "options",
                            {"property_id": "id", "use": "id", "capacity": "int",
                             "renovation_cost_vnd": "int"},
                            {"revenue_vnd": "int", "renovation_vnd_per_unit": "int",
                             "floor_m2_fixed": "int"}))
        for col in ("revenue_vnd", "renovation_vnd_per_unit", "floor_m2_fixed"):
            if col not in opts:
                opts[col] = 0
        opts = normalise_options(opts, props, allowed_uses)
        cross = float(cross_province_penalty_vnd)
        if not (math.isfinite(cross) and cross >= 0):
            raise ValueError("cross_province_penalty_vnd must be a finite number >= 0")
        by_province = bool(same_province) or cross > 0
        need_req = {"commune_code": "id", "use": "id", "need": "int"}
        if by_province:
            need_req["province_code"] = "id"
        nd = checked_frame(needs, "needs", need_req, {"priority_weight": "float",
                                                      "province_code": "id",
                                                      "served_first": "bool"})
        if "priority_weight" not in nd:
            nd["priority_weight"] = 1.0
        if "served_first" not in nd:
            nd["served_first"] = False
        bad = sorted(set(nd["use"].astype(str)) - set(SERVICE_USES))
        if bad:
            raise ValueError(f"needs.use must be a service use {list(SERVICE_USES)}; got {bad}")
        require_unique(nd, ["commune_code", "use"], "needs")
        if by_province:
            per = nd.groupby("commune_code")["province_code"].nunique()
            if (per > 1).any():
                raise ValueError(f"needs give commune {per.index[per > 1][0]!r} more than one "
                                 "province")
        nd = nd[nd["need"] > 0].reset_index(drop=True)
        pr = checked_frame(pairs, "pairs", {"property_id": "id", "commune_code": "id",
                                     "distance_km": "float"}, {"minutes": "float?"})
        require_unique(pr, ["property_id", "commune_code"], "pairs")
        used = sorted(set(nd["use"]))
        radius = per_use(radius_km, "radius_km", used)
        rmin = None if radius_min is None else per_use(radius_min, "radius_min", [])
        if rmin is not None and not np.isnan(rmin).all() and "minutes" not in pr:
            raise ValueError("radius_min needs the pairs' minutes")
        penalty = per_use(unmet_penalty_vnd, "unmet_penalty_vnd", used)
        travel = per_use(travel_cost_vnd_per_unit_km, "travel_cost_vnd_per_unit_km", used)
        if budget_vnd is not None and not (budget_vnd >= 0 and math.isfinite(budget_vnd)):
            raise ValueError("budget_vnd must be a finite number >= 0")
        prov_budget = dict(province_budget_vnd.items()) if province_budget_vnd is not None \
            else {}
        for k, b in prov_budget.items():
            if b is None or not (b >= 0 and math.isfinite(b)):
                raise ValueError(f"province_budget_vnd[{k!r}] must be a finite number >= 0")
        return cls(props, opts, nd, pr, radius_km=radius, radius_min=rmin,
                   unmet_penalty_vnd=penalty,
                   travel_cost_vnd_per_unit_km=travel,
                   budget_vnd=None if budget_vnd is None else int(budget_vnd),
                   province_budget_vnd={k: int(b) for k, b in prov_budget.items()},
                   same_province=bool(same_province), cross_province_penalty_vnd=cross,
                   disposal_order=disposal_order, max_uses_per_property=max_uses_per_property)


    def define_arrays(self) -> None:
        """Options, needs and service arcs as flat arrays (the data model of the MIP)."""
        o = self.options
        self.n_p, self.n_o = len(self.properties), len(o)
        self.opt_p = o["p"].to_numpy()
        self.opt_u = o["u"].to_numpy()
        self.opt_cap = o["capacity"].to_numpy()
        self.opt_reno = o["renovation_cost_vnd"].to_numpy()
        self.opt_rev = o["revenue_vnd"].to_numpy()
        self.opt_rate = o["renovation_vnd_per_unit"].to_numpy()
        self.opt_net_vnd = self.opt_reno - self.opt_rev
        nd = self.needs
        self.n_n = len(nd)
        self.need_u = pd.Index(SERVICE_USES).get_indexer(nd["use"]).astype(np.int64)
        self.need_q = nd["need"].to_numpy().astype(np.int64)
        self.need_pen = np.asarray(np.rint(nd["priority_weight"].to_numpy()
                                           * self.unmet_penalty_vnd[self.need_u]),
                                   dtype=np.int64)
        self.prop_first = np.searchsorted(self.opt_p, np.arange(self.n_p))
        self.define_fixed()
        self.define_sharing()
        self.define_arcs()
        self.define_money_unit()
        # After the money unit: lifting served-first penalties keeps its margin.
        self.need_first = nd["served_first"].to_numpy(dtype=bool)
        self.need_pen = lifted_penalties(self.need_pen, self.need_u, self.need_first,
                                         self.arc_n, self.arc_cost)

    def define_money_unit(self) -> None:
        """Objective coefficients: money in units of ``money_unit_vnd`` (1 under ``value``)."""
        self.money_unit_vnd = 1
        if self.disposal_order == "public_first":
            self.money_unit_vnd = money_unit_vnd(
                self.need_pen, self.arc_o, self.arc_n, self.opt_p, self.opt_u,
                self.opt_net_vnd, self.arc_cost_vnd, self.opt_rate, self.fixed_opt < 0,
                self.n_p)
        unit = self.money_unit_vnd
        self.opt_net = in_money_units(self.opt_net_vnd, unit)
        self.opt_area_cost = in_money_units(self.opt_rate, unit)
        self.arc_travel = in_money_units(self.arc_cost_vnd, unit)
        # Per unit served: travel and the renovation of the area it takes (the flows' cost).
        self.arc_cost = self.arc_travel + self.opt_area_cost[self.arc_o]

    # ------------------------------------------------------------------ MIP
    def build(self) -> DispositionModel:
        """Arrays, input checks, the sparse MIP and its decomposition into blocks."""
        self.define_arrays()
        self.check_inputs()
        self.mip = SparseModel(sense="min")
        self.define_variables()
        self.define_one_use_constraints()
        self.define_capacity_constraints()
        self.define_floor_constraints()
        self.define_need_constraints()
        self.define_link_constraints()
        self.define_budget_constraints()
        arrays = self.mip.arrays()
        self.matrix, self.row_lb, self.row_ub = arrays.matrix, arrays.row_lo, arrays.row_hi
        self.row_start = {k: v.start for k, v in self.mip.constraints.items()}
        self.define_blocks()
        self._flow = ServiceFlows(self.arc_o, self.arc_n, self.arc_lim, self.arc_cost,
                                   self.opt_cap, self.need_q, self.need_pen,
                                   np.where(self.opt_on_floor, self.opt_p, -1))
        self._built = True
        return self

    def define_variables(self) -> None:
        """Columns: x (options, binary), z (area renovated by each option with arcs, whole
        units), y (arcs), m (unmet); bounds and objective."""
        self.area_opts = np.unique(self.arc_o)
        r = np.searchsorted(self.area_opts, self.arc_o)
        reach = np.bincount(r, weights=self.arc_lim, minlength=len(self.area_opts))
        # An option cannot serve more than the needs it reaches: the smaller bound is valid.
        self.area_ub = np.minimum(self.opt_cap[self.area_opts], reach).astype(np.int64)
        n_o, n_z, n_a, n_n = self.n_o, len(self.area_opts), self.n_a, self.n_n
        self.n_z = n_z
        self.n_var = n_o + n_z + n_a + n_n
        self.col_z, self.col_y, self.col_m = n_o, n_o + n_z, n_o + n_z + n_a
        self.lb = np.zeros(self.n_var)
        self.ub = np.concatenate([np.ones(n_o), self.area_ub.astype(float),
                                  self.arc_lim.astype(float), self.need_q.astype(float)])
        # A fixed public use may share its floor with other public uses (the one-use rows
        # bound how many); a fixed sale, hold or transfer takes the property alone.
        fixed_p = self.fixed_opt >= 0
        fixed_public = np.zeros(self.n_p, dtype=bool)
        fixed_public[fixed_p] = self.opt_u[self.fixed_opt[fixed_p]] < N_SERVICE
        shut = fixed_p[self.opt_p] & ((self.opt_u >= N_SERVICE) | ~fixed_public[self.opt_p])
        self.ub[:n_o][shut] = 0.0
        self.lb[self.fixed_opt[fixed_p]] = 1.0
        self.ub[self.fixed_opt[fixed_p]] = 1.0
        # Whole units of area keep the service of fixed uses and areas integral (a flow).
        self.integer = np.concatenate([np.ones(n_o + n_z, dtype=bool),
                                       np.zeros(n_a + n_n, dtype=bool)])
        self.cost = np.concatenate([self.opt_net, self.opt_area_cost[self.area_opts],
                                    self.arc_travel, self.need_pen]).astype(float)
        for name, cols in (("use", slice(0, n_o)), ("area", slice(n_o, self.col_y)),
                           ("serve", slice(self.col_y, self.col_m)),
                           ("unmet", slice(self.col_m, self.n_var))):
            self.mip.add_variables(name, cols.stop - cols.start, lb=self.lb[cols],
                                   ub=self.ub[cols], cost=self.cost[cols],
                                   integer=name in ("use", "area"))

    def define_one_use_constraints(self) -> None:
        """1 <= sum x_service + N sum x_other <= N: one use, or up to N public uses on a
        shared property (N = 1 elsewhere: exactly one option)."""
        n_uses = self.prop_uses[self.opt_p]
        coef = np.where(self.opt_u < N_SERVICE, 1, n_uses)
        self.mip.add_constraints("one_use", self.opt_p, np.arange(self.n_o), coef, 1,
                                 self.prop_uses, self.n_p)

    def define_capacity_constraints(self) -> None:
        """sum_a y_a - z_o <= 0 (an option serves within the area it renovates) and
        z_o - ub_o x_o <= 0 (only an open option renovates, within its capacity)."""
        k = len(self.area_opts)
        r = np.searchsorted(self.area_opts, self.arc_o)
        z = self.col_z + np.arange(k)
        self.mip.add_constraints("capacity", np.concatenate([r, np.arange(k)]),
                                 np.concatenate([self.col_y + np.arange(self.n_a), z]),
                                 np.concatenate([np.ones(self.n_a), -np.ones(k)]), -np.inf, 0,
                                 k)
        self.mip.add_constraints("area", np.concatenate([np.arange(k), np.arange(k)]),
                                 np.concatenate([z, self.area_opts]),
                                 np.concatenate([np.ones(k), -self.area_ub]), -np.inf, 0, k)

    def define_need_constraints(self) -> None:
        """sum_a y_a + m_n >= q_n."""
        self.mip.add_constraints("need", np.concatenate([self.arc_n, np.arange(self.n_n)]),
                                 np.concatenate([self.col_y + np.arange(self.n_a),
                                                 self.col_m + np.arange(self.n_n)]),
                                 np.ones(self.n_a + self.n_n), self.need_q, np.inf, self.n_n)

    def define_link_constraints(self) -> None:
        """y_a - min(cap_o, q_n) x_o <= 0: the disjunctive (strong) form."""
        k = np.arange(self.n_a)
        self.mip.add_constraints("link", np.concatenate([k, k]),
                                 np.concatenate([self.col_y + k, self.arc_o]),
                                 np.concatenate([np.ones(self.n_a), -self.arc_lim]), -np.inf, 0,
                                 self.n_a)

    def define_budget_constraints(self) -> None:
        """National and per-province renovation budgets: the fixed part of each conversion
        (x) plus the renovation per unit of the area it takes (z)."""
        self.budget_rows: list[tuple[str, Any, int, NDArray[np.bool_]]] = []
        if self.budget_vnd is not None:
            self.budget_rows.append(("national", None, self.budget_vnd, np.ones(self.n_o, bool)))
        prov = self.properties["province_code"].to_numpy()[self.opt_p]
        for k, b in self.province_budget_vnd.items():
            self.budget_rows.append(("province", k, b, prov == k))
        self.budget_masks = np.array([mask for _, _, _, mask in self.budget_rows],
                                     dtype=bool).reshape(len(self.budget_rows), self.n_o)
        self.budget_coef = np.concatenate([self.opt_reno, self.opt_rate[self.area_opts],
                                           np.zeros(self.n_a + self.n_n)]).astype(float)
        col_mask = np.zeros(self.n_var, dtype=bool)
        for _, _, b, mask in self.budget_rows:
            col_mask[:] = False
            col_mask[:self.n_o] = mask
            col_mask[self.col_z:self.col_y] = mask[self.area_opts]
            cols = np.flatnonzero(col_mask & (self.budget_coef > 0))
            self.mip.add_constraints("budget", np.zeros(len(cols), dtype=np.int64), cols,
                                     self.budget_coef[cols], -np.inf, b, 1)

    # ------------------------------------------------------------------ plans
    def evaluate(self, choice: NDArray[np.int64], source: str = "heuristic",
                 area: NDArray[np.int64] | None = None,
                 extra: NDArray[np.bool_] | None = None) -> CandidatePlan:
        """Exact plan for fixed uses: a min-cost flow for service in which each open option
        (``choice`` and the ``extra`` ones) serves at most ``area`` (default its capacity)
        and the options of a shared floor together at most the floor; an option renovates
        what it serves."""
        extra = np.zeros(self.n_o, dtype=bool) if extra is None else extra
        open_opt = extra.copy()
        open_opt[choice] = True
        y, unmet, svc_cost = self._flow.solve(open_opt, self.opt_cap if area is None else area,
                                              self._floor_left(open_opt))
        served = np.bincount(self.arc_o, weights=y, minlength=self.n_o).astype(np.int64)
        return CandidatePlan(choice.copy(), served, y, unmet,
                             int(self.opt_net[open_opt].sum()) + svc_cost, extra.copy(), source)

    def _spending(self, choice: NDArray[np.int64], area: NDArray[np.int64],
                  extra: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
        """Renovation per budget row (VND): fixed parts of the open options and the
        renovation of the areas they take."""
        per_opt = self.opt_rate * area
        per_opt[choice] += self.opt_reno[choice]
        if extra is not None:
            per_opt[extra] += self.opt_reno[extra]
        return np.asarray(self.budget_masks.astype(np.int64) @ per_opt, dtype=np.int64)

    def _property_spend(self, plan: CandidatePlan) -> NDArray[np.int64]:
        """Renovation per property (VND): every open option's fixed part and area."""
        return self._spend_per_property(plan.open_options(), plan.area)

    def _spend_per_property(self, open_opt: NDArray[np.bool_],
                            area: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.bincount(self.opt_p, weights=open_opt * (self.opt_reno + self.opt_rate * area),
                           minlength=self.n_p).astype(np.int64)

    def _budget_caps(self) -> NDArray[np.int64]:
        return np.array([b for _, _, b, _ in self.budget_rows], dtype=np.int64)

    def _within_budget(self, plan: CandidatePlan) -> bool:
        return bool((self._spending(plan.choice, plan.area, plan.extra)
                     <= self._budget_caps()).all())
