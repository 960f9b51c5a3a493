"""The service part of the plan for fixed uses: exact min-cost flows in whole VND."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from scipy.sparse.csgraph import connected_components

from optimization.disposition.common import (
    pack_bins,
)
from optimization.solver import FLOW_COST_LIMIT


class ServiceFlow:
    """Exact service part for fixed uses: a min-cost flow, costs in whole VND.

    Nodes: one per service option with arcs (supply = capacity when open, else 0), one per
    need (supply -need), one slack node, one per shared floor. Arcs: option -> need
    (capacity min(cap, need), cost travel), option -> slack (unused capacity, cost 0),
    slack -> need (unmet, cost penalty). An option on a shared floor has no supply of its
    own: it is fed by its floor's node (arc capacity: its capacity when open), whose supply
    is the floor left (at most what its open options can take) and whose unused part goes
    to the slack.
    """

    def __init__(self, arc_o: NDArray[np.int64], arc_n: NDArray[np.int64],
                 arc_lim: NDArray[np.int64], arc_cost: NDArray[np.int64],
                 opt_cap: NDArray[np.int64], need_q: NDArray[np.int64],
                 need_pen: NDArray[np.int64], opt_floor: NDArray[np.int64]) -> None:
        self.opts = np.unique(arc_o)
        k, n_n = len(self.opts), len(need_q)
        self.k, self.n_n = k, n_n
        self.cap = opt_cap[self.opts]
        floor_of = opt_floor[self.opts]
        self.child = np.flatnonzero(floor_of >= 0)
        self.floors, floor_local = np.unique(floor_of[self.child], return_inverse=True)
        n_f = len(self.floors)
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
        if top * (k + n_n + 2) >= FLOW_COST_LIMIT or total_vnd >= FLOW_COST_LIMIT:
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
        first_floor = slack + 1
        base = len(arc_o) + k + n_n
        self.feed_arcs = np.arange(base, base + len(self.child), dtype=np.int32)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            (first_floor + floor_local).astype(np.int32), self.child.astype(np.int32),
            np.zeros(len(self.child), dtype=np.int64), np.zeros(len(self.child), dtype=np.int64))
        self.floor_keep_arcs = np.arange(base + len(self.child), base + len(self.child) + n_f,
                                         dtype=np.int32)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            (first_floor + np.arange(n_f)).astype(np.int32), np.full(n_f, slack, dtype=np.int32),
            np.zeros(n_f, dtype=np.int64), np.zeros(n_f, dtype=np.int64))
        self.floor_local = floor_local
        self.n_arcs = len(arc_o)
        self.nodes = np.arange(k + n_n + 1 + n_f, dtype=np.int32)
        self.need_q = need_q

    def solve(self, open_opt: NDArray[np.bool_], area: NDArray[np.int64],
              floor_left: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
        """Flows per arc, unmet per need and the service cost (money per unit served and
        penalty), each open option serving at most ``area`` (its capacity or less) and the
        options of a shared floor together at most ``floor_left`` (per property)."""
        lim_o = np.where(open_opt[self.opts], np.minimum(self.cap, area[self.opts]),
                         0).astype(np.int64)
        supply_o = lim_o.copy()
        supply_o[self.child] = 0
        feed = lim_o[self.child]
        supply_f = np.minimum(np.maximum(floor_left[self.floors], 0),
                              np.bincount(self.floor_local, weights=feed,
                                          minlength=len(self.floors)).astype(np.int64))
        supplies = np.concatenate([supply_o, -self.need_q,
                                   [self.need_total - int(supply_o.sum()) - int(supply_f.sum())],
                                   supply_f]).astype(np.int64)
        self.flow.set_nodes_supplies(self.nodes, supplies)
        self.flow.set_arc_capacities(self.keep_arcs, supply_o)
        if len(self.child):
            self.flow.set_arc_capacities(self.feed_arcs, feed)
            self.flow.set_arc_capacities(self.floor_keep_arcs, supply_f)
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


class ServiceFlows:
    """The service part split by connected component of the arcs, one flow per pack.

    Flows on separate small graphs are far faster than one national graph (cost scaling is
    superlinear), and a plan change only re-solves the packs whose open options changed.
    """

    def __init__(self, arc_o: NDArray[np.int64], arc_n: NDArray[np.int64],
                 arc_lim: NDArray[np.int64], arc_cost: NDArray[np.int64],
                 opt_cap: NDArray[np.int64], need_q: NDArray[np.int64],
                 need_pen: NDArray[np.int64], opt_floor: NDArray[np.int64],
                 target_arcs: int = 4000) -> None:
        n_o, n_n = len(opt_cap), len(need_q)
        self.n_a, self.n_n = len(arc_o), n_n
        self.need_q, self.need_pen = need_q, need_pen
        # Options on one shared floor belong to one flow: link each to its floor's node.
        on_floor = np.flatnonzero(opt_floor >= 0)
        n_nodes = n_o + n_n + (int(opt_floor.max()) + 1 if len(on_floor) else 0)
        graph = sp.coo_matrix((np.ones(len(arc_o) + len(on_floor)),
                               (np.concatenate([arc_o, on_floor]),
                                np.concatenate([n_o + arc_n, n_o + n_n + opt_floor[on_floor]]))),
                              shape=(n_nodes, n_nodes))
        _, label = connected_components(graph, directed=False)
        comp_of_arc = label[arc_o]
        pack_of_comp = pack_bins(np.bincount(comp_of_arc, minlength=label.max() + 1), target_arcs)
        pack = pack_of_comp[comp_of_arc]
        self.packs: list[tuple[NDArray[np.int64], NDArray[np.int64], ServiceFlow]] = []
        self.pack_of_option = np.full(n_o, -1, dtype=np.int64)
        self.pack_of_floor = np.full(max(n_nodes - n_o - n_n, 0), -1, dtype=np.int64)
        for g in range(int(pack.max()) + 1 if len(pack) else 0):
            arcs = np.flatnonzero(pack == g)
            needs = np.unique(arc_n[arcs])
            local_n = np.searchsorted(needs, arc_n[arcs])
            flow = ServiceFlow(arc_o[arcs], local_n, arc_lim[arcs], arc_cost[arcs], opt_cap,
                                need_q[needs], need_pen[needs], opt_floor)
            self.pack_of_option[flow.opts] = g
            self.pack_of_floor[flow.floors] = g
            self.packs.append((arcs, needs, flow))
        self.y = np.zeros(self.n_a, dtype=np.int64)
        self.unmet = need_q.copy()  # needs without arcs stay unmet
        self.cost = np.zeros(len(self.packs), dtype=np.int64)
        self.lone_cost = int((need_q * need_pen).sum()) - sum(
            int((need_q[nd] * need_pen[nd]).sum()) for _, nd, _ in self.packs)
        self.open = np.zeros(n_o, dtype=bool)
        self.area = opt_cap.copy()
        self.floor_left = np.zeros(len(self.pack_of_floor), dtype=np.int64)
        self.dirty = np.ones(len(self.packs), dtype=bool)

    def solve(self, open_opt: NDArray[np.bool_], area: NDArray[np.int64],
              floor_left: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
        changed = np.flatnonzero((open_opt != self.open) | (area != self.area))
        packs = self.pack_of_option[changed]
        self.dirty[packs[packs >= 0]] = True
        left = floor_left[:len(self.floor_left)]
        packs = self.pack_of_floor[np.flatnonzero(left != self.floor_left)]
        self.dirty[packs[packs >= 0]] = True
        self.open = open_opt.copy()
        self.area = area.copy()
        self.floor_left = left.copy()
        for g in np.flatnonzero(self.dirty):
            arcs, needs, flow = self.packs[g]
            y, unmet, cost = flow.solve(open_opt, area, floor_left)
            self.y[arcs] = y
            self.unmet[needs] = unmet
            self.cost[g] = cost
        self.dirty[:] = False
        return self.y.copy(), self.unmet.copy(), int(self.cost.sum()) + self.lone_cost


