"""The ``assetplan`` command line: what a provincial planner types."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

import geodata
from planner import holdings
from planner.demo import DEFAULT_SEED, generate_demo
from planner.i18n import _
from planner.inventory import FORMATS, InventoryError, load_dataset, write_dataset
from planner.scenario import Scenario, json_schema
from planner.schema import schema_markdown

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
    full: Annotated[bool, typer.Option("--full", help="Also write every repaired unit to a "
                                       "CSV file (--out).")] = False,
    out: Annotated[Path, typer.Option("--out", help="The file --full writes.")]
    = Path("data-report.csv"),
) -> None:
    """Show what was repaired in the shipped geography and why (counts; --full writes every
    repair to a file)."""
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
        report.to_csv(out, index=False, encoding="utf-8-sig")  # with a BOM: Excel reads UTF-8
        console.print(f"{len(report):,} repairs, one per row, written to [bold]{out}[/bold]")


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx, parquet or gpkg.")] = "csv",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same "
                                      "files.")] = DEFAULT_SEED,
) -> None:
    """Write the SYNTHETIC national demo inventory (calibrated to published totals)."""
    if fmt not in FORMATS:
        console.print(f"[red]--format must be one of {', '.join(FORMATS)}, not {fmt!r}[/red]")
        raise typer.Exit(2)
    dataset = generate_demo(seed)
    write_dataset(dataset, out, fmt)
    cal = dataset.meta["calibration"]
    console.print(
        f"[bold yellow]SYNTHETIC[/bold yellow] demo inventory (seed {seed}) written to {out} "
        f"as {fmt}:\n"
        f"  {len(dataset.properties):,} properties, {cal['surplus_properties']:,} surplus "
        f"(published: 16,124); old commune HQs not reused as seat: {cal['old_hq_not_seat']:,} "
        "(published from the rearrangement: 6,704)\n"
        f"  units without a car: {holdings.units_without_car(dataset)} (published: 354); below "
        f"the equipment norm: {holdings.units_below_equipment_norm(dataset)} (published: 601)")


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="Dataset folder, or one .xlsx / .gpkg file with "
                                         "a sheet or layer per table.")],
    lang: Annotated[str | None, typer.Option(help="Language of the problems: vi (default) "
                                             "or en.")] = None,
) -> None:
    """Check an inventory against the schema; list every problem with file, sheet, row,
    column and rule, and the notes on what was read other than as typed."""
    from planner.i18n import check_lang, use_lang

    with use_lang(check_lang(lang) if lang else None):
        _validate(path)


def _validate(path: Path) -> None:
    try:
        dataset = load_dataset(path)
    except InventoryError as err:
        table = Table(title=_("{count} problem(s) in {path}", count=len(err.problems),
                              path=path))
        for col in (_("file"), _("sheet"), _("row"), _("column"), _("rule")):
            table.add_column(col)
        for p in err.problems:
            table.add_row(p.file, p.sheet or "", "" if p.row is None else str(p.row),
                          p.column or "", p.rule)
        console.print(table)
        raise typer.Exit(1) from None
    word = _("note")
    for note in dataset.meta.get("notes", []):  # what was read other than as typed
        console.print(f"[cyan]{word}[/cyan] {note}")
    label = " [bold yellow](SYNTHETIC)[/bold yellow]" if dataset.synthetic else ""
    counts = ", ".join(f"{len(df):,} {name}" for name, df in dataset.tables.items())
    console.print(f"[green]valid[/green]{label}: {counts}; content hash "
                  f"{dataset.content_hash[:16]}")


@app.command()
def template(
    out: Annotated[Path, typer.Option("--out", help="The workbook to write (.xlsx).")],
    lang: Annotated[str | None, typer.Option(help="Language of the headers, dropdowns and "
                                             "instructions: vi (default) or en.")] = None,
) -> None:
    """Write an empty inventory workbook to fill in: a sheet per table with its headers,
    dropdowns of the coded values, number checks, example rows and instructions."""
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
                    "validate {path}", path=out, lang=lang))


@app.command()
def schema(
    what: Annotated[str, typer.Argument(help="'scenario' (JSON Schema of a scenario file), "
                                        "'inventory' (the inventory tables, as Markdown) or "
                                        "'decisions' (the decisions table) or 'od' (the "
                                        "travel table).")]
    = "scenario",
) -> None:
    """Print the scenario JSON Schema, or the schema of an input table."""
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
        console.print(f"[red]unknown schema {what!r}: use 'scenario', 'inventory', "
                      "'decisions' or 'od'[/red]")
        raise typer.Exit(2)


def kpi_frame(kpis: dict[str, pd.DataFrame], scope: str, scope_id: str) -> pd.DataFrame:
    """The KPIs of one scope side by side: kpi, kpi_vi, unit, before (one run only), a column
    per run and, against the first run (or, for one run, before), a difference column each."""
    names = list(kpis)
    first = kpis[names[0]]
    sel = first[(first["scope"] == scope) & (first["scope_id"] == scope_id)]
    out = sel[["kpi", "kpi_vi", "unit"]].reset_index(drop=True)
    if len(names) == 1:
        out["before"] = sel["before"].to_numpy(dtype=float)
    for n in names:
        k = kpis[n]
        k = k[(k["scope"] == scope) & (k["scope_id"] == scope_id)].set_index("kpi")
        out[n if len(names) > 1 else "after"] = k["after"].reindex(out["kpi"]).to_numpy(
            dtype=float)
    if len(names) == 1:
        out["change"] = out["after"] - out["before"]
    for n in names[1:]:
        out[f"change {n}"] = out[n] - out[names[0]]
    return out


def _kpi_table(title: str, kpis: dict[str, pd.DataFrame], scope: str, scope_id: str) -> Table:
    """The KPIs as a terminal table that folds (never cuts) its labels to the width."""
    frame = kpi_frame(kpis, scope, scope_id)
    table = Table(title=title, title_justify="left")
    table.add_column("KPI", overflow="fold", ratio=3, min_width=16)
    table.add_column("unit", overflow="fold", max_width=8)
    values = [c for c in frame.columns if c not in ("kpi", "kpi_vi", "unit")]
    for c in values:
        table.add_column(c, justify="right", overflow="fold", ratio=1)
    for row in frame.itertuples(index=False):
        cells = [str(row.kpi_vi), str(row.unit)]
        for c, v in zip(values, row[3:], strict=True):
            text = fmt_number(float(v))
            if c.startswith("change") and text not in ("", "0"):
                text = f"[bold yellow]{text}[/bold yellow]"
            cells.append(text)
        table.add_row(*cells)
    return table


def _same(a: float, b: float) -> bool:
    return (a != a and b != b) or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def fmt_number(v: float) -> str:
    if v != v:  # NaN
        return ""
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.2f}"


def _load_scenario(path: Path, overrides: list[str] | None, provinces: list[str] | None
                   ) -> Scenario:
    """The scenario file with its named overrides, limited to ``provinces`` when given; a bad
    scenario is printed and exits with 2."""
    from planner.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(path, overrides or [])
    except ScenarioError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    if provinces:
        scenario = scenario.model_copy(update={
            "data": scenario.data.model_copy(update={"provinces": tuple(provinces)})})
    return scenario


@app.command()
def run(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML, e.g. "
                                                  "scenarios/national-baseline.yaml")],
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default: "
                                             "runs/<scenario name>).")] = None,
    province: Annotated[list[str] | None, typer.Option(
        "--province", help="Plan only this province code (repeat for several).")] = None,
    override: Annotated[list[str] | None, typer.Option(
        "--override", help="Apply a named override of the scenario file (repeat to stack).")]
    = None,
    maps: Annotated[bool, typer.Option(help="Draw PNG and HTML maps.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace the run folder if it "
                                        "exists.")] = False,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", help="The planner's own decisions (CSV, .xlsx or .parquet; "
        "`assetplan schema decisions`).")] = None,
    od: Annotated[Path | None, typer.Option(
        "--od", help="Travel table replacing the computed distances of the pairs it covers "
        "(CSV or .parquet; `assetplan schema od`).")] = None,
) -> None:
    """Run a scenario: seats, disposition of surplus houses and land, transfer of cars and
    equipment. Writes tables, an Excel workbook, GeoPackage/GeoJSON, maps and a report into
    a new folder (default: runs/<scenario>[+<override>...][@p<provinces>]); an existing
    folder is never replaced without --force."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from planner.outputs import RunExistsError, write_plan
    from planner.pipeline import STAGES, output_name, run_scenario

    scenario = _load_scenario(scenario_file, override, province)
    files = {k: str(v.resolve()) for k, v in (("decisions", decisions), ("od_table", od))
             if v is not None}
    if files:
        scenario = scenario.model_copy(update={"data": scenario.data.model_copy(update=files)})
    target = out or output_name(scenario)
    if not force and target.exists():
        console.print(f"[red]{target} exists: another run wrote it; give another --out, or "
                      "--force to replace it[/red]")
        raise typer.Exit(1)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(STAGES))

        def progress(stage: str, fraction: float, message: str) -> None:
            bar.update(task, completed=STAGES.index(stage) + fraction,
                       description=f"[bold]{stage}[/bold]: {message}")

        try:
            plan = run_scenario(scenario, progress)
        except (InventoryError, ValueError) as err:
            bar.stop()
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
        bar.update(task, description="writing outputs")
        try:
            write_plan(plan, target, maps=maps, force=force)
        except RunExistsError as err:
            bar.stop()
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
    if plan.synthetic:
        console.print("[bold yellow]SYNTHETIC inventory: a demo calibrated to published "
                      "totals, not real asset data.[/bold yellow]")
    console.print(_kpi_table(f"{target.name}: KPIs ({plan.coverage_name})",
                             {scenario.name: plan.kpis}, "national", "VN"))
    for s in plan.solves:
        console.print(f"  {s['stage']:<12} {s['part']:<10} {s['status']:<10} objective "
                      f"{s['objective']:,.0f}  bound {s['best_bound']:,.0f}  gap "
                      f"{s['gap']:.3%}  ({s['solver']}, {s['wall_time_s']:.1f} s)")
    console.print(f"Outputs in [bold]{target}[/bold]: report.html, plan.xlsx, plan.gpkg, "
                  "map.html, maps/*.png, tables/")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    scope: Annotated[str, typer.Option(help="national, province or terrain")] = "national",
    scope_id: Annotated[str | None, typer.Option(
        "--id", help="Province code or terrain class when --scope is not national.")] = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Also write the table (with the KPI codes) to this CSV file.")] = None,
) -> None:
    """Show the KPIs of several runs side by side, with each run's difference from the first
    (highlighted where it is not zero)."""
    if len(run_dirs) < 2:
        console.print("[red]give at least two run directories[/red]")
        raise typer.Exit(2)
    kpis: dict[str, pd.DataFrame] = {}
    for d in run_dirs:
        f = d / "tables" / "kpis.parquet"
        if not f.exists():
            console.print(f"[red]{d}: not a run directory (no tables/kpis.parquet)[/red]")
            raise typer.Exit(1)
        name = json.loads((d / "provenance.json").read_text(encoding="utf-8"))["scenario"][
            "name"]
        kpis[name if name not in kpis else str(d)] = pd.read_parquet(f)
    sid = "VN" if scope == "national" else scope_id
    if sid is None:
        console.print("[red]--id is required with --scope province or terrain[/red]")
        raise typer.Exit(2)
    console.print(_kpi_table(f"KPIs after the plan ({scope} {sid})", kpis, scope, sid))
    if csv is not None:
        kpi_frame(kpis, scope, sid).to_csv(csv, index=False, encoding="utf-8-sig")
        console.print(f"Written to [bold]{csv}[/bold]")


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="The earlier run directory.")],
    run_b: Annotated[Path, typer.Argument(help="The later run directory.")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Excel file of the differences (default: diffs/<a>--<b>.xlsx).")] = None,
    limit: Annotated[int, typer.Option(help="Changed decisions shown in the terminal.")] = 30,
) -> None:
    """The decisions that changed between two runs, each with its old and new reason, and the
    differences in the KPIs (terminal tables and an Excel file)."""
    from planner.diff import diff_runs, write_diff_xlsx

    try:
        d = diff_runs(run_a, run_b)
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    props = Table(title=f"{len(d.properties):,} property decision(s) changed "
                  f"({int((d.properties['decided_by'] == 'planner').sum())} by the planner)")
    for col in ("property_id", "before", "after", "decided_by", "reason_after"):
        props.add_column(col, overflow="fold")
    for r in d.properties.head(limit).itertuples(index=False):
        props.add_row(r.property_id, r.before, r.after, r.decided_by, r.reason_after)
    console.print(props)
    console.print(f"{len(d.transfers):,} transfer(s) changed")
    kpis = Table(title="KPIs (national scope of each run)")
    for col in ("KPI", "unit", "before", "after", "change"):
        kpis.add_column(col, justify="left" if col in ("KPI", "unit") else "right")
    for r in d.kpis.itertuples(index=False):
        text = fmt_number(r.change)
        kpis.add_row(r.kpi, r.unit, fmt_number(r.before), fmt_number(r.after),
                     f"[bold yellow]{text}[/bold yellow]" if r.change not in (0, 0.0) and
                     r.change == r.change else text)
    console.print(kpis)
    target = out or Path("diffs") / f"{run_a.name}--{run_b.name}.xlsx"
    write_diff_xlsx(d, target)
    console.print(f"Differences in [bold]{target}[/bold]")


@app.command()
def replan(
    run_dir: Annotated[Path, typer.Argument(help="The run to start from.")],
    decisions: Annotated[Path, typer.Option("--decisions", help="The planner's decisions "
                                            "(`assetplan schema decisions`).")],
    out: Annotated[Path | None, typer.Option("--out", help="New run directory (default: "
                                             "named like a run with these decisions).")]
    = None,
    maps: Annotated[bool, typer.Option(help="Draw PNG and HTML maps.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")]
    = False,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", min=1, help="Solver time limit (s) instead of the scenario's: a "
        "re-plan starts from a plan, so less time may do.")] = None,
) -> None:
    """Solve a run's scenario again with the planner's decisions, starting from that run's
    plan, into a new folder (the run itself is left as it is)."""
    from planner.diff import start_plan
    from planner.outputs import RunExistsError, write_plan
    from planner.pipeline import output_name, run_scenario

    prov_file = run_dir / "provenance.json"
    start_file = run_dir / "tables" / "dispositions.parquet"
    if not (prov_file.exists() and start_file.exists()):
        console.print(f"[red]{run_dir}: not a run directory (no provenance.json or "
                      "tables/dispositions.parquet)[/red]")
        raise typer.Exit(1)
    base = Scenario.model_validate(json.loads(prov_file.read_text(encoding="utf-8"))[
        "scenario"])
    scenario = base.model_copy(update={"data": base.data.model_copy(
        update={"decisions": str(decisions.resolve())})})
    if time_limit is not None:
        scenario = scenario.model_copy(update={"solver": scenario.solver.model_copy(
            update={"time_limit_s": time_limit})})
    target = out or output_name(scenario)
    if target.resolve() == run_dir.resolve() or (target.exists() and not force):
        console.print(f"[red]{target} exists: give another --out, or --force to replace it "
                      "(never the run re-planned)[/red]")
        raise typer.Exit(1)
    try:
        plan = run_scenario(scenario, start=start_plan(run_dir))
        write_plan(plan, target, maps=maps, force=force)
    except (InventoryError, ValueError, RunExistsError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    for s in plan.solves:
        console.print(f"  {s['stage']:<12} {s['status']:<10} objective {s['objective']:,.0f}  "
                      f"gap {s['gap']:.3%}  ({s['wall_time_s']:.1f} s)")
    console.print(f"Re-planned {run_dir} into [bold]{target}[/bold]; `assetplan diff "
                  f"{run_dir} {target}` shows what changed")


@app.command("travel-times")
def travel_times_cmd(
    osm: Annotated[Path, typer.Option("--osm", help="OpenStreetMap extract (.osm.pbf), e.g. "
                                      "Geofabrik's vietnam-latest.osm.pbf.")],
    out: Annotated[Path, typer.Option("--out", help="OD table to write (.parquet or .csv).")],
    scenario_file: Annotated[Path, typer.Option("--scenario", help="Scenario whose candidate "
                                                "pairs are measured.")]
    = Path("scenarios/national-baseline.yaml"),
    province: Annotated[list[str] | None, typer.Option(
        "--province", help="Only this province code (repeat for several).")] = None,
    max_km: Annotated[float | None, typer.Option(
        "--max-km", min=0, help="Stop every search at this road distance (km); longer pairs "
        "get no row. Default: the scenario's largest radius, then the longer pairs again.")]
    = None,
    max_snap_km: Annotated[float, typer.Option(
        "--max-snap-km", min=0, help="A point farther than this from any road is off the "
        "network: its pairs get no row.")] = 5.0,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Processes searching side by side (default: the machine's "
        "cores); each holds about 0.5 GB of search results besides the graph.")] = None,
) -> None:
    """Road distances and minutes of every candidate pair a scenario needs (seats,
    disposition, transfer), from an OpenStreetMap extract: the OD table `assetplan run --od`
    reads. Pairs with no route are listed with their reason in <out>.unreachable.csv."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from geodata.roads import read_road_graph
    from planner.pipeline import load_inputs
    from planner.travel_times import travel_times, write_travel_times

    if out.suffix.lower() not in (".parquet", ".csv"):
        console.print(f"[red]--out {out}: an OD table is a .parquet or .csv file[/red]")
        raise typer.Exit(2)
    scenario = _load_scenario(scenario_file, None, province)
    if not osm.is_file():
        console.print(f"[red]--osm {osm}: no such file[/red]")
        raise typer.Exit(2)
    try:
        inputs = load_inputs(scenario)
        with console.status(f"reading roads and ferries from {osm.name}"):
            graph = read_road_graph(osm)
    except (InventoryError, ValueError, RuntimeError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    console.print(f"{osm.name}: {graph.n_nodes:,} road nodes, {graph.n_edges:,} edges")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"shortest paths, {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        result = travel_times(inputs, graph, max_km=max_km, max_snap_km=max_snap_km,
                              progress=progress, workers=workers or os.cpu_count() or 1)
    side = write_travel_times(result, out)
    n = len(result.pairs)
    console.print(f"[bold]{out}[/bold]: {len(result.od):,} of {n:,} candidate pairs "
                  f"({len(result.od) / max(n, 1):.1%})")
    if side is not None:
        counts = result.unreachable["reason"].value_counts()
        console.print(f"[yellow]{len(result.unreachable):,} pairs got no row ("
                      + ", ".join(f"{k} {v:,}" for k, v in counts.items())
                      + f"): a run keeps their computed distance; see {side}[/yellow]")
