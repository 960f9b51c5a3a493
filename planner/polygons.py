"""A user's own unit boundaries (``data.unit_polygons``): a GeoPackage or GeoJSON layer of
polygons keyed by unit code, drawn by the maps in place of the areas they approximate from
the units' points (a province is the union of its units).

Validated like the inventory: every problem at once, with the file, the row (the feature's
position, counting from 1) and the rule; nothing is drawn from a file that has one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from planner.i18n import _
from planner.inventory import InventoryError
from planner.readers import Problem

if TYPE_CHECKING:
    import geopandas as gpd

POLYGON_SUFFIXES = (".gpkg", ".geojson", ".json")
CODE_COLUMNS = ("commune_code", "code", "ma_xa", "ma")  # the first one present keys the units


def read_unit_polygons(path: str | Path, known_codes: pd.Index) -> gpd.GeoDataFrame:
    """The polygons of ``path`` indexed by unit code (column ``geometry``, lon/lat), each
    checked: a known code, once, a polygon that is valid or can be made so."""
    import geopandas as gpd
    import pyogrio
    import shapely

    path = Path(path)
    name = path.name

    def fail(rule: str, row: int | None = None, column: str | None = None) -> InventoryError:
        return InventoryError([Problem(name, row, column, rule)])

    if path.suffix.lower() not in POLYGON_SUFFIXES:
        raise fail(_("unit polygons are a GeoPackage (.gpkg) or GeoJSON (.geojson) file"))
    if not path.is_file():
        raise fail(_("no such file"))
    try:
        layer = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as err:
        raise fail(_("cannot be read as a map layer: {error}", error=err)) from None
    key = next((c for c in CODE_COLUMNS if c in layer.columns), None)
    if key is None:
        raise fail(_("no column of unit codes (one of {names})", names=", ".join(CODE_COLUMNS)))
    if layer.crs is None:
        raise fail(_("the layer has no CRS; expected WGS84 lon/lat (EPSG:4326) or any CRS "
                     "it names"), column="geometry")
    layer = layer.to_crs("EPSG:4326")
    codes = layer[key].astype(str).str.strip().str.zfill(5)
    geoms = layer.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    polygon = (kinds == shapely.GeometryType.POLYGON) | (
        kinds == shapely.GeometryType.MULTIPOLYGON)
    problems: list[Problem] = []
    for i in range(len(layer)):
        if not polygon[i] or shapely.is_empty(geoms[i]):
            problems.append(Problem(name, i + 1, "geometry", _("not a polygon")))
    for i in pd.Index(range(len(layer)))[~codes.isin(known_codes).to_numpy()]:
        problems.append(Problem(name, i + 1, key, _("unknown unit code {code!r}",
                                                   code=codes.iloc[i])))
    repeated = codes.duplicated(keep="first").to_numpy()
    for i in pd.Index(range(len(layer)))[repeated]:
        problems.append(Problem(name, i + 1, key, _("the unit {code} has a polygon already",
                                                   code=codes.iloc[i])))
    if problems:
        raise InventoryError(problems)
    out = gpd.GeoDataFrame({"geometry": shapely.make_valid(geoms)}, crs="EPSG:4326",
                           index=pd.Index(codes.to_numpy(), name="code"))
    return out


def polygons_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
