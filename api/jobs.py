"""Runs as jobs: the store is the queue, solves run in worker processes.

A supervisor thread in the server claims queued runs (``queued -> running``, a conditional
UPDATE, so a run is started once) under a lease (``api/leases.py``) and hands each to a worker
process (at most ``run_workers`` running in the whole store, and ``server_workers`` on this
server; a worker imports the planner once and does runs one after another, up to
``worker_max_runs``), writes progress to the store and records the outcome.

Several servers may share one store (and one data directory). Each renews the leases of the
runs it holds; a run whose lease ran out while ``running`` (its server was killed) becomes
``interrupted``, marked by any server, at start-up or later, and can be re-run; queued runs
simply start. Cancelling sets the run ``cancelled`` in the store, through any server: the
server holding it sees that within ``POLL_S`` and terminates the worker (at once when the
cancel came to it). A server removes only the outputs of runs it held or has just marked
interrupted, never those of a run another live server is writing.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from api.executors import Event, Executor, make_executor
from api.leases import Leases
from api.models import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    RUNNING,
    SUCCEEDED,
    DatasetRow,
    RunRow,
    utcnow,
)
from api.settings import Settings
from api.store import Store

log = logging.getLogger("api.jobs")
POLL_S = 1.0  # the store is re-read this often even without a wake-up (and cancels seen)
# A left-over of `assetplan runs import` (no run in the store) older than this is removed.
IMPORT_LEFTOVER_S = 3600.0
RELEASE_MARGIN_S = 5.0  # a cancel waits this much beyond the holder's own delays
INTERRUPTED_MESSAGE = ("the server stopped while this run was running; start it again with "
                       "POST /runs/{id}/rerun")


def run_dir(data_dir: Path, run_id: str) -> Path:
    return data_dir / "runs" / run_id


def decisions_file(data_dir: Path, run_id: str) -> Path:
    """Where a run's decisions are kept (outside its outputs, so a re-run finds them)."""
    return data_dir / "decisions" / f"{run_id}.csv"


def start_file(data_dir: Path, run_id: str) -> Path:
    """Where a re-plan keeps the plan it starts from (a copy: the old run may be deleted)."""
    return data_dir / "starts" / f"{run_id}.parquet"


def remove_outputs(data_dir: Path, run_id: str) -> None:
    """Delete a run's outputs and any half-written temporary folder of write_plan."""
    runs = data_dir / "runs"
    shutil.rmtree(runs / run_id, ignore_errors=True)
    for tmp in runs.glob(f".{run_id}.*"):
        shutil.rmtree(tmp, ignore_errors=True)


def remove_leftovers(store: Store, data_dir: Path) -> None:
    """Delete temporary folders (``runs/.<id>.*``) nobody will finish: those of runs in a final
    state, and imports that never got their run. A running run's belong to its server."""
    runs = data_dir / "runs"
    tmps = {p: p.name[1:].split(".", 1)[0] for p in runs.glob(".*.*")} if runs.exists() else {}
    if not tmps:
        return
    with store.session() as s:
        status = dict(s.execute(select(RunRow.id, RunRow.status)
                                .where(RunRow.id.in_(set(tmps.values())))).tuples().all())
    for tmp, run_id in tmps.items():
        state = status.get(run_id)
        stale = state is None and time.time() - tmp.stat().st_mtime > IMPORT_LEFTOVER_S
        if state in (SUCCEEDED, FAILED, CANCELLED, INTERRUPTED) or stale:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class _Progress:
    """What a run reported last, and whether it is in the store yet."""

    stage: str = ""
    overall: float = 0.0
    message: str = ""
    written_at: float = 0.0
    pending: bool = False
    cancelled: bool = False  # told to stop: a cancel here, or the store says it is not ours


class RunManager:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self.data_dir = settings.data_dir
        self.leases = Leases(store, settings.lease_s)
        self.executor: Executor | None = None  # made at start: a Ray executor starts Ray
        self._runs: dict[str, _Progress] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread: threading.Thread | None = None
        self._claim_due = True  # a run was queued or a worker freed: claim before waiting
        self._polled_at = self._renewed_at = 0.0

    # ------------------------------------------------------------------ lifecycle

    def recover(self) -> int:
        """Mark interrupted the runs whose server died (their lease ran out) and delete their
        outputs and the left-overs nobody will finish; returns how many runs."""
        expired = self._expire()
        remove_leftovers(self.store, self.data_dir)
        return len(expired)

    def _expire(self) -> list[str]:
        expired = self.leases.expire()
        for run_id in expired:
            log.warning("run %s interrupted: its server's lease ran out", run_id)
            remove_outputs(self.data_dir, run_id)
        return expired

    def start(self) -> None:
        (self.data_dir / "runs").mkdir(parents=True, exist_ok=True)
        self.recover()
        self.executor = make_executor(self.settings)
        self._thread = threading.Thread(target=self._loop, name="run-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the supervisor and the workers; runs still going are marked interrupted."""
        self._stop.set()
        self.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for run_id in self.executor.shutdown() if self.executor is not None else []:
            self._set_final(run_id, INTERRUPTED, message=INTERRUPTED_MESSAGE)
            remove_outputs(self.data_dir, run_id)
            self.leases.release(run_id)
        self._wake_r.close()
        self._wake_w.close()

    def notify(self) -> None:
        """Wake the supervisor (a run was queued or cancelled)."""
        try:
            self._wake_w.send(b"x")
        except OSError:  # closed at shutdown, or the buffer is full: it wakes anyway
            pass

    def active_count(self) -> int:
        """Runs being solved now."""
        return len(self.executor.busy()) if self.executor is not None else 0

    # ------------------------------------------------------------------ cancel

    def cancel(self, run_id: str) -> None:
        """Stop the job doing ``run_id`` (its status is already ``cancelled`` in the store)
        and wait until it is gone. A run another server holds: wait until that server lets
        it go (it sees the cancel in the store)."""
        ex = self.executor
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id].cancelled = True
        if ex is None or not ex.stop(run_id):
            self.leases.wait_released(run_id, 2 * POLL_S + self.settings.cancel_grace_s
                                      + RELEASE_MARGIN_S)
            return
        ex.wait_stopped(run_id, 10)
        self.notify()

    # ------------------------------------------------------------------ supervisor

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ex = self.executor
                assert ex is not None
                self._housekeeping()
                if self._claim_due:
                    self._claim_due = False
                    self._claim()
                ready = wait([self._wake_r, *ex.waitables()], timeout=self._timeout())
                if self._wake_r in ready:
                    self._drain_wakeups()
                    self._claim_due = True
                for event in ex.collect(ready):
                    self._on(event)
                now = time.monotonic()
                with self._lock:
                    due = [r for r, p in self._runs.items() if p.pending
                           and now - p.written_at >= self.settings.progress_interval_s]
                for run_id in due:
                    self._write_progress(run_id)
            except Exception:  # the supervisor must survive a store hiccup
                log.exception("run supervisor error; retrying")
                self._stop.wait(POLL_S)

    def _timeout(self) -> float:
        """Wait no longer than the next poll of the store or what the executor needs."""
        due = min(self._polled_at + POLL_S - time.monotonic(),
                  self.executor.next_due_s() if self.executor is not None else POLL_S)
        return min(POLL_S, max(0.0, due))

    def _on(self, e: Event) -> None:
        if e.kind == "progress":
            with self._lock:
                p = self._runs.get(e.run_id)
                if p is None:
                    return
                changed = e.stage != p.stage
                p.stage, p.overall, p.message, p.pending = e.stage, e.overall, e.message, True
            if changed:
                self._write_progress(e.run_id)
        elif e.kind == "done":
            self._finish(e.run_id, SUCCEEDED)
        elif e.kind == "failed":
            self._finish(e.run_id, FAILED, error=e.error)
        else:
            self._exited(e)

    def _housekeeping(self) -> None:
        """Every POLL_S: give up the runs no longer ours (a cancel through any server) and
        look for queued runs; every lease_renew_s: renew our leases, interrupt expired ones."""
        now = time.monotonic()
        if now - self._polled_at < POLL_S:
            return
        self._polled_at, self._claim_due = now, True
        held_ids = self.executor.busy() if self.executor is not None else []
        lost = self.leases.lost(held_ids)
        for run_id in held_ids:
            if run_id in lost:
                self._give_up(run_id)
        if now - self._renewed_at >= self.settings.lease_renew_s:
            self._renewed_at = now
            self.leases.renew([i for i in held_ids if i not in lost])
            self._expire()

    def _give_up(self, run_id: str) -> None:
        """Stop a job whose run is no longer ours (SIGKILL after the grace time)."""
        with self._lock:
            p = self._runs.get(run_id)
            if p is None or p.cancelled:
                return
            p.cancelled = True
        log.info("run %s was cancelled or interrupted in the store; stopping its job", run_id)
        if self.executor is not None:
            self.executor.stop(run_id)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _claim(self) -> None:
        while not self._stop.is_set():
            if self.executor is None or not self.executor.has_room():
                return
            run_id = self.leases.claim(self.settings.run_workers)
            if run_id is None:
                return
            self._hand_over(run_id)

    def _hand_over(self, run_id: str) -> None:
        with self.store.session() as s:
            run = s.get(RunRow, run_id)
            assert run is not None  # runs are deleted by no one while running
            ds = None if run.dataset_id == "demo" else s.get(DatasetRow, run.dataset_id)
        dataset_path = None
        if run.dataset_id != "demo":
            if ds is None or ds.path is None:
                self._set_final(run_id, FAILED, error=f"dataset {run.dataset_id!r} no longer "
                                "exists")
                self.leases.release(run_id)
                return
            dataset_path = str(Path(ds.path).resolve())
        # The scenario keeps the dataset's id: plans and provenance show no server path.
        scenario = dict(run.resolved)
        pinned = decisions_file(self.data_dir, run_id)
        if pinned.exists():
            scenario["data"] = {**scenario.get("data", {}), "decisions": str(pinned.resolve())}
        start = start_file(self.data_dir, run_id)
        job: dict[str, Any] = {"scenario": scenario, "dataset_path": dataset_path,
                               "start": str(start.resolve()) if start.exists() else None,
                               "out_dir": str(run_dir(self.data_dir, run_id).resolve()),
                               "write_maps": self.settings.write_maps, "lang": run.lang}
        if run.sweep_id is not None:
            job |= {"draw": run.draw, "monte_carlo": run.monte_carlo}
        assert self.executor is not None
        with self._lock:
            self._runs[run_id] = _Progress(written_at=time.monotonic())
        pid = self.executor.submit(run_id, job)
        with self.store.session() as s:
            res = s.execute(self._mine(run_id).values(
                worker_pid=pid, **({} if pid is not None else {
                    "stage": "start", "message": "running on Ray"})))
            s.commit()
        if not getattr(res, "rowcount", 1):
            # Cancelled (or its lease lost) between the claim and now: a cancel that came
            # before the job was handed over found nothing to stop, so stop it here.
            self.executor.stop(run_id)

    def _mine(self, run_id: str) -> Any:
        """An UPDATE of ``run_id`` that applies only while it is running under our lease."""
        return update(RunRow).where(RunRow.id == run_id, RunRow.status == RUNNING,
                                    RunRow.lease_owner == self.leases.owner)

    def _write_progress(self, run_id: str) -> None:
        with self._lock:
            p = self._runs.get(run_id)
            if p is None:
                return
            values = {"stage": p.stage, "progress": round(p.overall, 4),
                      "message": p.message[:2000]}
            p.written_at, p.pending = time.monotonic(), False
        with self.store.session() as s:
            s.execute(self._mine(run_id).values(**values))
            s.commit()

    def _finish(self, run_id: str, status: str, error: str | None = None) -> None:
        """The job reported the end of its run; its worker is free for the next one."""
        with self._lock:
            self._runs.pop(run_id, None)
        if status == SUCCEEDED:
            applied = self._set_final(run_id, SUCCEEDED, message="done", stage="done",
                                      progress=1.0)
        else:
            applied = self._set_final(run_id, status, error=error)
        if status != SUCCEEDED or not applied:  # failed, or cancelled meanwhile
            remove_outputs(self.data_dir, run_id)
        self.leases.release(run_id)
        self._claim_due = True

    def _exited(self, e: Event) -> None:
        """The job ended without reporting: stopped when told to, else it died."""
        with self._lock:
            p = self._runs.pop(e.run_id, None)
        # Outputs first: a cancel waiting on another server answers once the lease is let go.
        remove_outputs(self.data_dir, e.run_id)
        if e.stopped or (p is not None and p.cancelled):
            self._set_final(e.run_id, CANCELLED, message="cancelled")
        else:
            what = (f"exit code {e.exitcode}" if e.exitcode is not None else e.message)
            self._set_final(e.run_id, FAILED, error="the worker process stopped unexpectedly "
                            f"({what})")
        self.leases.release(e.run_id)
        self._claim_due = True

    def _set_final(self, run_id: str, status: str, *, message: str | None = None,
                   error: str | None = None, stage: str | None = None,
                   progress: float | None = None) -> bool:
        """Record the outcome of a run this server holds; False if it was no longer running
        under our lease (a cancel got there first, or the lease ran out)."""
        values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "worker_pid": None}
        if message is not None:
            values["message"] = message
        if error is not None:
            values["error"] = error
            values["message"] = "failed"
        if stage is not None:
            values["stage"] = stage
        if progress is not None:
            values["progress"] = progress
        with self.store.session() as s:
            res = s.execute(self._mine(run_id).values(**values))
            s.commit()
        return getattr(res, "rowcount", 0) == 1
