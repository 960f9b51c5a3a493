"""Where the supervisor's jobs are solved: one interface, two implementations.

``LocalExecutor`` (the default) runs each job in a worker process of this server ('spawn'; a
worker imports the planner once and does jobs one after another, up to ``worker_max_runs``).
``RayExecutor`` runs each job as a task on Ray: an embedded local Ray, or the cluster at
``ray_address`` (every node sees the same data directory). The supervisor (``api.jobs``)
claims runs from the store and hands them over; the executor reports what happened as
events, and stops a job when told (a cancel, or a run whose lease this server lost).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from api.settings import Settings
from api.worker import run_job, worker_main


@dataclass
class Event:
    """``progress`` (stage, overall, message), ``done``, ``failed`` (error), or ``exited``:
    the job's process or task ended without reporting (``stopped`` when told to)."""

    kind: str
    run_id: str
    stage: str = ""
    overall: float = 0.0
    message: str = ""
    error: str = ""
    stopped: bool = False
    exitcode: int | None = None


class Executor(Protocol):
    def busy(self) -> list[str]:
        """The runs it is doing now."""
        ...

    def has_room(self) -> bool:
        """Whether another job can start now (this server's limit)."""
        ...

    def submit(self, run_id: str, job: dict[str, Any]) -> int | None:
        """Start a job; the worker's pid where it has one."""
        ...

    def stop(self, run_id: str) -> bool:
        """Start stopping the job of ``run_id``; False if it has none."""
        ...

    def wait_stopped(self, run_id: str, timeout_s: float) -> None:
        """Until the job stopped with ``stop`` is gone (at most ``timeout_s``)."""
        ...

    def waitables(self) -> list[Any]:
        """What the supervisor's wait() may wake on (pipes, process sentinels)."""
        ...

    def next_due_s(self) -> float:
        """Seconds until the executor needs ``collect`` even if nothing is ready."""
        ...

    def collect(self, ready: list[Any]) -> list[Event]:
        """What happened since the last call."""
        ...

    def shutdown(self) -> list[str]:
        """Stop everything; the runs that were still going."""
        ...


@dataclass
class _Worker:
    """A worker process, and the run it is doing (None: idle)."""

    process: BaseProcess
    conn: Connection
    run_id: str | None = None
    runs_started: int = 0
    stopping: bool = False
    kill_at: float | None = None  # SIGKILL then, if SIGTERM has not ended it
    eof: bool = False  # the worker closed its end of the pipe


class LocalExecutor:
    """Worker processes of this server."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def busy(self) -> list[str]:
        with self._lock:
            return [w.run_id for w in self._workers if w.run_id is not None]

    def has_room(self) -> bool:
        return len(self.busy()) < self.settings.server_limit()

    def _free_worker(self) -> _Worker | None:
        with self._lock:
            # A worker past worker_max_runs (or with a closed pipe) is about to exit; so is one
            # told to stop, even if it reported its run done first.
            live = [w for w in self._workers
                    if w.runs_started < self.settings.worker_max_runs and not w.eof
                    and not w.stopping or w.run_id is not None]
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

    def submit(self, run_id: str, job: dict[str, Any]) -> int | None:
        w = self._free_worker()
        if w is None:
            raise RuntimeError("no worker free")  # the supervisor checks has_room first
        with self._lock:
            w.run_id, w.runs_started = run_id, w.runs_started + 1
            w.stopping, w.kill_at = False, None
        try:
            w.conn.send(job)
        except OSError:  # the worker died before it got the job: its exit fails the run
            w.eof = True
        return w.process.pid

    def _of(self, run_id: str) -> _Worker | None:
        with self._lock:
            return next((w for w in self._workers if w.run_id == run_id), None)

    def stop(self, run_id: str) -> bool:
        with self._lock:
            w = next((w for w in self._workers if w.run_id == run_id), None)
            if w is None:
                return False
            if not w.stopping:
                w.stopping = True
                w.kill_at = time.monotonic() + self.settings.cancel_grace_s
                w.process.terminate()
        return True

    def wait_stopped(self, run_id: str, timeout_s: float) -> None:
        w = self._of(run_id)
        if w is None:
            return
        if not wait([w.process.sentinel], timeout=self.settings.cancel_grace_s):
            with self._lock:
                # Reaped only after leaving _workers, so the pid is still this worker's.
                if w in self._workers and w.process.pid is not None:
                    try:
                        os.kill(w.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            wait([w.process.sentinel], timeout=timeout_s)
        # The sentinel closes while the process is still tearing down; wait (without reaping:
        # collect does that) until it has really exited.
        if w.process.pid is not None:
            try:
                os.waitid(os.P_PID, w.process.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass

    def waitables(self) -> list[Any]:
        with self._lock:
            workers = list(self._workers)
        out: list[Any] = []
        for w in workers:
            out += [w.process.sentinel] if w.eof else [w.conn, w.process.sentinel]
        return out

    def next_due_s(self) -> float:
        with self._lock:
            due = [w.kill_at for w in self._workers if w.kill_at is not None]
        return max(0.0, min(due) - time.monotonic()) if due else float("inf")

    def collect(self, ready: list[Any]) -> list[Event]:
        events: list[Event] = []
        with self._lock:
            workers = list(self._workers)
        for w in workers:
            events += self._read(w)
            # The sentinel (not exitcode, which would reap) says the process ended.
            if w.process.sentinel in ready:
                events += self._read(w)
                events += self._exited(w)
            elif w.kill_at is not None and time.monotonic() >= w.kill_at:
                w.kill_at = None
                w.process.kill()  # a no-op once reaped: the pid is still its own
        return events

    def _read(self, w: _Worker) -> list[Event]:
        out: list[Event] = []
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                run_id = w.run_id
                if run_id is None:
                    continue
                if msg[0] == "progress":
                    out.append(Event("progress", run_id, stage=msg[1], overall=msg[2],
                                     message=msg[3]))
                elif msg[0] in ("done", "failed"):
                    out.append(Event(msg[0], run_id, error=str(msg[1]) if msg[0] == "failed"
                                     else ""))
                    with self._lock:
                        w.run_id = None
        except (EOFError, OSError):  # the worker is gone; its exit code tells the rest
            w.eof = True
        return out

    def _exited(self, w: _Worker) -> list[Event]:
        with self._lock:
            if w in self._workers:
                self._workers.remove(w)
        w.process.join()
        w.conn.close()
        if w.run_id is None:  # idle, retired after worker_max_runs, or stopped
            return []
        return [Event("exited", w.run_id, stopped=w.stopping, exitcode=w.process.exitcode)]

    def shutdown(self) -> list[str]:
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
        return [w.run_id for w in workers if w.run_id is not None]


class ProgressBox:
    """A Ray actor holding each running task's latest progress message until the executor
    takes them (a task has no pipe back to the server)."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[Any, ...]] = {}

    def put(self, run_id: str, msg: tuple[Any, ...]) -> None:
        self.latest[run_id] = msg

    def take(self) -> dict[str, tuple[Any, ...]]:
        out, self.latest = self.latest, {}
        return out


def ray_job(job: dict[str, Any], run_id: str = "", box: Any = None) -> tuple[str, Any]:
    """A job in a Ray task: its progress goes to ``box`` (a ``ProgressBox`` actor) as it
    comes; what the worker process would send last is returned."""

    sent: list[tuple[Any, ...]] = []

    class Keep:
        def send(self, msg: tuple[Any, ...]) -> None:
            if msg[0] == "progress":
                if box is not None:
                    box.put.remote(run_id, msg)  # fire and forget: the latest one counts
                return
            sent.append(msg)

    run_job(Keep(), job)
    last = next((m for m in reversed(sent) if m[0] in ("done", "failed")),
                ("failed", "the run reported nothing"))
    return str(last[0]), last[1]


@dataclass
class _Task:
    ref: Any
    stopping: bool = False


class RayExecutor:
    """Each job a Ray task of ``threads`` CPUs (the run's solver threads, 1 if unset); a task
    whose worker dies is retried ``ray_max_retries`` times by Ray before it is reported."""

    def __init__(self, settings: Settings):
        import ray

        self.settings = settings
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._started = False
        if not ray.is_initialized():
            address = self.settings.ray_address or os.environ.get("RAY_ADDRESS") or None
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False)
            self._started = True
        self._remote = ray.remote(ray_job)
        self._box: Any = ray.remote(num_cpus=0)(ProgressBox).remote()

    def busy(self) -> list[str]:
        with self._lock:
            return list(self._tasks)

    def has_room(self) -> bool:
        return len(self.busy()) < self.settings.server_limit()

    def submit(self, run_id: str, job: dict[str, Any]) -> int | None:
        threads = (job["scenario"].get("solver") or {}).get("threads") or 1
        ref = self._remote.options(num_cpus=threads, max_retries=self.settings.ray_max_retries,
                                   retry_exceptions=False, name=f"run {run_id}").remote(
            job, run_id, self._box)
        with self._lock:
            self._tasks[run_id] = _Task(ref)
        return None

    def stop(self, run_id: str) -> bool:
        import ray

        with self._lock:
            task = self._tasks.get(run_id)
            if task is None:
                return False
            task.stopping = True
        ray.cancel(task.ref, force=True)
        return True

    def wait_stopped(self, run_id: str, timeout_s: float) -> None:
        import ray

        with self._lock:
            task = self._tasks.get(run_id)
        if task is not None:
            ray.wait([task.ref], timeout=timeout_s)

    def waitables(self) -> list[Any]:
        return []  # Ray has no file descriptor to wait on: collect polls

    def next_due_s(self) -> float:
        return 0.25 if self._tasks else float("inf")

    def collect(self, ready: list[Any]) -> list[Event]:
        import ray

        with self._lock:
            tasks = dict(self._tasks)
        if not tasks:
            return []
        refs = {t.ref: run_id for run_id, t in tasks.items()}
        done, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        ended = {refs[ref] for ref in done}
        try:
            latest = ray.get(self._box.take.remote(), timeout=5)
        except Exception:  # the actor lost with its node: the runs go on without progress
            latest = {}
        # Progress first, and only of runs still going: a late message of an ended run is old.
        events = [Event("progress", run_id, stage=msg[1], overall=msg[2], message=msg[3])
                  for run_id, msg in latest.items() if run_id in tasks and run_id not in ended]
        for ref in done:
            run_id = refs[ref]
            with self._lock:
                task = self._tasks.pop(run_id)
            try:
                kind, detail = ray.get(ref)
                events.append(Event(kind, run_id, error=str(detail) if kind == "failed"
                                    else ""))
            except Exception as err:  # cancelled, or its worker died after the retries
                events.append(Event("exited", run_id, stopped=task.stopping,
                                    message=type(err).__name__))
        return events

    def shutdown(self) -> list[str]:
        import ray

        with self._lock:
            tasks = dict(self._tasks)
            self._tasks.clear()
        for t in tasks.values():
            ray.cancel(t.ref, force=True)
        if self._started:
            ray.shutdown()
        return list(tasks)


def make_executor(settings: Settings) -> Executor:
    return RayExecutor(settings) if settings.executor == "ray" else LocalExecutor(settings)
