"""The arrays of one disposition model, named once for every part that reads them."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from optimization.disposition.common import CandidatePlan
from optimization.result import SolveInfo
from optimization.solver import SparseModel

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]


class DispositionState:
    """Inputs, the flat arrays built from them (``define_arrays``) and the sparse MIP
    (``build``). Options o = (property, use), needs n = (commune, use), arcs a = (o, n)."""

    # inputs (validated frames and per-use parameters over SERVICE_USES)
    properties: pd.DataFrame
    options: pd.DataFrame
    needs: pd.DataFrame
    pairs: pd.DataFrame
    radius_km: Floats
    radius_min: Floats  # NaN: the use has no time limit
    unmet_penalty_vnd: Floats
    travel_cost_vnd_per_unit_km: Floats
    budget_vnd: int | None
    province_budget_vnd: dict[Any, int]
    same_province: bool
    cross_province_penalty_vnd: float
    # options, needs, arcs
    n_p: int
    n_o: int
    n_n: int
    n_a: int
    opt_p: Ints
    opt_u: Ints
    opt_cap: Ints
    opt_reno: Ints
    opt_rev: Ints
    opt_net: Ints
    opt_rate: Ints
    opt_area_cost: Ints
    arc_travel: Ints
    need_u: Ints
    need_q: Ints
    need_pen: Ints
    need_first: Bools
    prop_first: Ints
    fixed_opt: Ints
    arc_o: Ints
    arc_n: Ints
    arc_km: Floats
    arc_lim: Ints
    arc_cost: Ints
    arc_cost_vnd: Ints
    opt_net_vnd: Ints
    disposal_order: str
    money_unit_vnd: int
    # shared buildings (see ``sharing``)
    max_uses: int
    prop_floor: Ints
    prop_uses: Ints
    opt_floor_fixed: Ints
    opt_on_floor: Bools
    floor_props: Ints
    # the MIP: columns x (options), y (arcs), m (unmet); rows by family
    n_var: int
    col_z: int
    col_y: int
    n_z: int
    area_opts: Ints
    area_ub: Ints
    budget_masks: Bools
    budget_coef: Floats
    col_m: int
    lb: Floats
    ub: Floats
    integer: Bools
    cost: Floats
    matrix: sp.csr_matrix
    row_lb: Floats
    row_ub: Floats
    row_start: dict[str, int]
    mip: SparseModel
    budget_rows: list[tuple[str, Any, int, Bools]]
    national_row: int
    col_group: Ints
    row_group: Ints
    n_groups: int
    n_components: int
    SOLVER: str
    _built: bool
    # results
    info: SolveInfo
    assignment: pd.DataFrame
    service: pd.DataFrame
    unmet: pd.DataFrame
    _plan: CandidatePlan

    def evaluate(self, choice: Ints, source: str = "heuristic",
                 area: Ints | None = None, extra: Bools | None = None) -> CandidatePlan:
        raise NotImplementedError

    def _spending(self, choice: Ints, area: Ints, extra: Bools | None = None) -> Ints:
        raise NotImplementedError

    def _floor_left(self, open_opt: Bools, area: Ints | None = None) -> Ints:
        raise NotImplementedError

    def _split_open(self, on: Ints, choice: Ints, extra: Bools) -> tuple[Ints, Bools]:
        raise NotImplementedError

    def _addable(self, plan: CandidatePlan) -> Bools:
        raise NotImplementedError

    def _addable_arrays(self, choice: Ints, extra: Bools, area: Ints) -> Bools:
        raise NotImplementedError

    def _best_non_public(self) -> Ints:
        raise NotImplementedError

    def _canonical(self, plan: CandidatePlan) -> CandidatePlan:
        raise NotImplementedError

    def _property_spend(self, plan: CandidatePlan) -> Ints:
        raise NotImplementedError

    def _spend_per_property(self, open_opt: Bools, area: Ints) -> Ints:
        raise NotImplementedError

    def _budget_caps(self) -> Ints:
        raise NotImplementedError

    def _across(self, prop: Ints, need: Ints) -> Bools:
        raise NotImplementedError

    def in_reach(self, km: Floats, minutes: pd.Series | None, use: Ints) -> Bools:
        raise NotImplementedError

    def _unit_cost_vnd(self, km: Floats, use: Ints, cross: Bools) -> Ints:
        raise NotImplementedError

    def _within_budget(self, plan: CandidatePlan) -> bool:
        raise NotImplementedError

    def _order_violations(self, choice: Ints, area: Ints, unmet: Ints,
                          extra: Bools | None = None) -> Ints:
        raise NotImplementedError

    def _check_served_first(self, choice: Ints, extra: Bools, area: Ints, unmet: Ints,
                            serves_first: Bools) -> None:
        raise NotImplementedError

    def build(self) -> Any:
        raise NotImplementedError

