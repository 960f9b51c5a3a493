"""Disposition of surplus houses and land: one use per property, serving communes' needs.

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
   from the incumbent, in the time left. Its incumbent replaces ours only when better, and
   its proven bound replaces the LP bound when higher.

The reported bound is the sum of the groups' best proven bounds, so the gap is honest. Why
not one MIP: handed the national model whole, HiGHS, SCIP and CP-SAT all stall far from the
optimum in a minute (``benchmarks/results_models.md``); the LP relaxation is weak where a
property's lumpy capacity meets small needs, and branch-and-bound closes that slowly.
"""
from __future__ import annotations

import datetime
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt
from scipy.sparse.csgraph import connected_components

from optimization._frames import checked_column, checked_frame, require_unique
from optimization.result import (
    InfeasibleInputError,
    SolutionCheckError,
    SolveInfo,
    SolveStatus,
    relative_gap,
)

SERVICE_USES: tuple[str, ...] = ("health", "education", "office", "service_point", "housing",
                                 "culture")
OTHER_USES: tuple[str, ...] = ("transfer", "sale", "hold")
USES: tuple[str, ...] = SERVICE_USES + OTHER_USES
_N_SERVICE = len(SERVICE_USES)
_HOLD = USES.index("hold")

# HiGHS works in doubles and warns on cost ranges beyond ~1e9: the LP/MIP objective is passed in
# million VND (scale 1e-6); every reported figure is recomputed in whole VND.
MONEY_SCALE = 1e-6
# A gap this small (relative) counts as proven optimal.
OPTIMAL_GAP = 1e-6
_COST_LIMIT = 2**60
# Groups of independent blocks are packed up to about this many matrix nonzeros per solve.
_GROUP_NNZ = 60_000
# Work limit of one neighbourhood sub-MIP (they are small but can be hard to prove):
# branch-and-bound nodes, not seconds, so that a plan does not depend on the machine's speed.
_LNS_NODES = 200

Num = int | float
PerUse = Num | Mapping[str, Num]


def _per_use(value: PerUse, name: str, required: Sequence[str]) -> NDArray[np.float64]:
    """Scalar or mapping use -> value, as an array over SERVICE_USES (NaN where absent)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(SERVICE_USES))
        if unknown:
            raise ValueError(f"{name} names unknown service use(s) {unknown}")
        missing = sorted(set(required) - set(value))
        if missing:
            raise ValueError(f"{name} has no value for use(s) {missing}")
        out = np.array([float(value.get(u, np.nan)) for u in SERVICE_USES])
    else:
        out = np.full(_N_SERVICE, float(value))
    given = out[~np.isnan(out)]
    if (given < 0).any() or np.isnan(given).any():
        raise ValueError(f"{name} must be >= 0")
    return out


# ---------------------------------------------------------------------------- LP / MIP
def _integral_bound(bound_vnd: float) -> float:
    """A proven lower bound on a minimum that is a whole number of VND, rounded up.

    The tolerance absorbs the float error of a bound computed in million VND.
    """
    if not math.isfinite(bound_vnd):
        return bound_vnd
    return float(math.ceil(bound_vnd - 1e-9 * max(1.0, abs(bound_vnd))))


@dataclass
class MilpResult:
    """Solution values (or None), incumbent objective, proven bound, proof flag."""


    x: NDArray[np.float64] | None
    objective: float
    bound: float
    proven: bool
    nodes: int = 0
    reason: str = ""


def solve_sparse_milp(c: NDArray[np.float64], a: sp.spmatrix, row_lb: NDArray[np.float64],
                      row_ub: NDArray[np.float64], lb: NDArray[np.float64],
                      ub: NDArray[np.float64], integer: NDArray[np.bool_], *,
                      time_limit_s: float | None, mip_gap: float | None, seed: int | None,
                      hint: NDArray[np.float64] | None = None,
                      solver: mathopt.SolverType = mathopt.SolverType.HIGHS,
                      threads: int | None = None,
                      absolute_gap: float | None = None,
                      node_limit: int | None = None) -> MilpResult:
    """min c x, row_lb <= A x <= row_ub, lb <= x <= ub through ``ortools.math_opt``.

    The model proto is filled from whole arrays (no Python call per variable or per nonzero).
    HiGHS takes no thread count through ``math_opt``; ``threads`` goes to the other solvers.
    """
    a = sp.csr_matrix(a)
    a.sum_duplicates()
    a.sort_indices()
    n_rows, n_cols = a.shape
    proto = model_pb2.ModelProto()
    proto.variables.ids.extend(np.arange(n_cols))
    proto.variables.lower_bounds.extend(lb)
    proto.variables.upper_bounds.extend(ub)
    proto.variables.integers.extend(integer)
    nz = np.flatnonzero(c)
    proto.objective.linear_coefficients.ids.extend(nz)
    proto.objective.linear_coefficients.values.extend(c[nz])
    proto.linear_constraints.ids.extend(np.arange(n_rows))
    proto.linear_constraints.lower_bounds.extend(row_lb)
    proto.linear_constraints.upper_bounds.extend(row_ub)
    mat = proto.linear_constraint_matrix
    mat.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)))
    mat.column_ids.extend(a.indices)
    mat.coefficients.extend(a.data)
    model = mathopt.Model.from_model_proto(proto)
    variables = list(model.variables())
    params = mathopt.SolveParameters(random_seed=seed)
    if threads is not None and solver != mathopt.SolverType.HIGHS:
        params.threads = threads
    if time_limit_s is not None:
        params.time_limit = datetime.timedelta(seconds=max(time_limit_s, 0.01))
    if mip_gap is not None:
        params.relative_gap_tolerance = mip_gap
    if absolute_gap is not None:
        params.absolute_gap_tolerance = absolute_gap
    if node_limit is not None:
        params.node_limit = node_limit
    model_params = mathopt.ModelSolveParameters()
    if hint is not None:
        model_params.solution_hints.append(mathopt.SolutionHint(
            variable_values=dict(zip(variables, hint.tolist(), strict=True))))
    res = mathopt.solve(model, solver, params=params,
                        model_params=model_params)
    reason = res.termination.reason
    x = None
    if res.has_primal_feasible_solution():
        x = np.asarray(res.variable_values(variables), dtype=float)
    bound = float(res.termination.objective_bounds.dual_bound)
    proven = reason == mathopt.TerminationReason.OPTIMAL
    if reason == mathopt.TerminationReason.INFEASIBLE:
        raise InfeasibleInputError(f"{solver.name} proved the model infeasible")
    return MilpResult(x, float(res.termination.objective_bounds.primal_bound), bound, proven,
                       int(res.solve_stats.node_count), reason.name)


# ---------------------------------------------------------------------------- service flow
class _ServiceFlow:
    """Exact service part for fixed uses: a min-cost flow, costs in whole VND.

    Nodes: one per service option with arcs (supply = capacity when open, else 0), one per
    need (supply -need), one slack node. Arcs: option -> need (capacity min(cap, need), cost
    travel), option -> slack (unused capacity, cost 0), slack -> need (unmet, cost penalty).
    """

    def __init__(self, arc_o: NDArray[np.int64], arc_n: NDArray[np.int64],
                 arc_lim: NDArray[np.int64], arc_cost: NDArray[np.int64],
                 opt_cap: NDArray[np.int64], need_q: NDArray[np.int64],
                 need_pen: NDArray[np.int64]) -> None:
        self.opts = np.unique(arc_o)
        k, n_n = len(self.opts), len(need_q)
        self.k, self.n_n = k, n_n
        self.cap = opt_cap[self.opts]
        self.need_total = int(need_q.sum())
        local = np.searchsorted(self.opts, arc_o)
        slack = k + n_n
        self.flow = min_cost_flow.SimpleMinCostFlow()
        top = int(max(arc_cost.max(initial=0), need_pen.max(initial=0)))
        # Every unit of need flows through one costed arc (service or unmet); unused capacity
        # leaves at no cost. So the total is at most each need times its dearest arc.
        dearest = need_pen.astype(np.float64)
        np.maximum.at(dearest, arc_n, arc_cost.astype(np.float64))
        total_vnd = float(need_q.astype(np.float64) @ dearest)
        if top * (k + n_n + 2) >= _COST_LIMIT or total_vnd >= _COST_LIMIT:
            raise ValueError(f"costs up to {top:,} VND per unit (a plan of up to "
                             f"{total_vnd:,.0f} VND) are too large for exact int64 min-cost "
                             "flow; lower the unmet penalties, priority weights or travel "
                             "costs of the scenario")
        self.flow.add_arcs_with_capacity_and_unit_cost(
            local.astype(np.int32), (k + arc_n).astype(np.int32), arc_lim.astype(np.int64),
            arc_cost.astype(np.int64))
        self.keep_arcs = np.arange(len(arc_o), len(arc_o) + k, dtype=np.int32)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            np.arange(k, dtype=np.int32), np.full(k, slack, dtype=np.int32),
            np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64))
        self.unmet_arcs = np.arange(len(arc_o) + k, len(arc_o) + k + n_n, dtype=np.int32)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            np.full(n_n, slack, dtype=np.int32), (k + np.arange(n_n)).astype(np.int32),
            need_q.astype(np.int64), need_pen.astype(np.int64))
        self.n_arcs = len(arc_o)
        self.nodes = np.arange(k + n_n + 1, dtype=np.int32)
        self.need_q = need_q

    def solve(self, open_opt: NDArray[np.bool_]) -> tuple[NDArray[np.int64],
                                                          NDArray[np.int64], int]:
        """Flows per arc, unmet per need and the service cost (travel + penalty) in VND."""
        supply_o = np.where(open_opt[self.opts], self.cap, 0).astype(np.int64)
        supplies = np.concatenate([supply_o, -self.need_q,
                                   [self.need_total - int(supply_o.sum())]]).astype(np.int64)
        self.flow.set_nodes_supplies(self.nodes, supplies)
        self.flow.set_arc_capacities(self.keep_arcs, supply_o)
        status = self.flow.solve()
        if status != self.flow.OPTIMAL:
            if status == self.flow.BAD_COST_RANGE:
                raise ValueError("the scenario's costs are too large for OR-Tools' min-cost "
                                 "flow; lower the unmet penalties, priority weights or travel "
                                 "costs")
            raise RuntimeError(f"service min-cost flow failed with status {status.name}")
        y = np.asarray(self.flow.flows(np.arange(self.n_arcs, dtype=np.int32)), dtype=np.int64)
        unmet = np.asarray(self.flow.flows(self.unmet_arcs), dtype=np.int64)
        return y, unmet, int(self.flow.optimal_cost())


class _ServiceFlows:
    """The service part split by connected component of the arcs, one flow per pack.

    Flows on separate small graphs are far faster than one national graph (cost scaling is
    superlinear), and a plan change only re-solves the packs whose open options changed.
    """

    def __init__(self, arc_o: NDArray[np.int64], arc_n: NDArray[np.int64],
                 arc_lim: NDArray[np.int64], arc_cost: NDArray[np.int64],
                 opt_cap: NDArray[np.int64], need_q: NDArray[np.int64],
                 need_pen: NDArray[np.int64], target_arcs: int = 4000) -> None:
        n_o, n_n = len(opt_cap), len(need_q)
        self.n_a, self.n_n = len(arc_o), n_n
        self.need_q, self.need_pen = need_q, need_pen
        graph = sp.coo_matrix((np.ones(len(arc_o)), (arc_o, n_o + arc_n)),
                              shape=(n_o + n_n, n_o + n_n))
        _, label = connected_components(graph, directed=False)
        comp_of_arc = label[arc_o]
        pack_of_comp = _pack(np.bincount(comp_of_arc, minlength=label.max() + 1), target_arcs)
        pack = pack_of_comp[comp_of_arc]
        self.packs: list[tuple[NDArray[np.int64], NDArray[np.int64], _ServiceFlow]] = []
        self.pack_of_option = np.full(n_o, -1, dtype=np.int64)
        for g in range(int(pack.max()) + 1 if len(pack) else 0):
            arcs = np.flatnonzero(pack == g)
            needs = np.unique(arc_n[arcs])
            local_n = np.searchsorted(needs, arc_n[arcs])
            flow = _ServiceFlow(arc_o[arcs], local_n, arc_lim[arcs], arc_cost[arcs], opt_cap,
                                need_q[needs], need_pen[needs])
            self.pack_of_option[flow.opts] = g
            self.packs.append((arcs, needs, flow))
        self.y = np.zeros(self.n_a, dtype=np.int64)
        self.unmet = need_q.copy()  # needs without arcs stay unmet
        self.cost = np.zeros(len(self.packs), dtype=np.int64)
        self.lone_cost = int((need_q * need_pen).sum()) - sum(
            int((need_q[nd] * need_pen[nd]).sum()) for _, nd, _ in self.packs)
        self.open = np.zeros(n_o, dtype=bool)
        self.dirty = np.ones(len(self.packs), dtype=bool)

    def solve(self, open_opt: NDArray[np.bool_]) -> tuple[NDArray[np.int64],
                                                          NDArray[np.int64], int]:
        changed = np.flatnonzero(open_opt != self.open)
        packs = self.pack_of_option[changed]
        self.dirty[packs[packs >= 0]] = True
        self.open = open_opt.copy()
        for g in np.flatnonzero(self.dirty):
            arcs, needs, flow = self.packs[g]
            y, unmet, cost = flow.solve(open_opt)
            self.y[arcs] = y
            self.unmet[needs] = unmet
            self.cost[g] = cost
        self.dirty[:] = False
        return self.y.copy(), self.unmet.copy(), int(self.cost.sum()) + self.lone_cost


def _pack(sizes: NDArray[Any], target: float) -> NDArray[np.int64]:
    """Pack items into consecutive bins of about ``target`` total size, largest first."""
    order = np.argsort(-np.asarray(sizes, dtype=float), kind="stable")
    out = np.empty(len(order), dtype=np.int64)
    g, load = 0, 0.0
    for i in order:
        if load > 0 and load + sizes[i] > target:
            g, load = g + 1, 0.0
        out[i] = g
        load += float(sizes[i])
    return out


@dataclass
class _Plan:
    """Uses (option per property), service flows and the exact objective in VND."""

    choice: NDArray[np.int64]
    y: NDArray[np.int64]
    unmet: NDArray[np.int64]
    objective: int
    source: str = "heuristic"
    history: list[int] = field(default_factory=list)


class DispositionModel:
    r"""Give every surplus property one use, serving communes' needs at least cost.

    **Sets**: properties :math:`p`; uses :math:`u \in` {health, education, office,
    service_point, housing, culture} (service uses) :math:`\cup` {transfer, sale, hold};
    options :math:`o = (p, u)` where p is eligible for u (hold is always eligible, at zero cost);
    needs :math:`n = (c, u)`; service arcs :math:`a = (o, n)` for the given pairs (p, c) with
    :math:`\delta_{pc} \le` ``radius_km[u]`` (and, with ``same_province``, p and c in one
    province).

    **Variables**: :math:`x_o \in \{0, 1\}`; :math:`y_a \ge 0`; :math:`m_n \ge 0` (unmet).

    **Objective** (VND, minimised):

    .. math::
        \sum_n w_c \pi_u m_n + \sum_o (r_o - v_o) x_o + \sum_a (t_u \delta_a + \kappa_a) y_a

    **Constraints**

    - one use: :math:`\sum_{o \ni p} x_o = 1` for every p (fixed uses: :math:`x_o = 1`);
    - capacity: :math:`\sum_{a \ni o} y_a \le k_o x_o`;
    - strong link: :math:`y_a \le \min(k_o, q_n) x_o` (tightens the LP, same integer set);
    - need: :math:`\sum_{a \ni n} y_a + m_n \ge q_n`;
    - budgets: :math:`\sum_o r_o x_o \le B` nationally and
      :math:`\sum_{o \in \text{prov } s} r_o x_o \le B_s` per listed province.

    ========================  =========================================================  ========
    symbol                    meaning                                                    unit
    ========================  =========================================================  ========
    :math:`k_o`               capacity of p for use u (beds, places, m2, counters, ...)  need unit
    :math:`q_n`               need of commune c for use u                                need unit
    :math:`r_o`               renovation cost of p for use u                             VND
    :math:`v_o`               revenue of p for use u (sale price; 0 otherwise)           VND
    :math:`w_c`               priority weight of the need (mountain, island, ...)        1
    :math:`\pi_u`             ``unmet_penalty_vnd[u]``: cost of one unit left unmet      VND/unit
    :math:`t_u`               ``travel_cost_vnd_per_unit_km[u]`` (default 0)             VND/unit/km
    :math:`\kappa_a`          ``cross_province_penalty_vnd`` if arc a crosses a province VND/unit
                              border, else 0
    :math:`\delta_a`          distance property - commune                                km
    :math:`B, B_s`            ``budget_vnd``, ``province_budget_vnd[s]``                 VND
    ========================  =========================================================  ========

    **Integers and scale factors**: capacities and needs are whole numbers, so for fixed uses
    the service part is a transportation problem with an integral optimum; it is solved exactly
    by a min-cost flow whose unit costs are rounded to whole VND: penalty
    round(:math:`w_c \pi_u`), travel round(:math:`t_u \delta_a`) and border round(:math:`\kappa`)
    per unit. The reported
    objective is recomputed from the plan in whole VND. For HiGHS (LP bound and branch-and-bound)
    the objective is multiplied by ``MONEY_SCALE`` = 1e-6 (million VND) and the bound is scaled
    back. Every optimal objective is a whole number of VND (integral costs, an integral
    service optimum for any fixed uses), so the bound is rounded up to whole VND.

    **National budget**: it is the only row joining the provinces' blocks, so it is relaxed
    with a price :math:`\lambda` on renovation: for every :math:`\lambda \ge 0`,
    :math:`\sum_g LP_g(\lambda) - \lambda B` is a lower bound; :math:`\lambda` starts where
    the LP's renovations ranked by value per VND exhaust B and is bisected until the tangents
    of the (concave) dual function show the bound cannot rise by a tenth of ``mip_gap``.
    Plans always respect the budget itself (repair, moves and sub-MIPs check it; the blocks'
    branch-and-bound gets the block's spending plus a share of the slack).

    **Status**: ``optimal`` only when the gap is below ``OPTIMAL_GAP`` (1e-6); otherwise
    ``feasible`` with the proven bound (LP relaxation, Lagrangian bound or HiGHS
    branch-and-bound, per block). Without a time limit every step is deterministic for a
    seed (sub-MIPs stop on node counts); with one, searches stop on wall-clock time, so two
    runs give the same plan only when the limit is not what stopped them.

    Results: ``assignment`` (property_id, province, commune, use, renovation_cost_vnd,
    revenue_vnd), ``service`` (property_id, commune, use, quantity, distance_km, cost_vnd) and
    ``unmet`` (commune, use, need, served, unmet, priority_weight, penalty_vnd).
    """

    SOLVER = "HiGHS (ortools.math_opt) + min-cost-flow local search"

    def __init__(self, properties: pd.DataFrame, options: pd.DataFrame, needs: pd.DataFrame,
                 pairs: pd.DataFrame, *, radius_km: NDArray[np.float64],
                 unmet_penalty_vnd: NDArray[np.float64],
                 travel_cost_vnd_per_unit_km: NDArray[np.float64], budget_vnd: int | None,
                 province_budget_vnd: dict[Any, int], same_province: bool,
                 cross_province_penalty_vnd: float = 0.0) -> None:
        self.properties = properties
        self.options = options
        self.needs = needs
        self.pairs = pairs
        self.radius_km = radius_km
        self.unmet_penalty_vnd = unmet_penalty_vnd
        self.travel_cost_vnd_per_unit_km = travel_cost_vnd_per_unit_km
        self.budget_vnd = budget_vnd
        self.province_budget_vnd = province_budget_vnd
        self.same_province = same_province
        self.cross_province_penalty_vnd = cross_province_penalty_vnd
        self.info = SolveInfo.not_solved()
        self.assignment = pd.DataFrame()
        self.service = pd.DataFrame()
        self.unmet = pd.DataFrame()
        self._built = False

    # ------------------------------------------------------------------ constructor
    @classmethod
    def from_frames(cls, properties: pd.DataFrame, needs: pd.DataFrame, pairs: pd.DataFrame,
                    *, options: pd.DataFrame | None = None, radius_km: PerUse,
                    unmet_penalty_vnd: PerUse, travel_cost_vnd_per_unit_km: PerUse = 0,
                    budget_vnd: int | None = None,
                    province_budget_vnd: Mapping[Any, int] | pd.Series | None = None,
                    same_province: bool = True, cross_province_penalty_vnd: float = 0,
                    allowed_uses: Sequence[str] | None = None) -> DispositionModel:
        """Validate the frames and return an unbuilt model.

        ``properties``: property_id, province, commune, optional ``fixed_use`` (a use decided
        beforehand; missing means free), and, unless ``options`` is given, wide columns
        ``eligible_<use>`` (bool), ``capacity_<use>`` and ``renovation_cost_vnd_<use>`` for
        service uses, ``eligible_transfer``, ``eligible_sale`` and ``sale_revenue_vnd``.
        ``options`` (long form, eligible rows only): property_id, use, capacity,
        renovation_cost_vnd, revenue_vnd. ``needs``: commune, use, need (whole units),
        priority_weight (default 1), province (needed with ``same_province`` or a
        ``cross_province_penalty_vnd``, VND per unit served across a province border).
        ``pairs``: property_id, commune, distance_km (sparse). ``allowed_uses`` restricts the
        uses a scenario permits (hold is always allowed).
        """
        props = checked_frame(properties, "properties",
                       {"property_id": "id", "province": "id", "commune": "id"})
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
        opts = (cls._options_from_wide(properties) if options is None
                else checked_frame(options, "options",
                            {"property_id": "id", "use": "id", "capacity": "int",
                             "renovation_cost_vnd": "int"}, {"revenue_vnd": "int"}))
        if "revenue_vnd" not in opts:
            opts["revenue_vnd"] = 0
        opts = cls._normalise_options(opts, props, allowed_uses)
        cross = float(cross_province_penalty_vnd)
        if not (math.isfinite(cross) and cross >= 0):
            raise ValueError("cross_province_penalty_vnd must be a finite number >= 0")
        by_province = bool(same_province) or cross > 0
        need_req = {"commune": "id", "use": "id", "need": "int"}
        if by_province:
            need_req["province"] = "id"
        nd = checked_frame(needs, "needs", need_req, {"priority_weight": "float", "province": "id"})
        if "priority_weight" not in nd:
            nd["priority_weight"] = 1.0
        bad = sorted(set(nd["use"].astype(str)) - set(SERVICE_USES))
        if bad:
            raise ValueError(f"needs.use must be a service use {list(SERVICE_USES)}; got {bad}")
        require_unique(nd, ["commune", "use"], "needs")
        if by_province:
            per = nd.groupby("commune")["province"].nunique()
            if (per > 1).any():
                raise ValueError(f"needs give commune {per.index[per > 1][0]!r} more than one "
                                 "province")
        nd = nd[nd["need"] > 0].reset_index(drop=True)
        pr = checked_frame(pairs, "pairs", {"property_id": "id", "commune": "id",
                                     "distance_km": "float"})
        require_unique(pr, ["property_id", "commune"], "pairs")
        used = sorted(set(nd["use"]))
        radius = _per_use(radius_km, "radius_km", used)
        penalty = _per_use(unmet_penalty_vnd, "unmet_penalty_vnd", used)
        travel = _per_use(travel_cost_vnd_per_unit_km, "travel_cost_vnd_per_unit_km", used)
        if budget_vnd is not None and not (budget_vnd >= 0 and math.isfinite(budget_vnd)):
            raise ValueError("budget_vnd must be a finite number >= 0")
        prov_budget = dict(province_budget_vnd.items()) if province_budget_vnd is not None \
            else {}
        for k, b in prov_budget.items():
            if b is None or not (b >= 0 and math.isfinite(b)):
                raise ValueError(f"province_budget_vnd[{k!r}] must be a finite number >= 0")
        return cls(props, opts, nd, pr, radius_km=radius, unmet_penalty_vnd=penalty,
                   travel_cost_vnd_per_unit_km=travel,
                   budget_vnd=None if budget_vnd is None else int(budget_vnd),
                   province_budget_vnd={k: int(b) for k, b in prov_budget.items()},
                   same_province=bool(same_province), cross_province_penalty_vnd=cross)

    @staticmethod
    def _options_from_wide(properties: pd.DataFrame) -> pd.DataFrame:
        """Long options from ``eligible_<use>`` etc.; values of ineligible rows are ignored."""
        df = properties.reset_index(drop=("property_id" in properties.columns))
        parts = []
        for u in USES[:-1]:
            col = f"eligible_{u}"
            if col not in df.columns:
                continue
            el = checked_column(df[col], f"properties.{col}", "bool")
            sub = df[el]
            n = len(sub)
            if u in SERVICE_USES:
                cap = checked_column(sub[f"capacity_{u}"], f"properties.capacity_{u}", "int")
                reno = checked_column(sub[f"renovation_cost_vnd_{u}"],
                               f"properties.renovation_cost_vnd_{u}", "int")
                rev = np.zeros(n, dtype=np.int64)
            else:
                cap = np.zeros(n, dtype=np.int64)
                rc = f"renovation_cost_vnd_{u}"
                reno = (checked_column(sub[rc], f"properties.{rc}", "int") if rc in sub
                        else np.zeros(n, dtype=np.int64))
                rv = "sale_revenue_vnd" if u == "sale" else f"revenue_vnd_{u}"
                if u == "sale" and rv not in sub:
                    raise ValueError("properties lacks column 'sale_revenue_vnd'")
                rev = (checked_column(sub[rv], f"properties.{rv}", "int") if rv in sub
                       else np.zeros(n, dtype=np.int64))
            parts.append(pd.DataFrame({"property_id": sub["property_id"].to_numpy(), "use": u,
                                       "capacity": cap, "renovation_cost_vnd": reno,
                                       "revenue_vnd": rev}))
        if not parts:
            return pd.DataFrame({"property_id": df["property_id"].to_numpy()[:0], "use": "",
                                 "capacity": 0, "renovation_cost_vnd": 0, "revenue_vnd": 0})
        return pd.concat(parts, ignore_index=True)

    @staticmethod
    def _normalise_options(opts: pd.DataFrame, props: pd.DataFrame,
                           allowed_uses: Sequence[str] | None) -> pd.DataFrame:
        bad = sorted(set(opts["use"].astype(str)) - set(USES))
        if bad:
            raise ValueError(f"options.use has unknown use(s) {bad}; uses are {list(USES)}")
        require_unique(opts, ["property_id", "use"], "options")
        hold = opts[opts["use"] == "hold"]
        if (hold[["renovation_cost_vnd", "revenue_vnd"]].to_numpy() != 0).any():
            raise ValueError("the hold option costs nothing and earns nothing")
        p_index = pd.Index(props["property_id"])
        p = p_index.get_indexer(opts["property_id"])
        if (p < 0).any():
            raise ValueError(f"options name {int((p < 0).sum())} unknown property id(s), e.g. "
                             f"{opts['property_id'].to_numpy()[p < 0][0]!r}")
        if allowed_uses is not None:
            unknown = sorted(set(allowed_uses) - set(USES))
            if unknown:
                raise ValueError(f"allowed_uses has unknown use(s) {unknown}")
            keep_uses = set(allowed_uses) | {"hold"}
            fixed_out = set(props["fixed_use"][props["fixed_use"] != ""]) - keep_uses
            if fixed_out:
                raise InfeasibleInputError(f"fixed use(s) {sorted(fixed_out)} are not among "
                                           f"the allowed uses {sorted(keep_uses)}")
            opts, p = opts[opts["use"].isin(keep_uses)], p[opts["use"].isin(keep_uses)]
        u = pd.Index(USES).get_indexer(opts["use"])
        held = np.zeros(len(props), dtype=bool)
        held[p[u == _HOLD]] = True
        add = pd.DataFrame({"p": np.flatnonzero(~held), "u": _HOLD, "capacity": 0,
                            "renovation_cost_vnd": 0, "revenue_vnd": 0})
        out = pd.concat([pd.DataFrame({"p": p, "u": u,
                                       "capacity": opts["capacity"].to_numpy(),
                                       "renovation_cost_vnd": opts["renovation_cost_vnd"],
                                       "revenue_vnd": opts["revenue_vnd"].to_numpy()}), add],
                        ignore_index=True)
        # Capacity only means something for a service use.
        out.loc[out["u"] >= _N_SERVICE, "capacity"] = 0
        out = out.astype({"p": np.int64, "u": np.int64, "capacity": np.int64,
                          "renovation_cost_vnd": np.int64, "revenue_vnd": np.int64})
        return out.sort_values(["p", "u"], kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ arrays
    def define_arrays(self) -> None:
        """Options, needs and service arcs as flat arrays (the data model of the MIP)."""
        o = self.options
        self.n_p, self.n_o = len(self.properties), len(o)
        self.opt_p = o["p"].to_numpy()
        self.opt_u = o["u"].to_numpy()
        self.opt_cap = o["capacity"].to_numpy()
        self.opt_reno = o["renovation_cost_vnd"].to_numpy()
        self.opt_rev = o["revenue_vnd"].to_numpy()
        self.opt_net = self.opt_reno - self.opt_rev
        nd = self.needs
        self.n_n = len(nd)
        self.need_u = pd.Index(SERVICE_USES).get_indexer(nd["use"]).astype(np.int64)
        self.need_q = nd["need"].to_numpy().astype(np.int64)
        self.need_pen = np.asarray(np.rint(nd["priority_weight"].to_numpy()
                                           * self.unmet_penalty_vnd[self.need_u]),
                                   dtype=np.int64)
        self.prop_first = np.searchsorted(self.opt_p, np.arange(self.n_p))
        self.define_fixed()
        self.define_arcs()

    def define_fixed(self) -> None:
        fixed = self.properties["fixed_use"].to_numpy()
        fu = pd.Index(USES).get_indexer(np.where(fixed == "", "hold", fixed))
        is_fixed = fixed != ""
        key = pd.MultiIndex.from_arrays([self.opt_p, self.opt_u])
        want = pd.MultiIndex.from_arrays([np.arange(self.n_p), fu])
        pos = key.get_indexer(want)
        bad = is_fixed & (pos < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InfeasibleInputError(
                f"{int(bad.sum())} property(ies) have a fixed use they are not eligible for, "
                f"e.g. {self.properties['property_id'].iloc[i]!r} fixed to {fixed[i]!r}")
        self.fixed_opt = np.where(is_fixed, pos, -1).astype(np.int64)

    def define_arcs(self) -> None:
        """Service arcs option -> need for pairs within the use's radius (and province)."""
        props = self.properties
        svc = np.flatnonzero((self.opt_u < _N_SERVICE) & (self.opt_cap > 0))
        p_of = pd.DataFrame({"property_id": props["property_id"].to_numpy()[self.opt_p[svc]],
                             "o": svc, "u": self.opt_u[svc]})
        needs = pd.DataFrame({"commune": self.needs["commune"].to_numpy(),
                              "u": self.need_u, "n": np.arange(self.n_n)})
        arcs = p_of.merge(self.pairs, on="property_id").merge(needs, on=["commune", "u"])
        o_a = arcs["o"].to_numpy(dtype=np.int64)
        n_a = arcs["n"].to_numpy(dtype=np.int64)
        km = arcs["distance_km"].to_numpy(dtype=float)
        u_a = self.opt_u[o_a]
        keep = km <= self.radius_km[u_a]
        cross = self._across(self.opt_p[o_a], n_a)
        if self.same_province:
            keep &= ~cross
        order = np.lexsort((n_a[keep], o_a[keep]))
        self.arc_o = o_a[keep][order]
        self.arc_n = n_a[keep][order]
        self.arc_km = km[keep][order]
        self.arc_lim = np.minimum(self.opt_cap[self.arc_o], self.need_q[self.arc_n])
        self.arc_cost = self._unit_cost_vnd(self.arc_km, self.opt_u[self.arc_o],
                                            cross[keep][order])
        self.n_a = len(self.arc_o)

    def _across(self, prop: NDArray[np.int64], need: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether property ``prop`` and need ``need`` lie in different provinces."""
        if not (self.same_province or self.cross_province_penalty_vnd > 0):
            return np.zeros(len(prop), dtype=bool)
        return np.asarray(self.properties["province"].to_numpy()[prop]
                          != self.needs["province"].to_numpy()[need], dtype=bool)

    def _unit_cost_vnd(self, km: NDArray[np.float64], use: NDArray[np.int64],
                       cross: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Whole VND per unit served: round(t_u km) + round(kappa) across a border."""
        travel = np.rint(km * np.nan_to_num(self.travel_cost_vnd_per_unit_km[use]))
        return (travel.astype(np.int64)
                + np.where(cross, int(round(self.cross_province_penalty_vnd)), 0))

    # ------------------------------------------------------------------ checks before solving
    def check_inputs(self) -> None:
        """Raise :class:`InfeasibleInputError` when fixed uses alone break a budget."""
        fixed = self.fixed_opt >= 0
        spent = self.opt_reno[self.fixed_opt[fixed]]
        if self.budget_vnd is not None and spent.sum() > self.budget_vnd:
            raise InfeasibleInputError(
                f"fixed uses need renovation of {int(spent.sum()):,} VND, above the national "
                f"budget of {self.budget_vnd:,} VND")
        prov = self.properties["province"].to_numpy()[fixed]
        by_prov = pd.Series(spent).groupby(prov).sum()
        for k, b in self.province_budget_vnd.items():
            if by_prov.get(k, 0) > b:
                raise InfeasibleInputError(
                    f"province {k!r}: fixed uses need renovation of {int(by_prov[k]):,} VND, "
                    f"above its budget of {b:,} VND")

    # ------------------------------------------------------------------ MIP
    def build(self) -> DispositionModel:
        """Arrays, input checks, the sparse MIP and its decomposition into blocks."""
        self.define_arrays()
        self.check_inputs()
        self._rows: list[sp.coo_matrix] = []
        self._n_rows = 0
        self.row_start: dict[str, int] = {}
        self._row_lb: list[NDArray[np.float64]] = []
        self._row_ub: list[NDArray[np.float64]] = []
        self.define_variables()
        self.define_one_use_constraints()
        self.define_capacity_constraints()
        self.define_need_constraints()
        self.define_link_constraints()
        self.define_budget_constraints()
        self.matrix = sp.vstack(self._rows, format="csr")
        self.row_lb = np.concatenate(self._row_lb)
        self.row_ub = np.concatenate(self._row_ub)
        self.define_blocks()
        self._flow = _ServiceFlows(self.arc_o, self.arc_n, self.arc_lim, self.arc_cost,
                                   self.opt_cap, self.need_q, self.need_pen)
        self._built = True
        return self

    def define_variables(self) -> None:
        """Columns: x (options, binary), y (arcs), m (unmet); bounds and objective."""
        n_o, n_a, n_n = self.n_o, self.n_a, self.n_n
        self.n_var = n_o + n_a + n_n
        self.col_y, self.col_m = n_o, n_o + n_a
        self.lb = np.zeros(self.n_var)
        self.ub = np.concatenate([np.ones(n_o), self.arc_lim.astype(float),
                                  self.need_q.astype(float)])
        fixed_p = self.fixed_opt >= 0
        on_fixed_p = fixed_p[self.opt_p]
        self.ub[:n_o][on_fixed_p] = 0.0
        self.lb[self.fixed_opt[fixed_p]] = 1.0
        self.ub[self.fixed_opt[fixed_p]] = 1.0
        self.integer = np.concatenate([np.ones(n_o, dtype=bool), np.zeros(n_a + n_n, dtype=bool)])
        self.cost = np.concatenate([self.opt_net, self.arc_cost, self.need_pen]).astype(float)

    def _add_rows(self, rows: NDArray[Any], cols: NDArray[Any], vals: NDArray[Any],
                  n_rows: int, lo: NDArray[Any] | float, hi: NDArray[Any] | float,
                  family: str) -> None:
        self.row_start.setdefault(family, self._n_rows)
        self._n_rows += n_rows
        self._rows.append(sp.coo_matrix((np.asarray(vals, dtype=float), (rows, cols)),
                                        shape=(n_rows, self.n_var)))
        self._row_lb.append(np.broadcast_to(np.asarray(lo, dtype=float), n_rows).copy())
        self._row_ub.append(np.broadcast_to(np.asarray(hi, dtype=float), n_rows).copy())

    def define_one_use_constraints(self) -> None:
        self._add_rows(self.opt_p, np.arange(self.n_o), np.ones(self.n_o), self.n_p, 1, 1,
                       "one_use")

    def define_capacity_constraints(self) -> None:
        """sum_a y_a - min(cap_o, reach_o) x_o <= 0 for every service option with arcs.

        reach_o = sum of min(cap_o, q_n) over o's arcs: an option cannot serve more than the
        needs it reaches, so the smaller coefficient is valid and tightens the LP.
        """
        opts = np.unique(self.arc_o)
        r = np.searchsorted(opts, self.arc_o)
        k = len(opts)
        reach = np.bincount(r, weights=self.arc_lim, minlength=k)
        coef = np.minimum(self.opt_cap[opts], reach)  # redundant with the link rows; helps presolve
        self._add_rows(np.concatenate([r, np.arange(k)]),
                       np.concatenate([self.col_y + np.arange(self.n_a), opts]),
                       np.concatenate([np.ones(self.n_a), -coef]), k, -np.inf, 0, "capacity")
        self.cap_opts = opts

    def define_need_constraints(self) -> None:
        """sum_a y_a + m_n >= q_n."""
        self._add_rows(np.concatenate([self.arc_n, np.arange(self.n_n)]),
                       np.concatenate([self.col_y + np.arange(self.n_a),
                                       self.col_m + np.arange(self.n_n)]),
                       np.ones(self.n_a + self.n_n), self.n_n, self.need_q, np.inf, "need")

    def define_link_constraints(self) -> None:
        """y_a - min(cap_o, q_n) x_o <= 0: the disjunctive (strong) form."""
        k = np.arange(self.n_a)
        self._add_rows(np.concatenate([k, k]),
                       np.concatenate([self.col_y + k, self.arc_o]),
                       np.concatenate([np.ones(self.n_a), -self.arc_lim]), self.n_a, -np.inf, 0,
                       "link")

    def define_budget_constraints(self) -> None:
        """National and per-province renovation budgets."""
        self.budget_rows: list[tuple[str, Any, int, NDArray[np.bool_]]] = []
        has_reno = self.opt_reno > 0
        if self.budget_vnd is not None:
            self.budget_rows.append(("national", None, self.budget_vnd, np.ones(self.n_o, bool)))
        prov = self.properties["province"].to_numpy()[self.opt_p]
        for k, b in self.province_budget_vnd.items():
            self.budget_rows.append(("province", k, b, prov == k))
        for _, _, b, mask in self.budget_rows:
            cols = np.flatnonzero(mask & has_reno)
            self._add_rows(np.zeros(len(cols), dtype=np.int64), cols, self.opt_reno[cols], 1,
                           -np.inf, b, "budget")

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
        group_of = _pack(size, _GROUP_NNZ)
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

    # ------------------------------------------------------------------ plans
    def evaluate(self, choice: NDArray[np.int64], source: str = "heuristic") -> _Plan:
        """Exact plan for fixed uses: min-cost flow for service, objective in whole VND."""
        open_opt = np.zeros(self.n_o, dtype=bool)
        open_opt[choice] = True
        y, unmet, svc_cost = self._flow.solve(open_opt)
        return _Plan(choice.copy(), y, unmet, int(self.opt_net[choice].sum()) + svc_cost,
                     source)

    def _spending(self, choice: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.array([int(self.opt_reno[choice][mask[choice]].sum())
                         for _, _, _, mask in self.budget_rows], dtype=np.int64)

    def _budget_caps(self) -> NDArray[np.int64]:
        return np.array([b for _, _, b, _ in self.budget_rows], dtype=np.int64)

    def _round(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        """Per property the option with the largest LP share (ties: lower net cost)."""
        order = np.lexsort((self.opt_net, -np.round(x, 9), self.opt_p))
        first = np.ones(self.n_o, dtype=bool)
        first[1:] = self.opt_p[order][1:] != self.opt_p[order][:-1]
        choice = order[first]
        fixed = self.fixed_opt >= 0
        choice[fixed] = self.fixed_opt[fixed]
        return choice

    def _cheapest_free(self) -> NDArray[np.int64]:
        """Per property its best option that needs no renovation (hold at worst)."""
        net = np.where(self.opt_reno == 0, self.opt_net, np.iinfo(np.int64).max // 4)
        order = np.lexsort((net, self.opt_p))
        first = np.ones(self.n_o, dtype=bool)
        first[1:] = self.opt_p[order][1:] != self.opt_p[order][:-1]
        out = order[first]
        fixed = self.fixed_opt >= 0
        out[fixed] = self.fixed_opt[fixed]
        return out

    def _repair_budget(self, choice: NDArray[np.int64]) -> NDArray[np.int64]:
        """Drop renovations, least service value per VND first, until every budget holds."""
        if not self.budget_rows:
            return choice
        choice = choice.copy()
        caps = self._budget_caps()
        spent = self._spending(choice)
        if (spent <= caps).all():
            return choice
        plan = self.evaluate(choice)
        value = np.bincount(self.arc_o, weights=plan.y * (self.need_pen[self.arc_n]
                                                          - self.arc_cost), minlength=self.n_o)
        free = self._cheapest_free()
        reno = self.opt_reno[choice]
        gain = value[choice] - (self.opt_net[free] - self.opt_net[choice])
        ratio = np.where((reno > 0) & (self.fixed_opt < 0), gain / np.maximum(reno, 1), np.inf)
        masks = np.array([mask for _, _, _, mask in self.budget_rows])
        for p in np.argsort(ratio, kind="stable"):
            over = spent > caps
            if not over.any() or not np.isfinite(ratio[p]):
                break
            o = choice[p]
            hits = masks[:, o]
            if not (hits & over).any():
                continue
            spent -= np.where(hits, self.opt_reno[o] - self.opt_reno[free[p]], 0)
            choice[p] = free[p]
        return choice

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

    def _local_search(self, plan: _Plan, deadline: float) -> _Plan:
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

    def _move_rounds(self, plan: _Plan, deadline: float, optimistic: bool,
                     max_rounds: int = 60) -> _Plan:
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
        masks = np.array([mask for _, _, _, mask in self.budget_rows]).reshape(
            len(self.budget_rows), self.n_o)
        movable = self.fixed_opt < 0
        v_arc = (self.need_pen[self.arc_n] - self.arc_cost).astype(float)
        for _ in range(max_rounds):
            if time.perf_counter() > deadline:
                break
            choice = best.choice
            residual = best.unmet.copy()
            open_opt = np.zeros(self.n_o, dtype=bool)
            open_opt[choice] = True
            # Spare capacity of open options that could take over a need if its server left.
            used = np.bincount(self.arc_o, weights=best.y, minlength=self.n_o)
            spare = np.where(open_opt, self.opt_cap - used, 0)
            cover = np.bincount(self.arc_n, weights=np.minimum(
                spare[self.arc_o], self.arc_lim - best.y), minlength=self.n_n)
            kept = (np.minimum(best.y, np.floor(cover[self.arc_n])).astype(np.int64)
                    if optimistic else np.zeros(self.n_a, dtype=np.int64))
            lost_arc = (best.y - kept) * v_arc
            lost = np.bincount(self.arc_o, weights=lost_arc, minlength=self.n_o)
            value = self._option_values(residual)
            cur = choice[self.opt_p]
            gain = self.opt_net[cur] - self.opt_net + value - lost[cur]
            gain[(cur == np.arange(self.n_o)) | ~movable[self.opt_p]] = -np.inf
            cand = np.flatnonzero(gain > 0)
            if len(cand) == 0:
                break
            cand = cand[np.argsort(-gain[cand], kind="stable")]
            spent = self._spending(choice)
            moved = np.zeros(self.n_p, dtype=bool)
            moves: list[tuple[int, int]] = []
            for o in cand[:5000]:
                p = self.opt_p[o]
                if moved[p]:
                    continue
                old = int(choice[p])
                arcs = np.arange(arc_start[o], arc_start[o + 1])
                add = float(self._option_values(residual, arcs)[o]) if len(arcs) else 0.0
                g = self.opt_net[old] - self.opt_net[o] + add - lost[old]
                if g <= 0:
                    continue
                if len(masks):
                    delta = (np.where(masks[:, o], self.opt_reno[o], 0)
                             - np.where(masks[:, old], self.opt_reno[old], 0))
                    if ((spent + delta > caps) & (delta > 0)).any():
                        continue
                    spent += delta
                moved[p] = True
                moves.append((int(p), int(o)))
                old_arcs = np.arange(arc_start[old], arc_start[old + 1])
                residual[self.arc_n[old_arcs]] += best.y[old_arcs] - kept[old_arcs]
                if len(arcs):
                    self._pour(o, arcs, residual)
            improved = False
            while moves and time.perf_counter() <= deadline:
                trial_choice = choice.copy()
                idx = np.array(moves, dtype=np.int64)
                trial_choice[idx[:, 0]] = idx[:, 1]
                trial = self.evaluate(trial_choice)
                if trial.objective < best.objective:
                    trial.history = [*best.history, trial.objective]
                    best, improved = trial, True
                    break
                moves = moves[:len(moves) // 2]
            if not improved:
                break
        return best

    def _pour(self, o: int, arcs: NDArray[np.int64], residual: NDArray[np.int64]) -> None:
        """Take option o's capacity out of the residual needs, best arcs first."""
        v = self.need_pen[self.arc_n[arcs]] - self.arc_cost[arcs]
        left = int(self.opt_cap[o])
        for i in np.argsort(-v, kind="stable"):
            if left <= 0 or v[i] <= 0:
                break
            n = self.arc_n[arcs[i]]
            t = min(left, int(self.arc_lim[arcs[i]]), int(residual[n]))
            residual[n] -= t
            left -= t

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

    def _sub_mip(self, plan: _Plan, free: NDArray[np.int64], time_limit_s: float | None,
                 seed: int | None, slack_share: float = 1.0
                 ) -> tuple[NDArray[np.int64] | None, bool]:
        """Re-optimise the uses of ``free`` properties with everything else kept as planned.

        The sub-model holds the free properties' options, the needs they reach, every arc into
        those needs from a free or an open option, and the budgets less what the fixed
        properties spend; open fixed options keep only the capacity they do not use elsewhere.
        Returns the new options of the free properties (or None) and whether it is proven.
        """
        is_free = np.zeros(self.n_p, dtype=bool)
        is_free[free] = True
        opt_free = is_free[self.opt_p]
        open_opt = np.zeros(self.n_o, dtype=bool)
        open_opt[plan.choice] = True
        in_n = np.zeros(self.n_n, dtype=bool)
        in_n[self.arc_n[opt_free[self.arc_o]]] = True
        arcs = np.flatnonzero(in_n[self.arc_n] & (opt_free[self.arc_o] | open_opt[self.arc_o]))
        needs = np.flatnonzero(in_n)
        x_cols = np.flatnonzero(opt_free)
        cols = np.concatenate([x_cols, self.col_y + arcs, self.col_m + needs])
        a_opts = np.unique(self.arc_o[arcs])
        cap_rows = self.row_start["capacity"] + np.searchsorted(self.cap_opts, a_opts)
        free_link = arcs[opt_free[self.arc_o[arcs]]]
        rows = np.concatenate([self.row_start["one_use"] + free, cap_rows,
                               self.row_start["need"] + needs,
                               self.row_start["link"] + free_link])
        row_ub = self.row_ub[rows].copy()
        # Fixed open options: capacity left after their service outside these needs.
        fixed_open = ~opt_free[a_opts]
        outside = np.bincount(self.arc_o, weights=np.where(in_n[self.arc_n], 0, plan.y),
                              minlength=self.n_o)
        k = len(free)
        row_ub[k:k + len(a_opts)][fixed_open] = (self.opt_cap[a_opts[fixed_open]]
                                                 - outside[a_opts[fixed_open]])
        if self.budget_rows:
            # The free properties may spend what they spend now plus their share of the slack
            # (neighbourhoods solved side by side split it).
            ch = plan.choice
            spend_free = np.array([float(self.opt_reno[ch][mask[ch] & is_free].sum())
                                   for _, _, _, mask in self.budget_rows])
            slack = self._budget_caps() - self._spending(ch)
            b_rows = self.row_start["budget"] + np.arange(len(self.budget_rows))
            rows = np.concatenate([rows, b_rows])
            row_ub = np.concatenate([row_ub, spend_free + slack_share * np.maximum(slack, 0)])
        hint = np.concatenate([open_opt[x_cols].astype(float), plan.y[arcs],
                               plan.unmet[needs]])
        res = solve_sparse_milp(self.cost[cols] * MONEY_SCALE, self.matrix[rows][:, cols],
                                self.row_lb[rows], row_ub, self.lb[cols], self.ub[cols],
                                self.integer[cols], time_limit_s=time_limit_s,
                                mip_gap=self._lns_gap, seed=seed, hint=hint,
                                absolute_gap=0.5 * MONEY_SCALE,
                                node_limit=_LNS_NODES)
        self._lns_dims = (len(cols), len(rows))
        if res.x is None:
            return None, False
        return x_cols[res.x[:len(x_cols)] > 0.5], res.proven

    def _lns(self, plan: _Plan, deadline: float, seed: int | None, max_stall: int,
             workers: int = 1) -> tuple[_Plan, int]:
        """Sub-MIPs on neighbourhoods of properties while they improve the plan.

        ``workers`` neighbourhoods (made disjoint) are solved side by side against the same
        plan; their changes are applied together when that improves, else the best single
        one. Neighbourhoods come from a generator seeded with ``seed``; sub-MIPs get at most
        ``_LNS_NODES`` branch-and-bound nodes each (and the time left before the deadline) and
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
            while stall < max_stall and time.perf_counter() < deadline:
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
                proven = all(pr for _, pr in outs)
                whole = proven and len(frees) == 1 and len(frees[0]) >= len(seeds)
                # Grow the neighbourhood while sub-MIPs are proven, shrink otherwise.
                size = min(200, int(size * 1.15) + 1) if proven else max(8, int(size * 0.7))
                news = [n for n, _ in outs if n is not None]
                trials = []
                if news:
                    choice = base.choice.copy()
                    for n in news:
                        choice[self.opt_p[n]] = n
                    trials.append(self.evaluate(choice, base.source))
                if len(news) > 1 and trials[0].objective >= base.objective:
                    for n in news:
                        choice = base.choice.copy()
                        choice[self.opt_p[n]] = n
                        trials.append(self.evaluate(choice, base.source))
                # Budgets are checked in whole VND: a solver's tolerance is not a licence.
                trials = [t for t in trials if self._within_budget(t.choice)]
                best = min(trials, key=lambda t: t.objective, default=base)
                if best.objective < base.objective:
                    best.history = [*base.history, best.objective]
                    plan, stall = best, 0
                else:
                    stall += 1
                if whole:  # the neighbourhood was everything and its optimum is proven
                    break
        return plan, iters

    def _hint(self, plan: _Plan) -> NDArray[np.float64]:
        x = np.zeros(self.n_var)
        x[plan.choice] = 1.0
        x[self.col_y:self.col_m] = plan.y
        x[self.col_m:] = plan.unmet
        return x

    def _choice_from_x(self, x: NDArray[np.float64],
                       cols: NDArray[np.int64]) -> NDArray[np.int64]:
        """Options at 1 in a MIP solution restricted to ``cols`` (one per property)."""
        xo = cols[(cols < self.n_o)]
        on = xo[x[np.searchsorted(cols, xo)] > 0.5]
        return on

    # ------------------------------------------------------------------ solve
    def solve(self, time_limit_s: float | None = 60.0, mip_gap: float | None = 0.01,
              threads: int | None = None, seed: int | None = 0) -> DispositionModel:
        """LP bound per block, local-search incumbent, HiGHS polish in the time left.

        ``threads`` groups are solved side by side (HiGHS releases the GIL); each HiGHS run is
        serial. ``mip_gap`` is the relative gap at which a group is left alone; 0 asks for
        proofs. The results do not depend on ``threads`` unless a time limit cuts a search.
        """
        if not self._built:
            self.build()
        t0 = time.perf_counter()
        deadline = math.inf if time_limit_s is None else t0 + time_limit_s
        gap_goal = 0.0 if mip_gap is None else mip_gap
        workers = max(1, int(threads or 1))
        groups = [(np.flatnonzero(self.col_group == g), np.flatnonzero(self.row_group == g))
                  for g in range(self.n_groups)]
        weight = np.array([len(c) + 1 for c, _ in groups], dtype=float)
        by_size = [int(g) for g in np.argsort(-weight, kind="stable")]
        # 1. LP relaxation per group: bound and fractional plan (Lagrangian on the national
        #    budget when there is one).
        lp_deadline = t0 + 0.35 * (deadline - t0)
        x_lp, bound, lagrangian = self._lp_phase(groups, by_size, workers, lp_deadline, seed,
                                                 gap_goal)
        lp_bound = float(bound.sum() / MONEY_SCALE)
        lp_time = time.perf_counter() - t0
        # 2. Incumbent: rounding, budget repair, local search with exact evaluation.
        t = time.perf_counter()
        start = self.evaluate(self._repair_budget(self._round(x_lp[:self.n_o])), "lp rounding")
        hold = self.evaluate(self._cheapest_free(), "no renovation")
        plan = start if start.objective <= hold.objective else hold
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
                                        max_stall=max(20, self.n_p // 20), workers=workers)
        lns_time = time.perf_counter() - t
        lns_obj = plan.objective
        # 3. Branch-and-bound on every group not yet within the gap, from the plan.
        t = time.perf_counter()
        group_obj = self._group_objective(plan)
        if relative_gap(plan.objective, bound.sum() / MONEY_SCALE) <= goal:
            todo: list[int] = []
        elif lagrangian:  # group bounds are in priced terms: only the total is comparable
            todo = by_size if relative_gap(plan.objective, bound.sum() / MONEY_SCALE) > goal \
                else []
        else:
            todo = [g for g in by_size
                    if relative_gap(group_obj[g] * MONEY_SCALE, bound[g]) > goal]
        hint = self._hint(plan)
        left = (deadline - t) * workers
        share = {g: left * weight[g] / weight[todo].sum() for g in todo} if todo else {}
        # Under a national budget every group may spend what it spends now plus its share of
        # the slack, so the groups' plans stay jointly within the budget.
        budget_share: dict[int, float | None] = dict.fromkeys(todo)
        if self.national_row >= 0:
            spend = np.bincount(self.col_group[plan.choice],
                                weights=self.opt_reno[plan.choice], minlength=self.n_groups)
            slack = self.budget_vnd - spend.sum() if self.budget_vnd is not None else 0.0
            budget_share = {g: float(spend[g] + max(slack, 0) * weight[g] / weight[todo].sum())
                            for g in todo}

        def polish(g: int) -> MilpResult | None:
            limit = min(share[g], deadline - time.perf_counter()) if share[g] < math.inf \
                else None
            if limit is not None and limit < 0.05:
                return None
            cols, rows = groups[g]
            return self._solve_group(cols, rows, integer=True, time_limit_s=limit,
                                     mip_gap=gap_goal, seed=seed, hint=hint[cols],
                                     budget_share=budget_share[g])

        with ThreadPoolExecutor(workers) as pool:
            results = dict(zip(todo, pool.map(polish, todo), strict=True))
        nodes = 0
        for g in todo:
            mres = results[g]
            if mres is None:
                continue
            nodes += mres.nodes
            if not lagrangian:  # a group's MIP bound is global only without the coupling row
                bound[g] = max(bound[g], mres.bound)
            if mres.x is not None:
                choice = plan.choice.copy()
                on = self._choice_from_x(mres.x, groups[g][0])
                choice[self.opt_p[on]] = on
                trial = self.evaluate(choice, "HiGHS branch-and-bound")
                if trial.objective < plan.objective and self._within_budget(trial.choice):
                    trial.history = [*plan.history, trial.objective]
                    plan = trial
        mip_time = time.perf_counter() - t
        self._plan = plan
        wall = time.perf_counter() - t0
        objective = float(plan.objective)
        best_bound = float(min(_integral_bound(bound.sum() / MONEY_SCALE), objective))
        gap = relative_gap(objective, best_bound)
        status = SolveStatus.OPTIMAL if gap <= OPTIMAL_GAP else SolveStatus.FEASIBLE
        self.info = SolveInfo(status, objective, best_bound, gap, self.SOLVER, wall,
                              time_limit_s, "min", {
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
                                  "mip_nodes": nodes, "incumbent_from": plan.source,
                                  "seed": seed})
        self._write_results(plan)
        return self

    def _lp_phase(self, groups: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
                  order: list[int], workers: int, deadline: float, seed: int | None,
                  gap_goal: float) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
        """Group LPs: fractional plan, per-group bounds (million VND), Lagrangian flag.

        With a national budget B the groups are solved with renovation priced at lambda
        VND per VND and without the budget row; for any lambda >= 0,
        sum_g LP_g(lambda) - lambda B is a lower bound (Lagrangian relaxation). lambda = 0
        first; if that plan overspends, lambda is bisected until the bound cannot rise by a
        tenth of ``gap_goal`` (or time runs out), keeping the best bound and the last plan
        within budget. A group LP stopped by the deadline has
        no bound (-inf), so the gap stays honest.
        """

        def lps(price: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
            limit = None if not math.isfinite(deadline) else max(
                0.1, deadline - time.perf_counter())
            with ThreadPoolExecutor(workers) as pool:
                res = dict(zip(order, pool.map(lambda g: self._solve_group(
                    *groups[g], integer=False, time_limit_s=limit, mip_gap=None, seed=seed,
                    price=price), order), strict=True))
            x = np.zeros(self.n_var)
            b = np.full(self.n_groups, -np.inf)
            for g, r in res.items():
                if r.x is not None:
                    x[groups[g][0]] = r.x
                if r.proven:
                    b[g] = r.bound
            return x, b, float(self.opt_reno @ x[:self.n_o])

        x, bound, spend = lps(0.0)
        if self.national_row < 0 or self.budget_vnd is None:
            return x, bound, False
        budget = float(self.budget_vnd)
        if spend <= budget:
            return x, bound, True
        # First price: where the LP's renovations, ranked by value per VND, use up the budget.
        # Then bisection, raising the upper end (x 2) until the LP plan fits. The dual function
        # is concave with slope (spend - B) at each price, so the tangents at the bracket's ends
        # cap what any price between them can give: bisection stops once that cap is within a
        # tenth of the gap goal of the best bound (round 6 of 11 on the national baseline,
        # 0.0006 % below the converged bound, 10 s sooner).
        best = float(bound.sum())
        hi = self._price_estimate(x, budget)
        lo, lo_val, lo_slope = 0.0, best, (spend - budget) * MONEY_SCALE
        hi_val, hi_slope = math.nan, math.nan
        tol = 0.1 * max(gap_goal, 1e-4) * abs(best)
        fit_x: NDArray[np.float64] | None = None
        while time.perf_counter() < deadline:
            price = hi if fit_x is None else 0.5 * (lo + hi)
            x_l, b_l, spend_l = lps(price)
            value = float(b_l.sum()) - price * budget * MONEY_SCALE
            if value > best:
                best, bound = value, b_l.copy()
                bound[0] -= price * budget * MONEY_SCALE  # the bound is read as a sum
            slope = (spend_l - budget) * MONEY_SCALE
            if spend_l > budget:
                lo, lo_val, lo_slope = price, value, slope
                if fit_x is None:
                    hi *= 2.0
            else:
                hi, hi_val, hi_slope, fit_x = price, value, slope, x_l
                if hi - lo < 1e-3 * hi:
                    break
            if fit_x is not None and lo_slope > hi_slope:
                cross = (hi_val - lo_val + lo_slope * lo - hi_slope * hi) / (lo_slope - hi_slope)
                if lo_val + lo_slope * (cross - lo) - best <= tol:
                    break
        return (x if fit_x is None else fit_x), bound, True

    def _price_estimate(self, x: NDArray[np.float64], budget: float) -> float:
        """Renovation price (VND per VND) at which the LP plan's renovations fit the budget.

        Each renovated option is worth (served value - net cost) / renovation per VND; the
        price is that ratio where the cumulative renovation, best ratios first, reaches B.
        """
        xo = x[:self.n_o]
        served = np.bincount(self.arc_o, weights=x[self.col_y:self.col_m]
                             * (self.need_pen[self.arc_n] - self.arc_cost), minlength=self.n_o)
        use = np.flatnonzero((xo > 1e-9) & (self.opt_reno > 0))
        if len(use) == 0:
            return 1.0
        ratio = (served[use] - xo[use] * self.opt_net[use]) / (xo[use] * self.opt_reno[use])
        order = np.argsort(-ratio, kind="stable")
        cum = np.cumsum((xo[use] * self.opt_reno[use])[order])
        k = min(int(np.searchsorted(cum, budget)), len(order) - 1)
        return float(max(ratio[order][k], 1e-3))

    def _within_budget(self, choice: NDArray[np.int64]) -> bool:
        return bool((self._spending(choice) <= self._budget_caps()).all())

    def _group_objective(self, plan: _Plan) -> NDArray[np.float64]:
        """The plan's objective split by group (VND)."""
        out = np.bincount(self.col_group[plan.choice], weights=self.opt_net[plan.choice],
                          minlength=self.n_groups)
        out += np.bincount(self.col_group[self.col_y + np.arange(self.n_a)],
                           weights=plan.y * self.arc_cost, minlength=self.n_groups)
        out += np.bincount(self.col_group[self.col_m + np.arange(self.n_n)],
                           weights=plan.unmet * self.need_pen, minlength=self.n_groups)
        return np.asarray(out, dtype=float)

    def _solve_group(self, cols: NDArray[np.int64], rows: NDArray[np.int64], *, integer: bool,
                     time_limit_s: float | None, mip_gap: float | None, seed: int | None,
                     hint: NDArray[np.float64] | None = None, price: float = 0.0,
                     budget_share: float | None = None) -> MilpResult:
        """One group's LP or MIP. ``price`` (VND per VND) is the Lagrangian multiplier of the
        national budget added to renovation costs; ``budget_share`` (VND) a national budget
        row restricted to the group."""
        a = self.matrix[rows][:, cols]
        row_lb, row_ub = self.row_lb[rows], self.row_ub[rows]
        reno = np.where(cols < self.n_o, self.opt_reno[np.minimum(cols, self.n_o - 1)], 0)
        if budget_share is not None:
            a = sp.vstack([a, sp.csr_matrix(reno.astype(float)[None, :])], format="csr")
            row_lb = np.append(row_lb, -np.inf)
            row_ub = np.append(row_ub, budget_share)
        cost = (self.cost[cols] + price * reno) * MONEY_SCALE
        # Half a VND of absolute gap: optimal objectives are whole VND (see the docstring).
        return solve_sparse_milp(cost, a, row_lb, row_ub, self.lb[cols], self.ub[cols],
                                 self.integer[cols] & integer, time_limit_s=time_limit_s,
                                 mip_gap=mip_gap, seed=seed, hint=hint,
                                 absolute_gap=0.5 * MONEY_SCALE if integer else None)

    def run(self, **solve_kwargs: Any) -> DispositionModel:
        """Build, solve and check in one call."""
        self.build().solve(**solve_kwargs).check_solution()
        return self

    # ------------------------------------------------------------------ results
    def _write_results(self, plan: _Plan) -> None:
        props = self.properties
        o = plan.choice
        self.assignment = pd.DataFrame({
            "property_id": props["property_id"].to_numpy(),
            "province": props["province"].to_numpy(),
            "commune": props["commune"].to_numpy(),
            "use": np.asarray(USES, dtype=object)[self.opt_u[o]],
            "renovation_cost_vnd": self.opt_reno[o],
            "revenue_vnd": self.opt_rev[o],
        })
        used = plan.y > 0
        a_o, a_n = self.arc_o[used], self.arc_n[used]
        self.service = pd.DataFrame({
            "property_id": props["property_id"].to_numpy()[self.opt_p[a_o]],
            "commune": self.needs["commune"].to_numpy()[a_n],
            "use": np.asarray(USES, dtype=object)[self.opt_u[a_o]],
            "quantity": plan.y[used],
            "distance_km": self.arc_km[used],
            "cost_vnd": plan.y[used] * self.arc_cost[used],
        })
        served = np.bincount(self.arc_n, weights=plan.y, minlength=self.n_n).astype(np.int64)
        self.unmet = pd.DataFrame({
            "commune": self.needs["commune"].to_numpy(),
            "use": self.needs["use"].to_numpy(),
            "need": self.need_q, "served": served, "unmet": plan.unmet,
            "priority_weight": self.needs["priority_weight"].to_numpy(),
            "penalty_vnd": plan.unmet * self.need_pen,
        })

    # ------------------------------------------------------------------ verification
    def check_solution(self) -> DispositionModel:
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
        if not (np.array_equal(asg["renovation_cost_vnd"].to_numpy(), self.opt_reno[o])
                and np.array_equal(asg["revenue_vnd"].to_numpy(), self.opt_rev[o])):
            raise SolutionCheckError("assignment costs or revenues differ from the options")
        for scope, k, b, mask in self.budget_rows:
            spent = int(self.opt_reno[o][mask[o]].sum())
            if spent > b:
                where = "national" if scope == "national" else f"province {k!r}"
                raise SolutionCheckError(f"{where} renovation {spent:,} VND > budget {b:,}")
        # Service rows: the property's use, a given pair within radius, a need, capacity.
        s = self.service
        sp_ = pd.Index(props["property_id"]).get_indexer(s["property_id"])
        if (sp_ < 0).any():
            raise SolutionCheckError("service names an unknown property")
        su = pd.Index(USES).get_indexer(s["use"])
        if (su != u[sp_]).any():
            raise SolutionCheckError("a property serves a use other than its assigned use")
        n = pd.MultiIndex.from_frame(self.needs[["commune", "use"]]).get_indexer(
            pd.MultiIndex.from_frame(s[["commune", "use"]]))
        if (n < 0).any():
            raise SolutionCheckError("service to a commune without that need")
        pr = pd.MultiIndex.from_frame(self.pairs[["property_id", "commune"]]).get_indexer(
            pd.MultiIndex.from_frame(s[["property_id", "commune"]]))
        if (pr < 0).any():
            raise SolutionCheckError("service over a pair that is not given")
        km = self.pairs["distance_km"].to_numpy()[pr]
        if not np.allclose(s["distance_km"].to_numpy(dtype=float), km):
            raise SolutionCheckError("service.distance_km differs from the pair distance")
        if (km > self.radius_km[su]).any():
            raise SolutionCheckError("service beyond the use's radius")
        across = self._across(sp_, n)
        if self.same_province and across.any():
            raise SolutionCheckError("service across provinces although same_province=True")
        if pd.MultiIndex.from_frame(s[["property_id", "commune", "use"]]).has_duplicates:
            raise SolutionCheckError("service has duplicate rows")
        q = s["quantity"].to_numpy()
        if (q <= 0).any() or not np.array_equal(q, np.round(q)):
            raise SolutionCheckError("service quantities must be positive whole numbers")
        used_cap = np.bincount(o[sp_], weights=q, minlength=self.n_o)
        over = used_cap > self.opt_cap + 1e-9
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise SolutionCheckError(
                f"property {props['property_id'].iloc[self.opt_p[i]]!r} serves "
                f"{used_cap[i]:g} > capacity {int(self.opt_cap[i])} for {USES[self.opt_u[i]]}")
        travel = q.astype(np.int64) * self._unit_cost_vnd(km, su, across)
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
        total = (int(self.opt_reno[o].sum()) - int(self.opt_rev[o].sum()) + int(travel.sum())
                 + int(pen.sum()))
        if total != self.info.objective_value:
            raise SolutionCheckError(f"objective recomputed as {total:,} VND, solver reported "
                                     f"{self.info.objective_value:,.0f}")
        if self.info.best_bound > total:
            raise SolutionCheckError("best bound above the objective of a minimisation")
        return self
