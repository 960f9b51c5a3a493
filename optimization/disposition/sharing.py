"""Shared buildings: up to ``max_uses_per_property`` public uses in one building.

A property with a shared floor F (``shared_floor_m2`` > 0) may open several service options
at once instead of one. An option with a fixed floor (``floor_m2_fixed``: a public-service
point's rooms) occupies that floor when open; every other service option of the property
takes one m2 of F per unit it serves (its capacity is in m2 of that floor). So

    1 <= sum_{o service} x_o + N sum_{o other} x_o <= N           (one use, or up to N public)
    sum_{o on the floor} z_o + sum_{o fixed floor} f_o x_o <= F    (areas within the floor)

with N = ``max_uses_per_property`` on a shared property and 1 elsewhere (the usual one-use
row). Sale, transfer and hold still take the whole property. A fixed public use (a planner's
decision) is open and is the property's choice; other public uses may share its floor.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from optimization.disposition.common import N_SERVICE, CandidatePlan, first_of_groups
from optimization.disposition.state import DispositionState
from optimization.result import InfeasibleInputError

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]


class _Sharing(DispositionState):
    """Arrays, rows and plan helpers of shared buildings."""

    def define_sharing(self) -> None:
        """The floor each property shares (0: one use only), the number of uses it may take,
        the floor each option occupies when open, and which options draw on the floor per
        unit they serve."""
        floor = self.properties["shared_floor_m2"].to_numpy(dtype=np.int64)
        self.prop_floor = floor if self.max_uses > 1 else np.zeros(self.n_p, dtype=np.int64)
        self.prop_uses = np.where(self.prop_floor > 0, self.max_uses, 1).astype(np.int64)
        shared = (self.opt_u < N_SERVICE) & (self.prop_floor[self.opt_p] > 0)
        fixed_floor = self.options["floor_m2_fixed"].to_numpy(dtype=np.int64)
        self.opt_floor_fixed = np.where(shared, fixed_floor, 0).astype(np.int64)
        self.opt_on_floor = shared & (self.opt_floor_fixed == 0)
        too_big = self.opt_floor_fixed > self.prop_floor[self.opt_p]
        if too_big.any():
            i = int(np.flatnonzero(too_big)[0])
            raise InfeasibleInputError(
                f"property {self.properties['property_id'].iloc[self.opt_p[i]]!r}: an option "
                f"occupies {int(self.opt_floor_fixed[i]):,} m2, more than the "
                f"{int(self.prop_floor[self.opt_p[i]]):,} m2 it shares")

    def define_floor_constraints(self) -> None:
        """sum z (options on the floor) + sum f x (fixed floors) <= F per shared property."""
        shared_p = np.flatnonzero(self.prop_floor > 0)
        row_of = np.full(self.n_p, -1, dtype=np.int64)
        row_of[shared_p] = np.arange(len(shared_p))
        z_on = np.flatnonzero(self.opt_on_floor[self.area_opts])
        x_fix = np.flatnonzero(self.opt_floor_fixed > 0)
        self.mip.add_constraints(
            "floor", np.concatenate([row_of[self.opt_p[self.area_opts[z_on]]],
                                     row_of[self.opt_p[x_fix]]]),
            np.concatenate([self.col_z + z_on, x_fix]),
            np.concatenate([np.ones(len(z_on)), self.opt_floor_fixed[x_fix]]),
            -np.inf, self.prop_floor[shared_p], len(shared_p))
        self.floor_props = shared_p

    def _floor_left(self, open_opt: Bools, area: Ints | None = None) -> Ints:
        """Per property the shared floor left after the fixed floors of its open options
        (and, given ``area``, after the areas its open options take)."""
        used = np.bincount(self.opt_p, weights=self.opt_floor_fixed * open_opt,
                           minlength=self.n_p)
        if area is not None:
            used += np.bincount(self.opt_p, weights=np.where(open_opt & self.opt_on_floor,
                                                             area, 0), minlength=self.n_p)
        return (self.prop_floor - used).astype(np.int64)

    def _split_open(self, on: Ints, choice: Ints, extra: Bools) -> tuple[Ints, Bools]:
        """``choice`` and ``extra`` with the properties of options ``on`` (a solver's open
        options) set to exactly those: the first of each property is its choice, any others
        open beside it."""
        choice, extra = choice.copy(), extra.copy()
        if len(on) == 0:
            return choice, extra
        on = np.sort(on)
        touched = np.zeros(self.n_p, dtype=bool)
        touched[self.opt_p[on]] = True
        extra[touched[self.opt_p]] = False
        first = first_of_groups(on, self.opt_p)
        choice[self.opt_p[first]] = first
        extra[on] = True
        extra[first] = False
        return self._fixed_first(choice, extra)

    def _fixed_first(self, choice: Ints, extra: Bools) -> tuple[Ints, Bools]:
        """A property's fixed use is its choice; the public uses it shares are extra."""
        p = np.flatnonzero((self.fixed_opt >= 0) & (choice != self.fixed_opt))
        p = p[extra[self.fixed_opt[p]]]
        if len(p) == 0:
            return choice, extra
        choice, extra = choice.copy(), extra.copy()
        extra[choice[p]] = True
        extra[self.fixed_opt[p]] = False
        choice[p] = self.fixed_opt[p]
        return choice, extra

    def _addable(self, plan: CandidatePlan) -> Bools:
        """Service options that could open beside the plan's uses of their property: it is
        shared and serves a public use, has fewer than its limit of uses, and floor left."""
        return self._addable_arrays(plan.choice, plan.extra, plan.area)

    def _addable_arrays(self, choice: Ints, extra: Bools, area: Ints) -> Bools:
        is_open = extra.copy()
        is_open[choice] = True
        count = np.bincount(self.opt_p, weights=is_open, minlength=self.n_p)
        left = self._floor_left(is_open, area)
        p = self.opt_p
        return ((self.opt_u < N_SERVICE) & ~is_open & (self.prop_floor[p] > 0)
                & (self.opt_u[choice[p]] < N_SERVICE) & (count[p] < self.prop_uses[p])
                & (left[p] >= np.maximum(self.opt_floor_fixed, 1)))

    def _canonical(self, plan: CandidatePlan) -> CandidatePlan:
        """The same plan with each shared property's choice the open option that serves
        most (ties: the first use) or its fixed use, the others extra."""
        if not plan.extra.any():
            return plan
        is_open = plan.open_options()
        ranked = np.flatnonzero(is_open)
        ranked = ranked[np.lexsort((ranked, -plan.area[ranked], self.opt_p[ranked]))]
        first = first_of_groups(ranked, self.opt_p)
        choice = plan.choice.copy()
        choice[self.opt_p[first]] = first
        extra = is_open.copy()
        extra[choice] = False
        choice, extra = self._fixed_first(choice, extra)
        return CandidatePlan(choice, plan.area, plan.y, plan.unmet, plan.objective, extra,
                             plan.source, plan.history)
