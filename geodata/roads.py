"""Road network from OpenStreetMap: shortest road distance and fastest car time between points.

The graph is read once from a ``.osm.pbf`` (or ``.osm`` / ``.osm.xml``) extract with pyosmium,
then every step is whole-array numpy / scipy: segment lengths by haversine, edges deduplicated
into two directed CSR matrices (``length_km`` and ``minutes``), points snapped to the nearest
routable node with a k-d tree; :mod:`geodata.road_search` answers candidate pairs with
``scipy.sparse.csgraph.dijkstra`` run from batches of unique source nodes.

Speeds (km/h) by OSM ``highway`` class, :data:`SPEED_KMH`; a numeric ``maxspeed`` may lower a
way's speed, never raise it. Any other ``highway`` value (footway, path, steps, cycleway,
pedestrian, construction, proposed, ...) is not usable by car and is ignored. Ways tagged
``route=ferry`` run at :data:`FERRY_SPEED_KMH` and add :data:`FERRY_WAIT_MIN` once per ferry way
(on its first segment, in both directions). Not modelled: access restrictions (``access``,
``motor_vehicle``), turn restrictions, traffic, time-dependent one-ways.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geodata.distances import EARTH_RADIUS_KM, _chord_to_km, _unit_xyz, haversine_km

_BASE_SPEED_KMH = {
    "motorway": 80.0, "trunk": 60.0, "primary": 50.0, "secondary": 40.0, "tertiary": 35.0,
    "unclassified": 30.0, "residential": 25.0, "service": 15.0, "track": 15.0,
    "living_street": 15.0,
}
_LINKED = ("motorway", "trunk", "primary", "secondary", "tertiary")

#: Car speed in km/h by OSM ``highway`` value; ``*_link`` roads run at their parent's speed.
SPEED_KMH: Mapping[str, float] = MappingProxyType(
    {**_BASE_SPEED_KMH, **{f"{k}_link": _BASE_SPEED_KMH[k] for k in _LINKED}})
FERRY_SPEED_KMH = 20.0  # crossing speed of a ``route=ferry`` way
FERRY_WAIT_MIN = 30.0  # waiting and boarding, once per ferry way
ACCESS_SPEED_KMH = 15.0  # from a point to its snapped node (walk, moto on a lane): km -> minutes
DEFAULT_BATCH_BYTES = 512 * 2**20  # dense Dijkstra result of one batch of source nodes

_FORWARD, _BACKWARD, _BOTH = 1, 2, 3
_YES = frozenset({"yes", "true", "1"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$")
_UNDEFINED_COORD = 2**31 - 1  # osmium's x/y of a node whose location is not in the file


def _group_min(values: NDArray[np.float64], starts: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.minimum.reduceat(values, starts) if starts.size else values[:0]


def parse_maxspeed_kmh(value: str | None) -> float:
    """A numeric ``maxspeed`` tag in km/h ("50", "50 km/h", "30 mph"); NaN when not numeric."""
    m = _MAXSPEED.match(value) if value else None
    if m is None:
        return float("nan")
    speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
    return speed if speed > 0 else float("nan")


def _direction(oneway: str | None, junction: str | None, highway: str | None) -> int:
    if oneway in _YES:
        return _FORWARD
    if oneway == "-1":
        return _BACKWARD
    if oneway == "no":
        return _BOTH
    implied = junction == "roundabout" or highway == "motorway"
    return _FORWARD if implied else _BOTH


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road graph on a compact node index 0..n-1.

    ``length_km`` and ``minutes`` are n x n CSR matrices with the same sparsity pattern: entry
    (i, j) is the edge i -> j (the shorter, resp. faster, of parallel edges). ``osm_node_id``
    is -1 for graphs not read from OSM.
    """

    node_lon: NDArray[np.float64]
    node_lat: NDArray[np.float64]
    osm_node_id: NDArray[np.int64]
    length_km: csr_array
    minutes: csr_array

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.size)

    @property
    def n_edges(self) -> int:
        return int(self.length_km.nnz)

    @classmethod
    def from_edges(cls, lon: ArrayLike, lat: ArrayLike, tail: ArrayLike, head: ArrayLike,
                   length_km: ArrayLike, minutes: ArrayLike,
                   osm_node_id: ArrayLike | None = None) -> RoadGraph:
        """Graph from node coordinates and directed edges tail -> head (indices into lon/lat).

        Self-loops are dropped; of parallel edges the minimum length and the minimum minutes
        are kept (each on its own, since the two are searched separately).
        """
        lon_a = np.asarray(lon, dtype=float)
        lat_a = np.asarray(lat, dtype=float)
        n = lon_a.size
        if lat_a.shape != lon_a.shape or lon_a.ndim != 1:
            raise ValueError("lon and lat must be 1-d arrays of the same length")
        _unit_xyz(lon_a, lat_a)  # raises on NaN / infinite coordinates
        t, h = np.asarray(tail, dtype=np.int64), np.asarray(head, dtype=np.int64)
        km, mins = np.asarray(length_km, dtype=float), np.asarray(minutes, dtype=float)
        if not t.shape == h.shape == km.shape == mins.shape or t.ndim != 1:
            raise ValueError("tail, head, length_km and minutes must be 1-d, same length")
        if t.size and (min(t.min(), h.min()) < 0 or max(t.max(), h.max()) >= n):
            raise ValueError(f"edge endpoints must be node indices in [0, {n})")
        for name, w in (("length_km", km), ("minutes", mins)):
            if not (np.isfinite(w).all() and (w >= 0).all()):
                raise ValueError(f"{name} must be finite and >= 0")
        ids = (np.full(n, -1, dtype=np.int64) if osm_node_id is None
               else np.asarray(osm_node_id, dtype=np.int64))
        if ids.shape != (n,):
            raise ValueError("osm_node_id must have one id per node")
        keep = t != h
        t, h, km, mins = t[keep], h[keep], km[keep], mins[keep]
        # Sorting by tail * n + head gives canonical CSR order and groups parallel edges.
        key = t * n + h
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else key
        km_min, min_min = _group_min(km[order], starts), _group_min(mins[order], starts)
        tails, heads = key[starts] // max(n, 1), key[starts] % max(n, 1)
        # int32 indices when they fit: csgraph copies int64 index arrays on every call.
        itype = np.int32 if max(n, heads.size) < 2**31 - 1 else np.int64
        heads = heads.astype(itype)
        indptr = np.r_[0, np.cumsum(np.bincount(tails, minlength=n))].astype(itype)
        # scipy's csgraph treats explicit zeros in a sparse matrix as edges (zero-length links
        # between distinct nodes at one location stay connected).
        length = csr_array((km_min, heads, indptr), shape=(n, n))
        time = csr_array((min_min, heads.copy(), indptr.copy()), shape=(n, n))
        return cls(lon_a, lat_a, ids, length, time)

    @cached_property
    def routable(self) -> NDArray[np.bool_]:
        """Nodes with at least one edge in or out: the only snap candidates."""
        out_deg = np.diff(self.length_km.indptr)
        in_deg = np.bincount(self.length_km.indices, minlength=self.n_nodes)
        return np.asarray((out_deg + in_deg) > 0)

    @cached_property
    def _snap_tree(self) -> tuple[cKDTree, NDArray[np.int64]]:
        candidates = np.flatnonzero(self.routable).astype(np.int64)
        if candidates.size == 0:
            raise ValueError("the road graph has no edges: nothing to snap to")
        xyz = _unit_xyz(self.node_lon[candidates], self.node_lat[candidates])
        return cKDTree(xyz), candidates

    @cached_property
    def _reversed(self) -> tuple[csr_array, csr_array]:
        # Searching from destinations on the reversed graph gives the same pair costs.
        return csr_array(self.length_km.T.tocsr()), csr_array(self.minutes.T.tocsr())

    @cached_property
    def _bounds(self) -> tuple[bool, float]:
        """Whether no edge is shorter than the great circle between its ends, and the fastest
        edge speed (km/h of great circle per minute): what makes a search local."""
        coo = self.length_km.tocoo()
        gc = haversine_km(self.node_lon[coo.row], self.node_lat[coo.row],
                          self.node_lon[coo.col], self.node_lat[coo.col])
        no_shortcut = bool((coo.data >= gc * (1 - 1e-9) - 1e-9).all())
        t = self.minutes.tocoo()
        gc_t = haversine_km(self.node_lon[t.row], self.node_lat[t.row],
                            self.node_lon[t.col], self.node_lat[t.col])
        if (gc_t[t.data <= 0] > 0).any():
            return no_shortcut, np.inf
        moving = t.data > 0
        vmax = float((60.0 * gc_t[moving] / t.data[moving]).max()) if moving.any() else 0.0
        return no_shortcut, vmax

    def within(self, sources: NDArray[np.int64], radius_km: float) -> NDArray[np.int64] | None:
        """Sorted routable nodes within ``radius_km`` (great circle) of some source, or None
        when the ball is most of the graph (search it whole). A search bounded by a road
        distance of ``radius_km`` from those sources never leaves this set."""
        if not np.isfinite(radius_km) or sources.size == 0:
            return None
        tree, candidates = self._snap_tree
        xyz = _unit_xyz(self.node_lon[sources], self.node_lat[sources])
        centre = xyz.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        spread = float(np.linalg.norm(xyz - centre, axis=1).max())
        chord = 2 * np.sin(min(radius_km / (2 * EARTH_RADIUS_KM), np.pi / 2))
        if spread + chord >= 2.0:
            return None
        found = np.asarray(tree.query_ball_point(centre, spread + chord), dtype=np.int64)
        if found.size > self.n_nodes // 2:
            return None
        return np.sort(np.r_[candidates[found], sources]) if found.size else np.unique(sources)

    @cached_property
    def parts(self) -> NDArray[np.int64]:
        """Weakly connected part of each node: no route joins nodes of different parts."""
        return np.asarray(connected_components(self.length_km, directed=True,
                                               connection="weak")[1], dtype=np.int64)

    @cached_property
    def median_speed_kmh(self) -> float:
        """Median edge speed: the first guess of the time limit of a bounded search."""
        km, mins = self.length_km.data, self.minutes.data
        ok = (km > 0) & (mins > 0)
        return float(np.median(60.0 * km[ok] / mins[ok])) if ok.any() else 1.0


def read_road_graph(path: str | Path, *, speeds_kmh: Mapping[str, float] = SPEED_KMH,
                    ferry_speed_kmh: float = FERRY_SPEED_KMH,
                    ferry_wait_min: float = FERRY_WAIT_MIN) -> RoadGraph:
    """Read the car network of an OSM extract (``.osm.pbf``, ``.osm``, ``.osm.xml``).

    Ways whose ``highway`` is a key of ``speeds_kmh`` and ``route=ferry`` ways become edges
    between consecutive nodes; nodes missing from the extract cut the way there.
    """
    import osmium  # imported here: only this reader needs it

    if not (ferry_speed_kmh > 0 and ferry_wait_min >= 0):
        raise ValueError("ferry_speed_kmh must be > 0 and ferry_wait_min >= 0")
    bad = {k: v for k, v in speeds_kmh.items() if not v > 0}
    if bad:
        raise ValueError(f"speeds must be > 0 km/h: {bad}")
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    way_len: list[int] = []
    way_speed: list[float] = []
    way_dir: list[int] = []
    way_ferry: list[bool] = []
    fp = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
          .with_locations()
          .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
          .with_filter(osmium.filter.KeyFilter("highway", "route")))
    for way in fp:  # one Python step per way is unavoidable: the file is a stream of objects
        if not isinstance(way, osmium.osm.Way):
            continue
        tags = way.tags
        highway = tags.get("highway")
        ferry = tags.get("route") == "ferry"
        if ferry:
            speed = ferry_speed_kmh
        elif highway is not None and highway in speeds_kmh:
            speed = float(speeds_kmh[highway])
            speed = float(np.fmin(speed, parse_maxspeed_kmh(tags.get("maxspeed"))))
        else:
            continue
        nodes = way.nodes
        if len(nodes) < 2:
            continue
        refs.extend(n.ref for n in nodes)
        xs.extend(n.x for n in nodes)
        ys.extend(n.y for n in nodes)
        way_len.append(len(nodes))
        way_speed.append(speed)
        way_dir.append(_direction(tags.get("oneway"), tags.get("junction"), highway))
        way_ferry.append(ferry)
    return _graph_from_ways(np.asarray(refs, dtype=np.int64), np.asarray(xs, dtype=np.int64),
                            np.asarray(ys, dtype=np.int64), np.asarray(way_len, dtype=np.int64),
                            np.asarray(way_speed, dtype=float), np.asarray(way_dir, np.int64),
                            np.asarray(way_ferry, dtype=bool), ferry_wait_min)


def _graph_from_ways(refs: NDArray[np.int64], x: NDArray[np.int64], y: NDArray[np.int64],
                     way_len: NDArray[np.int64], way_speed: NDArray[np.float64],
                     way_dir: NDArray[np.int64], way_ferry: NDArray[np.bool_],
                     ferry_wait_min: float) -> RoadGraph:
    way_of = np.repeat(np.arange(way_len.size, dtype=np.int64), way_len)
    valid = (x != _UNDEFINED_COORD) & (y != _UNDEFINED_COORD)
    a = np.arange(max(refs.size - 1, 0))  # segment a -> a + 1 of the concatenated node lists
    seg = a[(way_of[a] == way_of[a + 1]) & valid[a] & valid[a + 1] & (refs[a] != refs[a + 1])]
    seg_way = way_of[seg]
    lon, lat = x * 1e-7, y * 1e-7  # osmium stores coordinates as 1e-7 degree integers
    km = haversine_km(lon[seg], lat[seg], lon[seg + 1], lat[seg + 1])
    mins = 60.0 * km / way_speed[seg_way]
    # The wait goes on the first remaining segment of each ferry way (both directions).
    _, first = np.unique(seg_way, return_index=True)
    first = first[way_ferry[seg_way[first]]]
    mins[first] += ferry_wait_min
    node_ids, inv = np.unique(np.r_[refs[seg], refs[seg + 1]], return_inverse=True)
    tail, head = inv[:seg.size], inv[seg.size:]
    pos = np.empty(node_ids.size, dtype=np.int64)
    pos[inv] = np.r_[seg, seg + 1]  # a position of each node in the raw lists, for coordinates
    d = way_dir[seg_way]
    fwd, back = (d & _FORWARD) > 0, (d & _BACKWARD) > 0
    return RoadGraph.from_edges(
        lon[pos], lat[pos], np.r_[tail[fwd], head[back]], np.r_[head[fwd], tail[back]],
        np.r_[km[fwd], km[back]], np.r_[mins[fwd], mins[back]], osm_node_id=node_ids)


def snap(graph: RoadGraph, lon: ArrayLike, lat: ArrayLike, max_snap_km: float
         ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
    """Nearest routable node of each point by great circle.

    Returns (node index, snap distance in km, too_far = snap distance > ``max_snap_km``). The
    node is given even when too far; pass ``np.where(too_far, -1, node)`` to :func:`pair_travel`
    to make such points' pairs unreachable.
    """
    if not max_snap_km >= 0:
        raise ValueError(f"max_snap_km must be >= 0, got {max_snap_km}")
    tree, candidates = graph._snap_tree
    chord, idx = tree.query(_unit_xyz(np.atleast_1d(lon), np.atleast_1d(lat)), k=1)
    snap_km = _chord_to_km(np.asarray(chord, dtype=float))
    return candidates[np.asarray(idx)], snap_km, snap_km > max_snap_km
