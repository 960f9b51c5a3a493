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
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from api.leases import Leases
from api.models import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    DatasetRow,
    RunRow,
    utcnow,
)
from api.settings import Settings
from api.store import Store
from api.worker import worker_main

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
class _Worker:
    """A worker process, and the run it is doing (None: idle)."""

    process: BaseProcess
    conn: Connection
    run_id: str | None = None
    runs_started: int = 0
    stage: str = ""
    progress: float = 0.0
    message: str = ""
    written_at: float = 0.0
    pending: bool = False  # progress not yet written
    cancelled: bool = False
    kill_at: float | None = None  # SIGKILL then, if SIGTERM has not ended it
    eof: bool = False  # the worker closed its end of the pipe

    def assign(self, run_id: str) -> None:
        self.run_id, self.runs_started = run_id, self.runs_started + 1
        self.stage, self.progress, self.message = "", 0.0, ""
        self.written_at, self.pending, self.cancelled = time.monotonic(), False, False
        self.kill_at = None


class RunManager:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self.data_dir = settings.data_dir
        self.leases = Leases(store, settings.lease_s)
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
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
        self._thread = threading.Thread(target=self._loop, name="run-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the supervisor and the workers; runs still going are marked interrupted."""
        self._stop.set()
        self.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for w in workers:
            w.process.terminate()
        for w in workers:
            w.process.join(self.settings.cancel_grace_s)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
            if w.run_id is not None:
                self._set_final(w.run_id, INTERRUPTED, message=INTERRUPTED_MESSAGE)
                remove_outputs(self.data_dir, w.run_id)
                self.leases.release(w.run_id)
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
        with self._lock:
            return sum(w.run_id is not None for w in self._workers)

    # ------------------------------------------------------------------ cancel

    def cancel(self, run_id: str) -> None:
        """Terminate the worker doing ``run_id`` (its status is already ``cancelled`` in the
        store) and wait until the process is gone. A run another server holds: wait until
        that server lets it go (it sees the cancel in the store)."""
        with self._lock:
            w = next((w for w in self._workers if w.run_id == run_id), None)
            if w is not None:
                w.cancelled = True
                w.process.terminate()
        if w is None:
            self.leases.wait_released(run_id, 2 * POLL_S + self.settings.cancel_grace_s
                                      + RELEASE_MARGIN_S)
            return
        if not wait([w.process.sentinel], timeout=self.settings.cancel_grace_s):
            with self._lock:
                # Reaped only after leaving _workers, so the pid is still this worker's.
                if w in self._workers and w.process.pid is not None:
                    try:
                        os.kill(w.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            wait([w.process.sentinel], timeout=10)
        # The sentinel closes while the process is still tearing down; wait (without reaping:
        # the supervisor does that) until it has really exited.
        if w.process.pid is not None:
            try:
                os.waitid(os.P_PID, w.process.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:  # already reaped by the supervisor
                pass
        self.notify()

    # ------------------------------------------------------------------ supervisor

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._housekeeping()
                if self._claim_due:
                    self._claim_due = False
                    self._claim()
                with self._lock:
                    workers = list(self._workers)
                waitables: list[Any] = [self._wake_r]
                for w in workers:
                    waitables += [w.process.sentinel] if w.eof else [w.conn, w.process.sentinel]
                ready = wait(waitables, timeout=self._timeout(workers))
                if self._wake_r in ready:
                    self._drain_wakeups()
                    self._claim_due = True
                for w in workers:
                    self._read(w)
                    # The sentinel (not exitcode, which would reap) says the process ended.
                    if w.process.sentinel in ready:
                        self._read(w)
                        self._exited(w)
                        continue
                    if w.pending and (time.monotonic() - w.written_at
                                      >= self.settings.progress_interval_s):
                        self._write_progress(w)
                    if w.kill_at is not None and time.monotonic() >= w.kill_at:
                        self._kill(w)
            except Exception:  # the supervisor must survive a store hiccup
                log.exception("run supervisor error; retrying")
                self._stop.wait(POLL_S)

    def _timeout(self, workers: list[_Worker]) -> float:
        """Wait no longer than the next poll of the store or the next SIGKILL due."""
        now = time.monotonic()
        due = [self._polled_at + POLL_S, *(w.kill_at for w in workers if w.kill_at is not None)]
        return min(POLL_S, max(0.0, min(due) - now))

    def _housekeeping(self) -> None:
        """Every POLL_S: give up the runs no longer ours (a cancel through any server) and
        look for queued runs; every lease_renew_s: renew our leases, interrupt expired ones."""
        now = time.monotonic()
        if now - self._polled_at < POLL_S:
            return
        self._polled_at, self._claim_due = now, True
        with self._lock:
            held = [w for w in self._workers if w.run_id is not None]
        held_ids = [w.run_id for w in held if w.run_id is not None]
        lost = self.leases.lost(held_ids)
        for w in held:
            if w.run_id in lost:
                self._give_up(w)
        if now - self._renewed_at >= self.settings.lease_renew_s:
            self._renewed_at = now
            self.leases.renew([i for i in held_ids if i not in lost])
            self._expire()

    def _give_up(self, w: _Worker) -> None:
        """Terminate a worker whose run is no longer ours; SIGKILL after the grace time."""
        with self._lock:
            if w.cancelled or w.run_id is None:
                return
            log.info("run %s was cancelled or interrupted in the store; stopping its worker",
                     w.run_id)
            w.cancelled = True
            w.kill_at = time.monotonic() + self.settings.cancel_grace_s
            w.process.terminate()

    def _kill(self, w: _Worker) -> None:
        w.kill_at = None
        w.process.kill()  # a no-op once the process has been reaped: the pid is still its own

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _free_worker(self) -> _Worker | None:
        """An idle worker, or a new one if there is room; None when all are busy."""
        with self._lock:
            # A worker past worker_max_runs (or with a closed pipe) is about to exit; so is one
            # told to stop, even if it reported its run done first.
            live = [w for w in self._workers
                    if w.runs_started < self.settings.worker_max_runs and not w.eof
                    and not w.cancelled or w.run_id is not None]
            for w in live:
                if w.run_id is None:
                    return w
            if len(live) >= self.settings.server_limit():
                return None
            parent_conn, child_conn = self._ctx.Pipe(duplex=True)
            process = self._ctx.Process(target=worker_main,
                                        args=(child_conn, self.settings.worker_max_runs),
                                        name="assetplan-worker", daemon=True)
            process.start()
            child_conn.close()
            w = _Worker(process, parent_conn)
            self._workers.append(w)
            return w

    def _claim(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                busy = sum(w.run_id is not None for w in self._workers)
            if busy >= self.settings.server_limit():
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
        job = {"scenario": scenario, "dataset_path": dataset_path,
               "start": str(start.resolve()) if start.exists() else None,
               "out_dir": str(run_dir(self.data_dir, run_id).resolve()),
               "write_maps": self.settings.write_maps, "lang": run.lang}
        w = self._free_worker()
        if w is None:  # cannot happen while only this thread assigns runs; be safe anyway
            with self.store.session() as s:
                s.execute(self._mine(run_id).values(status=QUEUED, lease_expires_at=None))
                s.commit()
            self._stop.wait(POLL_S)
            return
        with self._lock:
            w.assign(run_id)
        try:
            w.conn.send(job)
        except OSError:  # the worker died before it got the job: its exit fails the run
            w.eof = True
        with self.store.session() as s:
            s.execute(self._mine(run_id).values(worker_pid=w.process.pid))
            s.commit()

    def _mine(self, run_id: str) -> Any:
        """An UPDATE of ``run_id`` that applies only while it is running under our lease."""
        return update(RunRow).where(RunRow.id == run_id, RunRow.status == RUNNING,
                                    RunRow.lease_owner == self.leases.owner)

    def _read(self, w: _Worker) -> None:
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if w.run_id is None:
                    continue
                if msg[0] == "progress":
                    _, stage, overall, message = msg
                    stage_changed = stage != w.stage
                    w.stage, w.progress, w.message, w.pending = stage, overall, message, True
                    if stage_changed:
                        self._write_progress(w)
                elif msg[0] == "done":
                    self._finish(w, SUCCEEDED)
                elif msg[0] == "failed":
                    self._finish(w, FAILED, error=str(msg[1]))
        except (EOFError, OSError):  # the worker is gone; its exit code tells the rest
            w.eof = True

    def _write_progress(self, w: _Worker) -> None:
        if w.run_id is None:
            return
        with self.store.session() as s:
            s.execute(self._mine(w.run_id).values(stage=w.stage, progress=round(w.progress, 4),
                                                  message=w.message[:2000]))
            s.commit()
        w.written_at = time.monotonic()
        w.pending = False

    def _finish(self, w: _Worker, status: str, error: str | None = None) -> None:
        """The worker reported the end of its run; it is free for the next one."""
        run_id = w.run_id
        assert run_id is not None
        if status == SUCCEEDED:
            applied = self._set_final(run_id, SUCCEEDED, message="done", stage="done",
                                      progress=1.0)
        else:
            applied = self._set_final(run_id, status, error=error)
        if status != SUCCEEDED or not applied:  # failed, or cancelled meanwhile
            remove_outputs(self.data_dir, run_id)
        self.leases.release(run_id)
        with self._lock:
            w.run_id = None
        self._claim_due = True

    def _exited(self, w: _Worker) -> None:
        with self._lock:
            if w in self._workers:
                self._workers.remove(w)
        w.process.join()
        w.conn.close()
        if w.run_id is None:  # idle, retired after worker_max_runs, or stopped
            return
        # Outputs first: a cancel waiting on another server answers once the lease is let go.
        remove_outputs(self.data_dir, w.run_id)
        if w.cancelled:  # (a cancel got to the store first: this records nothing)
            self._set_final(w.run_id, CANCELLED, message="cancelled")
        else:
            self._set_final(w.run_id, FAILED, error="the worker process stopped unexpectedly "
                            f"(exit code {w.process.exitcode})")
        self.leases.release(w.run_id)
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
