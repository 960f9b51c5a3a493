"""Service arcs: option -> need pairs within the use's radius (and province), with their
costs per unit served."""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimization.disposition.common import N_SERVICE
from optimization.disposition.state import DispositionState


class _Arcs(DispositionState):
    """The sparse service arcs of the model."""

    def define_arcs(self) -> None:
        """Service arcs option -> need for pairs within the use's radius (and province)."""
        props = self.properties
        svc = np.flatnonzero((self.opt_u < N_SERVICE) & (self.opt_cap > 0))
        p_of = pd.DataFrame({"property_id": props["property_id"].to_numpy()[self.opt_p[svc]],
                             "o": svc, "u": self.opt_u[svc]})
        needs = pd.DataFrame({"commune_code": self.needs["commune_code"].to_numpy(),
                              "u": self.need_u, "n": np.arange(self.n_n)})
        arcs = p_of.merge(self.pairs, on="property_id").merge(needs, on=["commune_code", "u"])
        o_a = arcs["o"].to_numpy(dtype=np.int64)
        n_a = arcs["n"].to_numpy(dtype=np.int64)
        km = arcs["distance_km"].to_numpy(dtype=float)
        u_a = self.opt_u[o_a]
        keep = self.in_reach(km, arcs.get("minutes"), u_a)
        cross = self._across(self.opt_p[o_a], n_a)
        if self.same_province:
            keep &= ~cross
        order = np.lexsort((n_a[keep], o_a[keep]))
        self.arc_o = o_a[keep][order]
        self.arc_n = n_a[keep][order]
        self.arc_km = km[keep][order]
        self.arc_lim = np.minimum(self.opt_cap[self.arc_o], self.need_q[self.arc_n])
        self.arc_cost_vnd = self._unit_cost_vnd(self.arc_km, self.opt_u[self.arc_o],
                                            cross[keep][order])
        self.n_a = len(self.arc_o)

    def in_reach(self, km: NDArray[np.float64], minutes: pd.Series | None,
                 use: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Pairs within the use's radius and, where the use has one, its travel time."""
        keep = km <= self.radius_km[use]
        timed = ~np.isnan(self.radius_min[use])
        if timed.any():
            mins = (np.full(len(km), np.nan) if minutes is None
                    else minutes.to_numpy(dtype=float))
            keep &= ~timed | (mins <= self.radius_min[use])
        return np.asarray(keep, dtype=bool)

    def _across(self, prop: NDArray[np.int64], need: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether property ``prop`` and need ``need`` lie in different provinces."""
        if not (self.same_province or self.cross_province_penalty_vnd > 0):
            return np.zeros(len(prop), dtype=bool)
        return np.asarray(self.properties["province_code"].to_numpy()[prop]
                          != self.needs["province_code"].to_numpy()[need], dtype=bool)

    def _unit_cost_vnd(self, km: NDArray[np.float64], use: NDArray[np.int64],
                       cross: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Whole VND per unit served: round(t_u km) + round(kappa) across a border."""
        travel = np.rint(km * np.nan_to_num(self.travel_cost_vnd_per_unit_km[use]))
        return (travel.astype(np.int64)
                + np.where(cross, int(round(self.cross_province_penalty_vnd)), 0))
