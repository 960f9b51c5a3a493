"""Transfer of surplus vehicles, machines and equipment to communes below the norm.

One exact min-cost flow (OR-Tools ``SimpleMinCostFlow``) carries every category at once: the
categories are disjoint components of the same graph, so one call solves them all and the
optimum of the whole is the sum of the per-category optima.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from optimization import transfer_checks
from optimization._frames import checked_frame
from optimization.result import InfeasibleInputError, SolveInfo
from optimization.solver import FLOW_COST_LIMIT, Runs, SolveOptions, check_info

EARTH_RADIUS_KM = 6371.0088

CostArg = int | float | Mapping[Any, int | float]


def _haversine_km(lon1: NDArray[np.float64], lat1: NDArray[np.float64],
                  lon2: NDArray[np.float64], lat2: NDArray[np.float64]) -> NDArray[np.float64]:
    lon1, lat1, lon2, lat2 = (np.radians(a) for a in (lon1, lat1, lon2, lat2))
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def _same_id_kind(a: pd.Series, b: pd.Series, what: str) -> None:
    if len(a) == 0 or len(b) == 0:
        return
    if pd.api.types.is_numeric_dtype(a) != pd.api.types.is_numeric_dtype(b):
        raise ValueError(f"{what}: ids have different kinds ({a.dtype} vs {b.dtype}); "
                         "use the same dtype for the same ids in every frame")


def _per_category(value: CostArg, categories: NDArray[Any], required: NDArray[Any],
                  name: str) -> dict[Any, float]:
    """A scalar or a mapping category -> value, as a dict over ``categories``.

    Only the ``required`` categories (those that can carry flow) must be present in a mapping.
    """
    if isinstance(value, Mapping):
        missing = sorted({str(c) for c in required if c not in value})
        if missing:
            raise ValueError(f"{name} has no value for category(ies) {missing}")
        out = {c: float(value[c]) for c in categories if c in value}
    else:
        out = {c: float(value) for c in categories}
    if not all(math.isfinite(v) and v >= 0 for v in out.values()):
        raise ValueError(f"{name} must be finite and >= 0")
    return out


class TransferModel(Runs):
    r"""Min-cost transfer of surplus assets (per category) to communes below the norm.

    **Graph** (one component per category k; all solved by one ``SimpleMinCostFlow`` call):

    - a node per holder h with surplus of k, supply :math:`s_{hk}`;
    - a node per commune c short of k, supply :math:`-d_{ck}`;
    - one slack node :math:`z_k` with supply :math:`D_k - S_k` (may be negative), where
      :math:`D_k = \sum_c d_{ck}` and :math:`S_k = \sum_h s_{hk}`;
    - transport arcs h -> c for every allowed pair, capacity :math:`\min(s_{hk}, d_{ck})`,
      unit cost :math:`a_{hck}`;
    - keep arcs h -> z_k (capacity :math:`s_{hk}`, cost 0): surplus that stays where it is;
    - unmet arcs z_k -> c (capacity :math:`d_{ck}`, cost :math:`p_{ck}`): the dummy source for
      need left unmet. Without it (``allow_unmet=False``) every shortfall must be met.

    With the slack node the flow is always feasible (everything unmet, everything kept), so
    the optimum always exists when unmet need is allowed.

    **Objective** (VND, minimised):

    .. math:: \sum_{h,c,k} a_{hck} f_{hck} + \sum_{c,k} p_{ck} u_{ck}

    **Constraints**: :math:`\sum_c f_{hck} \le s_{hk}`;
    :math:`\sum_h f_{hck} + u_{ck} = d_{ck}`; :math:`f, u` non-negative integers. The
    constraint matrix is a network matrix, so the optimum is integral and exact.

    ==========================  ====================================================  ======
    symbol                      meaning                                               unit
    ==========================  ====================================================  ======
    :math:`s_{hk}`              surplus of holder h in category k                     items
    :math:`d_{ck}`              shortfall of commune c below the norm                 items
    :math:`f_{hck}`             items moved from h to c                               items
    :math:`u_{ck}`              shortfall left unmet                                  items
    :math:`\delta_{hc}`         distance from h to c (``pairs.distance_km``)          km
    :math:`a_{hck}`             round(:math:`\delta_{hc}` x cost_per_km_vnd[k] +      VND
                                handling_vnd[k] + cross-province penalty); on a
                                sea leg (``pairs.sea_leg``) sea_leg_vnd[k] in place
                                of the km cost
    :math:`p_{ck}`              round(priority_weight[c] x unmet_penalty_vnd[k])      VND
    ==========================  ====================================================  ======

    **Scale factor**: ``SimpleMinCostFlow`` needs integer costs. Unit costs are rounded to
    the nearest VND (scale 1 VND per unit of cost), so every reported cost is exact in whole
    VND and the per-item rounding error is at most 0.5 VND. Costs whose totals could overflow
    int64 are refused before solving.

    **Rules**: ``same_province=True`` drops arcs between provinces;
    ``cross_province_penalty_vnd`` (per item) is added to arcs between provinces otherwise.
    Pairs that name an unknown holder or commune, or a holder and commune that do not share a
    category, carry no arc. Without ``pairs`` every holder is paired with every commune of the
    same category, with great-circle distance from ``lon``/``lat`` columns (small cases).

    Results: ``flows`` (holder_code, commune_code, category, quantity, distance_km, sea_leg,
    cost_vnd), ``unmet`` (commune_code, category, shortfall, received, unmet, penalty_vnd) and
    ``remaining`` (holder_code, category, surplus, shipped, remaining).
    """

    SOLVER = "ortools.SimpleMinCostFlow"

    def __init__(self, supplies: pd.DataFrame, demands: pd.DataFrame,
                 pairs: pd.DataFrame | None, *, cost_per_km_vnd: CostArg,
                 handling_vnd: CostArg = 0, unmet_penalty_vnd: CostArg,
                 same_province: bool = False, cross_province_penalty_vnd: float = 0,
                 allow_unmet: bool = True, fixed_flows: pd.DataFrame | None = None,
                 sea_leg_vnd: CostArg = 0) -> None:
        self.supplies = supplies
        self.fixed_flows = (fixed_flows if fixed_flows is not None else pd.DataFrame(
            {"holder_code": [], "commune_code": [], "category": [], "quantity": []}))
        self.demands = demands
        self.pairs = pairs
        self.same_province = bool(same_province)
        self.cross_province_penalty_vnd = float(cross_province_penalty_vnd)
        self.allow_unmet = bool(allow_unmet)
        if not math.isfinite(self.cross_province_penalty_vnd) or \
                self.cross_province_penalty_vnd < 0:
            raise ValueError("cross_province_penalty_vnd must be finite and >= 0")
        s_cats = pd.unique(supplies["category"])
        d_cats = pd.unique(demands["category"])
        cats = pd.unique(np.concatenate([np.asarray(s_cats), np.asarray(d_cats)]))
        both = np.asarray([c for c in d_cats if c in set(s_cats)])
        self.categories = np.asarray(cats)
        self.cost_per_km_vnd = _per_category(cost_per_km_vnd, cats, both, "cost_per_km_vnd")
        self.handling_vnd = _per_category(handling_vnd, cats, both, "handling_vnd")
        self.sea_leg_vnd = _per_category(sea_leg_vnd, cats, both, "sea_leg_vnd")
        self.unmet_penalty_vnd = _per_category(unmet_penalty_vnd, cats,
                                               np.asarray(d_cats) if allow_unmet else both,
                                               "unmet_penalty_vnd")
        self.info = SolveInfo.not_solved()
        self.flows = pd.DataFrame()
        self.unmet = pd.DataFrame()
        self.remaining = pd.DataFrame()
        self._smcf: min_cost_flow.SimpleMinCostFlow | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_frames(cls, supplies: pd.DataFrame, demands: pd.DataFrame,
                    pairs: pd.DataFrame | None = None, *, cost_per_km_vnd: CostArg,
                    handling_vnd: CostArg = 0, unmet_penalty_vnd: CostArg,
                    same_province: bool = False, cross_province_penalty_vnd: float = 0,
                    allow_unmet: bool = True, fixed_flows: pd.DataFrame | None = None,
                    sea_leg_vnd: CostArg = 0) -> TransferModel:
        """Validate the frames and return an unbuilt model.

        ``supplies``: holder_code (the unit holding the surplus), category, surplus (int >= 0),
        province_code (needed for the province rules), lon/lat (only without ``pairs``).
        ``demands``: commune_code, category, shortfall (int >= 0), province_code,
        priority_weight (default 1), lon/lat (only without ``pairs``). ``pairs``:
        holder_code, commune_code, distance_km, optionally sea_leg (bool: the
        pair crosses the sea, costed per item by ``sea_leg_vnd`` instead of per km). Key
        columns may also be index levels. ``cost_per_km_vnd``, ``handling_vnd``,
        ``unmet_penalty_vnd`` and ``sea_leg_vnd`` are scalars or mappings category -> VND.
        ``fixed_flows`` (holder_code, commune_code, category, quantity): items that must move (a
        planner's decision), each on an allowed arc, within the holder's surplus and the
        commune's shortfall.
        """
        need_prov = same_province or cross_province_penalty_vnd > 0
        need_ll = pairs is None
        s_req = {"holder_code": "id", "category": "id", "surplus": "int"}
        d_req = {"commune_code": "id", "category": "id", "shortfall": "int"}
        if need_prov:
            s_req["province_code"] = d_req["province_code"] = "id"
        if need_ll:
            s_req |= {"lon": "float", "lat": "float"}
            d_req |= {"lon": "float", "lat": "float"}
        sup = checked_frame(supplies, "supplies", s_req, {"province_code": "id"})
        dem = checked_frame(demands, "demands", d_req,
                     {"province_code": "id", "priority_weight": "float"})
        if "priority_weight" not in dem:
            dem["priority_weight"] = 1.0
        for df, name, key, qty in ((sup, "supplies", "holder_code", "surplus"),
                                   (dem, "demands", "commune_code", "shortfall")):
            dup = df.duplicated([key, "category"])
            if dup.any():
                row = df[dup].iloc[0]
                raise ValueError(f"{name} has {int(dup.sum())} duplicate ({key}, category) "
                                 f"rows, e.g. ({row[key]!r}, {row['category']!r})")
            if (df[qty] < 0).any():
                raise ValueError(f"{name}.{qty} must be >= 0")
        if (dem["priority_weight"] < 0).any():
            raise ValueError("demands.priority_weight must be >= 0")
        _same_id_kind(sup["category"], dem["category"], "supplies/demands category")
        pr: pd.DataFrame | None = None
        if pairs is not None:
            pr = checked_frame(pairs, "pairs", {"holder_code": "id", "commune_code": "id",
                                         "distance_km": "float"}, {"sea_leg": "bool"})
            if (pr["distance_km"] < 0).any():
                raise ValueError("pairs.distance_km must be >= 0")
            dup = pr.duplicated(["holder_code", "commune_code"])
            if dup.any():
                raise ValueError(f"pairs has {int(dup.sum())} duplicate (holder_code, "
                                 "commune_code) rows")
            _same_id_kind(pr["holder_code"], sup["holder_code"], "pairs/supplies holder")
            _same_id_kind(pr["commune_code"], dem["commune_code"], "pairs/demands commune")
        # Items of nobody's interest carry no node.
        sup = sup[sup["surplus"] > 0].reset_index(drop=True)
        dem = dem[dem["shortfall"] > 0].reset_index(drop=True)
        fixed = None
        if fixed_flows is not None and len(fixed_flows):
            fixed = checked_frame(fixed_flows, "fixed_flows", {
                "holder_code": "id", "commune_code": "id", "category": "id",
                "quantity": "int"})
            if (fixed["quantity"] <= 0).any():
                raise ValueError("fixed_flows.quantity must be > 0")
            if fixed.duplicated(["holder_code", "commune_code", "category"]).any():
                raise ValueError("fixed_flows has duplicate (holder_code, commune_code, "
                                 "category) rows")
        return cls(sup, dem, pr, cost_per_km_vnd=cost_per_km_vnd, handling_vnd=handling_vnd,
                   unmet_penalty_vnd=unmet_penalty_vnd, same_province=same_province,
                   cross_province_penalty_vnd=cross_province_penalty_vnd,
                   allow_unmet=allow_unmet, fixed_flows=fixed, sea_leg_vnd=sea_leg_vnd)

    # ------------------------------------------------------------------ arcs and costs
    def _per_cat_array(self, table: Mapping[Any, float]) -> NDArray[np.float64]:
        return np.array([table.get(k, np.nan) for k in self.categories], dtype=float)

    def _unit_cost_vnd(self, km: NDArray[np.float64], k: NDArray[np.int64],
                       cross: NDArray[np.bool_], sea: NDArray[np.bool_]) -> NDArray[np.int64]:
        """round(km x cost_per_km_vnd[k] (sea_leg_vnd[k] on a sea leg) + handling_vnd[k] +
        cross-province penalty), VND."""
        unit = (np.where(sea, self._per_cat_array(self.sea_leg_vnd)[k],
                         km * self._per_cat_array(self.cost_per_km_vnd)[k])
                + self._per_cat_array(self.handling_vnd)[k]
                + np.where(cross, self.cross_province_penalty_vnd, 0.0))
        return np.asarray(np.rint(unit), dtype=np.int64)

    def _cross(self, s: NDArray[np.int64], d: NDArray[np.int64]) -> NDArray[np.bool_]:
        if "province_code" in self.supplies and "province_code" in self.demands:
            return np.asarray(self.supplies["province_code"].to_numpy()[s]
                              != self.demands["province_code"].to_numpy()[d])
        return np.zeros(len(s), dtype=bool)

    def allowed_arcs(self) -> pd.DataFrame:
        """Transport arcs: supply row ``s``, demand row ``d``, distance and unit cost (VND)."""
        k_s, k_d = self._category_codes()
        if self.pairs is None:
            # Every holder with every commune of the same category, by index products.
            parts_s, parts_d = [], []
            for k in range(len(self.categories)):
                si, di = np.flatnonzero(k_s == k), np.flatnonzero(k_d == k)
                parts_s.append(np.repeat(si, len(di)))
                parts_d.append(np.tile(di, len(si)))
            s = np.concatenate(parts_s).astype(np.int64) if parts_s else np.zeros(0, np.int64)
            d = np.concatenate(parts_d).astype(np.int64) if parts_d else np.zeros(0, np.int64)
            km = _haversine_km(self.supplies["lon"].to_numpy()[s],
                               self.supplies["lat"].to_numpy()[s],
                               self.demands["lon"].to_numpy()[d],
                               self.demands["lat"].to_numpy()[d])
        else:
            sup = pd.DataFrame({"s": np.arange(len(self.supplies)), "k": k_s,
                                "holder_code": self.supplies["holder_code"].to_numpy()})
            dem = pd.DataFrame({"d": np.arange(len(self.demands)), "k": k_d,
                                "commune_code": self.demands["commune_code"].to_numpy()})
            arcs = sup.merge(self.pairs, on="holder_code").merge(dem, on=["commune_code", "k"])
            s = arcs["s"].to_numpy(dtype=np.int64)
            d = arcs["d"].to_numpy(dtype=np.int64)
            km = arcs["distance_km"].to_numpy(dtype=float)
        sea = self.sea_legs(len(s)) if self.pairs is None else self.sea_legs(arcs)
        cross = self._cross(s, d)
        keep = ~cross if self.same_province else np.ones(len(s), dtype=bool)
        return pd.DataFrame({"s": s[keep], "d": d[keep], "distance_km": km[keep],
                             "sea_leg": sea[keep], "unit_cost_vnd": self._unit_cost_vnd(
                                 km, k_s[s], cross, sea)[keep]})

    @staticmethod
    def sea_legs(rows: pd.DataFrame | int) -> NDArray[np.bool_]:
        """Which of these pair rows cross the sea (none without a ``sea_leg`` column)."""
        if isinstance(rows, int):
            return np.zeros(rows, dtype=bool)
        if "sea_leg" not in rows:
            return np.zeros(len(rows), dtype=bool)
        return rows["sea_leg"].to_numpy(dtype=bool)

    def _category_codes(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        cats = pd.Index(self.categories)
        return (np.asarray(cats.get_indexer(self.supplies["category"]), dtype=np.int64),
                np.asarray(cats.get_indexer(self.demands["category"]), dtype=np.int64))

    def unit_penalty_vnd(self) -> NDArray[np.int64]:
        """Per demand row: round(priority_weight x unmet_penalty_vnd[category]) in VND."""
        if not self.allow_unmet:
            return np.zeros(len(self.demands), dtype=np.int64)
        pen = self._per_cat_array(self.unmet_penalty_vnd)[self._category_codes()[1]]
        return np.asarray(np.rint(self.demands["priority_weight"].to_numpy() * pen),
                          dtype=np.int64)

    # ------------------------------------------------------------------ checks
    def check_inputs(self, arcs: pd.DataFrame) -> None:
        """Raise :class:`InfeasibleInputError` when every shortfall must be met and cannot."""
        transfer_checks.check_inputs(self, arcs)

    # ------------------------------------------------------------------ build and solve
    def build(self) -> TransferModel:
        """Create the ``SimpleMinCostFlow`` graph with all arcs added in bulk."""
        arcs = self.allowed_arcs()
        self.check_inputs(arcs)
        self._arcs = arcs
        self.define_fixed(arcs)
        self.define_nodes()
        self.define_transport_arcs(arcs)
        self.define_slack_arcs()
        self._check_cost_range()
        return self

    def _check_cost_range(self) -> None:
        # Cost scaling multiplies unit costs by about the node count; totals are cost x flow.
        assert self._smcf is not None
        costs = np.concatenate([self._arcs["unit_cost_vnd"].to_numpy(),
                                self.unit_penalty_vnd() if self.allow_unmet else []])
        top = int(np.abs(costs).max(initial=0))
        flow = int(self.supplies["surplus"].sum() + self.demands["shortfall"].sum())
        if top * (self._n_nodes + 1) >= FLOW_COST_LIMIT or top * max(flow, 1) >= FLOW_COST_LIMIT:
            raise ValueError(f"unit costs up to {top:,} VND are too large for exact int64 "
                             "min-cost flow; lower cost_per_km_vnd or unmet_penalty_vnd")

    def define_fixed(self, arcs: pd.DataFrame) -> None:
        """Items per arc that must move (``fixed_flows``), taken out of the flow network:
        the holder's surplus and the commune's shortfall shrink by them and their cost is a
        constant of the objective."""
        f = self.fixed_flows
        self._fixed_q = np.zeros(len(arcs), dtype=np.int64)
        if len(f) == 0:
            return
        s = pd.MultiIndex.from_frame(self.supplies[["holder_code", "category"]]).get_indexer(
            pd.MultiIndex.from_frame(f[["holder_code", "category"]]))
        d = pd.MultiIndex.from_frame(self.demands[["commune_code", "category"]]).get_indexer(
            pd.MultiIndex.from_frame(f[["commune_code", "category"]]))
        a = pd.MultiIndex.from_frame(arcs[["s", "d"]]).get_indexer(
            pd.MultiIndex.from_arrays([s, d]))
        bad = (s < 0) | (d < 0) | (a < 0)
        if bad.any():
            row = f[bad].iloc[0]
            raise InfeasibleInputError(
                f"{int(bad.sum())} fixed flow(s) on no allowed arc (a holder without that "
                "surplus, a commune without that shortfall, no pair or across provinces), "
                f"e.g. {row['holder_code']!r} -> {row['commune_code']!r} ({row['category']})")
        np.add.at(self._fixed_q, a, f["quantity"].to_numpy(dtype=np.int64))
        for idx, frame, col, key, who in (
                (arcs["s"], self.supplies, "surplus", "holder_code", "holder"),
                (arcs["d"], self.demands, "shortfall", "commune_code", "commune")):
            total = np.bincount(idx.to_numpy(), weights=self._fixed_q, minlength=len(frame))
            over = np.flatnonzero(total > frame[col].to_numpy())
            if len(over):
                i = int(over[0])
                raise InfeasibleInputError(
                    f"fixed flows move {int(total[i])} {frame['category'].iloc[i]} for "
                    f"{who} {frame[key].iloc[i]!r}, beyond its {col} of "
                    f"{int(frame[col].iloc[i])}")

    def _fixed_per(self, side: str) -> NDArray[np.int64]:
        n = len(self.supplies) if side == "s" else len(self.demands)
        return np.bincount(self._arcs[side].to_numpy(), weights=self._fixed_q,
                           minlength=n).astype(np.int64)

    def define_nodes(self) -> None:
        """Holders, communes, then one slack node per category; supplies set in bulk."""
        n_s, n_d = len(self.supplies), len(self.demands)
        self._smcf = min_cost_flow.SimpleMinCostFlow()
        k_s, k_d = self._category_codes()
        n_k = len(self.categories)
        free_s = self.supplies["surplus"].to_numpy() - self._fixed_per("s")
        free_d = self.demands["shortfall"].to_numpy() - self._fixed_per("d")
        s_k = np.bincount(k_s, weights=free_s, minlength=n_k)
        d_k = np.bincount(k_d, weights=free_d, minlength=n_k)
        supply = np.concatenate([free_s, -free_d,
                                 (d_k - s_k).astype(np.int64)]).astype(np.int64)
        self._free_s, self._free_d = free_s, free_d
        self._n_nodes = n_s + n_d + n_k
        self._smcf.set_nodes_supplies(np.arange(self._n_nodes, dtype=np.int32), supply)
        self._k_s, self._k_d = k_s, k_d

    def _add_arcs(self, tails: NDArray[Any], heads: NDArray[Any], caps: NDArray[Any],
                  costs: NDArray[Any]) -> NDArray[np.int32]:
        assert self._smcf is not None
        if len(tails) == 0:
            return np.zeros(0, dtype=np.int32)
        first = self._smcf.num_arcs()
        self._smcf.add_arcs_with_capacity_and_unit_cost(
            tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64),
            costs.astype(np.int64))
        return np.arange(first, first + len(tails), dtype=np.int32)

    def define_transport_arcs(self, arcs: pd.DataFrame) -> None:
        """Holder -> commune arcs, capacity min(surplus, shortfall), unit cost in VND."""
        n_s = len(self.supplies)
        s, d = arcs["s"].to_numpy(), arcs["d"].to_numpy()
        cap = np.minimum(self._free_s[s], self._free_d[d])
        self._transport = self._add_arcs(s, n_s + d, cap, arcs["unit_cost_vnd"].to_numpy())

    def define_slack_arcs(self) -> None:
        """Keep arcs holder -> slack (cost 0) and unmet arcs slack -> commune (penalty)."""
        n_s, n_d = len(self.supplies), len(self.demands)
        slack = n_s + n_d
        self._keep = self._add_arcs(np.arange(n_s), slack + self._k_s, self._free_s,
                                    np.zeros(n_s))
        if self.allow_unmet:
            self._unmet = self._add_arcs(slack + self._k_d, n_s + np.arange(n_d),
                                         self._free_d, self.unit_penalty_vnd())
        else:
            self._unmet = np.zeros(0, dtype=np.int32)

    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        """Solve exactly. The min-cost flow is polynomial and deterministic: the options are
        validated like every model's and only the time limit is recorded."""
        opts = SolveOptions.of(options, **overrides)
        if self._smcf is None:
            self.build()
        assert self._smcf is not None
        t0 = time.perf_counter()
        status = self._smcf.solve()
        wall = time.perf_counter() - t0
        stats = {"nodes": self._n_nodes, "arcs": int(self._smcf.num_arcs()),
                 "transport_arcs": len(self._transport)}
        if status == self._smcf.INFEASIBLE:
            # Only reachable with allow_unmet=False, which check_inputs() already guards.
            raise InfeasibleInputError("the shortfalls cannot all be met from the surplus")
        if status != self._smcf.OPTIMAL:
            if status == self._smcf.BAD_COST_RANGE:
                raise ValueError("unit costs are too large for OR-Tools' min-cost flow; lower "
                                 "cost_per_km_vnd, handling_vnd or unmet_penalty_vnd")
            raise RuntimeError(f"SimpleMinCostFlow failed with status {status.name}")
        cost = float(self._smcf.optimal_cost()
                     + int((self._fixed_q * self._arcs["unit_cost_vnd"].to_numpy()).sum()))
        self.info = SolveInfo.solved(cost, cost, sense="min", solver=self.SOLVER,
                                     wall_time_s=wall, time_limit_s=opts.time_limit_s,
                                     stats=stats)
        self._write_results()
        return self

    def _write_results(self) -> None:
        assert self._smcf is not None
        arcs = self._arcs
        qty = np.asarray(self._smcf.flows(self._transport), dtype=np.int64) + self._fixed_q
        used = qty > 0
        s = arcs["s"].to_numpy()[used]
        d = arcs["d"].to_numpy()[used]
        self.flows = pd.DataFrame({
            "holder_code": self.supplies["holder_code"].to_numpy()[s],
            "commune_code": self.demands["commune_code"].to_numpy()[d],
            "category": self.supplies["category"].to_numpy()[s],
            "quantity": qty[used],
            "distance_km": arcs["distance_km"].to_numpy()[used],
            "sea_leg": arcs["sea_leg"].to_numpy()[used],
            "cost_vnd": qty[used] * arcs["unit_cost_vnd"].to_numpy()[used],
        })
        n_s, n_d = len(self.supplies), len(self.demands)
        received = np.bincount(d, weights=qty[used], minlength=n_d).astype(np.int64)
        shipped = np.bincount(s, weights=qty[used], minlength=n_s).astype(np.int64)
        shortfall = self.demands["shortfall"].to_numpy()
        unmet = (np.asarray(self._smcf.flows(self._unmet), dtype=np.int64)
                 if self.allow_unmet else np.zeros(n_d, dtype=np.int64))
        self.unmet = pd.DataFrame({
            "commune_code": self.demands["commune_code"].to_numpy(),
            "category": self.demands["category"].to_numpy(),
            "shortfall": shortfall, "received": received, "unmet": unmet,
            "penalty_vnd": unmet * self.unit_penalty_vnd(),
        })
        surplus = self.supplies["surplus"].to_numpy()
        self.remaining = pd.DataFrame({
            "holder_code": self.supplies["holder_code"].to_numpy(),
            "category": self.supplies["category"].to_numpy(),
            "surplus": surplus, "shipped": shipped, "remaining": surplus - shipped,
        })

    def check_solution(self) -> Self:
        """Recompute every constraint and the objective from the result frames alone."""
        transfer_checks.check_solution(self)
        check_info(self.info, "transfer")
        return self
