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


#: the share of candidate entries below which a dense matrix is read by ``np.nonzero`` and its
#: pairs sorted (about 0.8 us a pair); above it, each row is argsorted (about 45 ns an entry).
_SPARSE_SHARE = 1 / 16


def pairs_from_matrix(cost_matrix: object, radius: float | None = None) -> CandidatePairs:
    """Dense ``n_demands x n_sites`` matrix to pairs sorted by (demand, cost, site).

    ``inf`` entries mean 'not a candidate'; NaN and negative entries (``-inf`` too) are errors.
    With ``radius`` only the entries ``<= radius`` become pairs (spopt's coverage rule
    ``d_ij <= S``): the matrix is filtered first, so a national matrix (33 M entries, 72 k
    within 10 km) costs a mask and a sort of the survivors. A matrix cannot hold a pair twice,
    so no duplicate check is needed. Same result as ``make_pairs`` on the finite entries,
    followed by ``.within(radius)``.
    """
    m = np.asarray(cost_matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"cost_matrix must be 2-D, got shape {m.shape}")
    n_d, n_s = m.shape
    if n_d < 1 or n_s < 1:
        raise ValueError(f"need at least one demand and one site, got {n_d} x {n_s}")
    n_nan = int(np.count_nonzero(np.isnan(m)))
    if n_nan:
        raise ValueError(f"cost_matrix holds {n_nan} NaN values")
    low = float(m.min())
    if low < 0:
        raise ValueError(f"cost must be non-negative, found {low} in cost_matrix")
    keep = np.isfinite(m) if radius is None else m <= radius
    n_keep = int(np.count_nonzero(keep))
    if n_keep <= _SPARSE_SHARE * m.size:
        dem, site, cost = _sorted_nonzero(m, keep)
    else:
        dem, site, cost = _sorted_rows(m if radius is None else np.where(keep, m, np.inf), keep)
    return CandidatePairs(dem, site, cost, n_d, n_s)


def _sorted_nonzero(m: FloatArray, keep: BoolArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Few candidates: ``np.nonzero`` lists them by (demand, site); a stable sort by (demand,
    cost) then leaves equal costs in site order."""
    dem, site = np.nonzero(keep)
    cost = m[dem, site]
    order = np.lexsort((cost, dem))
    return (
        dem[order].astype(np.int64, copy=False),
        site[order].astype(np.int64, copy=False),
        cost[order],
    )


def _sorted_rows(cm: FloatArray, keep: BoolArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Many candidates: argsort each row (non-candidates are ``inf`` in ``cm``, so they sort
    last) and keep each row's candidate prefix. The fast sort is not stable, so runs of equal
    costs are put back in site order afterwards (or, when ties are common, the rows re-sorted
    stably)."""
    n_d, n_s = cm.shape
    counts = keep.sum(axis=1)
    prefix = np.arange(n_s) < counts[:, None]
    order = np.argsort(cm, axis=1)
    sc = np.take_along_axis(cm, order, axis=1)
    tie = np.zeros_like(prefix)
    tie[:, 1:] = (sc[:, 1:] == sc[:, :-1]) & prefix[:, 1:]
    n_tie = int(np.count_nonzero(tie))
    if n_tie * 8 > max(int(counts.sum()), 1):
        order = np.argsort(cm, axis=1, kind="stable")
        sc = np.take_along_axis(cm, order, axis=1)
    elif n_tie:
        member = tie.copy()
        member[:, :-1] |= tie[:, 1:]  # the first entry of each run of equal costs too
        flat_member = member.reshape(-1)
        idx = np.flatnonzero(flat_member)
        run = np.cumsum(flat_member & ~tie.reshape(-1))[idx]
        flat_order = order.reshape(-1)
        sub = flat_order[idx]
        flat_order[idx] = sub[np.lexsort((sub, run))]
    order = order.astype(np.int64, copy=False)
    if int(counts.min()) == n_s:  # every entry a candidate: the sorted rows are the pairs
        dem = np.broadcast_to(np.arange(n_d, dtype=np.int64)[:, None], (n_d, n_s))
        return dem.reshape(-1), order.reshape(-1), sc.reshape(-1)
    dem = np.repeat(np.arange(n_d, dtype=np.int64), counts)
    return dem, order[prefix], sc[prefix]


def check_radius(service_radius: float) -> float:
    """A finite, non-negative service radius."""
    r = float(service_radius)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"service_radius must be finite and non-negative, got {service_radius}")
    return r


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
    """spopt's ``predefined_facilities_arr`` as a mask of the required sites.

    Two forms are accepted, as in spopt:

    - a 0/1 (or bool) mask with one entry per site (``[0, 1, 0]``: site 1 is required);
    - the indices of the required sites, of any length other than ``n_sites``: integers,
      distinct, in ``[0, n_sites)`` (``[1]``, or ``[]`` for none).

    An array with exactly ``n_sites`` entries is always read as a mask, so an integer array of
    length ``n_sites`` holding only 0 and 1 is a mask, never the indices 0 and 1; one of that
    length holding other values is refused (to require every site, pass ``np.ones(n_sites)``).
    """
    if predefined_facilities_arr is None:
        return np.zeros(n_sites, dtype=bool)
    arr = np.asarray(predefined_facilities_arr).reshape(-1)
    if arr.size == n_sites:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(
                f"predefined_facilities_arr has n_sites={n_sites} entries, so it is read as a "
                "0/1 mask, but it holds other values; give fewer indices or a 0/1 mask"
            )
        return arr.astype(bool)
    if arr.dtype == np.bool_:
        raise ValueError(
            f"predefined_facilities_arr as a bool mask needs n_sites={n_sites} entries, "
            f"got {arr.size}"
        )
    idx = _as_index_array(arr, "predefined_facilities_arr", n_sites)
    if np.unique(idx).size != idx.size:
        raise ValueError("predefined_facilities_arr holds a site index more than once")
    mask = np.zeros(n_sites, dtype=bool)
    mask[idx] = True
    return mask
