"""Write a plan to one run directory: tables (Parquet, CSV), an Excel workbook, GeoPackage and
GeoJSON layers, PNG and HTML maps, and a short report.

Everything is written into a temporary sibling folder first and moved into place at the end, so
a failure never leaves half a result. Apart from ``timings.json`` the files are byte-identical
for the same inputs (fixed timestamps in the workbook and GeoPackage, stable ids in the HTML).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.i18n import _, number, percent, use_lang
from planner.labels import (
    VALUES,
    column_label,
    label,
    labels,
    number_format,
    readable_frame,
    table_label,
)
from planner.safecells import as_text, cell_value, csv_text, formula_rows

if TYPE_CHECKING:
    from planner.pipeline import Plan

FIXED_TIME = dt.datetime(2025, 7, 1, 0, 0, 0)


def synthetic_banner() -> str:
    return _("SYNTHETIC DATA: the inventory is a synthetic demo calibrated to published "
             "totals, not real asset data")

USE_COLOURS = {"health": "#d62728", "education": "#1f77b4", "office": "#8c564b",
               "service_point": "#9467bd", "housing": "#e377c2", "culture": "#17becf",
               "transfer": "#bcbd22", "sale": "#ff7f0e", "hold": "#7f7f7f"}
CATEGORY_COLOURS = {"car": "#d62728", "computer": "#1f77b4", "printer": "#2ca02c",
                    "photocopier": "#9467bd", "scanner": "#8c564b", "projector": "#17becf"}


class RunExistsError(FileExistsError):
    """The run folder is there already and replacing it was not asked for."""


def refuse_existing(out_dir: str | Path) -> None:
    if Path(out_dir).exists():
        raise RunExistsError(f"{out_dir} exists: another run wrote it; give another --out, or "
                             "--force to replace it")


def write_plan(plan: Plan, out_dir: str | Path, maps: bool = True,
               force: bool = False) -> Path:
    """Write every output of ``plan`` into ``out_dir``; an existing folder is replaced as a
    whole with ``force`` and refused (``RunExistsError``) without it."""
    out = Path(out_dir)
    if not force:
        refuse_existing(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_all(plan, tmp, maps)
        if out.exists():
            if not force:  # written meanwhile by another run
                refuse_existing(out)
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_all(plan: Plan, d: Path, maps: bool) -> None:
    tables = dict(plan.tables)
    tables["kpis"] = plan.kpis
    (d / "tables").mkdir()
    for name, df in tables.items():
        df.to_parquet(d / "tables" / f"{name}.parquet", index=False)
        (d / "tables" / f"{name}.csv").write_text(csv_text(df), encoding="utf-8")
    prov = {k: v for k, v in plan.provenance.items() if k != "timings_s"}
    prov["solves"] = [{k: v for k, v in s.items() if k != "wall_time_s"}
                      for s in plan.provenance.get("solves", [])]
    _write_json(d / "provenance.json", prov)
    _write_json(d / "timings.json", {"timings_s": plan.provenance.get("timings_s", {}),
                                     "solve_wall_time_s": [s.get("wall_time_s") for s in
                                                           plan.provenance.get("solves", [])]})
    write_excel(plan, tables, d / "plan.xlsx")
    layers = geo_layers(plan)
    write_geo(layers, d)
    figures: list[str] = []
    if maps:
        figures = write_png_maps(plan, layers, d)
        write_html_map(plan, layers, d / "map.html")
    write_report(plan, d, figures)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True,
                               default=_json_default) + "\n", encoding="utf-8")


def _json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


# ------------------------------------------------------------------------------------------ XLSX


# Code columns and the name written beside each in plan.xlsx.
NAME_BESIDE = {"commune_code": "commune_name", "holder_code": "holder_name",
               "served_commune_code": "served_commune_name",
               "alt_commune_code": "alt_commune_name", "property_id": "property_name",
               "candidate_property_id": "candidate_property_name"}
MAX_SHEET_NAME = 31  # Excel's limit


def sheet_name(label: str) -> str:
    """A sheet name within Excel's 31 characters, cut at a word, never inside one."""
    if len(label) <= MAX_SHEET_NAME:
        return label
    cut = label[:MAX_SHEET_NAME + 1].rsplit(" ", 1)[0]
    return cut if cut else label[:MAX_SHEET_NAME]


def with_names(table: str, df: pd.DataFrame, names: dict[str, pd.Series]) -> pd.DataFrame:
    """``df`` with the name of each unit and property beside its code (``NAME_BESIDE``),
    where the table does not already carry it."""
    out = df.copy()
    for code, name in NAME_BESIDE.items():
        if code not in out or name in out:
            continue
        if (table == "units" and code == "commune_code") or (
                code == "property_id" and table in ("seats", "dispositions")):
            continue  # their own name column is that name
        kind = "property" if code.endswith("property_id") else "unit"
        out.insert(out.columns.get_loc(code) + 1, name,
                   names[kind].reindex(out[code].astype(str)).to_numpy())
    return out


def write_excel(plan: Plan, tables: dict[str, pd.DataFrame], path: Path,
                lang: str | None = None) -> None:
    """One sheet per table with one header row in ``lang`` (the current language by default:
    pivot tables and filters work), coded values as their labels with the codes beside them,
    the name beside every unit and property code, number formats, frozen headers and filters;
    a dictionary sheet (every column's and every coded value's label in both languages) and
    an information sheet with provenance (and the synthetic label). Written in openpyxl's
    streaming mode: a national plan has about a million cells."""
    with use_lang(lang):
        _write_excel(plan, tables, path)


def _write_excel(plan: Plan, tables: dict[str, pd.DataFrame], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    about = wb.create_sheet(_("About"))
    rows: list[tuple[str, str]] = [
        (_("Scenario"), plan.scenario.name),
        (_("Description"), plan.scenario.description.strip()),
        (_("Dataset"), str(plan.provenance["dataset"]["source"])),
        (_("Dataset hash"), plan.provenance["dataset"]["content_hash"]),
        (_("Scenario hash"), plan.provenance["scenario_hash"]),
        (_("Geography"), plan.provenance["geography"]),
    ]
    if plan.synthetic:
        rows.insert(0, (_("WARNING"), synthetic_banner()))
    for s in plan.provenance["solves"]:
        rows.append((_("Solve: {stage} ({part})", stage=label("stage", s["stage"]),
                       part=s["part"]),
                     _("{status}, objective {objective}, bound {bound}, gap {gap}, {solver}",
                       status=label("status", s["status"]), objective=number(s["objective"]),
                       bound=number(s["best_bound"]), gap=percent(s["gap"], 3),
                       solver=s["solver"])))
    about.column_dimensions["A"].width = 38
    about.column_dimensions["B"].width = 120
    warn = Font(bold=True, color="C00000")
    for i, (k, v) in enumerate(rows):
        cells = [as_text(about, k), as_text(about, v)]
        if plan.synthetic and i == 0:
            for c in cells:
                c.font = warn
        about.append(cells)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    names = {"unit": tables["units"].set_index("commune_code")["name"],
             "property": pd.concat([t.set_index("property_id")["name"] for t in
                                    (tables["dispositions"], tables["seats"])])}
    names["property"] = names["property"][~names["property"].index.duplicated()]
    dictionary: list[tuple[str, str, str, str]] = []
    for table, raw in tables.items():
        df = readable_frame(with_names(table, raw, names))
        sheet = sheet_name(table_label(table))
        ws = wb.create_sheet(sheet)
        dictionary += [(sheet, col, *(column_label(col, lg) for lg in ("vi", "en")))
                       for col in df.columns]
        for j, col in enumerate(df.columns, start=1):
            width = max([len(str(column_label(col)))]
                        + [len(str(v)) for v in df[col].head(200)]) + 2
            ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 60)
        ws.freeze_panes = "A2"
        if len(df.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(len(df) + 1, 1)}"
        header = []
        for col in df.columns:
            cell = WriteOnlyCell(ws, column_label(col))
            cell.font, cell.fill, cell.alignment = bold, header_fill, wrap
            header.append(cell)
        ws.append(header)
    # One styled cell per formatted column, refilled for every row: openpyxl's streaming
        # writer serialises a row as soon as it is appended, so the cell can be reused.
        styled: list[Any] = []
        for col in df.columns:
            fmt = number_format(col)
            cell = None
            if fmt is not None:
                cell = WriteOnlyCell(ws)
                cell.number_format = fmt
            styled.append(cell)
        columns = [[cell_value(v) for v in df[col].tolist()] for col in df.columns]
        for j, column in enumerate(columns):
            if styled[j] is None:
                for i in formula_rows(column):  # text that users wrote stays text
                    column[i] = as_text(ws, column[i])
        for values in zip(*columns, strict=True):
            out: list[Any] = list(values)
            for j, cell in enumerate(styled):
                if cell is not None and out[j] is not None:
                    cell.value = out[j]
                    if cell.data_type == "f":  # never a formula, whatever the column holds
                        cell.data_type = "s"
                    out[j] = cell
            ws.append(out)
    words = wb.create_sheet(_("Dictionary"))
    words.append([WriteOnlyCell(words, h) for h in (
        _("Sheet"), _("Code"), _("Vietnamese"), _("English"))])
    for entry in dictionary:
        words.append(list(entry))
    # The coded values, so a label in either language can be read back as its code.
    for family, codes in VALUES.items():
        for code in codes:
            words.append([_("Values: {column}", column=family), code,
                          *(label(family, code, lg) for lg in ("vi", "en"))])
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "assetplan"
    wb.properties.lastModifiedBy = "assetplan"
    wb.save(path)
    _fix_zip_times(path)


def _fix_zip_times(path: Path) -> None:
    """Rewrite a zip (the .xlsx) with every entry stamped FIXED_TIME, so it is reproducible.
    openpyxl stamps the save time into docProps/core.xml as well; that is reset too."""
    import zipfile

    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    entries = [(info, re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
                if info.filename == "docProps/core.xml" else data) for info, data in entries]
    with zipfile.ZipFile(path, "w") as dst:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


# ----------------------------------------------------------------------------- GeoPackage, JSON


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


def write_geo(layers: dict[str, Any], d: Path) -> None:
    import pyogrio

    # GDAL stamps GeoPackage contents with the current time unless told otherwise.
    os.environ["OGR_CURRENT_DATE"] = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    (d / "geojson").mkdir()
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, d / "plan.gpkg", layer=name, driver="GPKG")
        pyogrio.write_dataframe(gdf, d / "geojson" / f"{name}.geojson", driver="GeoJSON",
                                layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES"})


# ------------------------------------------------------------------------------------------ maps


def write_png_maps(plan: Plan, layers: dict[str, Any], d: Path) -> list[str]:
    """Three PNG maps: needs, surplus properties by decided use, transfer flows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (d / "maps").mkdir()
    units = plan["units"]
    names: list[str] = []
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
        names.append(f"maps/{name}")

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
            .replace("__DATA__", json.dumps(data, ensure_ascii=False, default=_json_default,
                                            separators=(",", ":")))
            .replace("__LEAFLET_JS__", (VENDOR_DIR / "leaflet.js").read_text(encoding="utf-8")))
    path.write_text(page, encoding="utf-8")


# ---------------------------------------------------------------------------------------- report


def kpi_markdown(kpis: pd.DataFrame, scope: str = "national") -> str:
    k = kpis[kpis["scope"] == scope]
    lines = ["| KPI | chỉ tiêu | unit | before | after |", "|---|---|---|---:|---:|"]
    for r in k.itertuples(index=False):
        lines.append(f"| {r.kpi} | {r.kpi_vi} | {r.unit} | {_fmt(r.before)} | "
                     f"{_fmt(r.after)} |")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer()):
        return f"{int(v):,}"
    return f"{float(v):,.2f}"


def write_report(plan: Plan, d: Path, figures: list[str]) -> None:
    prov = plan.provenance
    parts = [f"# assetplan: {plan.scenario.name}", ""]
    if plan.synthetic:
        parts += [f"> **{synthetic_banner()}**", ""]
    parts += [plan.scenario.description.strip(), "",
              f"Units planned: {prov['units']:,} in {len(prov['provinces'])} province(s). "
              f"Dataset hash `{prov['dataset']['content_hash'][:16]}`, scenario hash "
              f"`{prov['scenario_hash'][:16]}`.", "", f"## Key figures ({plan.coverage_name})", "",
              kpi_markdown(plan.kpis), "", "## Solves", "",
              "| stage | part | status | objective | best bound | gap | solver |",
              "|---|---|---|---:|---:|---:|---|"]
    for s in prov["solves"]:
        parts.append(f"| {s['stage']} | {s['part']} | {s['status']} | {s['objective']:,.0f} | "
                     f"{s['best_bound']:,.0f} | {s['gap']:.3%} | {s['solver']} |")
    if figures:
        parts += ["", "## Maps", ""] + [f"![{f}]({f})" for f in figures]
    terrain = plan.kpis[plan.kpis["scope"] == "terrain"]
    if len(terrain):
        parts += ["", "## By terrain", "", "| terrain | KPI | before | after |",
                  "|---|---|---:|---:|"]
        for r in terrain.itertuples(index=False):
            parts.append(f"| {r.scope_id} | {r.kpi} | {_fmt(r.before)} | {_fmt(r.after)} |")
    parts += ["", "## Files", "",
              "- `plan.xlsx`: every table, one header row in Vietnamese (a dictionary sheet gives "
              "the English), names beside codes",
              "- `tables/*.parquet|csv`: the plan tables", "- `plan.gpkg`, `geojson/`: layers",
              "- `map.html`: interactive map, self-contained (works offline)",
              "- `provenance.json`: scenario, dataset hash, solver statuses, versions",
              "", f"_{prov['geography']}_", ""]
    md = "\n".join(parts)
    (d / "report.md").write_text(md, encoding="utf-8")
    (d / "report.html").write_text(_markdown_to_html(md, plan.scenario.name), encoding="utf-8")


def _markdown_to_html(md: str, title: str) -> str:
    """A small Markdown subset (headings, tables, images, quotes, lists) to standalone HTML."""
    out: list[str] = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells)
                       + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("> "):
            out.append(f"<p class='warn'>{_inline(line[2:])}</p>")
        elif line.startswith("!["):
            mo = re.match(r"!\[(.*)\]\((.*)\)", line)
            if mo:
                out.append(f"<img alt='{html.escape(mo.group(1))}' "
                           f"src='{html.escape(mo.group(2))}'>")
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if in_table:
        out.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
             "td{text-align:right}.warn{color:#c00000;font-weight:bold}img{max-width:48%}")
    return (f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{style}</style></head><body>"
            + "\n".join(out) + "</body></html>\n")


def _inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    return re.sub(r"_(.+?)_$", r"<i>\1</i>", t)
