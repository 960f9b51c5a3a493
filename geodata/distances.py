"""Great-circle distances and sparse candidate pairs.

Pairs are found with a k-d tree on unit-sphere (x, y, z) coordinates: a great-circle radius r is a
chord of 2 R sin(r / 2R), so radius and k-nearest queries are exact for great-circle distance and
never build a dense origin x destination matrix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius

# Road distance / great-circle distance by terrain of the origin. Defaults from the circuity
# literature (about 1.2-1.4 on plains, more in mountains); islands add a sea crossing factor.
DEFAULT_DETOUR_FACTOR: Mapping[str, float] = {
    "lowland": 1.25, "midland": 1.35, "mountain": 1.6, "island": 1.5,
}


def _unit_xyz(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    lon_r = np.radians(np.asarray(lon, dtype=float))
    lat_r = np.radians(np.asarray(lat, dtype=float))
    if not (np.isfinite(lon_r).all() and np.isfinite(lat_r).all()):
        raise ValueError("coordinates contain NaN or infinite values")
    cos_lat = np.cos(lat_r)
    return np.column_stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)])


def haversine_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike,
                 lat2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in km, element-wise (broadcasting)."""
    x1, y1, x2, y2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((y2 - y1) / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin((x2 - x1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _chord_to_km(chord: NDArray[np.float64]) -> NDArray[np.float64]:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0.0, 1.0))


def _as_lonlat(points: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"expected an (n, 2) array of lon, lat; got shape {arr.shape}")
    return arr


def _pairs_frame(origin: NDArray[np.int64], destination: NDArray[np.int64],
                 distance_km: NDArray[np.float64]) -> pd.DataFrame:
    order = np.lexsort((destination, origin))
    return pd.DataFrame({
        "origin": origin[order].astype(np.int64),
        "destination": destination[order].astype(np.int64),
        "distance_km": distance_km[order],
    })


def pairs_within_radius(origin_lonlat: ArrayLike, dest_lonlat: ArrayLike,
                        radius_km: float) -> pd.DataFrame:
    """All (origin, destination) index pairs at most ``radius_km`` apart (great circle).

    Returns a frame with int64 ``origin``, ``destination`` (row positions in the inputs) and
    float ``distance_km``, sorted by origin then destination.
    """
    if not radius_km >= 0:
        raise ValueError(f"radius_km must be >= 0, got {radius_km}")
    o = _unit_xyz(*_as_lonlat(origin_lonlat).T)
    d = _unit_xyz(*_as_lonlat(dest_lonlat).T)
    chord = 2 * np.sin(min(radius_km / EARTH_RADIUS_KM, np.pi) / 2)
    # Tiny slack so pairs exactly at the radius survive float rounding; filtered exactly below.
    sparse = cKDTree(o).sparse_distance_matrix(cKDTree(d), chord * (1 + 1e-9) + 1e-12,
                                               output_type="coo_matrix")
    dist = _chord_to_km(sparse.data)
    keep = dist <= radius_km
    return _pairs_frame(sparse.row[keep].astype(np.int64), sparse.col[keep].astype(np.int64),
                        dist[keep])


def k_nearest_pairs(origin_lonlat: ArrayLike, dest_lonlat: ArrayLike, k: int,
                    max_km: float | None = None) -> pd.DataFrame:
    """For each origin, its ``k`` nearest destinations (fewer if ``max_km`` cuts them off).

    Same columns as :func:`pairs_within_radius`.
    """
    d_arr = _as_lonlat(dest_lonlat)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, len(d_arr))
    o = _unit_xyz(*_as_lonlat(origin_lonlat).T)
    chord, idx = cKDTree(_unit_xyz(*d_arr.T)).query(o, k=k)
    chord = np.asarray(chord).reshape(len(o), k)
    idx = np.asarray(idx).reshape(len(o), k)
    dist = _chord_to_km(chord)
    origin = np.repeat(np.arange(len(o), dtype=np.int64), k)
    keep = np.ones(dist.size, dtype=bool) if max_km is None else dist.ravel() <= max_km
    return _pairs_frame(origin[keep], idx.ravel()[keep].astype(np.int64), dist.ravel()[keep])


def apply_detour(pairs: pd.DataFrame, origin_terrain: ArrayLike,
                 factors: Mapping[str, float] = DEFAULT_DETOUR_FACTOR) -> pd.DataFrame:
    """Add ``travel_km`` = distance_km x detour factor of the origin's terrain class."""
    terrain = np.asarray(origin_terrain, dtype=object)
    unknown = set(np.unique(terrain)) - set(factors)
    if unknown:
        raise ValueError(f"no detour factor for terrain class(es) {sorted(unknown)}")
    factor = pd.Series(factors).reindex(terrain[pairs["origin"].to_numpy()]).to_numpy()
    return pairs.assign(travel_km=pairs["distance_km"].to_numpy() * factor)
