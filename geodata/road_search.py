"""Shortest road distance and fastest time of candidate pairs on a :class:`RoadGraph`.

Bounded multi-source Dijkstra (``scipy.sparse.csgraph``) from batches of nearby sources, each
batch on the part of the network within reach of its limit; batches run side by side in
forked worker processes when ``workers`` > 1 (the graph is shared, not copied).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from geodata.distances import haversine_km
from geodata.roads import ACCESS_SPEED_KMH, DEFAULT_BATCH_BYTES, RoadGraph

_MAX_LIMIT = 1e9  # minutes; past this a time search runs unbounded


def pair_travel(graph: RoadGraph, origin_node: ArrayLike, dest_node: ArrayLike,
                origin_snap_km: ArrayLike, dest_snap_km: ArrayLike, pairs_origin: ArrayLike,
                pairs_dest: ArrayLike, *, max_km: float | None = None,
                access_speed_kmh: float = ACCESS_SPEED_KMH,
                batch_bytes: int = DEFAULT_BATCH_BYTES,
                progress: Callable[[int, int], None] | None = None,
                workers: int = 1) -> pd.DataFrame:
    """Shortest road distance and fastest time of candidate pairs.

    ``origin_node`` / ``dest_node`` (one per point, from :func:`snap`; -1 = off the network)
    and ``*_snap_km`` describe the points; ``pairs_origin`` / ``pairs_dest`` are positions
    into them, one per pair. ``distance_km`` is the shortest path on ``length_km`` plus both
    snap distances; ``minutes`` is the fastest path on ``minutes`` plus the snap distances at
    ``access_speed_kmh``. A pair is ``reachable`` when both points are on the network, a path
    exists and (with ``max_km``) its distance_km is at most ``max_km``; other pairs have NaN
    distance and minutes. ``max_km`` bounds the searches, which is what makes national runs
    fast; the minutes stay exact fastest times (see :func:`_search`).

    Sources are the unique nodes of the side with fewer of them (destinations are searched on
    the reversed graph), in batches whose dense result (batch x n_nodes float64) fits in
    ``batch_bytes``. ``progress(done, total)`` is called after each batch; ``workers`` > 1
    runs batches side by side in that many forked processes (each holds one batch's dense
    result, so peak memory grows by ``batch_bytes`` per worker).
    """
    o_node, d_node = np.asarray(origin_node, np.int64), np.asarray(dest_node, np.int64)
    o_snap, d_snap = np.asarray(origin_snap_km, float), np.asarray(dest_snap_km, float)
    p_o, p_d = np.asarray(pairs_origin, np.int64), np.asarray(pairs_dest, np.int64)
    if o_node.shape != o_snap.shape or d_node.shape != d_snap.shape:
        raise ValueError("one node and one snap distance per point")
    if p_o.shape != p_d.shape or p_o.ndim != 1:
        raise ValueError("pairs_origin and pairs_dest must be 1-d of the same length")
    for name, p, n_pts in (("pairs_origin", p_o, o_node.size), ("pairs_dest", p_d, d_node.size)):
        if p.size and (p.min() < 0 or p.max() >= n_pts):
            raise ValueError(f"{name} must be positions in [0, {n_pts})")
    for name, nodes in (("origin_node", o_node), ("dest_node", d_node)):
        if nodes.size and nodes.max() >= graph.n_nodes:
            raise ValueError(f"{name} has node indices >= n_nodes ({graph.n_nodes})")
    for name, s in (("origin_snap_km", o_snap), ("dest_snap_km", d_snap)):
        if not (np.isfinite(s).all() and (s >= 0).all()):
            raise ValueError(f"{name} must be finite and >= 0")
    if max_km is not None and not max_km >= 0:
        raise ValueError(f"max_km must be >= 0 or None, got {max_km}")
    if not access_speed_kmh > 0 or not batch_bytes > 0:
        raise ValueError("access_speed_kmh and batch_bytes must be > 0")

    src, tgt = o_node[p_o], d_node[p_d]
    snap_km = o_snap[p_o] + d_snap[p_d]
    on_net = (src >= 0) & (tgt >= 0)
    length, minutes = graph.length_km, graph.minutes
    if np.unique(tgt[on_net]).size < np.unique(src[on_net]).size:
        src, tgt = tgt, src
        length, minutes = graph._reversed
    net_km, net_min = _search(graph, length, minutes, src, tgt, on_net, snap_km, max_km,
                              batch_bytes, progress, workers)
    distance_km = net_km + snap_km
    reachable = np.isfinite(net_km) & np.isfinite(net_min)
    if max_km is not None:
        reachable &= distance_km <= max_km
    return pd.DataFrame({
        "pair": np.arange(p_o.size, dtype=np.int64),
        "distance_km": np.where(reachable, distance_km, np.nan),
        "minutes": np.where(reachable, net_min + 60.0 * snap_km / access_speed_kmh, np.nan),
        "reachable": reachable,
    })


def _search(graph: RoadGraph, length: csr_array, minutes: csr_array, src: NDArray[np.int64],
            tgt: NDArray[np.int64], active: NDArray[np.bool_], snap_km: NDArray[np.float64],
            max_km: float | None, batch_bytes: int,
            progress: Callable[[int, int], None] | None, workers: int = 1
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Network km and minutes of each pair (inf when not found), batch by batch of sources.

    Distance searches stop at ``max_km``. The time search of a batch starts with the limit
    max(km) x 60 / median speed and is repeated, with the limit doubled, for the sources whose
    pairs are still unsettled: a pair found within a limit has its exact fastest time, and one
    with a finite distance is connected, so every such pair is settled after a few rounds.

    Sources are grouped by cells of the search radius, and a group searches only the nodes
    within great-circle reach of it (``RoadGraph.within``: half the distance limit plus half
    the farthest pair, or the same with the time limit at the fastest edge speed), when no
    edge is shorter than its great circle: the same answer as on the whole graph, for the cost
    of the neighbourhood.
    """
    km = np.full(src.size, np.inf)
    mins = np.full(src.size, np.inf)
    act = np.flatnonzero(active)
    if act.size == 0:
        return km, mins
    uniq, inv_act = np.unique(src[act], return_inverse=True)
    local, vmax = graph._bounds
    km_limit = np.inf if max_km is None else float(max_km)
    # Spatial order of the sources: cells about the size of the search radius.
    # (At least 20 km: a smaller cell costs more in batches than it saves in searching.)
    cell_km = max(km_limit, 20.0) if local and np.isfinite(km_limit) else 1e9
    lat = graph.node_lat[uniq]
    cy = np.floor(lat * 111.2 / cell_km)
    cx = np.floor(graph.node_lon[uniq] * 111.2 * np.cos(np.radians(lat)) / cell_km)
    order = np.lexsort((uniq, cx, cy))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    inv = np.full(src.size, -1, dtype=np.int64)
    inv[act] = rank[inv_act]  # pair -> row of its source in uniq[order]
    uniq = uniq[order]
    by_row = act[np.argsort(inv[act], kind="stable")]
    cell = (cy * 4_000_003 + cx)[order]
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    s_, t_ = np.maximum(src, 0), np.maximum(tgt, 0)
    pair_gc = haversine_km(graph.node_lon[s_], graph.node_lat[s_], graph.node_lon[t_],
                           graph.node_lat[t_])
    row_cut = np.searchsorted(inv[by_row], np.arange(uniq.size + 1))
    job = _Job(graph, length, minutes, uniq, inv, tgt, snap_km, pair_gc, km_limit, max_km,
               batch_bytes, local, vmax)
    plan: list[tuple[int, int, NDArray[np.int64] | None, NDArray[np.int64]]] = []
    for first, end in zip(starts.tolist(), np.r_[starts[1:], uniq.size].tolist(),
                          strict=True):
        mine = by_row[row_cut[first]:row_cut[end]]
        nodes = graph.within(uniq[first:end], job.reach(km_limit, mine)) if local else None
        size = graph.n_nodes if nodes is None else nodes.size
        rows = max(1, int(batch_bytes // (8 * max(size, 1))))
        plan += [(b, min(b + rows, end), nodes, by_row[row_cut[b]:row_cut[min(b + rows, end)]])
                 for b in range(first, end, rows)]
    global _JOB
    _JOB = job
    try:
        if workers > 1 and len(plan) > 1 and "fork" in multiprocessing.get_all_start_methods():
            # Forked workers share the graph and the job (copy on write); only the batches'
            # small answers travel back.
            with ProcessPoolExecutor(min(workers, len(plan)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                results = pool.map(_run_batch, plan, chunksize=1)
                for b, (sel, k, m) in enumerate(results):
                    km[sel], mins[sel] = k, m
                    if progress is not None:
                        progress(b + 1, len(plan))
        else:
            for b, batch in enumerate(plan):
                sel, k, m = _run_batch(batch)
                km[sel], mins[sel] = k, m
                if progress is not None:
                    progress(b + 1, len(plan))
    finally:
        _JOB = None
    return km, mins


class _Job:
    """What every batch of one search reads (set before workers fork)."""

    def __init__(self, graph: RoadGraph, length: csr_array, minutes: csr_array,
                 uniq: NDArray[np.int64], inv: NDArray[np.int64], tgt: NDArray[np.int64],
                 snap_km: NDArray[np.float64], pair_gc: NDArray[np.float64], km_limit: float,
                 max_km: float | None, batch_bytes: int, local: bool, vmax: float) -> None:
        self.graph, self.length, self.minutes = graph, length, minutes
        self.uniq, self.inv, self.tgt, self.snap_km = uniq, inv, tgt, snap_km
        self.pair_gc, self.km_limit, self.max_km = pair_gc, km_limit, max_km
        self.batch_bytes, self.local, self.vmax = batch_bytes, local, vmax

    def reach(self, limit: float, pairs: NDArray[np.int64]) -> float:
        """Great-circle radius around the sources that holds every path of cost <= ``limit``
        (in km) of ``pairs``: a node v on one has gc(s, v) + gc(v, t) <= limit, hence
        gc(s, v) <= (limit + gc(s, t)) / 2."""
        gc = float(self.pair_gc[pairs].max()) if pairs.size else 0.0
        return (limit + min(gc, limit)) / 2


_JOB: _Job | None = None


def _run_batch(batch: tuple[int, int, NDArray[np.int64] | None, NDArray[np.int64]]
               ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Distance, then time, of the pairs ``sel`` whose sources are rows lo..hi."""
    lo, hi, nodes, sel = batch
    job = _JOB
    assert job is not None
    graph, inv, tgt = job.graph, job.inv, job.tgt
    km = _bounded(job.length, nodes, job.uniq[lo:hi], inv[sel] - lo, tgt[sel], job.km_limit)
    mins = np.full(sel.size, np.inf)
    need = np.flatnonzero(np.isfinite(km))
    if job.max_km is not None:
        need = need[km[need] + job.snap_km[sel[need]] <= job.max_km]
    limit = np.inf if job.max_km is None or need.size == 0 else max(
        float(km[need].max()) * 60.0 / graph.median_speed_kmh, 1e-6)
    while need.size:
        rows = inv[sel[need]]
        row_ids = np.unique(rows)
        t_nodes = (graph.within(job.uniq[row_ids], job.reach(limit * job.vmax / 60.0,
                                                              sel[need]))
                   if job.local else None)
        size = graph.n_nodes if t_nodes is None else t_nodes.size
        step = max(1, int(job.batch_bytes // (8 * max(size, 1))))
        val = np.full(need.size, np.inf)
        row_of = np.searchsorted(row_ids, rows)
        for c in range(0, row_ids.size, step):
            part = (row_of >= c) & (row_of < c + step)
            val[part] = _bounded(job.minutes, t_nodes, job.uniq[row_ids[c:c + step]],
                                 row_of[part] - c, tgt[sel[need[part]]], limit)
        got = np.isfinite(val)
        mins[need[got]] = val[got]
        need = need[~got]
        if need.size and limit == np.inf:
            raise RuntimeError("time search did not settle pairs that have a road distance")
        limit = limit * 2 if limit * 2 < _MAX_LIMIT else np.inf
    return sel, km, mins


def _bounded(matrix: csr_array, nodes: NDArray[np.int64] | None, sources: NDArray[np.int64],
             row: NDArray[np.int64], target: NDArray[np.int64], limit: float
             ) -> NDArray[np.float64]:
    """Bounded Dijkstra from ``sources`` on ``matrix`` (restricted to ``nodes`` when given);
    the cost to ``target[i]`` from source ``row[i]``, inf beyond the limit."""
    if nodes is None:
        dist = dijkstra(matrix, directed=True, indices=sources, limit=limit)
        return np.asarray(dist[row, target])
    # The subgraph on ``nodes``: their rows, with columns outside dropped (O(its edges), not
    # O(graph) as column fancy-indexing is).
    ptr = matrix.indptr
    lo, hi = ptr[nodes].astype(np.int64), ptr[nodes + 1].astype(np.int64)
    count = hi - lo
    at = np.repeat(lo - np.r_[0, np.cumsum(count)[:-1]], count) + np.arange(int(count.sum()))
    col = np.searchsorted(nodes, matrix.indices[at])
    col = np.minimum(col, nodes.size - 1)
    inside = nodes[col] == matrix.indices[at]
    row_of = np.repeat(np.arange(nodes.size), count)[inside]
    sub = csr_array((matrix.data[at][inside], col[inside],
                     np.r_[0, np.cumsum(np.bincount(row_of, minlength=nodes.size))]),
                    shape=(nodes.size, nodes.size))
    dist = dijkstra(sub, directed=True, indices=np.searchsorted(nodes, sources), limit=limit)
    pos = np.minimum(np.searchsorted(nodes, target), nodes.size - 1)
    inside = nodes[pos] == target
    return np.where(inside, dist[row, pos], np.inf)
