"""Write a plan to one run directory: tables (Parquet, CSV), an Excel workbook, GeoPackage and
GeoJSON layers, PNG and HTML maps, and a short report.

Everything is written into a temporary sibling folder first and moved into place at the end, so
a failure never leaves half a result (the report is planner.report's, the layers and maps
planner.maps'). Apart from ``timings.json`` the files are byte-identical
for the same inputs (fixed timestamps in the workbook and GeoPackage, stable ids in the HTML).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner import xlsxrows
from planner.i18n import _, number, percent, use_lang
from planner.labels import (
    VALUES,
    column_label,
    label,
    number_format,
    readable_frame,
    table_label,
)
from planner.maps import geo_layers, write_geo, write_html_map, write_png_maps
from planner.report import synthetic_banner, write_report
from planner.safecells import FIXED_TIME, as_text, column_values, csv_text

if TYPE_CHECKING:
    from planner.pipeline import Plan



class RunExistsError(FileExistsError):
    """The run folder is there already and replacing it was not asked for."""


def refuse_existing(out_dir: str | Path) -> None:
    if Path(out_dir).exists():
        raise RunExistsError(_("{target} exists: another run wrote it; give another --out, or "
                               "--force to replace it", target=out_dir))


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
    write_geo(layers, d, FIXED_TIME)
    figures: list[tuple[str, str]] = []
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


def readable_sheets(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Plan tables as a download reads in the current language: sheets named by the tables'
    labels, one header row of column labels, coded values as labels with their codes beside
    them (the run's own plan.xlsx adds names, formats and a dictionary)."""
    return {sheet_name(table_label(name)): readable_frame(df).rename(columns=column_label)
            for name, df in tables.items()}


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
    data_rows = xlsxrows.Rows()
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
        data_rows.put(ws, [column_values(df[col]) for col in df.columns],
                      [number_format(col) for col in df.columns])
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
    skeleton = io.BytesIO()
    wb.save(skeleton)
    data_rows.finish(skeleton, str(path), FIXED_TIME)
