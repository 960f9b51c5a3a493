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
from multiprocessing.connection import Connection
from typing import Any

PARENT_GONE_EXIT = 70


def exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the sentinel pipe closes
        os._exit(PARENT_GONE_EXIT)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def client_message(err: BaseException, hide: tuple[str, ...] = ()) -> str:
    """What a client may read about a failure: the planner's own messages (ValueError and its
    subclasses ScenarioError, InventoryError, ...), never a trace nor a server path (each of
    ``hide`` is cut out)."""
    if isinstance(err, ValueError):
        text = str(err)
        for path in sorted(hide, key=len, reverse=True):
            text = text.replace(path + "/", "").replace(path, "the dataset")
        return text if len(text) <= 4000 else text[:4000] + " ..."
    return (f"the run failed with an internal error ({type(err).__name__}); the details are in "
            "the server log")


def run_job(conn: Connection, job: dict[str, Any]) -> None:
    from planner.outputs import write_plan
    from planner.pipeline import STAGES, run_scenario
    from planner.scenario import Scenario

    stages = (*STAGES, "write")

    def progress(stage: str, fraction: float, message: str) -> None:
        i = stages.index(stage) if stage in stages else 0
        overall = (i + min(max(float(fraction), 0.0), 1.0)) / len(stages)
        conn.send(("progress", stage, overall, message))

    try:
        scenario = Scenario.model_validate(job["scenario"])
        plan = run_scenario(scenario, progress, job.get("dataset_path"))
        progress("write", 0.0, "writing the tables, workbook, GeoPackage, maps and report")
        write_plan(plan, job["out_dir"], maps=bool(job["write_maps"]))
        conn.send(("done", {"synthetic": bool(plan.synthetic)}))
    except Exception as err:  # every failure becomes a failed run with a client-safe message
        traceback.print_exc()
        hide = tuple(p for p in (job.get("dataset_path"), job.get("out_dir")) if p)
        conn.send(("failed", client_message(err, hide)))


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
