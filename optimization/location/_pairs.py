"""Sparse candidate pairs (demand, site, cost): the one internal representation of every model.

Dense cost matrices are converted here, so dense and sparse inputs share a single code path.
Pairs are stored sorted by (demand, cost, site) with a CSR-style ``indptr`` over demands, which
makes "nearest open site of each demand" a vectorised first-hit search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CandidatePairs:
    """Candidate (demand, site) pairs with their cost (km or any non-negative unit)."""

    demand: IntArray
    site: IntArray
    cost: FloatArray
    n_demands: int
    n_sites: int

    @property
    def n_pairs(self) -> int:
        return int(self.demand.size)

    @property
    def indptr(self) -> IntArray:
        """Start of each demand's pairs (length ``n_demands + 1``)."""
        counts = np.bincount(self.demand, minlength=self.n_demands)
        out = np.zeros(self.n_demands + 1, dtype=np.int64)
        np.cumsum(counts, out=out[1:])
        return out

    def pairs_per_demand(self) -> IntArray:
        return np.bincount(self.demand, minlength=self.n_demands).astype(np.int64)

    def within(self, radius: float) -> CandidatePairs:
        """The pairs with ``cost <= radius`` (spopt's coverage rule ``d_ij <= S``)."""
        keep = self.cost <= radius
        return CandidatePairs(
            self.demand[keep], self.site[keep], self.cost[keep], self.n_demands, self.n_sites
        )

    def nearest_open(self, open_mask: BoolArray) -> tuple[IntArray, FloatArray]:
        """Per demand, the cheapest open candidate site (-1 / inf when none).

        Pairs are sorted by (demand, cost, site), so the first open pair of each demand is its
        nearest open site, ties broken by the lowest site index.
        """
        site = np.full(self.n_demands, -1, dtype=np.int64)
        cost = np.full(self.n_demands, np.inf)
        hit = np.flatnonzero(open_mask[self.site])
        if hit.size:
            dem = self.demand[hit]
            first = np.ones(hit.size, dtype=bool)
            first[1:] = dem[1:] != dem[:-1]
            site[dem[first]] = self.site[hit[first]]
            cost[dem[first]] = self.cost[hit[first]]
        return site, cost

    def dominated_sites(self, site_cost: FloatArray | None = None) -> BoolArray:
        """Sites whose demands another site also reaches, at no higher ``site_cost``.

        Site j is dominated by k when ``N(j) <= N(k)`` (as demand sets) and ``f_k <= f_j``, ties
        (equal sets and costs) going to the lower index, so exactly one site of each class of
        equals survives and every dominated site has an undominated dominator. Sites without
        pairs are dominated whenever any site has pairs. One sparse product ``A A^T`` counts the
        shared demands of every site pair, so no loop over sites is needed.
        """
        n_s = self.n_sites
        incidence = sp.csr_matrix(
            (np.ones(self.n_pairs), (self.site, self.demand)), shape=(n_s, self.n_demands)
        )
        size = np.bincount(self.site, minlength=n_s)
        shared = (incidence @ incidence.T).tocoo()
        j, k, both = shared.row, shared.col, shared.data
        cost = np.zeros(n_s) if site_cost is None else site_cost
        tie = (size[k] == size[j]) & (cost[k] == cost[j])
        beats = (size[k] > size[j]) | (cost[k] < cost[j]) | (tie & (k < j))
        by = (j != k) & (both == size[j]) & (cost[k] <= cost[j]) & beats
        dominated = np.zeros(n_s, dtype=bool)
        dominated[j[by]] = True
        if size.any():
            # an empty site is dominated by a non-empty one only if that one costs no more
            cheapest = float(cost[size > 0].min())
            dominated |= (size == 0) & (cost >= cheapest)
        return dominated

    def lookup(self, demand: IntArray, site: IntArray) -> FloatArray:
        """Cost of the given (demand, site) pairs; NaN where the pair is not a candidate."""
        key = self.demand * self.n_sites + self.site
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        q = np.asarray(demand, dtype=np.int64) * self.n_sites + np.asarray(site, dtype=np.int64)
        pos = np.searchsorted(sorted_key, q)
        pos_c = np.minimum(pos, max(sorted_key.size - 1, 0))
        found = (
            (pos < sorted_key.size) & (sorted_key[pos_c] == q)
            if sorted_key.size
            else (np.zeros(q.size, dtype=bool))
        )
        out = np.full(q.size, np.nan)
        out[found] = self.cost[order[pos_c[found]]]
        return out


def _as_index_array(values: object, name: str, upper: int) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    if out.size and (out.min() < 0 or out.max() >= upper):
        raise ValueError(f"{name} holds indices outside [0, {upper}): {out.min()}..{out.max()}")
    return out


def make_pairs(
    demand_index: object,
    site_index: object,
    cost: object,
    *,
    n_demands: int,
    n_sites: int,
) -> CandidatePairs:
    """Validate and sort candidate pairs. NaN or negative costs and duplicate pairs are errors."""
    if n_demands < 1 or n_sites < 1:
        raise ValueError(f"need at least one demand and one site, got {n_demands} x {n_sites}")
    dem = _as_index_array(demand_index, "demand_index", n_demands)
    site = _as_index_array(site_index, "site_index", n_sites)
    c = np.asarray(cost, dtype=np.float64)
    if not (dem.shape == site.shape == c.shape):
        raise ValueError(
            f"demand_index, site_index and cost differ in length: {dem.size}, {site.size}, {c.size}"
        )
    if not np.all(np.isfinite(c)):
        raise ValueError(f"cost holds {int((~np.isfinite(c)).sum())} NaN or infinite values")
    if c.size and c.min() < 0:
        raise ValueError(f"cost must be non-negative, found {c.min()}")
    order = np.lexsort((site, c, dem))
    dem, site, c = dem[order], site[order], c[order]
    key = dem * n_sites + site
    if np.unique(key).size != key.size:
        raise ValueError("duplicate (demand, site) pairs in the candidate list")
    return CandidatePairs(dem, site, c, int(n_demands), int(n_sites))


def pairs_from_matrix(cost_matrix: object) -> CandidatePairs:
    """Dense matrix to pairs; ``inf`` entries mean 'not a candidate', NaN is an error."""
    m = np.asarray(cost_matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"cost_matrix must be 2-D, got shape {m.shape}")
    if np.isnan(m).any():
        raise ValueError(f"cost_matrix holds {int(np.isnan(m).sum())} NaN values")
    dem, site = np.nonzero(np.isfinite(m))
    return make_pairs(dem, site, m[dem, site], n_demands=m.shape[0], n_sites=m.shape[1])


def as_weights(weights: object, n: int, name: str = "weights") -> FloatArray:
    """Non-negative finite per-demand weights; ``None`` means 1 for every demand."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != n:
        raise ValueError(f"{name} has {w.size} entries for {n} demands")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} holds {int((~np.isfinite(w)).sum())} NaN or infinite values")
    if w.size and w.min() < 0:
        raise ValueError(f"{name} must be non-negative, found {w.min()}")
    return w


def as_site_values(values: object, n_sites: int, name: str) -> FloatArray | None:
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != n_sites:
        raise ValueError(f"{name} has {v.size} entries for {n_sites} sites")
    if not np.all(np.isfinite(v)) or (v.size and v.min() < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return v


def as_required_mask(predefined_facilities_arr: object, n_sites: int) -> BoolArray:
    """spopt's ``predefined_facilities_arr``: a 0/1 (or bool) array of length ``n_sites``."""
    if predefined_facilities_arr is None:
        return np.zeros(n_sites, dtype=bool)
    arr = np.asarray(predefined_facilities_arr).reshape(-1)
    if arr.size != n_sites:
        raise ValueError(
            f"predefined_facilities_arr must be a 0/1 mask of length n_sites={n_sites}, "
            f"got {arr.size} entries"
        )
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("predefined_facilities_arr must hold only 0/1 (or bool) values")
    return arr.astype(bool)
