"""The ``assetplan`` command line: what a provincial planner types."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

import geodata
from planner import cli_words, holdings
from planner.demo import DEFAULT_SEED, generate_demo
from planner.i18n import _, number, percent, set_lang
from planner.inventory import FORMATS, InventoryError, Problem, load_dataset, write_dataset
from planner.labels import column_label, kpi_label, label, table_label
from planner.scenario import LATEST_GEOGRAPHY, GeographyDate, Scenario, json_schema
from planner.schema import schema_markdown

app = typer.Typer(
    name="assetplan",
    help=_("Plan Vietnam's public assets after the 2025 merger of administrative units: which "
           "old buildings each new commune keeps, a use for every surplus house or plot, and "
           "where surplus cars and equipment go."),
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
cli_words.install()
AsOf = Annotated[GeographyDate, typer.Option("--as-of", help=_("The date of the units."))]


@app.callback()
def _language(
    lang: Annotated[str | None, typer.Option(
        "--lang", envvar="ASSETPLAN_LANG", show_envvar=True,
        help=_("Language of every message and output: vi (default) or en."))] = None,
) -> None:
    if lang is not None:
        try:
            set_lang(lang)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--lang") from None
        cli_words.install()


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
    _print_notes(dataset.notes)
    mark = " [bold yellow](" + _("SYNTHETIC") + ")[/bold yellow]" if dataset.synthetic else ""
    counts = ", ".join(f"{number(len(df))} {table_label(name).lower()}"
                       for name, df in dataset.tables.items())
    console.print("[green]" + _("valid") + f"[/green]{mark}: "
                  + _("{counts}; content hash {hash}", counts=counts,
                      hash=dataset.content_hash[:16]))


def _print_notes(notes: Sequence[Problem]) -> None:
    """What was read other than as typed (not errors)."""
    for n in notes:
        console.print(f"[cyan]{_('note')}[/cyan]: {n}")


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
    _print_notes([Problem(**n) for n in plan.provenance["dataset"]["notes"]])
    if plan.synthetic:
        console.print("[bold yellow]" + _("SYNTHETIC inventory: a demo calibrated to published "
                                          "totals, not real asset data.") + "[/bold yellow]")
    console.print(_kpi_table(_("{run}: KPIs ({coverage})", run=target.name,
                               coverage=plan.coverage_name),
                             {scenario.name: plan.kpis}, "national", "VN"))
    for s in plan.solves:
        console.print("  " + _solve_line(s, part=True))
    console.print(_("Outputs in [bold]{target}[/bold]: report.html, plan.xlsx, plan.gpkg, "
                    "map.html, maps/*.png, tables/", target=target))


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
