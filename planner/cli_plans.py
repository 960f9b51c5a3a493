"""``assetplan run``, ``compare``, ``diff``, ``replan`` and ``travel-times``: the commands that
make and read plans, with the KPI tables they print."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table

from planner.cli_app import app, console, print_notes
from planner.i18n import _, number, percent
from planner.inventory import InventoryError, Problem
from planner.labels import column_label, kpi_label, label
from planner.scenario import Scenario

if TYPE_CHECKING:
    from planner.pipeline import Plan


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
    table.add_column(_("KPI"), overflow="fold", ratio=3, min_width=16)
    table.add_column(_("unit"), overflow="fold", max_width=8)
    values = [c for c in frame.columns if c not in ("kpi", "kpi_vi", "unit")]
    heads = {"before": _("before"), "after": _("after"), "change": _("change")}
    for c in values:
        head = heads.get(c) or (_("change {run}", run=c.removeprefix("change "))
                                if c.startswith("change ") else c)
        table.add_column(head, justify="right", overflow="fold", ratio=1)
    for row in frame.itertuples(index=False):
        cells = [kpi_label(str(row.kpi)), label("unit", str(row.unit))]
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
    return number(v, 0 if float(v).is_integer() else 2)


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


@app.command(help=_("Run a scenario: seats, disposition of surplus houses and land, transfer "
                    "of cars and equipment. Writes tables, an Excel workbook, "
                    "GeoPackage/GeoJSON, maps and a report into a new folder (default: "
                    "runs/<scenario>, with +<override> and @p<provinces> when given); an "
                    "existing folder is never replaced without --force."))
def run(
    scenario_file: Annotated[Path, typer.Argument(help=_("Scenario YAML, e.g. "
                                                         "scenarios/national-baseline.yaml"))],
    out: Annotated[Path | None, typer.Option("--out", help=_("Run directory (default: "
                                                             "runs/<scenario name>)."))] = None,
    province: Annotated[list[str] | None, typer.Option(
        "--province", help=_("Plan only this province code (repeat for several)."))] = None,
    override: Annotated[list[str] | None, typer.Option(
        "--override", help=_("Apply a named override of the scenario file (repeat to "
                             "stack)."))] = None,
    maps: Annotated[bool, typer.Option(help=_("Draw PNG and HTML maps."))] = True,
    force: Annotated[bool, typer.Option("--force", help=_("Replace the run folder if it "
                                                          "exists."))] = False,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", help=_("The planner's own decisions (CSV, .xlsx or .parquet; "
                              "`assetplan schema decisions`)."))] = None,
    od: Annotated[Path | None, typer.Option(
        "--od", help=_("Travel table replacing the computed distances of the pairs it covers "
                       "(CSV or .parquet; `assetplan schema od`)."))] = None,
) -> None:
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
        console.print("[red]" + _("{target} exists: another run wrote it; give another "
                                  "--out, or --force to replace it", target=target) + "[/red]")
        raise typer.Exit(1)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(_("starting"), total=len(STAGES))

        def progress(stage: str, fraction: float, message: str) -> None:
            bar.update(task, completed=STAGES.index(stage) + fraction,
                       description=f"[bold]{label('stage', stage)}[/bold]: {message}")

        try:
            plan = run_scenario(scenario, progress)
        except (InventoryError, ValueError) as err:
            bar.stop()
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
        bar.update(task, description=_("writing outputs"))
        try:
            write_plan(plan, target, maps=maps, force=force)
        except RunExistsError as err:
            bar.stop()
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
    print_notes([Problem(**n) for n in plan.provenance["dataset"]["notes"]])
    if plan.synthetic:
        console.print("[bold yellow]" + _("SYNTHETIC inventory: a demo calibrated to published "
                                          "totals, not real asset data.") + "[/bold yellow]")
    console.print(_kpi_table(_("{run}: KPIs ({coverage})", run=target.name,
                               coverage=plan.coverage_name),
                             {scenario.name: plan.kpis}, "national", "VN"))
    for s in plan.solves:
        console.print("  " + _solve_line(s, part=True))
    _outside_note(plan)
    written = ["report.html", "plan.xlsx", "plan.gpkg", *(["map.html", "maps/*.png"] if maps
                                                          else []), "tables/"]
    console.print(_("Outputs in [bold]{target}[/bold]: {files}", target=target,
                    files=", ".join(written)))


def _outside_note(plan: Plan) -> None:
    """Say which decision rows this run left for a run that plans their provinces."""
    n = int((plan.provenance.get("decisions") or {}).get("outside_provinces", 0))
    if n:
        console.print("[yellow]" + _("{n} decision row(s) name units outside this run's "
                                     "provinces: they wait for a run that plans them",
                                     n=number(n)) + "[/yellow]")


def _solve_line(s: dict, part: bool = False) -> str:
    """One solve as a planner reads it: stage, status, objective, bound, gap, time."""
    where = f"{s['part']:<10} " if part else ""
    return (f"{label('stage', s['stage']):<12} {where}{label('status', s['status']):<10} "
            + _("objective {objective}  bound {bound}  gap {gap}  ({solver}, {seconds} s)",
                objective=number(s["objective"]), bound=number(s["best_bound"]),
                gap=percent(s["gap"], 3), solver=s["solver"],
                seconds=number(s["wall_time_s"], 1)))


@app.command(help=_("Show the KPIs of several runs side by side, with each run's difference "
                    "from the first (highlighted where it is not zero)."))
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help=_("Two or more run directories."))],
    scope: Annotated[str, typer.Option(help=_("national, province or terrain"))] = "national",
    scope_id: Annotated[str | None, typer.Option(
        "--id", help=_("Province code or terrain class when --scope is not national."))]
    = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help=_("Also write the table (with the KPI codes) to this CSV file."))]
    = None,
) -> None:
    if len(run_dirs) < 2:
        console.print("[red]" + _("give at least two run directories") + "[/red]")
        raise typer.Exit(2)
    kpis: dict[str, pd.DataFrame] = {}
    for d in run_dirs:
        f = d / "tables" / "kpis.parquet"
        if not f.exists():
            console.print("[red]" + _("{dir}: not a run directory (no {file})", dir=d,
                                      file="tables/kpis.parquet") + "[/red]")
            raise typer.Exit(1)
        name = json.loads((d / "provenance.json").read_text(encoding="utf-8"))["scenario"][
            "name"]
        kpis[name if name not in kpis else str(d)] = pd.read_parquet(f)
    sid = "VN" if scope == "national" else scope_id
    if sid is None:
        console.print("[red]" + _("--id is required with --scope province or terrain")
                      + "[/red]")
        raise typer.Exit(2)
    console.print(_kpi_table(_("KPIs after the plan ({scope} {id})", scope=label("scope", scope),
                               id=sid), kpis, scope, sid))
    if csv is not None:
        kpi_frame(kpis, scope, sid).to_csv(csv, index=False, encoding="utf-8-sig")
        console.print(_("Written to [bold]{file}[/bold]", file=csv))


@app.command(help=_("The decisions that changed between two runs, each with its old and new "
                    "reason, and the differences in the KPIs (terminal tables and an Excel "
                    "file)."))
def diff(
    run_a: Annotated[Path, typer.Argument(help=_("The earlier run directory."))],
    run_b: Annotated[Path, typer.Argument(help=_("The later run directory."))],
    out: Annotated[Path | None, typer.Option(
        "--out", help=_("Excel file of the differences (default: diffs/<a>--<b>.xlsx)."))]
    = None,
    limit: Annotated[int, typer.Option(help=_("Changed decisions shown in the terminal."))]
    = 30,
) -> None:
    from planner.diff import diff_runs, write_diff_xlsx

    try:
        d = diff_runs(run_a, run_b)
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    props = Table(title=_("{n} property decision(s) changed ({planner} by the planner)",
                          n=number(len(d.properties)),
                          planner=int((d.properties["decided_by"] == "planner").sum())))
    for col in ("property_id", "before", "after", "decided_by", "reason_after"):
        props.add_column(column_label(col) if col != "reason_after" else _("Reason after"),
                         overflow="fold")
    for r in d.properties.head(limit).itertuples(index=False):
        props.add_row(r.property_id, r.before, r.after, label("decided_by", r.decided_by),
                      r.reason_after)
    console.print(props)
    console.print(_("{n} transfer(s) changed", n=number(len(d.transfers))))
    kpis = Table(title=_("KPIs (national scope of each run)"))
    for j, col in enumerate((_("KPI"), _("unit"), _("before"), _("after"), _("change"))):
        kpis.add_column(col, justify="left" if j < 2 else "right")
    for r in d.kpis.itertuples(index=False):
        text = fmt_number(r.change)
        kpis.add_row(kpi_label(r.kpi), label("unit", r.unit), fmt_number(r.before),
                     fmt_number(r.after),
                     f"[bold yellow]{text}[/bold yellow]" if r.change not in (0, 0.0) and
                     r.change == r.change else text)
    console.print(kpis)
    target = out or Path("diffs") / f"{run_a.name}--{run_b.name}.xlsx"
    write_diff_xlsx(d, target)
    console.print(_("Differences in [bold]{file}[/bold]", file=target))


@app.command(help=_("Solve a run's scenario again with the planner's decisions, starting from "
                    "that run's plan, into a new folder (the run itself is left as it is)."))
def replan(
    run_dir: Annotated[Path, typer.Argument(help=_("The run to start from."))],
    decisions: Annotated[Path, typer.Option("--decisions", help=_(
        "The planner's decisions (`assetplan schema decisions`)."))],
    out: Annotated[Path | None, typer.Option("--out", help=_(
        "New run directory (default: named like a run with these decisions)."))] = None,
    maps: Annotated[bool, typer.Option(help=_("Draw PNG and HTML maps."))] = True,
    force: Annotated[bool, typer.Option("--force", help=_("Replace --out if it exists."))]
    = False,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", min=1, help=_("Solver time limit (s) instead of the scenario's: a "
                                      "re-plan starts from a plan, so less time may do."))]
    = None,
) -> None:
    from planner.diff import start_plan
    from planner.outputs import RunExistsError, write_plan
    from planner.pipeline import output_name, run_scenario

    prov_file = run_dir / "provenance.json"
    start_file = run_dir / "tables" / "dispositions.parquet"
    if not (prov_file.exists() and start_file.exists()):
        console.print("[red]" + _("{dir}: not a run directory (no {file})", dir=run_dir,
                                  file="provenance.json, tables/dispositions.parquet")
                      + "[/red]")
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
        console.print("[red]" + _("{target} exists: give another --out, or --force to "
                                  "replace it (never the run re-planned)", target=target)
                      + "[/red]")
        raise typer.Exit(1)
    try:
        plan = run_scenario(scenario, start=start_plan(run_dir))
        write_plan(plan, target, maps=maps, force=force)
    except (InventoryError, ValueError, RunExistsError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    for s in plan.solves:
        console.print("  " + _solve_line(s))
    _outside_note(plan)
    console.print(_("Re-planned {run} into [bold]{target}[/bold]; `assetplan diff {run} "
                    "{target}` shows what changed", run=run_dir, target=target))


@app.command("travel-times", help=_(
    "Road distances and minutes of every candidate pair a scenario needs (seats, disposition, "
    "transfer), from an OpenStreetMap extract: the OD table `assetplan run --od` reads. Pairs "
    "with no route are listed with their reason in <out>.unreachable.csv."))
def travel_times_cmd(
    osm: Annotated[Path, typer.Option("--osm", help=_(
        "OpenStreetMap extract (.osm.pbf), e.g. Geofabrik's vietnam-latest.osm.pbf."))],
    out: Annotated[Path, typer.Option("--out", help=_(
        "OD table to write (.parquet or .csv)."))],
    scenario_file: Annotated[Path, typer.Option("--scenario", help=_(
        "Scenario whose candidate pairs are measured."))]
    = Path("scenarios/national-baseline.yaml"),
    province: Annotated[list[str] | None, typer.Option(
        "--province", help=_("Only this province code (repeat for several)."))] = None,
    max_km: Annotated[float | None, typer.Option(
        "--max-km", min=0, help=_("Stop every search at this road distance (km); longer "
                                  "pairs get no row. Default: the scenario's largest radius, "
                                  "then the longer pairs again."))] = None,
    max_snap_km: Annotated[float, typer.Option(
        "--max-snap-km", min=0, help=_("A point farther than this from any road is off the "
                                       "network: its pairs get no row."))] = 5.0,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help=_("Processes searching side by side (default: the "
                                   "machine's cores); each holds about 0.5 GB of search "
                                   "results besides the graph."))] = None,
) -> None:
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
        console.print("[red]" + _("--out {out}: an OD table is a .parquet or .csv file",
                                  out=out) + "[/red]")
        raise typer.Exit(2)
    scenario = _load_scenario(scenario_file, None, province)
    if not osm.is_file():
        console.print("[red]" + _("--osm {osm}: no such file", osm=osm) + "[/red]")
        raise typer.Exit(2)
    try:
        inputs = load_inputs(scenario)
        with console.status(_("reading roads and ferries from {file}", file=osm.name)):
            graph = read_road_graph(osm)
    except (InventoryError, ValueError, RuntimeError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    console.print(_("{file}: {nodes} road nodes, {edges} edges", file=osm.name,
                    nodes=number(graph.n_nodes), edges=number(graph.n_edges)))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_("shortest paths, {stage}", stage=stage),
                                            total=total)
            bar.update(tasks[stage], completed=done)

        result = travel_times(inputs, graph, max_km=max_km, max_snap_km=max_snap_km,
                              progress=progress, workers=workers or os.cpu_count() or 1)
    side = write_travel_times(result, out)
    n = len(result.pairs)
    console.print(f"[bold]{out}[/bold]: " + _(
        "{rows} of {n} candidate pairs ({share})", rows=number(len(result.od)), n=number(n),
        share=percent(len(result.od) / max(n, 1))))
    if side is not None:
        counts = result.unreachable["reason"].value_counts()
        console.print("[yellow]" + _(
            "{n} pairs got no row ({counts}): a run keeps their computed distance; see {file}",
            n=number(len(result.unreachable)),
            counts=", ".join(f"{k} {number(v)}" for k, v in counts.items()), file=side)
            + "[/yellow]")
