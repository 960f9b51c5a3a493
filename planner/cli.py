"""The ``assetplan`` command line: what a provincial planner types."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import geodata

app = typer.Typer(
    name="assetplan",
    help="Plan Vietnam's public assets after the 2025 merger of administrative units: which old "
    "buildings each new commune keeps, a use for every surplus house or plot, and where surplus "
    "cars and equipment go.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def summary() -> None:
    """Print a summary of the national geography shipped with assetplan."""
    communes = geodata.load_communes()
    legacy = geodata.load_legacy_units()
    provinces = geodata.load_provinces()
    table = Table(title="Vietnam after 1 July 2025: commune-level units")
    for col in ("unit type", "units", "population", "area km²"):
        table.add_column(col, justify="right" if col != "unit type" else "left")
    by_type = communes.groupby("unit_type").agg(
        units=("code", "size"), population=("population", "sum"), area_km2=("area_km2", "sum"))
    for row in by_type.itertuples():
        table.add_row(str(row.Index), f"{row.units:,}", f"{row.population:,}",
                      f"{row.area_km2:,.0f}")
    table.add_row("total", f"{len(communes):,}", f"{communes['population'].sum():,}",
                  f"{communes['area_km2'].sum():,.0f}", style="bold")
    console.print(table)
    terrain = communes["terrain"].value_counts()
    console.print(
        f"{len(provinces)} provinces (from {legacy['legacy_province_code'].nunique()}), "
        f"{len(legacy):,} pre-2025 units in {legacy['district_code'].nunique()} districts "
        f"({int(legacy['is_split'].sum())} split across several new units).\n"
        "Terrain: " + ", ".join(f"{k} {v:,}" for k, v in terrain.items()) + ".\n"
        f"Populations imputed: {int(communes['population_imputed'].sum())}; HQ points moved: "
        f"{int(communes['hq_point_repaired'].sum())} (see `assetplan data-report`).\n"
        f"[dim]{geodata.ATTRIBUTION}[/dim]"
    )


@app.command("data-report")
def data_report(
    full: bool = typer.Option(False, "--full", help="List every repaired unit, not just counts."),
) -> None:
    """Show what was repaired in the shipped geography and why."""
    report = geodata.data_quality_report()
    counts = report.assign(action=report["action"].str.split(":").str[0]).groupby(
        ["field", "issue", "action"]).size().rename("units").reset_index()
    table = Table(title="Data-quality repairs of the national geography")
    for col in counts.columns:
        table.add_column(col, justify="right" if col == "units" else "left")
    for row in counts.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)
    if full:
        detail = Table(title="Every repair")
        for col in report.columns:
            detail.add_column(col)
        for row in report.itertuples(index=False):
            detail.add_row(*("" if v is None else str(v) for v in row))
        console.print(detail)
