"""The plan on maps: GeoPackage and GeoJSON layers, PNG maps for the report and a
self-contained HTML map (``planner/templates/map.html``), every word from the catalogue.

geodata ships no boundaries, so the maps draw approximate areas built from the units' own
points: each unit's Voronoi cell among all units, cut to a disc about the size of its area;
a province is the union of its units' cells. A run of more than a few provinces is drawn by
province on a national map, which always shows Hoàng Sa and Trường Sa; a run of one or a few
provinces by unit. The colours are colour-blind-safe and none means two things.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import geodata
from planner.i18n import _, number, percent
from planner.labels import label, labels
from planner.report import render, synthetic_banner
from planner.safecells import cell_value

if TYPE_CHECKING:
    import geopandas as gpd

    from planner.pipeline import Plan

# Okabe and Ito's colour-blind-safe palette for the uses, Paul Tol's "muted" scheme for the
# equipment categories, marks of their own for the rest: no colour means two things
# (tests/test_report.py checks). Amounts by area use the sequential, colour-blind-safe cividis.
USE_COLOURS = {"health": "#D55E00", "education": "#0072B2", "office": "#E69F00",
               "service_point": "#CC79A7", "housing": "#F0E442", "culture": "#56B4E9",
               "transfer": "#009E73", "sale": "#000000", "hold": "#999999",
               "keep": "#6F4E37"}
CATEGORY_COLOURS = {"car": "#332288", "computer": "#88CCEE", "printer": "#44AA99",
                    "photocopier": "#117733", "scanner": "#999933", "projector": "#DDCC77"}
MARK_COLOURS = {"unmet_need": "#882255", "no_car_before": "#AA4499", "unit": "#4D4D4D",
                "land": "#E8E8E8", "boundary": "#FFFFFF", "province": "#555555"}
CHOROPLETH = "cividis_r"
BY_UNIT_MAX_PROVINCES = 3  # a run of more provinces is drawn by province
ARCHIPELAGO_CODES = ("20333", "22736")  # the special zones Hoàng Sa (Đà Nẵng), Trường Sa
AREA_RADIUS_FACTOR = 1.5  # a unit's disc: 1.5 times the radius of a circle of its area
MIN_AREA_RADIUS_KM = 2.0
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32 * np.cos(np.radians(16.0))  # at the middle of the country
VENDOR_DIR = Path(__file__).with_name("vendor") / "leaflet"


def geo_layers(plan: Plan) -> dict[str, Any]:
    """Point layers for units and properties, line layers for transfers and conversions."""
    import geopandas as gpd

    units = plan["units"]
    crs = "EPSG:4326"
    out: dict[str, Any] = {}
    out["units"] = gpd.GeoDataFrame(
        units, geometry=gpd.points_from_xy(units["lon"], units["lat"]), crs=crs)
    disp = plan.tables.get("dispositions")
    if disp is not None and len(disp):
        out["properties"] = gpd.GeoDataFrame(
            disp, geometry=gpd.points_from_xy(disp["lon"], disp["lat"]), crs=crs)
    seats = plan.tables.get("seats")
    if seats is not None and len(seats):
        out["seats"] = gpd.GeoDataFrame(
            seats, geometry=gpd.points_from_xy(seats["lon"], seats["lat"]), crs=crs)
    at = units.set_index("commune_code")[["lon", "lat"]]
    service = plan.tables.get("service")
    if service is not None and len(service) and disp is not None:
        src = disp.set_index("property_id").loc[service["property_id"], ["lon", "lat"]]
        dst = at.loc[service["commune_code"]]
        out["conversion_lines"] = gpd.GeoDataFrame(service.reset_index(drop=True),
                                                   geometry=_lines(src, dst), crs=crs)
    tr = plan.tables.get("transfers")
    if tr is not None and len(tr):
        src = at.loc[tr["holder_code"]]
        dst = at.loc[tr["commune_code"]]
        out["transfer_lines"] = gpd.GeoDataFrame(tr.reset_index(drop=True),
                                                 geometry=_lines(src, dst), crs=crs)
    return out


def _lines(src: pd.DataFrame, dst: pd.DataFrame) -> Any:
    """Straight lines from each row of ``src`` to the same row of ``dst`` (lon/lat columns)."""
    import shapely

    return shapely.linestrings(np.stack([src[["lon", "lat"]].to_numpy(),
                                         dst[["lon", "lat"]].to_numpy()], axis=1))


def write_geo(layers: dict[str, Any], d: Path, stamp: dt.datetime) -> None:
    import pyogrio

    # GDAL stamps GeoPackage contents with the current time unless told otherwise.
    os.environ["OGR_CURRENT_DATE"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    (d / "geojson").mkdir()
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, d / "plan.gpkg", layer=name, driver="GPKG")
        pyogrio.write_dataframe(gdf, d / "geojson" / f"{name}.geojson", driver="GeoJSON",
                                layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES"})


# ------------------------------------------------------------------------- approximate areas


@cache
def unit_areas() -> gpd.GeoDataFrame:
    """The approximate area of every unit of geodata (index: its code; province_code,
    province_name, name), in lon/lat."""
    import geopandas as gpd
    import shapely

    c = geodata.load_communes()
    scale = np.array([KM_PER_DEG_LON, KM_PER_DEG_LAT])
    xy = c[["lon", "lat"]].to_numpy() * scale
    points = shapely.points(xy)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points)))
    # A generator lies inside its own cell; units at one point share it.
    at, cell = shapely.STRtree(cells).query(points, predicate="intersects")
    first = pd.Series(cell).groupby(at).first().reindex(range(len(c))).to_numpy()
    radius = np.maximum(AREA_RADIUS_FACTOR * np.sqrt(c["area_km2"].fillna(0).to_numpy()
                                                      / np.pi), MIN_AREA_RADIUS_KM)
    # Cut to the union of the discs that reach the cell, not to the unit's own disc alone:
    # neighbours' discs fill the gaps inland, and the sea stays out.
    discs = shapely.buffer(points, radius, quad_segs=8)
    own = cells[first]
    cell_at, disc_at = shapely.STRtree(discs).query(own, predicate="intersects")
    order = np.argsort(cell_at, kind="stable")  # every cell meets its own unit's disc
    groups = np.split(disc_at[order], np.flatnonzero(np.diff(cell_at[order])) + 1)
    reach = [shapely.union_all(discs[g]) for g in groups]
    areas = shapely.make_valid(shapely.intersection(own, reach))
    areas = shapely.transform(areas, lambda v: v / scale)
    return gpd.GeoDataFrame(c[["code", "name", "province_code", "province_name"]],
                            geometry=areas, crs="EPSG:4326").set_index("code")


@cache
def province_areas() -> gpd.GeoDataFrame:
    """The approximate area of each province (index: province_code; province_name): the
    union of its units' areas."""
    return unit_areas().dissolve("province_code", aggfunc={"province_name": "first"})


def national_extent(margin_deg: float = 0.4) -> tuple[float, float, float, float]:
    """(west, east, south, north) of a national map: every unit of geodata, whatever the run
    planned, Hoàng Sa and Trường Sa among them."""
    c = geodata.load_communes()
    return (float(c["lon"].min()) - margin_deg, float(c["lon"].max()) + margin_deg,
            float(c["lat"].min()) - margin_deg, float(c["lat"].max()) + margin_deg)


# ------------------------------------------------------------------------------------ PNG maps


def by_province(units: pd.DataFrame) -> bool:
    return units["province_code"].nunique() > BY_UNIT_MAX_PROVINCES


def drawn_areas(units: pd.DataFrame, polygons: gpd.GeoDataFrame | None = None
                ) -> gpd.GeoDataFrame:
    """The areas a map of ``units`` is drawn over: every province for a national map, else
    the units' own; a unit's own polygon (``polygons``, by code) in place of its
    approximation."""
    if polygons is None:
        if by_province(units):
            return province_areas()
        return unit_areas().loc[lambda a: a.index.isin(units["commune_code"])]
    areas = unit_areas().copy()
    own = areas.index.isin(polygons.index)
    areas.loc[own, "geometry"] = polygons.geometry.reindex(areas.index[own]).to_numpy()
    if by_province(units):
        return areas.dissolve("province_code", aggfunc={"province_name": "first"})
    return areas.loc[areas.index.isin(units["commune_code"])]


def approximated(units: pd.DataFrame, polygons: gpd.GeoDataFrame | None) -> bool:
    """Whether a map of ``units`` draws any area approximated from the units' points."""
    if polygons is None:
        return True
    shown = unit_areas().index if by_province(units) else pd.Index(units["commune_code"])
    return not shown.isin(polygons.index).all()


def map_captions(national: bool, approximate: bool = True) -> dict[str, str]:
    """The title of each PNG map; each says whose areas it draws and whether they are
    approximate."""
    if national:
        titles = {"needs.png": _("Units with unmet need after the plan, share by province"),
                  "dispositions.png": _("Surplus houses and land by province")}
        areas = (_("approximate province areas") if approximate
                 else _("provinces from your unit polygons"))
    else:
        titles = {"needs.png": _("Needs after the plan by unit"),
                  "dispositions.png": _("Surplus houses and land by decided use")}
        areas = _("approximate unit areas") if approximate else _("your unit polygons")
    titles["transfers.png"] = _("Transfers of surplus cars and equipment")
    return {name: _("{title} ({areas})", title=title, areas=areas)
            for name, title in titles.items()}


def write_png_maps(plan: Plan, layers: dict[str, Any], d: Path) -> list[tuple[str, str]]:
    """The report's PNG maps (path, title): needs, surplus properties, transfer flows; by
    province over a national map, or by unit for a run of a few provinces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    (d / "maps").mkdir()
    units = plan["units"]
    national = by_province(units)
    approximate = approximated(units, plan.polygons)
    captions = map_captions(national, approximate)
    areas = drawn_areas(units, plan.polygons)
    planned = (areas.index.isin(units["province_code"]) if national
               else np.ones(len(areas), dtype=bool))
    out: list[tuple[str, str]] = []
    meta = {"Software": "assetplan", "Creation Time": None}

    if national:
        west, east, south, north = national_extent()
    else:
        west, south, east, north = areas.total_bounds
    aspect = 1 / np.cos(np.radians((south + north) / 2))
    # 7 inches wide, as tall as the area asks (a wide province is not drawn in a tall frame);
    # room below for the legend of a map by unit.
    height_in = float(np.clip(7 * (north - south) * aspect / (east - west), 3.0, 9.5)) + (
        0 if national else 1.6)

    def new_map() -> tuple[Any, Any]:
        fig, ax = plt.subplots(figsize=(7, height_in), dpi=110)
        areas.plot(ax=ax, color=MARK_COLOURS["land"], edgecolor=MARK_COLOURS["boundary"],
                   linewidth=0.4)
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)
        if national:
            c = geodata.load_communes().set_index("code").loc[list(ARCHIPELAGO_CODES)]
            for r in c.itertuples():
                ax.annotate(str(r.name), (r.lon, r.lat), xytext=(0, -10),
                            textcoords="offset points", ha="center", fontsize=7)
        else:
            provinces = areas.dissolve("province_code")
            provinces.boundary.plot(ax=ax, color=MARK_COLOURS["province"], linewidth=0.8)
        ax.set_aspect(aspect)
        ax.set_axis_off()
        return fig, ax

    def choropleth(ax: Any, values: pd.Series, what: str, share: bool = False) -> None:
        from matplotlib.ticker import FuncFormatter

        shown = values.reindex(areas.index).where(planned)
        areas.assign(value=shown).dropna(subset=["value"]).plot(
            ax=ax, column="value", cmap=CHOROPLETH, vmin=0,
            vmax=max(float(shown.max()), 1e-9) if shown.notna().any() else 1,
            edgecolor=MARK_COLOURS["boundary"], linewidth=0.4, legend=True,
            legend_kwds={"label": what, "shrink": 0.45, "location": "right", "pad": 0.01,
                         "format": FuncFormatter(lambda x, _pos: percent(x, 0) if share
                                                 else number(x))})
        if not planned.all():
            ax.legend(handles=[Patch(color=MARK_COLOURS["land"],
                                     label=_("Not planned in this run"))],
                      loc="upper right", fontsize=7)

    def save(fig: Any, ax: Any, name: str, **legend: Any) -> None:
        if legend and national:  # in the sea north-east of the coast
            ax.legend(loc="upper right", **legend)
        elif legend:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, frameon=False,
                      **legend)
        title = captions[name]
        shown = _("{title} (SYNTHETIC inventory)", title=title) if plan.synthetic else title
        ax.set_title(shown, fontsize=9, wrap=True)
        fig.text(0.01, 0.01, _("Areas are approximate: drawn from the units' points, not "
                               "official boundaries.") if approximate else
                 _("Areas: the unit polygons of the scenario (data.unit_polygons)."), fontsize=6)
        fig.tight_layout()
        fig.savefig(d / "maps" / name, metadata=meta)
        plt.close(fig)
        out.append((f"maps/{name}", title))

    needs = plan.tables.get("needs")
    unmet_units = (set(needs.loc[needs["unmet"] > 0, "commune_code"])
                   if needs is not None and len(needs) else set())
    has_unmet = units["commune_code"].isin(unmet_units)
    fig, ax = new_map()
    if national:
        share = has_unmet.groupby(units["province_code"]).mean()
        choropleth(ax, share, _("Share of units with unmet need"), share=True)
        save(fig, ax, "needs.png")
    else:
        short = areas[areas.index.isin(unmet_units)]
        if len(short):  # hatched as well as coloured: the mark reads without its colour
            short.plot(ax=ax, color=MARK_COLOURS["unmet_need"], hatch="///", linewidth=0.4,
                       edgecolor=MARK_COLOURS["boundary"])
        handles: list[Any] = [
            Patch(facecolor=MARK_COLOURS["unmet_need"], hatch="///",
                  label=_("Unit with unmet need ({n})", n=number(has_unmet.sum()))),
            Patch(color=MARK_COLOURS["land"], label=_("Needs met"))]
        eq = plan.tables.get("equipment")
        if eq is not None and len(eq):
            car = eq[(eq["category"] == "car") & (eq["held_before"] == 0)]
            pts = units.set_index("commune_code").loc[car["commune_code"]]
            ax.scatter(pts["lon"], pts["lat"], s=18, marker="x",
                       c=MARK_COLOURS["no_car_before"])
            handles.append(Line2D([], [], marker="x", linestyle="",
                                  color=MARK_COLOURS["no_car_before"],
                                  label=_("No car before the plan ({n})",
                                          n=number(len(pts)))))
        save(fig, ax, "needs.png", handles=handles, fontsize=8)

    if "properties" in layers:
        props = layers["properties"]
        fig, ax = new_map()
        if national:
            count = props.groupby(props["commune_code"].map(
                units.set_index("commune_code")["province_code"])).size()
            choropleth(ax, count.reindex(units["province_code"].unique(), fill_value=0),
                       _("Surplus houses and land"))
            save(fig, ax, "dispositions.png")
        else:
            for use, colour in USE_COLOURS.items():
                sel = props[props["use"] == use]
                if len(sel):
                    ax.scatter(sel["lon"], sel["lat"], s=6, c=colour, linewidths=0,
                               label=f"{label('use', use)} ({number(len(sel))})")
            save(fig, ax, "dispositions.png", fontsize=7, markerscale=2)

    if "transfer_lines" in layers:
        from matplotlib.collections import LineCollection

        fig, ax = new_map()
        lines = layers["transfer_lines"]
        sea = lines["sea_leg"].to_numpy(dtype=bool)
        for cat, colour in CATEGORY_COLOURS.items():
            is_cat = (lines["category"] == cat).to_numpy()
            for by_sea in (False, True):  # a sea leg is dashed: a ferry, not a road
                sel = lines[is_cat & (sea == by_sea)]
                if len(sel):
                    n = int(lines.loc[is_cat, "quantity"].sum())
                    ax.add_collection(LineCollection(
                        [np.asarray(g.coords) for g in sel.geometry], colors=colour,
                        linewidths=0.8, linestyles="dashed" if by_sea else "solid",
                        label=None if by_sea and (is_cat & ~sea).any()
                        else f"{label('category', cat)} ({number(n)})"))
        if sea.any():
            ax.plot([], [], color=MARK_COLOURS["province"], linestyle="dashed", linewidth=0.8,
                    label=_("sea leg ({n})", n=number(lines.loc[sea, "quantity"].sum())))
        save(fig, ax, "transfers.png", fontsize=7)
    return out


# ------------------------------------------------------------------------------------ HTML map


def write_html_map(plan: Plan, layers: dict[str, Any], path: Path) -> None:
    """A self-contained interactive map (Leaflet inlined, no tiles, no network): units by
    unmet need, surplus properties by decided use, transfer and conversion lines; layer
    names, tooltips and legend in the current language."""
    units = plan["units"]
    needs = plan.tables.get("needs")
    unmet = (needs.groupby("commune_code")["unmet"].sum() if needs is not None and len(needs)
             else pd.Series(dtype=float))
    r6 = 6

    def rows(df: pd.DataFrame, cols: list[str]) -> list[list[Any]]:
        return [[cell_value(v) for v in row] for row in df[cols].itertuples(index=False)]

    u = units.assign(unmet=units["commune_code"].map(unmet).fillna(0).round(0),
                     lon=units["lon"].round(r6), lat=units["lat"].round(r6))
    u["tip"] = [f"{name} ({code})" + ("" if n <= 0 else " - " + _("unmet need {n}",
                                                                  n=number(n)))
                for name, code, n in zip(u["name"], u["commune_code"], u["unmet"],
                                         strict=True)]
    data: dict[str, Any] = {
        "units": rows(u, ["tip", "lon", "lat", "unmet"]),
        "properties": [], "transfers": [], "service": [],
        "colours": {**USE_COLOURS, **CATEGORY_COLOURS}, "marks": MARK_COLOURS,
        "use_labels": labels("use"),
        "areas": _geojson(drawn_areas(units, plan.polygons),
                          0.01 if by_province(units) else 0.002),
        "approximate": approximated(units, plan.polygons),
        "bounds": [[float(units["lat"].min()), float(units["lon"].min())],
                   [float(units["lat"].max()), float(units["lon"].max())]],
    }
    if "properties" in layers:
        p = layers["properties"]
        data["properties"] = rows(p.assign(lon=p["lon"].round(r6), lat=p["lat"].round(r6)),
                                  ["property_id", "lon", "lat", "use"])
    for key, layer, coded in (("transfers", "transfer_lines", "category"),
                              ("service", "conversion_lines", "use")):
        if layer not in layers:
            continue
        lines = layers[layer]
        ends = np.round(np.stack([np.asarray(g.coords) for g in lines.geometry]), r6)
        sea = (lines["sea_leg"].astype(bool) if key == "transfers"
               else pd.Series(False, index=lines.index))
        by_sea_text = _("by sea")
        data[key] = [
            [float(a), float(b), float(c), float(e), code,
             f"{number(q)} {label(coded, code).lower()}" + (
                 f" ({by_sea_text})" if by_sea else ""), bool(by_sea)]
            for (a, b), (c, e), code, q, by_sea in zip(
                ends[:, 0], ends[:, 1], lines[coded], lines["quantity"], sea, strict=True)]
    page = render("map.html", title=plan.scenario.name, data=data,
                  uses=[(USE_COLOURS[k], v) for k, v in labels("use").items()],
                  categories=[(CATEGORY_COLOURS[k], v) for k, v in labels("category").items()],
                  banner=synthetic_banner() if plan.synthetic else "",
                  leaflet_css=_vendor("leaflet.css"), leaflet_js=_vendor("leaflet.js"))
    path.write_text(page, encoding="utf-8")


def _geojson(areas: gpd.GeoDataFrame, tolerance_deg: float) -> list[Any]:
    """The areas' outlines as GeoJSON geometries, simplified and rounded for a small page."""
    import shapely

    shapes = shapely.set_precision(shapely.simplify(areas.geometry.to_numpy(), tolerance_deg),
                                   1e-3)
    return [json.loads(shapely.to_geojson(g)) for g in shapes if not g.is_empty]


def _vendor(name: str) -> Any:
    from markupsafe import Markup

    return Markup((VENDOR_DIR / name).read_text(encoding="utf-8"))  # our own copy of Leaflet
