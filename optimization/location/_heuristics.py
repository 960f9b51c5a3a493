"""Start solutions for the MIPs: greedy construction plus vectorised local search.

One engine serves p-median and MCLP: both minimise ``sum_i min(F_i, min_{j open} a_ij)`` over
a set of open sites, where ``a_ij`` is the weighted pair cost and ``F_i`` a per-demand fallback
(MCLP: ``a_ij = 0`` and ``F_i = w_i``, the weight left uncovered; p-median: ``F_i`` a penalty larger
than any total cost, so a demand without an open candidate is never preferred).

The interchange step evaluates every (add k, drop j) swap at once with the decomposition of
Resende and Werneck (2007): ``profit(k, j) = gain(k) - loss(j) + extra(k, j)`` where ``extra`` is
non-zero only for pairs sharing a demand, so it is a sparse matrix built with one ``bincount``.
The best swap is the better of the best sparse entry and ``max gain - min loss``. Ties break by
the lowest index, so the search is deterministic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimization.location._pairs import BoolArray, CandidatePairs, FloatArray, IntArray
from optimization.solver import Deadline

_NO_DEADLINE = Deadline(None)


class SwapEngine:
    """Greedy + 1-interchange for ``min sum_i min(F_i, min_{j open} a_ij)``.

    ``site_cost``/``budget`` restrict the open set to ``sum cost <= budget``; ``p`` fixes the
    number of open sites (``None``: any number within the budget).
    """

    def __init__(
        self,
        pairs: CandidatePairs,
        weighted_cost: FloatArray,
        fallback: FloatArray,
        *,
        p: int | None,
        required: BoolArray,
        allowed: BoolArray | None = None,
        site_cost: FloatArray | None = None,
        budget: float | None = None,
    ) -> None:
        self.pairs = pairs
        self.a = weighted_cost
        self.fallback = fallback
        self.p = p
        self.required = required
        self.allowed = np.ones(pairs.n_sites, dtype=bool) if allowed is None else allowed
        self.site_cost = site_cost
        self.budget = budget
        self.tol = 1e-9 * max(1.0, float(np.sum(fallback)))

    # ------------------------------------------------------------------ state
    def _state(self, open_mask: BoolArray) -> tuple[FloatArray, IntArray, FloatArray]:
        """Per demand: best cost d1, its site phi1 (-1 = fallback), second best d2."""
        pr = self.pairs
        n = pr.n_demands
        d1 = self.fallback.copy()
        d2 = self.fallback.copy()
        phi1 = np.full(n, -1, dtype=np.int64)
        hit = np.flatnonzero(open_mask[pr.site])
        if hit.size:
            dem = pr.demand[hit]
            new_group = np.ones(hit.size, dtype=bool)
            new_group[1:] = dem[1:] != dem[:-1]
            starts = np.flatnonzero(new_group)
            rank = np.arange(hit.size) - np.repeat(starts, np.diff(np.r_[starts, hit.size]))
            first = hit[rank == 0]
            second = hit[rank == 1]
            a1 = self.a[first]
            d_first = pr.demand[first]
            better = a1 < d1[d_first]
            d1[d_first[better]] = a1[better]
            phi1[d_first[better]] = pr.site[first[better]]
            d_second = pr.demand[second]
            d2[d_second] = np.minimum(d2[d_second], self.a[second])
        d2 = np.where(phi1 >= 0, d2, d1)
        return d1, phi1, d2

    def objective(self, open_mask: BoolArray) -> float:
        return float(self._state(open_mask)[0].sum())

    def _gain(self, d1: FloatArray) -> FloatArray:
        pr = self.pairs
        gain: FloatArray = np.bincount(
            pr.site, weights=np.maximum(0.0, d1[pr.demand] - self.a), minlength=pr.n_sites
        ).astype(np.float64)
        return gain

    # --------------------------------------------------------------- greedy
    def greedy(self, deadline: Deadline = _NO_DEADLINE) -> BoolArray | None:
        """Add the site of largest gain until ``p`` are open; when the deadline passes, the
        sites of largest gain at that point complete the set at once."""
        open_mask = self.required.copy()
        spent = float(self.site_cost[open_mask].sum()) if self.site_cost is not None else 0.0
        while self.p is None or open_mask.sum() < self.p:
            d1, _, _ = self._state(open_mask)
            gain = self._gain(d1)
            ok = ~open_mask & self.allowed
            if self.site_cost is not None and self.budget is not None:
                ok &= self.site_cost <= self.budget - spent + 1e-9
            if not ok.any():
                return None if self.p is not None else open_mask
            if self.p is None:
                # Budget only: add by gain per unit of cost while something still helps.
                if gain[ok].max() <= self.tol:
                    return open_mask
                assert self.site_cost is not None
                score = np.where(ok, gain / np.maximum(self.site_cost, 1e-12), -np.inf)
                score[ok & (self.site_cost <= 0) & (gain > self.tol)] = np.inf
            else:
                score = np.where(ok, gain, -np.inf)
                if deadline.expired() and self.site_cost is None:
                    assert self.p is not None
                    need = self.p - int(open_mask.sum())
                    top = np.lexsort((np.arange(score.size), -score))[:need]
                    if np.isfinite(score[top]).all() and top.size == need:
                        open_mask[top] = True
                        return open_mask
            k = int(np.argmax(score))
            open_mask[k] = True
            if self.site_cost is not None:
                spent += float(self.site_cost[k])
        return open_mask

    # ----------------------------------------------------------- local search
    def improve(self, open_mask: BoolArray, max_iter: int = 100_000,
                deadline: Deadline = _NO_DEADLINE) -> tuple[BoolArray, int]:
        """Best-improvement 1-interchange (plus free additions when ``p`` is None), until no
        swap gains, ``max_iter`` swaps or the deadline."""
        pr = self.pairs
        open_mask = open_mask.copy()
        n_sites = pr.n_sites
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
            if deadline.expired():
                break
            d1, phi1, d2 = self._state(open_mask)
            gain = self._gain(d1)
            can_add = ~open_mask & self.allowed
            gain_add = np.where(can_add, gain, -np.inf)
            slack = None
            if self.site_cost is not None and self.budget is not None:
                slack = self.budget - float(self.site_cost[open_mask].sum()) + 1e-9
            if self.p is None and slack is not None:
                assert self.site_cost is not None
                add_ok = can_add & (self.site_cost <= slack) & (gain > self.tol)
                if add_ok.any():
                    open_mask[int(np.argmax(np.where(add_ok, gain, -np.inf)))] = True
                    continue
            has = phi1 >= 0
            loss = np.bincount(phi1[has], weights=(d2 - d1)[has], minlength=n_sites)
            loss_drop = np.where(open_mask & ~self.required, loss, np.inf)
            if not np.isfinite(loss_drop).any() or not np.isfinite(gain_add).any():
                break
            # extra(k, j) for pairs (i, k) whose demand i is served by j = phi1[i]
            dem = pr.demand
            m = has[dem] & (self.a < d2[dem]) & can_add[pr.site]
            k_idx = pr.site[m]
            j_idx = phi1[dem[m]]
            val = d2[dem[m]] - np.maximum(self.a[m], d1[dem[m]])
            key, inv = np.unique(k_idx * n_sites + j_idx, return_inverse=True)
            extra = np.bincount(inv, weights=val, minlength=key.size)
            ek, ej = key // n_sites, key % n_sites
            if slack is None:
                best = gain_add.max() - loss_drop.min()
                bk, bj = int(np.argmax(gain_add)), int(np.argmin(loss_drop))
                if extra.size:
                    prof = gain_add[ek] - loss_drop[ej] + extra
                    q = int(np.argmax(prof))
                    if prof[q] > best:
                        best, bk, bj = float(prof[q]), int(ek[q]), int(ej[q])
            else:
                assert self.site_cost is not None
                adds = np.flatnonzero(np.isfinite(gain_add))
                drops = np.flatnonzero(np.isfinite(loss_drop))
                prof2 = gain_add[adds][:, None] - loss_drop[drops][None, :]
                pos_a = np.full(n_sites, -1)
                pos_a[adds] = np.arange(adds.size)
                pos_d = np.full(n_sites, -1)
                pos_d[drops] = np.arange(drops.size)
                ok = (pos_a[ek] >= 0) & (pos_d[ej] >= 0)
                np.add.at(prof2, (pos_a[ek[ok]], pos_d[ej[ok]]), extra[ok])
                fits = self.site_cost[adds][:, None] - self.site_cost[drops][None, :] <= slack
                prof2 = np.where(fits, prof2, -np.inf)
                q = int(np.argmax(prof2))
                qa, qd = divmod(q, drops.size)
                best, bk, bj = float(prof2[qa, qd]), int(adds[qa]), int(drops[qd])
            if not best > self.tol:
                break
            open_mask[bj] = False
            open_mask[bk] = True
        return open_mask, it

    def perturb_search(
        self, open_mask: BoolArray, seed: int, n_iter: int, deadline: Deadline
    ) -> tuple[BoolArray, int]:
        """Iterated local search with local kicks, for ``p``-fixed runs without a budget.

        Each kick closes 1-3 open sites around a random open site and opens as many closed
        sites that share demands with it, then ``improve`` runs again; the result is kept when
        it is better. Coverage and distance effects are local, so local kicks waste far fewer
        iterations than random ones (benchmarks/RESULTS.md). ``n_iter`` fixes the work, so a
        run is reproducible for a given ``seed`` unless the deadline cuts it first.
        """
        pr = self.pairs
        n_s = pr.n_sites
        incidence = sp.csr_matrix(
            (np.ones(pr.n_pairs), (pr.demand, pr.site)), shape=(pr.n_demands, n_s)
        )
        near = (incidence.T @ incidence).tocsr()  # sites sharing at least one demand
        rng = np.random.default_rng(seed)
        best = open_mask.copy()
        best_val = self.objective(best)
        movable = ~self.required & self.allowed
        done = 0
        for done in range(1, n_iter + 1):  # noqa: B007 - the count is returned
            if deadline.expired():
                break
            candidates = np.flatnonzero(best & movable)
            if candidates.size == 0:
                break
            j0 = int(rng.choice(candidates))
            nb = near.indices[near.indptr[j0] : near.indptr[j0 + 1]]
            nb_open = nb[best[nb] & movable[nb]]
            nb_closed = nb[~best[nb] & self.allowed[nb]]
            r = int(min(rng.integers(1, 4), nb_open.size, nb_closed.size))
            if r == 0:
                continue
            trial = best.copy()
            trial[rng.choice(nb_open, r, replace=False)] = False
            trial[rng.choice(nb_closed, r, replace=False)] = True
            trial, _ = self.improve(trial, deadline=deadline)
            value = self.objective(trial)
            if value < best_val - self.tol:
                best, best_val = trial, value
        return best, done


def greedy_cover(
    pairs: CandidatePairs,
    required: BoolArray,
    site_cost: FloatArray | None,
    allowed: BoolArray | None = None,
    *,
    deadline: Deadline = _NO_DEADLINE,
) -> BoolArray | None:
    """Greedy set cover (cost per newly covered demand), then drop redundant sites.

    Returns ``None`` when some demand has no allowed candidate. ``pairs`` are the covering
    pairs (already cut to the radius). When the deadline passes, each demand still uncovered
    opens its first usable candidate, so the cover is complete (if poorer).
    """
    n_sites = pairs.n_sites
    cost = np.ones(n_sites) if site_cost is None else site_cost
    allowed = np.ones(n_sites, dtype=bool) if allowed is None else allowed
    usable = allowed[pairs.site] | required[pairs.site]
    dem, site = pairs.demand[usable], pairs.site[usable]
    if np.unique(dem).size < pairs.n_demands:
        return None
    open_mask = required.copy()
    covered = np.zeros(pairs.n_demands, dtype=bool)
    covered[dem[open_mask[site]]] = True
    while not covered.all():
        if deadline.expired():
            first = np.r_[True, dem[1:] != dem[:-1]] & ~covered[dem]
            open_mask[site[first]] = True
            break
        live = ~covered[dem]
        count = np.bincount(site[live], minlength=n_sites).astype(float)
        score = np.where(count > 0, cost / np.maximum(count, 1.0), np.inf)
        k = int(np.argmin(score))
        open_mask[k] = True
        covered[dem[site == k]] = True
    return drop_redundant(pairs, open_mask, required, cost)


def drop_redundant(
    pairs: CandidatePairs, open_mask: BoolArray, required: BoolArray, cost: FloatArray
) -> BoolArray:
    """Close open sites, costliest first, whose every demand is covered by another open site."""
    open_mask = open_mask.copy()
    cover_count = np.bincount(pairs.demand[open_mask[pairs.site]], minlength=pairs.n_demands)
    candidates = np.flatnonzero(open_mask & ~required)
    for j in candidates[np.lexsort((candidates, -cost[candidates]))]:
        dem_j = pairs.demand[pairs.site == j]
        if np.all(cover_count[dem_j] >= 2):
            open_mask[j] = False
            cover_count[dem_j] -= 1
    return open_mask


def pad_to(open_mask: BoolArray, p: int, preferred: FloatArray | None = None) -> BoolArray:
    """Open further sites (lowest ``preferred`` score, then lowest index) until ``p`` are open."""
    open_mask = open_mask.copy()
    need = p - int(open_mask.sum())
    if need > 0:
        closed = np.flatnonzero(~open_mask)
        if preferred is not None:
            closed = closed[np.argsort(preferred[closed], kind="stable")]
        open_mask[closed[:need]] = True
    return open_mask


def pmedian_lagrangian(
    pairs: CandidatePairs,
    weighted_cost: FloatArray,
    p: int,
    required: BoolArray,
    upper_bound: float,
    *,
    max_iter: int = 5_000,
    deadline: Deadline = _NO_DEADLINE,
    every: int = 10,
) -> tuple[float, int, list[BoolArray]]:
    """Lower bound for the uncapacitated p-median on sparse pairs by Lagrangian relaxation.

    Relaxing ``sum_j y_ij = 1`` with multipliers ``l_i`` leaves, per site,
    ``rho_j = sum_i min(0, a_ij - l_i)``; the relaxed optimum opens the required sites and the
    ``p - |required|`` other sites with the smallest ``rho_j``, so
    ``L(l) = sum_i l_i + sum_{j open} rho_j`` is a valid bound for every ``l`` (weak duality).
    Deflected subgradient ascent (Camerini-Fratta-Maffioli: each direction adds half the
    previous one, which damps the zigzag of plain steps; Held-Wolfe-Crowder step lengths
    towards ``upper_bound``, halved after 30 steps without a better bound), all numpy.
    Returns the best bound, the number of iterations (the deadline may stop the ascent: the
    best value so far is a bound all the same) and the relaxed open sets of every ``every``-th
    iteration: starts for the swap search (Beasley's Lagrangian heuristic), much better than
    greedy ones because the multipliers price every demand at once.
    """
    n_d, n_s = pairs.n_demands, pairs.n_sites
    dem, site, a = pairs.demand, pairs.site, weighted_cost
    lam = np.zeros(n_d)
    np.maximum.at(lam, dem, a)  # start: each demand's dearest candidate (all y attractive)
    smallest = np.full(n_d, np.inf)
    np.minimum.at(smallest, dem, a)
    lam = 0.5 * (lam + smallest)
    free = np.flatnonzero(~required)
    n_free = p - int(required.sum())
    best = -np.inf
    theta, stall = 2.0, 0
    direction = np.zeros(n_d)
    it = 0
    starts: list[BoolArray] = []
    for it in range(1, max_iter + 1):
        if deadline.expired():
            break
        red = np.minimum(0.0, a - lam[dem])
        rho = np.bincount(site, weights=red, minlength=n_s)
        opened = required.copy()
        if 0 < n_free < free.size:
            opened[free[np.argpartition(rho[free], n_free - 1)[:n_free]]] = True
        elif n_free > 0:
            opened[free] = True
        value = float(lam.sum() + rho[opened].sum())
        if it % every == 0:
            starts.append(opened)
        if not np.isfinite(best) or value > best + 1e-12 * max(1.0, abs(best)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 30:
                theta, stall = theta / 2, 0
        if theta < 1e-5 or upper_bound - best <= 1e-9 * max(1.0, abs(upper_bound)):
            break
        used = opened[site] & (red < 0)
        grad = 1.0 - np.bincount(dem[used], minlength=n_d)
        if not grad.any():
            break  # the relaxed solution is feasible: the bound is exact
        direction = grad + 0.5 * direction
        lam = lam + theta * (upper_bound - value) / float(direction @ direction) * direction
    return best, it, starts
