"""The run's report for people: report.html (and report.md, which the API serves)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.i18n import _

if TYPE_CHECKING:
    from planner.pipeline import Plan


def synthetic_banner() -> str:
    return _("SYNTHETIC DATA: the inventory is a synthetic demo calibrated to published "
             "totals, not real asset data")


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
