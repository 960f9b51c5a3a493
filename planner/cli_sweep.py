"""``assetplan sweep``: run a sweep file's members on Ray, cancel a running sweep, or write a
sweep folder's summary again from its members."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli_app import app, console
from planner.i18n import _, number
from planner.inventory import InventoryError


@app.command(help=_(
    "Run a sweep: `assetplan sweep SWEEP.yaml` runs every member on Ray (a local Ray on "
    "this machine's cores, or the cluster at --address or RAY_ADDRESS) and writes one run "
    "folder per member and the summary; `assetplan sweep cancel DIR` stops a running sweep "
    "and keeps what finished; `assetplan sweep summary DIR` writes the summary again from "
    "the member folders. Ctrl-C also cancels."))
def sweep(
    target: Annotated[str, typer.Argument(help=_("The sweep file, or `cancel` or `summary`."))],
    folder: Annotated[Path | None, typer.Argument(help=_(
        "With cancel or summary: the sweep folder."))] = None,
    out: Annotated[Path | None, typer.Option("--out", help=_(
        "Sweep folder (default: runs/sweeps/<sweep name>)."))] = None,
    address: Annotated[str | None, typer.Option("--address", help=_(
        "Address of a running Ray cluster (default: RAY_ADDRESS, else a local Ray)."))] = None,
    cpus: Annotated[int | None, typer.Option("--cpus", min=1, help=_(
        "CPUs of the local Ray (default: the machine's cores)."))] = None,
    resume: Annotated[bool, typer.Option("--resume", help=_(
        "Run only the members not finished in the folder (same sweep file)."))] = False,
    force: Annotated[bool, typer.Option("--force", help=_(
        "Start the folder again, deleting its members."))] = False,
) -> None:
    from planner.sweep_run import request_cancel

    if target in ("cancel", "summary"):
        if folder is None:
            console.print("[red]" + _("give the sweep folder: assetplan sweep {cmd} DIR",
                                      cmd=target) + "[/red]")
            raise typer.Exit(2)
        try:
            if target == "cancel":
                request_cancel(folder)
                console.print(_("Asked the sweep in {dir} to stop; finished members are kept.",
                                dir=folder))
            else:
                from planner.sweep_summary import write_summary

                write_summary(folder)
                console.print(_("Summary written in {dir}.", dir=folder))
        except (ValueError, FileNotFoundError) as err:
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
        return
    _run(Path(target), out, address, cpus, resume, force)


def _run(spec_file: Path, out: Path | None, address: str | None, cpus: int | None,
         resume: bool, force: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from planner.outputs import RunExistsError
    from planner.sweep import load_sweep
    from planner.sweep_run import Progress as SweepProgress
    from planner.sweep_run import run_sweep

    try:
        spec, members = load_sweep(spec_file)
    except ValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    target = out or Path("runs") / "sweeps" / spec.name
    console.print(_("Sweep {name}: {n} members into {dir}.", name=spec.name,
                    n=number(len(members)), dir=target))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(_("starting Ray"), total=len(members))

        def show(p: SweepProgress) -> None:
            bar.update(task, completed=p.done + p.failed + p.cancelled, description=_(
                "{running} running, {failed} failed", running=p.running, failed=p.failed))

        try:
            outcome = run_sweep(spec_file, target, address=address, cpus=cpus, resume=resume,
                                force=force, on_progress=show)
        except (RunExistsError, InventoryError, ValueError) as err:
            bar.stop()
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
    counts = {s: list(outcome.statuses.values()).count(s)
              for s in ("succeeded", "failed", "cancelled")}
    console.print(_("{ok} succeeded, {failed} failed, {cancelled} cancelled in {s} s.",
                    ok=counts["succeeded"], failed=counts["failed"],
                    cancelled=counts["cancelled"], s=number(outcome.wall_s, 0)))
    console.print(_("Summary in [bold]{dir}[/bold]: report.html, summary.xlsx, summary/; one "
                    "run folder per member in members/.", dir=target))
    if counts["failed"] or outcome.cancelled:
        raise typer.Exit(1)
