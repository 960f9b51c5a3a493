"""Seats: which old buildings each new commune keeps besides its main seat."""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import pandas as pd

from optimization.location._base import LocationModel
from optimization.location._pairs import BoolArray, FloatArray, make_pairs
from optimization.result import SolutionCheckError
from optimization.solver import TOL, Deadline, SolveOptions, SparseModel

ROLES = ("main_seat", "annex", "service_point")
# A kept building with at least this floor area is an annex (room for departments).
ANNEX_MIN_FLOOR_AREA_M2 = 500.0


def seat_roles(is_main: np.ndarray, floor_area_m2: np.ndarray,
               annex_min_floor_area_m2: float = ANNEX_MIN_FLOOR_AREA_M2) -> np.ndarray:
    """The role of a kept building: its unit's main seat, an annex, or a service point."""
    return np.where(is_main, "main_seat", np.where(
        floor_area_m2 >= annex_min_floor_area_m2, "annex", "service_point"))


class SeatsModel(LocationModel):
    r"""Keep the buildings that bring every former commune within reach and house the staff,
    at the least cost.

    All new units are solved in one model (they share nothing, so the MIP decomposes and SCIP's
    presolve sees it). Candidates are the buildings inside each unit; the main seat is fixed
    open. A former commune (or part of one) is *served* when a kept building of its own unit
    lies within ``max_service_km``; otherwise its population pays a penalty::

        minimise    sum_j f_j x_j + sum_i P w_i u_i + sum_c R s_c
        subject to  sum_{j in N_i} x_j + u_i >= 1      for every area i       (serve)
                    sum_{j in B_c} a_j x_j + s_c >= d_c for every unit c       (office)
                    x_j = 1                            for every main seat j  (main)
                    x_j = 1                            for every j the planner keeps
                    x_j, u_i in {0, 1}; s_c integer in [0, d_c]

    ============  ======================================================================
    symbol        meaning
    ============  ======================================================================
    N_i           buildings of the same unit within ``max_service_km`` of area i (pairs)
    f_j           yearly upkeep of building j (``upkeep_cost_vnd``), VND
    P             ``penalty_vnd_per_person``: yearly cost of a person left out of reach, VND
    w_i           population of area i (people)
    x_j           building j kept
    u_i           area i out of reach of every kept building
    B_c           the buildings of unit c other than its main seat
    a_j           floor area of building j, whole m2 (it houses offices when kept)
    d_c           office area unit c lacks in its main seat (staff x norm - main seat), m2
    R             ``office_rent_vnd_per_m2_year``: yearly cost of a m2 of office lacking
    s_c           office area still lacking after the kept buildings, m2
    ============  ======================================================================

    Objective in VND per year (integers in, and s_c whole at any optimum since a_j and d_c are
    whole m2, so SCIP's bound is rounded up to an integer). The
    main seats' upkeep is a constant and is counted. Start: a vectorised greedy that, in every
    unit at once, keeps the building with the largest positive net saving until none is left;
    SCIP (via the shared location machinery) then proves the bound. Roles: the main seat;
    a kept building with at least ``annex_min_floor_area_m2`` of floor area is an ``annex``
    (room for departments), a smaller one a ``service_point``.

    Results: ``kept`` (property_id, commune_code, role), ``surplus`` (property_id,
    commune_code), ``office`` (commune_code, office_deficit_m2, kept_floor_area_m2,
    office_shortfall_m2), ``coverage`` (area_id, commune_code, population, property_id of the
    nearest kept building within reach or None, distance_km, served).
    """

    sense = "min"
    model_name = "Seats"

    def __init__(self, buildings: pd.DataFrame, areas: pd.DataFrame, pairs: pd.DataFrame,
                 max_service_km: float, penalty_vnd_per_person: float,
                 annex_min_floor_area_m2: float = ANNEX_MIN_FLOOR_AREA_M2,
                 office_deficit_m2: pd.Series | None = None,
                 office_rent_vnd_per_m2_year: float = 0.0) -> None:
        self.buildings = buildings
        self.areas = areas
        self.max_service_km = float(max_service_km)
        self.penalty_vnd_per_person = float(penalty_vnd_per_person)
        self.annex_min_floor_area_m2 = float(annex_min_floor_area_m2)
        cand = make_pairs(pairs["area"].to_numpy(), pairs["building"].to_numpy(),
                          pairs["distance_km"].to_numpy(dtype=float), n_demands=len(areas),
                          n_sites=len(buildings))
        self.main = buildings["is_main_seat"].to_numpy(dtype=bool)
        pinned = (buildings["keep_required"].to_numpy(dtype=bool) if "keep_required" in buildings
                  else np.zeros(len(buildings), dtype=bool))
        super().__init__(cand.within(self.max_service_km),
                         areas["population"].to_numpy(dtype=float), self.main | pinned, "seats")
        self.upkeep = buildings["upkeep_cost_vnd"].to_numpy(dtype=float)
        self.unit_codes, self.site_unit = _units(buildings["commune_code"])
        deficit = (office_deficit_m2 if office_deficit_m2 is not None else pd.Series(dtype=float))
        self.deficit = np.ceil(deficit.reindex(self.unit_codes).fillna(0.0).to_numpy(
            dtype=float))
        floor = (buildings["floor_area_m2"].to_numpy(dtype=float)
                 if "floor_area_m2" in buildings else np.zeros(len(buildings)))
        self.office_floor = np.where(self.main, 0.0, np.floor(floor))
        self.rent = float(office_rent_vnd_per_m2_year)
        self.penalty = self.penalty_vnd_per_person * self.weights
        self.kept = pd.DataFrame(columns=["property_id", "commune_code", "role"])
        self.surplus = pd.DataFrame(columns=["property_id", "commune_code"])
        self.coverage = pd.DataFrame()
        self.office = pd.DataFrame()

    @classmethod
    def from_frames(cls, buildings: pd.DataFrame, areas: pd.DataFrame, pairs: pd.DataFrame, *,
                    max_service_km: float, penalty_vnd_per_person: float,
                    annex_min_floor_area_m2: float = ANNEX_MIN_FLOOR_AREA_M2,
                    office_deficit_m2: pd.Series | None = None,
                    office_rent_vnd_per_m2_year: float = 0.0) -> SeatsModel:
        """``buildings``: property_id, commune_code, is_main_seat, upkeep_cost_vnd (>= 0) and
        optionally floor_area_m2 and keep_required (kept whatever it costs: a planner's
        decision). ``areas``: area_id, commune_code, population (>= 0). ``pairs``:
        area_id, property_id, distance_km (only pairs of the same unit count; others are an
        error). Exactly one main seat per unit that has areas. ``office_deficit_m2``: per unit
        code, the office area its main seat lacks against the norm (m2, >= 0); the other kept
        buildings' floor areas cover it, what is left costs ``office_rent_vnd_per_m2_year``
        per m2."""
        b, a = buildings, areas
        _require(b, "buildings", ["property_id", "commune_code", "is_main_seat", "upkeep_cost_vnd"])
        _require(a, "areas", ["area_id", "commune_code", "population"])
        _require(pairs, "pairs", ["area_id", "property_id", "distance_km"])
        if not (math.isfinite(max_service_km) and max_service_km > 0):
            raise ValueError(f"max_service_km must be positive and finite, got {max_service_km}")
        if not (math.isfinite(penalty_vnd_per_person) and penalty_vnd_per_person >= 0):
            raise ValueError("penalty_vnd_per_person must be finite and >= 0")
        if not (math.isfinite(office_rent_vnd_per_m2_year) and office_rent_vnd_per_m2_year >= 0):
            raise ValueError("office_rent_vnd_per_m2_year must be finite and >= 0")
        if office_deficit_m2 is not None:
            d = office_deficit_m2.to_numpy(dtype=float)
            if not np.isfinite(d).all() or (d < 0).any():
                raise ValueError("office_deficit_m2 must be finite and >= 0")
        for frame, name, col in ((b, "buildings", "upkeep_cost_vnd"),
                                 (a, "areas", "population"), (pairs, "pairs", "distance_km")):
            v = frame[col].to_numpy(dtype=float)
            if not np.isfinite(v).all() or (v < 0).any():
                raise ValueError(f"{name}.{col} must be finite and >= 0")
        for frame, name, col in ((b, "buildings", "property_id"), (a, "areas", "area_id")):
            if frame[col].duplicated().any():
                raise ValueError(f"{name}.{col} has duplicates, e.g. "
                                 f"{frame[col][frame[col].duplicated()].iloc[0]!r}")
        mains = b[b["is_main_seat"].astype(bool)].groupby("commune_code").size()
        units = pd.Index(a["commune_code"].unique())
        missing = units.difference(mains.index)
        if len(missing):
            raise ValueError(f"{len(missing)} unit(s) have areas but no main seat, e.g. "
                             f"{missing[0]!r}")
        several = mains[mains > 1]
        if len(several):
            raise ValueError(f"unit {several.index[0]!r} has {int(several.iloc[0])} main seats")
        bi = pd.Index(b["property_id"]).get_indexer(pairs["property_id"])
        ai = pd.Index(a["area_id"]).get_indexer(pairs["area_id"])
        if (bi < 0).any() or (ai < 0).any():
            raise ValueError("pairs name an unknown area_id or property_id")
        other_unit = b["commune_code"].to_numpy()[bi] != a["commune_code"].to_numpy()[ai]
        if other_unit.any():
            raise ValueError(f"{int(other_unit.sum())} pair(s) join an area to a building of "
                             "another unit")
        p = pd.DataFrame({"area": ai, "building": bi,
                          "distance_km": pairs["distance_km"].to_numpy(dtype=float)})
        return cls(b.reset_index(drop=True), a.reset_index(drop=True), p, max_service_km,
                   penalty_vnd_per_person, annex_min_floor_area_m2, office_deficit_m2,
                   office_rent_vnd_per_m2_year)

    # --------------------------------------------------------------------------- MIP
    def _define(self, m: SparseModel) -> None:
        pr = self.pairs
        n_s, n_d = self.n_sites, self.n_demands
        self._x0 = m.add_variables("keep", n_s, lb=self.required.astype(float), cost=self.upkeep,
                                   integer=True)
        self._u0 = m.add_variables("unserved", n_d, cost=self.penalty, integer=True)
        m.add_constraints("serve", np.r_[np.arange(n_d), pr.demand],
                          np.r_[self._u0 + np.arange(n_d), self._x0 + pr.site],
                          1.0, 1.0, np.inf, n_d)
        n_c = len(self.unit_codes)
        self._s0 = m.add_variables("rented_m2", n_c, ub=self.deficit, cost=self.rent,
                                   integer=True)
        j = np.flatnonzero(self.office_floor > 0)
        m.add_constraints("office", np.r_[self.site_unit[j], np.arange(n_c)],
                          np.r_[self._x0 + j, self._s0 + np.arange(n_c)],
                          np.r_[self.office_floor[j], np.ones(n_c)], self.deficit, np.inf, n_c)

    def _heuristic(self, seed: int, deadline: Deadline) -> BoolArray | None:
        """Greedy by net saving, all units at once; then drop buildings that no longer pay."""
        pr = self.pairs
        site_unit = self.site_unit
        keep = self.required.copy()
        while True:
            served = self._served(keep)
            lacking = self._shortfall(keep)[site_unit]
            gain = np.bincount(pr.site, weights=np.where(served[pr.demand], 0.0,
                                                         self.penalty[pr.demand]),
                               minlength=self.n_sites) - self.upkeep \
                + self.rent * np.minimum(self.office_floor, lacking)
            gain[keep] = -np.inf
            if not (gain > TOL).any():
                break
            # The best positive candidate of every unit (lowest index on ties).
            order = np.lexsort((np.arange(self.n_sites), -gain, site_unit))
            first = order[np.r_[True, site_unit[order][1:] != site_unit[order][:-1]]]
            keep[first[gain[first] > TOL]] = True
        for j in np.flatnonzero(keep & ~self.required):  # few kept buildings: one pass is cheap
            trial = keep.copy()
            trial[j] = False
            if self._cost(trial) < self._cost(keep) - TOL:
                keep = trial
        return keep

    def _served(self, keep: BoolArray) -> BoolArray:
        return np.bincount(self.pairs.demand, weights=keep[self.pairs.site],
                           minlength=self.n_demands) > 0

    def _shortfall(self, keep: BoolArray) -> FloatArray:
        """Office area each unit still lacks with the buildings ``keep`` (m2)."""
        housed = np.bincount(self.site_unit, weights=self.office_floor * keep,
                             minlength=len(self.unit_codes))
        return np.asarray(np.maximum(self.deficit - housed, 0.0), dtype=float)

    def _cost(self, keep: BoolArray) -> float:
        return float(self.upkeep[keep].sum() + self.penalty[~self._served(keep)].sum()
                     + self.rent * self._shortfall(keep).sum())

    def _hint(self, open_mask: BoolArray) -> FloatArray:
        hint = np.zeros(self._s0 + len(self.unit_codes))
        hint[self._x0:self._x0 + self.n_sites] = open_mask
        hint[self._u0:self._u0 + self.n_demands] = ~self._served(open_mask)
        hint[self._s0:] = self._shortfall(open_mask)
        return hint

    def _evaluate(self, open_mask: BoolArray, values: FloatArray | None
                  ) -> tuple[float, pd.DataFrame]:
        site, cost = self.pairs.nearest_open(open_mask)
        frame = self._assignment_frame(site, cost, {"covered": site >= 0})
        return self._cost(open_mask), frame

    def _check(self, open_mask: BoolArray, frame: pd.DataFrame) -> float:
        site = frame["site"].to_numpy(dtype=np.int64)
        covered = frame["covered"].to_numpy(dtype=bool)
        if not np.array_equal(covered, site >= 0):
            raise SolutionCheckError("Seats: 'covered' disagrees with the assigned building")
        if np.any(frame["cost"].to_numpy(dtype=float)[covered] > self.max_service_km + 1e-9):
            raise SolutionCheckError("Seats: an area counted as served is beyond max_service_km")
        reach, _ = self.pairs.nearest_open(open_mask)
        if np.any((reach >= 0) != covered):
            raise SolutionCheckError("Seats: an area within reach of a kept building is not "
                                     "counted as served (or the reverse)")
        return float(self.upkeep[open_mask].sum() + self.penalty[~covered].sum()
                     + self.rent * self._shortfall(open_mask).sum())

    # ------------------------------------------------------------------------ results
    def solve(self, options: SolveOptions | None = None, **overrides: Any) -> Self:
        super().solve(options, **overrides)
        self._write_results()
        return self

    def _write_results(self) -> None:
        if not self.info.status.has_solution:
            return
        keep = np.zeros(self.n_sites, dtype=bool)
        keep[self.selected_sites] = True
        b = self.buildings
        floor = (b["floor_area_m2"].to_numpy(dtype=float) if "floor_area_m2" in b
                 else np.zeros(len(b)))
        role = seat_roles(self.main, floor, self.annex_min_floor_area_m2)
        self.kept = pd.DataFrame({"property_id": b["property_id"].to_numpy()[keep],
                                  "commune_code": b["commune_code"].to_numpy()[keep],
                                  "role": role[keep]})
        self.surplus = pd.DataFrame({"property_id": b["property_id"].to_numpy()[~keep],
                                     "commune_code": b["commune_code"].to_numpy()[~keep]})
        self.office = pd.DataFrame({
            "commune_code": self.unit_codes, "office_deficit_m2": self.deficit,
            "kept_floor_area_m2": np.bincount(self.site_unit, weights=self.office_floor * keep,
                                              minlength=len(self.unit_codes)),
            "office_shortfall_m2": self._shortfall(keep)})
        a = self.assignment
        site = a["site"].to_numpy(dtype=np.int64)
        self.coverage = pd.DataFrame({
            "area_id": self.areas["area_id"].to_numpy(),
            "commune_code": self.areas["commune_code"].to_numpy(),
            "population": self.weights,
            "property_id": np.where(site >= 0, b["property_id"].to_numpy()[np.maximum(site, 0)],
                                    None),
            "distance_km": a["cost"].to_numpy(dtype=float),
            "served": site >= 0,
        })

    def check_solution(self) -> Self:
        """Recompute every constraint and the objective (see LocationModel.check_solution),
        then check the result frames against the selection."""
        super().check_solution()
        keep = np.zeros(self.n_sites, dtype=bool)
        keep[self.selected_sites] = True
        if set(self.kept["property_id"]) != set(self.buildings["property_id"][keep]):
            raise SolutionCheckError("Seats: 'kept' differs from the selected buildings")
        if len(self.kept) + len(self.surplus) != self.n_sites or set(
                self.kept["property_id"]) & set(self.surplus["property_id"]):
            raise SolutionCheckError("Seats: every building must be kept or surplus, once")
        mains = self.kept[self.kept["role"] == "main_seat"]
        if not mains["commune_code"].is_unique or len(mains) != int(self.main.sum()):
            raise SolutionCheckError("Seats: each unit keeps exactly its main seat")
        o = self.office
        housed = o["kept_floor_area_m2"].to_numpy(dtype=float)
        if not (np.allclose(housed, np.bincount(self.site_unit, weights=self.office_floor * keep,
                                                minlength=len(self.unit_codes)))
                and np.allclose(o["office_shortfall_m2"], np.maximum(self.deficit - housed, 0))):
            raise SolutionCheckError("Seats: office shortfall differs from the kept buildings")
        return self


def _units(commune: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unit codes (in order of appearance) and each building's unit index."""
    index, codes = pd.factorize(commune)
    return np.asarray(codes, dtype=object), np.asarray(index, dtype=np.int64)


def _require(df: pd.DataFrame, name: str, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; has {list(df.columns)}")
    na = [c for c in cols if df[c].isna().any()]
    if na:
        raise ValueError(f"{name} has missing values (NaN) in {na}")

