"""The run's report for people: ``report.html`` (prints to A4) and ``report.md`` (the API
serves it), both rendered from the Jinja2 templates in ``planner/templates`` with every word
from the catalogue and numbers in the chosen language's format."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.i18n import _, current_lang, km, number, percent, vnd, vnd_short
from planner.labels import kpi_label, label

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

    from planner.pipeline import Plan

TEMPLATE_DIR = Path(__file__).with_name("templates")


def synthetic_banner() -> str:
    return _("SYNTHETIC DATA: the inventory is a synthetic demo calibrated to published "
             "totals, not real asset data")


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: HTML escaped, Markdown not; ``_``, the labels and the
    number formats of the current language as globals and filters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.globals.update(_=_, label=label, kpi_label=kpi_label, part_label=part_label)
    env.filters.update({name: _blank_if_none(f) for name, f in (
        ("number", number), ("vnd", vnd), ("vnd_short", vnd_short), ("km", km),
        ("percent", percent))}, kpi_number=kpi_number)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False,
                                         "separators": (",", ":")}
    return env


def render(template: str, **context: Any) -> str:
    """``template`` rendered in the current language (``lang`` is given to it)."""
    return environment().get_template(template).render(lang=current_lang(), **context)


def _blank_if_none(f: Any) -> Any:
    """``f`` that shows nothing for a missing or infinite value (an unsolved stage's gap)."""
    def shown(x: Any, *args: Any) -> str:
        return "" if x is None or not math.isfinite(float(x)) else str(f(x, *args))
    return shown


def kpi_number(value: Any, unit: str) -> str:
    """A KPI value as a person reads it: money in đồng, counts whole, other sizes with one
    decimal; empty where there is none (a KPI with no "before")."""
    if value is None or not math.isfinite(float(value)):
        return ""
    v = float(value)
    if unit == "VND":
        return vnd(v)
    return number(v, 0 if v.is_integer() or abs(v) >= 1000 else 1)


def part_label(part: str, names: dict[str, str]) -> str:
    """What a solve planned (``national`` or ``provinces 04,06``) in words: the provinces'
    ``names`` (by code) when there are a few, else their codes."""
    if part == "national":
        return label("scope", "national")
    if part.startswith("provinces "):
        codes = part.removeprefix("provinces ").split(",")
        if len(codes) <= 3 and all(c in names for c in codes):
            return ", ".join(names[c] for c in codes)
        return _("Provinces {codes}", codes=", ".join(codes))
    return part


def kpi_rows(kpis: pd.DataFrame, scope: str) -> list[dict[str, Any]]:
    return kpis[kpis["scope"] == scope].to_dict("records")


def files() -> list[tuple[str, str]]:
    return [
        ("report.html", _("this report; it prints on A4")),
        ("plan.xlsx", _("every table, one header row in the report's language (a dictionary "
                        "sheet gives both languages), names beside codes")),
        ("tables/*.parquet|csv", _("the plan tables")),
        ("plan.gpkg, geojson/", _("layers: units, properties, seats, transfer and conversion "
                                  "lines")),
        ("map.html", _("interactive map, self-contained (works offline)")),
        ("maps/*.png", _("the maps of this report")),
        ("provenance.json", _("scenario, dataset hash, solver statuses, versions")),
    ]


def geography() -> str:
    """geodata.ATTRIBUTION in the report's language."""
    return _("Geography: {units} (MIT), from {source} (resolutions of the National "
             "Assembly Standing Committee of 16/06/2025); areas from {areas} (MIT).",
             units="tranngocminhhieu/vietnamadminunits", source="sapnhap.bando.com.vn",
             areas="thanglequoc/vietnamese-provinces-database")


def write_report(plan: Plan, d: Path, figures: list[tuple[str, str]]) -> None:
    """``report.html`` and ``report.md`` in ``d``; ``figures`` are the maps (path, title)."""
    prov = plan.provenance
    context = {
        "title": plan.scenario.name, "synthetic": plan.synthetic,
        "banner": synthetic_banner(), "description": plan.scenario.description.strip(),
        "units": prov["units"], "provinces": len(prov["provinces"]),
        "coverage": plan.coverage_name,
        "dataset_hash": prov["dataset"]["content_hash"][:16],
        "scenario_hash": prov["scenario_hash"][:16],
        "kpis": kpi_rows(plan.kpis, "national"), "terrain": kpi_rows(plan.kpis, "terrain"),
        "solves": prov["solves"],
        "province_names": dict(zip(plan["units"]["province_code"],
                                   plan["units"]["province_name"], strict=True)),
        "figures": figures, "files": files(),
        "geography": geography(),
    }
    (d / "report.html").write_text(render("report.html", **context), encoding="utf-8")
    (d / "report.md").write_text(render("report.md", **context), encoding="utf-8")
