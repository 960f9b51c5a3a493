"""What runs inside a worker process: scenarios, one after another, until told to stop.

Started with the 'spawn' context (OR-Tools threads and fork do not mix). It imports the planner
once, then waits on its pipe for jobs; for each it sends ``("progress", stage, overall_fraction,
message)`` and then ``("done", info)`` or ``("failed", message)``. Cancelling a run is
terminating its worker. If the server dies, a watchdog thread ends the process, so no solve
outlives the server that started it. After ``max_runs`` jobs the process exits, so memory never
creeps; the server starts a fresh one when it needs it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Mapping
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, Protocol

PARENT_GONE_EXIT = 70


def exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the sentinel pipe closes
        os._exit(PARENT_GONE_EXIT)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def without_paths(text: str, shown_as: Mapping[str, str]) -> str:
    """``text`` with each server path cut out: a file inside it by its name, the folder
    itself by the words it maps to (longest paths first, so a folder inside another wins)."""
    for path in sorted(shown_as, key=len, reverse=True):
        text = text.replace(path + "/", "").replace(path, shown_as[path])
    return text


def client_message(err: BaseException, shown_as: Mapping[str, str] | None = None) -> str:
    """What a client may read about a failure: the planner's own messages (ValueError and its
    subclasses ScenarioError, InventoryError, ...), never a trace nor a server path."""
    if isinstance(err, ValueError):
        text = without_paths(str(err), shown_as or {})
        return text if len(text) <= 4000 else text[:4000] + " ..."
    return (f"the run failed with an internal error ({type(err).__name__}); the details are in "
            "the server log")


class Sender(Protocol):
    """Where a job's messages go: the worker's pipe, or what a Ray task keeps."""

    def send(self, msg: Any) -> None: ...


def run_job(conn: Sender, job: dict[str, Any]) -> None:
    from pathlib import Path

    from planner.diff import Start
    from planner.i18n import _, set_lang
    from planner.outputs import write_plan
    from planner.pipeline import STAGES, run_scenario
    from planner.scenario import Scenario

    stages = (*STAGES, "write")

    def progress(stage: str, fraction: float, message: str) -> None:
        i = stages.index(stage) if stage in stages else 0
        overall = (i + min(max(float(fraction), 0.0), 1.0)) / len(stages)
        conn.send(("progress", stage, overall, message))

    set_lang(job.get("lang"))  # the language of the request that created the run
    try:
        scenario = Scenario.model_validate(job["scenario"])
        start = Start.load(Path(job["start"])) if job.get("start") else None
        adjust = None
        if job.get("draw") is not None:  # a sweep member's draw of needs and prices
            from planner.sweep import MonteCarlo, apply_draw

            adjust = partial(apply_draw, monte_carlo=MonteCarlo.model_validate(
                job["monte_carlo"]), draw=job["draw"])
        plan = run_scenario(scenario, progress, job.get("dataset_path"), start=start,
                            adjust=adjust)
        progress("write", 0.0, _("writing the tables, workbook, GeoPackage, maps and report"))
        write_plan(plan, job["out_dir"], maps=bool(job["write_maps"]), force=True)
        conn.send(("done", {"synthetic": bool(plan.synthetic)}))
    except Exception as err:  # every failure becomes a failed run with a client-safe message
        traceback.print_exc()
        places = {job.get("dataset_path"): "the dataset", job.get("out_dir"): "the run folder"}
        conn.send(("failed", client_message(err, {p: w for p, w in places.items() if p})))


def worker_main(conn: Connection, max_runs: int) -> None:
    # Ctrl+C in the server's terminal reaches the whole process group: the server decides what
    # happens to its runs (they become interrupted), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    for module in ("planner.pipeline", "planner.outputs"):  # once, before the first job
        importlib.import_module(module)

    try:
        for _ in range(max_runs):
            job = conn.recv()
            if job is None:  # asked to stop
                return
            run_job(conn, job)
    except (EOFError, OSError):  # the server closed the pipe
        return
    finally:
        conn.close()
