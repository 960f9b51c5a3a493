"""The ``assetplan`` command line: what a provincial planner types. The data commands are
here, the plan commands (run, compare, diff, replan, travel-times) in ``planner.cli_plans``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import geodata
from planner import cli_plans, cli_sweep, holdings
from planner.cli_app import app, console, print_notes
from planner.demo import DEFAULT_SEED, generate_demo
from planner.i18n import _, number
from planner.inventory import FORMATS, InventoryError, load_dataset, write_dataset
from planner.labels import column_label, label, table_label
from planner.scenario import LATEST_GEOGRAPHY, GeographyDate, json_schema
from planner.schema import schema_markdown

__all__ = ["app", "cli_plans", "cli_sweep"]
AsOf = Annotated[GeographyDate, typer.Option("--as-of", help=_("The date of the units."))]


@app.command(help=_("Print a summary of the national geography shipped with assetplan."))
def summary(as_of: AsOf = LATEST_GEOGRAPHY) -> None:
    communes = geodata.load_communes(as_of=as_of)
    legacy = geodata.load_legacy_units()
    provinces = geodata.load_provinces(as_of)
    table = Table(title=_("Vietnam as of {date}: commune-level units", date=as_of))
    for j, col in enumerate((_("unit type"), _("units"), _("population"), _("area km²"))):
        table.add_column(col, justify="right" if j else "left")
    by_type = communes.groupby("unit_type").agg(
        units=("code", "size"), population=("population", "sum"), area_km2=("area_km2", "sum"))
    for row in by_type.itertuples():
        table.add_row(label("unit_type", row.Index), number(row.units), number(row.population),
                      number(row.area_km2))
    table.add_row(_("total"), number(len(communes)), number(communes["population"].sum()),
                  number(communes["area_km2"].sum()), style="bold")
    console.print(table)
    terrain = communes["terrain"].value_counts()
    console.print(
        _("{provinces} provinces (from {legacy_provinces}), {legacy} pre-2025 units in "
          "{districts} districts ({split} split across several new units).",
          provinces=len(provinces), legacy_provinces=legacy["legacy_province_code"].nunique(),
          legacy=number(len(legacy)), districts=legacy["district_code"].nunique(),
          split=int(legacy["is_split"].sum())) + "\n"
        + _("Terrain: {counts}.", counts=", ".join(f"{label('terrain', k)} {number(v)}"
                                                    for k, v in terrain.items())) + "\n"
        + _("Populations imputed: {imputed}; HQ points moved: {moved} (see `assetplan "
            "data-report`).", imputed=int(communes["population_imputed"].sum()),
            moved=int(communes["hq_point_repaired"].sum())) + "\n"
        f"[dim]{geodata.ATTRIBUTION}[/dim]"
    )


@app.command("data-report", help=_(
    "Show what was repaired or corrected in the shipped geography, and what changed in the "
    "units, and why (counts; --full writes every row to a file)."))
def data_report(
    full: Annotated[bool, typer.Option("--full", help=_("Also write every repaired unit to a "
                                                        "CSV file (--out)."))] = False,
    out: Annotated[Path, typer.Option("--out", help=_("The file --full writes."))]
    = Path("data-report.csv"),
    as_of: AsOf = LATEST_GEOGRAPHY,
) -> None:
    report = geodata.data_quality_report(as_of)
    counts = report.assign(action=report["action"].str.split(":").str[0]).groupby(
        ["field", "issue", "action"]).size().rename("units").reset_index()
    table = Table(title=_("Repairs, corrections and changes of the national geography as of "
                          "{date}", date=as_of))
    heads = {"field": _("field"), "issue": _("issue"), "action": _("action"),
             "units": _("units")}
    for col in counts.columns:
        table.add_column(heads[col], justify="right" if col == "units" else "left")
    for row in counts.itertuples(index=False):
        table.add_row(column_label(row.field), label("repair_issue", row.issue),
                      label("repair_action", row.action), number(row.units))
    console.print(table)
    if full:
        report.to_csv(out, index=False, encoding="utf-8-sig")  # with a BOM: Excel reads UTF-8
        console.print(_("{n} repairs, one per row, written to [bold]{out}[/bold]",
                        n=number(len(report)), out=out))


@app.command("demo-data", help=_("Write the SYNTHETIC national demo inventory (calibrated to "
                                 "published totals)."))
def demo_data(
    out: Annotated[Path, typer.Option("--out", help=_("Folder to write the dataset into."))],
    fmt: Annotated[str, typer.Option("--format", help=_("csv, xlsx, parquet or gpkg."))]
    = "csv",
    seed: Annotated[int, typer.Option(help=_("Random seed; the same seed gives the same "
                                             "files."))] = DEFAULT_SEED,
) -> None:
    if fmt not in FORMATS:
        console.print("[red]" + _("--format must be one of {formats}, not {fmt!r}",
                                  formats=", ".join(FORMATS), fmt=fmt) + "[/red]")
        raise typer.Exit(2)
    dataset = generate_demo(seed)
    write_dataset(dataset, out, fmt)
    cal = dataset.meta["calibration"]
    console.print(
        _("[bold yellow]SYNTHETIC[/bold yellow] demo inventory (seed {seed}) written to {out} "
          "as {fmt}:", seed=seed, out=out, fmt=fmt) + "\n  "
        + _("{properties} properties, {surplus} surplus (published: {published}); old commune "
            "HQs not reused as seat: {old_hq} (published from the rearrangement: {old_pub})",
            properties=number(len(dataset.properties)),
            surplus=number(cal["surplus_properties"]), published=number(16_124),
            old_hq=number(cal["old_hq_not_seat"]), old_pub=number(6_704)) + "\n  "
        + _("units without a car: {no_car} (published: 354); below the equipment norm: "
            "{below} (published: 601)", no_car=holdings.units_without_car(dataset),
            below=holdings.units_below_equipment_norm(dataset)))


@app.command(help=_("Check an inventory against the schema; list every problem with file, row "
                    "and column."))
def validate(
    path: Annotated[Path, typer.Argument(help=_("Dataset folder, or one .xlsx / .gpkg file "
                                                "with a sheet or layer per table."))],
    lang: Annotated[str | None, typer.Option(help=_("Language of the problems: vi (default) "
                                                    "or en."))] = None,
) -> None:
    from planner.i18n import check_lang, use_lang

    with use_lang(check_lang(lang) if lang else None):
        _validate(path)


def _validate(path: Path) -> None:
    try:
        dataset = load_dataset(path)
    except InventoryError as err:
        table = Table(title=_("{n} problem(s) in {path}", n=number(len(err.problems)),
                              path=path))
        for col in (_("file"), _("sheet"), _("row"), _("column"), _("rule")):
            table.add_column(col)
        for p in err.problems:
            table.add_row(p.file, p.sheet or "", "" if p.row is None else str(p.row),
                          p.column or "", p.rule)
        console.print(table)
        raise typer.Exit(1) from None
    print_notes(dataset.notes)
    mark = " [bold yellow](" + _("SYNTHETIC") + ")[/bold yellow]" if dataset.synthetic else ""
    counts = ", ".join(f"{number(len(df))} {table_label(name).lower()}"
                       for name, df in dataset.tables.items())
    console.print("[green]" + _("valid") + f"[/green]{mark}: "
                  + _("{counts}; content hash {hash}", counts=counts,
                      hash=dataset.content_hash[:16]))


@app.command(help=_("Write an empty inventory workbook to fill in: a sheet per table with its "
                    "headers, dropdowns of the coded values, number checks, example rows and "
                    "instructions."))
def template(
    out: Annotated[Path, typer.Option("--out", help=_("The workbook to write (.xlsx)."))],
    lang: Annotated[str | None, typer.Option(help=_(
        "Language of the headers, dropdowns and instructions: vi (default) or en."))] = None,
) -> None:
    from planner.i18n import check_lang
    from planner.template import write_template

    if out.suffix.lower() != ".xlsx":
        refused = _("the template is an .xlsx workbook, not {name}", name=out.name)
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2)
    try:
        lang = check_lang(lang) if lang else None
    except ValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    write_template(out, lang)
    console.print(_("Template written to {path}; check it once filled in with: assetplan "
                    "validate {path}", path=out))


@app.command(help=_("Print the scenario JSON Schema, or the schema of an input table."))
def schema(
    what: Annotated[str, typer.Argument(help=_("'scenario' (JSON Schema of a scenario file), "
                                               "'inventory' (the inventory tables, as "
                                               "Markdown) or 'decisions' (the decisions "
                                               "table) or 'od' (the travel table)."))]
    = "scenario",
) -> None:
    from planner.decisions import DECISIONS
    from planner.schema import table_markdown
    from planner.travel import OD

    if what == "scenario":
        print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
    elif what == "inventory":
        print(schema_markdown())
    elif what in ("decisions", "od"):
        print(table_markdown(DECISIONS if what == "decisions" else OD))
    else:
        console.print("[red]" + _("unknown schema {what!r}: use 'scenario', 'inventory', "
                                  "'decisions' or 'od'", what=what) + "[/red]")
        raise typer.Exit(2)
