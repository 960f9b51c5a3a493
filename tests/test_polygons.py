"""A user's own unit polygons (data.unit_polygons) replace the approximated areas on the maps;
a bad file is refused with every problem at once."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from test_pipeline import province_scenario

import geodata
from planner.inventory import InventoryError
from planner.maps import approximated, drawn_areas, unit_areas
from planner.outputs import write_plan
from planner.pipeline import run_scenario
from planner.polygons import read_unit_polygons

CAO_BANG = "04"


@pytest.fixture(scope="module")
def cao_bang_polygons(tmp_path_factory) -> gpd.GeoDataFrame:
    """Boxes around each Cao Bằng unit's approximate area, written in Web Mercator (a CRS the
    reader must turn into lon/lat)."""
    areas = unit_areas()
    own = areas[areas["province_code"] == CAO_BANG]
    boxes = shapely.envelope(own.geometry.to_numpy())
    return gpd.GeoDataFrame({"commune_code": own.index.to_numpy()}, geometry=boxes,
                            crs="EPSG:4326")


def test_polygons_replace_the_approximation(cao_bang_polygons, tmp_path):
    path = tmp_path / "ranh-gioi.geojson"
    cao_bang_polygons.to_crs("EPSG:3857").to_file(path, driver="GeoJSON")
    base = province_scenario(CAO_BANG)
    scenario = base.model_copy(update={"data": base.data.model_copy(
        update={"unit_polygons": str(path)})})
    plan = run_scenario(scenario)
    assert plan.provenance["unit_polygons"] == {
        "file": "ranh-gioi.geojson", "units": len(cao_bang_polygons),
        "content_hash": plan.provenance["unit_polygons"]["content_hash"]}
    units = plan["units"]
    assert not approximated(units, plan.polygons) and approximated(units, None)
    drawn = drawn_areas(units, plan.polygons)
    expected = cao_bang_polygons.set_index("commune_code").geometry.reindex(drawn.index)
    assert shapely.equals_exact(drawn.geometry.to_numpy(), expected.to_numpy(),
                                tolerance=1e-6).all()
    run = write_plan(plan, tmp_path / "run")
    page = (run / "map.html").read_text(encoding="utf-8")
    assert "Approximate areas" not in page, re.findall(r".{80}Approximate areas.{40}", page)
    assert "Unit areas (the scenario" in page  # tojson escapes the apostrophe
    provenance = json.loads((run / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["scenario"]["data"]["unit_polygons"] == "ranh-gioi.geojson"  # no path


def test_a_bad_polygon_file_names_every_problem(cao_bang_polygons, tmp_path):
    bad = cao_bang_polygons.head(4).copy()
    bad.loc[1, "commune_code"] = "99999"
    bad.loc[2, "commune_code"] = bad.loc[0, "commune_code"]
    bad.loc[3, "geometry"] = shapely.Point(106.2, 22.6)
    path = tmp_path / "bad.gpkg"
    bad.to_file(path, driver="GPKG")
    known = pd.Index(geodata.load_communes()["code"])
    with pytest.raises(InventoryError) as err:
        read_unit_polygons(path, known)
    found = {(p.row, p.column) for p in err.value.problems}
    assert found == {(2, "commune_code"), (3, "commune_code"), (4, "geometry")}, found
    assert all(p.file == "bad.gpkg" for p in err.value.problems)
    with pytest.raises(InventoryError, match="GeoPackage"):
        read_unit_polygons(tmp_path / "x.shp", known)
    bad.rename(columns={"commune_code": "id"}).to_file(tmp_path / "nokey.gpkg", driver="GPKG")
    with pytest.raises(InventoryError, match="commune_code"):
        read_unit_polygons(tmp_path / "nokey.gpkg", known)
