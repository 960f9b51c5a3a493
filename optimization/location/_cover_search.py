"""Large-neighbourhood search for maximal covering: regions re-solved exactly by SCIP."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimization.location._pairs import BoolArray, CandidatePairs, FloatArray, IntArray
from optimization.solver import Deadline, SolveOptions, SparseModel


class CoverNeighbourhoodSearch:
    """Large-neighbourhood search for maximal covering with exactly ``p`` open sites.

    Each step frees the sites around two seed sites (breadth-first over "shares a demand" until
    about ``k_open`` open sites are inside each region), keeps every other site as it is, and
    solves the sub-problem with SCIP (to optimality unless a 0.5 s cap stops it): choose as many
    sites among the freed ones as were open there, to cover the most weight not already covered
    by the fixed open sites. Two regions per step let sites move between distant areas. Seeds
    are two random open sites, or (in ``lp_share`` of the steps, when the LP relaxation is
    given) an open site the LP barely uses and a closed site the LP uses. A step is kept when
    the coverage rises. Regions grow after fast steps without gain and shrink after slow ones,
    so sub-problems stay small (tens of milliseconds). Work is fixed by ``max_steps`` and the
    seed; a deadline can cut it short.
    """

    #: open sites per region at the start and at most; steps faster than ``fast_s`` seconds
    #: that gain nothing grow the regions (k_max = 40 halved the steps for no better result)
    k_start = 15
    k_max = 20
    fast_s = 0.05
    #: share of steps whose two regions are picked by the LP relaxation (see ``run``)
    lp_share = 0.5
    #: steps in a row without gain after which the search stops
    max_stall = 300

    def __init__(
        self,
        pairs: CandidatePairs,
        weights: FloatArray,
        required: BoolArray,
        allowed: BoolArray,
        x_lp: FloatArray | None = None,
    ) -> None:
        self.x_lp = x_lp
        self.weights = weights
        self.required = required
        self.allowed = allowed
        self.demand_site = sp.csr_matrix(
            (np.ones(pairs.n_pairs), (pairs.demand, pairs.site)),
            shape=(pairs.n_demands, pairs.n_sites),
        )
        self.site_demand = self.demand_site.T.tocsr()
        self.near = (self.site_demand @ self.demand_site).tocsr()  # sites sharing a demand
        self.tol = 1e-9 * max(1.0, float(weights.sum()))

    def covered_weight(self, open_mask: BoolArray) -> float:
        covered = self.demand_site @ open_mask.astype(np.float64) > 0
        return float(self.weights[covered].sum())

    def _region(
        self, seed_site: int, open_mask: BoolArray, k_open: int, rng: np.random.Generator
    ) -> IntArray:
        """Sites reached breadth-first from ``seed_site`` until ``k_open`` open ones (or
        ``15 k_open`` sites) are in."""
        max_sites = 15 * k_open
        region = np.array([seed_site], dtype=np.int64)
        seen = np.zeros(self.near.shape[0], dtype=bool)
        seen[seed_site] = True
        layer = region
        while True:
            nb = np.unique(self.near[layer].indices)
            nb = nb[~seen[nb] & self.allowed[nb]]
            if nb.size == 0:
                break
            nb = rng.permutation(nb)
            room_open = k_open - int(open_mask[region].sum())
            cut = min(nb.size, max_sites - region.size)
            if room_open > 0:
                # stop inside the layer once enough open sites are in
                n_open_upto = np.cumsum(open_mask[nb])
                full = np.flatnonzero(n_open_upto >= room_open)
                if full.size:
                    cut = min(cut, int(full[0]) + 1)
            truncated = cut < nb.size
            nb = nb[:cut]
            seen[nb] = True
            region = np.r_[region, nb]
            if truncated or int(open_mask[region].sum()) >= k_open:
                break
            layer = nb
        return region

    def run(
        self,
        open_mask: BoolArray,
        seed: int,
        *,
        max_steps: int,
        deadline: Deadline,
        step_time_s: float = 0.5,
    ) -> tuple[BoolArray, dict[str, float]]:
        rng = np.random.default_rng(seed)
        best = open_mask.copy()
        best_val = self.covered_weight(best)
        start_val = best_val
        movable = ~self.required
        n_movable = int((movable & self.allowed).sum())
        k_open, steps, kept, stall = self.k_start, 0, 0, 0
        while steps < max_steps and stall < self.max_stall and deadline.left() > self.fast_s:
            steps += 1
            opens = np.flatnonzero(best & movable)
            if opens.size < 1:
                break
            if n_movable <= 2 * 15 * k_open:  # two regions could hold every site anyway
                free = np.flatnonzero(movable & self.allowed)
            else:
                closed = np.flatnonzero(~best & self.allowed)
                if self.x_lp is not None and closed.size and rng.random() < self.lp_share:
                    # one region where the plan opens what the LP would not, one where the
                    # LP opens what the plan does not
                    x_lp = np.clip(self.x_lp, 0.0, 1.0)
                    wo = 1.0 - x_lp[opens] + 1e-3
                    wc = x_lp[closed] + 1e-3
                    seeds = np.array([int(rng.choice(opens, p=wo / wo.sum())),
                                      int(rng.choice(closed, p=wc / wc.sum()))])
                else:
                    seeds = rng.choice(opens, min(2, opens.size), replace=False)
                regions = [self._region(int(s), best, k_open, rng) for s in seeds]
                free = np.unique(np.concatenate(regions))
                free = free[movable[free]]
            step = deadline.earlier(step_time_s)
            trial, optimal, wall_s = self._solve_region(best, free, step, seed + steps)
            value = self.covered_weight(trial)
            stall += 1
            if value > best_val + self.tol:
                best, best_val, kept, stall = trial, value, kept + 1, 0
            if optimal and free.size >= n_movable:
                break  # the region was the whole problem: nothing left to improve
            if not optimal or wall_s >= self.fast_s:
                k_open = max(4, int(0.8 * k_open))
            elif stall:
                k_open = min(k_open + 1, self.k_max)
        stats = {"lns_steps": steps, "lns_kept": kept, "lns_gain": best_val - start_val}
        return best, stats

    def _solve_region(
        self, open_mask: BoolArray, free: IntArray, deadline: Deadline, seed: int
    ) -> tuple[BoolArray, bool, float]:
        """Best placement of ``open_mask[free].sum()`` sites among ``free``, others fixed;
        also whether SCIP proved it optimal, and its wall time."""
        is_free = np.zeros(open_mask.size, dtype=bool)
        is_free[free] = True
        fixed_open = (open_mask & ~is_free).astype(np.float64)
        covered = self.demand_site @ fixed_open > 0
        sub = self.site_demand[free].tocoo()
        live = ~covered[sub.col]
        demands, row = np.unique(sub.col[live], return_inverse=True)
        col = sub.row[live]
        n_free, n_dem = free.size, demands.size
        count = int(open_mask[free].sum())
        m = SparseModel(sense="max")
        x0 = m.add_variables("open", n_free, integer=True)
        # z may stay continuous: with x integral, z_i = min(1, sum x) at the optimum
        z0 = m.add_variables("covered", n_dem, cost=self.weights[demands], integer=False)
        m.add_constraints(
            "cover",
            np.r_[np.arange(n_dem), row],
            np.r_[z0 + np.arange(n_dem), x0 + col],
            np.r_[np.ones(n_dem), -np.ones(col.size)],
            -np.inf,
            0.0,
            n_dem,
        )
        m.add_constraints("count", np.zeros(n_free, dtype=np.int64), x0 + np.arange(n_free), 1.0,
                          count, count, 1)
        hint = np.zeros(m.n_vars)
        hint[x0 : x0 + n_free] = open_mask[free]
        reach = np.bincount(row, weights=open_mask[free][col], minlength=n_dem)
        hint[z0:] = reach > 0
        out = m.solve(backend="scip", deadline=deadline, options=SolveOptions(seed=seed),
                      hint=hint)
        trial = open_mask.copy()
        if out.x is not None:
            trial[free] = out.x[x0 : x0 + n_free] > 0.5
        return trial, out.proven, out.wall_time_s
