"""The plan on maps: GeoPackage and GeoJSON layers, PNG maps and a self-contained HTML map."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.i18n import number
from planner.labels import label, labels
from planner.report import synthetic_banner
from planner.safecells import cell_value

if TYPE_CHECKING:
    from planner.pipeline import Plan

USE_COLOURS = {"health": "#d62728", "education": "#1f77b4", "office": "#8c564b",
               "service_point": "#9467bd", "housing": "#e377c2", "culture": "#17becf",
               "transfer": "#bcbd22", "sale": "#ff7f0e", "hold": "#7f7f7f"}
CATEGORY_COLOURS = {"car": "#d62728", "computer": "#1f77b4", "printer": "#2ca02c",
                    "photocopier": "#9467bd", "scanner": "#8c564b", "projector": "#17becf"}



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


# ------------------------------------------------------------------------------------------ maps


def write_png_maps(plan: Plan, layers: dict[str, Any], d: Path) -> list[tuple[str, str]]:
    """Three PNG maps: needs, surplus properties by decided use, transfer flows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (d / "maps").mkdir()
    units = plan["units"]
    names: list[tuple[str, str]] = []
    title_suffix = " (SYNTHETIC inventory)" if plan.synthetic else ""
    meta = {"Software": "assetplan", "Creation Time": None}

    def new_map() -> tuple[Any, Any]:
        fig, ax = plt.subplots(figsize=(7, 9), dpi=110)
        ax.scatter(units["lon"], units["lat"], s=2, c="#d0d0d0", linewidths=0)
        ax.set_aspect(1 / np.cos(np.radians(units["lat"].mean())))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        return fig, ax

    def save(fig: Any, ax: Any, title: str, name: str, **legend: Any) -> None:
        # The legend sits in the empty sea north-east of the coast, off the Mekong delta.
        ax.legend(loc="upper right", **legend)
        ax.set_title(f"{title}{title_suffix}")
        fig.tight_layout()
        fig.savefig(d / "maps" / name, metadata=meta)
        plt.close(fig)
        names.append((f"maps/{name}", title))

    fig, ax = new_map()
    needs = plan.tables.get("needs")
    if needs is not None and len(needs):
        unmet = needs.groupby("commune_code")["unmet"].sum()
        u = units.assign(unmet=units["commune_code"].map(unmet).fillna(0))
        met = u[u["unmet"] <= 0]
        miss = u[u["unmet"] > 0]
        ax.scatter(met["lon"], met["lat"], s=4, c="#2ca02c", label="needs met", linewidths=0)
        ax.scatter(miss["lon"], miss["lat"], s=8, c="#d62728", label="unmet need",
                   linewidths=0)
    eq = plan.tables.get("equipment")
    if eq is not None and len(eq):
        car = eq[(eq["category"] == "car") & (eq["held_before"] == 0)]
        pts = units.set_index("commune_code").loc[car["commune_code"]]
        ax.scatter(pts["lon"], pts["lat"], s=14, marker="x", c="black",
                   label="no car before the plan")
    save(fig, ax, "Needs after the plan", "needs.png", fontsize=8)

    if "properties" in layers:
        fig, ax = new_map()
        props = layers["properties"]
        for use, colour in USE_COLOURS.items():
            sel = props[props["use"] == use]
            if len(sel):
                ax.scatter(sel["lon"], sel["lat"], s=3, c=colour, linewidths=0,
                           label=f"{label('use', use)} ({number(len(sel))})")
        save(fig, ax, "Surplus houses and land by decided use", "dispositions.png",
             fontsize=7, markerscale=3)

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
                    segs = [np.asarray(g.coords) for g in sel.geometry]
                    n = int(lines.loc[is_cat, "quantity"].sum())
                    ax.add_collection(LineCollection(
                        segs, colors=colour, linewidths=0.6,
                        linestyles="dashed" if by_sea else "solid",
                        label=None if by_sea and (is_cat & ~sea).any() else f"{cat} ({n:,})"))
        if sea.any():
            ax.plot([], [], color="#555", linestyle="dashed", linewidth=0.6,
                    label=f"sea leg / qua biển ({int(lines.loc[sea, 'quantity'].sum()):,})")
        save(fig, ax, "Transfers of surplus cars and equipment", "transfers.png", fontsize=7)
    return names


VENDOR_DIR = Path(__file__).with_name("vendor") / "leaflet"
MAP_TEMPLATE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>assetplan: __TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>__LEAFLET_CSS__
html,body,#map{height:100%;margin:0}.legend{background:#fff;padding:6px 8px;font:12px sans-serif}
.banner{position:absolute;z-index:1000;top:0;left:50px;right:50px;background:#fff3cd;
color:#8a4b00;font:bold 13px sans-serif;padding:4px 8px;text-align:center}</style>
<script>__LEAFLET_JS__</script></head>
<body><div id="map"></div>__BANNER__
<script>
const DATA = __DATA__;
const map = L.map("map", {preferCanvas: true});
const canvas = L.canvas({padding: 0.5});
const groups = {};
function layer(name) { return groups[name] = groups[name] || L.layerGroup().addTo(map); }
DATA.units.forEach(u => L.circleMarker([u[2], u[1]], {renderer: canvas, radius: 3, weight: 0,
  fillOpacity: 0.8, fillColor: u[3] > 0 ? "#d62728" : "#2ca02c"})
  .bindTooltip(u[0] + (u[3] > 0 ? " - unmet need " + u[3].toLocaleString() : ""))
  .addTo(layer("Units / ĐVHC (red: unmet need)")));
DATA.properties.forEach(p => L.circleMarker([p[2], p[1]], {renderer: canvas, radius: 2,
  weight: 0, fillOpacity: 0.9, fillColor: DATA.colours[p[3]] || "#000"})
  .bindTooltip(p[0] + ": " + DATA.use_labels[p[3]])
  .addTo(layer("Surplus properties / Nhà đất dôi dư")));
DATA.transfers.forEach(t => L.polyline([[t[1], t[0]], [t[3], t[2]]], {renderer: canvas,
  weight: 1, color: DATA.colours[t[4]] || "#555", dashArray: t[6] ? "6 4" : null})
  .bindTooltip(t[5] + " " + t[4] + (t[6] ? " (qua biển / sea leg)" : ""))
  .addTo(layer("Transfers / Điều chuyển")));
DATA.service.forEach(t => L.polyline([[t[1], t[0]], [t[3], t[2]]], {renderer: canvas,
  weight: 1, color: DATA.colours[t[4]] || "#555", dashArray: "3"})
  .addTo(layer("Conversions / Chuyển đổi công năng")));
L.control.layers(null, groups, {collapsed: false}).addTo(map);
const legend = L.control({position: "bottomleft"});
legend.onAdd = () => { const d = L.DomUtil.create("div", "legend");
  d.innerHTML = Object.entries(DATA.use_labels).map(([k, v]) =>
    '<span style="color:' + DATA.colours[k] + '">&#9679;</span> ' + v).join("<br>"); return d; };
legend.addTo(map);
map.fitBounds(DATA.bounds);
</script></body></html>
"""


def write_html_map(plan: Plan, layers: dict[str, Any], path: Path) -> None:
    """A self-contained interactive map (Leaflet inlined, no tiles, no network): units by
    unmet need, surplus properties by decided use, transfer and conversion lines."""
    units = plan["units"]
    needs = plan.tables.get("needs")
    unmet = (needs.groupby("commune_code")["unmet"].sum() if needs is not None and len(needs)
             else pd.Series(dtype=float))
    r6 = 6

    def rows(df: pd.DataFrame, cols: list[str]) -> list[list[Any]]:
        return [[cell_value(v) for v in row] for row in df[cols].itertuples(index=False)]

    u = units.assign(label=units["name"] + " (" + units["commune_code"] + ")",
                     unmet=units["commune_code"].map(unmet).fillna(0).round(0),
                     lon=units["lon"].round(r6), lat=units["lat"].round(r6))
    data: dict[str, Any] = {
        "units": rows(u, ["label", "lon", "lat", "unmet"]),
        "properties": [], "transfers": [], "service": [],
        "colours": {**USE_COLOURS, **CATEGORY_COLOURS},
        "use_labels": labels("use"),
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
        data[key] = [[a, b, c, e, lab, q] for (a, b), (c, e), lab, q in zip(
            ends[:, 0], ends[:, 1], lines[coded], lines["quantity"].round(0), strict=True)]
        if key == "transfers":  # a sea leg is drawn dashed
            for row, by_sea in zip(data[key], lines["sea_leg"].astype(bool), strict=True):
                row.append(bool(by_sea))
    banner = (f'<div class="banner">{html.escape(synthetic_banner())}</div>'
              if plan.synthetic else "")
    page = (MAP_TEMPLATE.replace("__LEAFLET_CSS__", (VENDOR_DIR / "leaflet.css").read_text(
                encoding="utf-8"))
            .replace("__TITLE__", html.escape(plan.scenario.name))
            .replace("__BANNER__", banner)
            .replace("__DATA__", json.dumps(data, ensure_ascii=False, default=json_default,
                                            separators=(",", ":")))
            .replace("__LEAFLET_JS__", (VENDOR_DIR / "leaflet.js").read_text(encoding="utf-8")))
    path.write_text(page, encoding="utf-8")


def json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
