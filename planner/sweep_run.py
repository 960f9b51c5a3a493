"""Sweep members run on Ray: an embedded local Ray on the machine's cores by default, or an
existing cluster (``address``, or ``RAY_ADDRESS``), by the same code path.

The sweep folder holds ``sweep.json`` (the spec and every member's settings), one run folder
per member under ``members/`` (written by the member's worker: on a cluster the folder must be
on storage every node sees), each with its ``member.json`` (status, error, attempts, time)
written by the driver, and the summary (``planner.sweep_summary``). A member whose worker dies
is retried (``max_retries``), then reported failed; a member's own error fails it at once.
Cancelling (Ctrl-C, or a ``CANCEL`` file that ``assetplan sweep cancel`` writes) force-cancels
the running members and keeps every finished one; ``resume`` runs only the members not done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from planner.i18n import _, current_lang
from planner.sweep import Member, MonteCarlo, SweepSpec, apply_draw, load_sweep

SWEEP_FILE = "sweep.json"
MEMBER_FILE = "member.json"
CANCEL_FILE = "CANCEL"
MEMBERS = "members"
ATTEMPTS = "attempts"  # one line per start of a member: pid, host, time (retries show here)
SUCCEEDED, FAILED, CANCELLED, PENDING = "succeeded", "failed", "cancelled", "pending"
POLL_S = 0.25
CANCEL_WAIT_S = 10.0  # a force-cancelled member's worker is gone well within this


def member_dir(sweep_dir: Path, member: str) -> Path:
    return sweep_dir / MEMBERS / member


def write_json(path: Path, data: Any) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True,
                              default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def spec_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_member(job: dict[str, Any]) -> dict[str, Any]:
    """One member, in a Ray worker (or in this process): solve, write its run folder."""
    from planner.i18n import set_lang
    from planner.outputs import write_plan
    from planner.pipeline import run_scenario
    from planner.scenario import Scenario

    sweep_dir = Path(job["sweep_dir"])
    attempts = sweep_dir / ATTEMPTS / f"{job['name']}.log"
    with attempts.open("a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {socket.gethostname()} {time.time():.3f}\n")
    set_lang(job["lang"])
    t0 = time.perf_counter()
    scenario = Scenario.model_validate(job["scenario"])
    adjust = None
    if job["draw"] is not None:
        adjust = partial(apply_draw, monte_carlo=MonteCarlo.model_validate(job["monte_carlo"]),
                         draw=job["draw"])
    try:
        plan = run_scenario(scenario, adjust=adjust)
    except ValueError as err:  # the planner's own words (bad data, a decision refused)
        # returned as text: an InventoryError does not survive pickling whole
        return {"error": str(err)}
    plan.provenance["sweep"] = {"name": job["sweep"], "member": job["name"],
                                "params": job["params"], "draw": job["draw"]}
    write_plan(plan, member_dir(sweep_dir, job["name"]), maps=False, force=True)
    return {"wall_s": time.perf_counter() - t0,
            "solves": [{k: s.get(k) for k in ("stage", "status", "gap")} for s in plan.solves]}


@dataclass
class Progress:
    """What the driver reports after every change: counts and the member that changed."""

    total: int
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0
    last: str = ""
    elapsed_s: float = 0.0


@dataclass
class SweepOutcome:
    sweep_dir: Path
    statuses: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    cancelled: bool = False


def member_jobs(spec: SweepSpec, members: list[Member], sweep_dir: Path) -> list[dict[str, Any]]:
    mc = spec.monte_carlo.model_dump(mode="json") if spec.monte_carlo else None
    return [{"name": m.name, "index": m.index, "sweep": spec.name,
             "sweep_dir": str(sweep_dir.resolve()), "params": dict(m.params), "draw": m.draw,
             "monte_carlo": mc, "scenario": m.scenario.model_dump(mode="json"),
             "lang": current_lang(), "threads": spec.threads_per_member} for m in members]


def prepare(spec_path: Path, sweep_dir: Path, *, resume: bool, force: bool
            ) -> tuple[SweepSpec, list[dict[str, Any]], set[str]]:
    """Validate and expand the spec, lay out the folder; the names already finished."""
    from planner.outputs import refuse_existing

    spec, members = load_sweep(spec_path)
    digest = spec_hash(spec_path)
    done: set[str] = set()
    if sweep_dir.exists() and resume:
        old = read_json(sweep_dir / SWEEP_FILE) if (sweep_dir / SWEEP_FILE).exists() else {}
        if old.get("spec_hash") != digest:
            raise ValueError(_("{dir} was written by another sweep file (or an earlier "
                               "version of it); --force starts it again", dir=sweep_dir))
        done = {m.name for m in members if _status(sweep_dir, m.name) == SUCCEEDED}
    elif sweep_dir.exists() and force:
        shutil.rmtree(sweep_dir)
    elif sweep_dir.exists():
        refuse_existing(sweep_dir)
    (sweep_dir / MEMBERS).mkdir(parents=True, exist_ok=True)
    (sweep_dir / ATTEMPTS).mkdir(exist_ok=True)
    (sweep_dir / CANCEL_FILE).unlink(missing_ok=True)
    write_json(sweep_dir / SWEEP_FILE, {
        "name": spec.name, "description": spec.description, "spec_file": spec_path.name,
        "spec_hash": digest, "spec": spec.model_dump(mode="json"),
        "members": [{"name": m.name, "index": m.index, "params": dict(m.params),
                     "draw": m.draw} for m in members],
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    return spec, member_jobs(spec, members, sweep_dir), done


def _status(sweep_dir: Path, name: str) -> str:
    f = member_dir(sweep_dir, name) / MEMBER_FILE
    return str(read_json(f).get("status", PENDING)) if f.exists() else PENDING


def attempts_of(sweep_dir: Path, name: str) -> int:
    f = sweep_dir / ATTEMPTS / f"{name}.log"
    return len(f.read_text(encoding="utf-8").splitlines()) if f.exists() else 0


def record(sweep_dir: Path, job: dict[str, Any], status: str, **extra: Any) -> None:
    d = member_dir(sweep_dir, job["name"])
    if status != SUCCEEDED:  # a half-written folder of a failed attempt is not a result
        shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / MEMBER_FILE, {"name": job["name"], "index": job["index"],
                                 "params": job["params"], "draw": job["draw"],
                                 "status": status,
                                 "attempts": attempts_of(sweep_dir, job["name"]), **extra})


def failure_text(err: BaseException) -> str:
    """A member's error as a planner reads it: the planner's own message, or what died."""
    import ray.exceptions as rex

    if isinstance(err, rex.RayTaskError):
        cause = err.cause if isinstance(err.cause, BaseException) else None
        return _("the member failed with an internal error ({kind})",
                 kind=type(cause).__name__ if cause is not None else err.function_name)
    if isinstance(err, rex.WorkerCrashedError | rex.NodeDiedError | rex.RaySystemError
                  | rex.ObjectLostError):
        return _("the worker running it died, also after its retries")
    return _("the member failed: {kind}", kind=type(err).__name__)


def start_ray(address: str | None, cpus: int | None) -> bool:
    """Connect to ``address`` (or RAY_ADDRESS), else start a local Ray on ``cpus`` (the
    machine's cores); True when this process started it (and shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target:
        ray.init(address=target, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False,
                 log_to_driver=False)
    return True


def run_sweep(spec_path: str | Path, sweep_dir: str | Path, *, address: str | None = None,
              cpus: int | None = None, resume: bool = False, force: bool = False,
              max_retries: int = 2, on_progress: Callable[[Progress], None] | None = None
              ) -> SweepOutcome:
    """Run every member not done on Ray and write the summary; see the module docstring."""
    import ray

    from planner.sweep_summary import write_summary

    spec_path, out = Path(spec_path), Path(sweep_dir)
    spec, jobs, done = prepare(spec_path, out, resume=resume, force=force)
    todo = [j for j in jobs if j["name"] not in done]
    t0 = time.perf_counter()
    outcome = SweepOutcome(out, {j["name"]: SUCCEEDED for j in jobs if j["name"] in done})
    progress = Progress(total=len(jobs), done=len(done))
    started = start_ray(address, cpus)
    try:
        task = ray.remote(run_member)
        refs = {task.options(num_cpus=j["threads"], max_retries=max_retries,
                             retry_exceptions=False, name=f"{spec.name}/{j['name']}"
                             ).remote(j): j for j in todo}
        progress.running = len(refs)
        if on_progress:
            on_progress(progress)
        try:
            while refs:
                ready, _pending = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    job = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                        status = FAILED if "error" in result else SUCCEEDED
                        record(out, job, status, **result)
                        progress.done += status == SUCCEEDED
                        progress.failed += status == FAILED
                        outcome.statuses[job["name"]] = status
                    except ray.exceptions.TaskCancelledError:
                        record(out, job, CANCELLED)
                        progress.cancelled += 1
                        outcome.statuses[job["name"]] = CANCELLED
                    except Exception as err:  # the member's failure, reported with its words
                        record(out, job, FAILED, error=failure_text(err))
                        progress.failed += 1
                        outcome.statuses[job["name"]] = FAILED
                    progress.last = job["name"]
                progress.running = len(refs)
                progress.elapsed_s = time.perf_counter() - t0
                if on_progress and ready:
                    on_progress(progress)
                if (out / CANCEL_FILE).exists():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            outcome.cancelled = True
            for ref in refs:
                ray.cancel(ref, force=True)
            # Let the killed workers go before recording, so that none renames a folder over
            # its member's record.
            ray.wait(list(refs), num_returns=len(refs), timeout=CANCEL_WAIT_S)
            for job in refs.values():
                record(out, job, CANCELLED)
                outcome.statuses[job["name"]] = CANCELLED
            progress.cancelled += len(refs)
            progress.running = 0
            if on_progress:
                on_progress(progress)
    finally:
        if started:
            ray.shutdown()
    for tmp in (out / MEMBERS).glob(".*"):  # what a killed worker's write_plan left
        shutil.rmtree(tmp, ignore_errors=True)
    for j in jobs:
        outcome.statuses.setdefault(j["name"], _status(out, j["name"]))
    outcome.wall_s = time.perf_counter() - t0
    write_summary(out)
    return outcome


def request_cancel(sweep_dir: str | Path) -> Path:
    """Ask the driver of a running sweep to stop (it polls for this file)."""
    d = Path(sweep_dir)
    if not (d / SWEEP_FILE).exists():
        raise ValueError(_("{dir} is not a sweep folder (no {file})", dir=d, file=SWEEP_FILE))
    f = d / CANCEL_FILE
    f.write_text(dt.datetime.now(dt.UTC).isoformat(timespec="seconds") + "\n",
                 encoding="utf-8")
    return f
