"""Several servers on one store: leases, cancels that reach the worker wherever it runs, and
``run_workers`` as a limit for the whole store.

The server tests start two real servers (subprocesses on loopback) on one PostgreSQL database
and one data directory, with leases of a few seconds; the claim and lease tests run on both
backends without servers."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import FINAL, LAM_DONG_QUICK, ROOT, auth, free_port, pid_alive, start_server
from sqlalchemy import func, select

from api.jobs import POLL_S
from api.leases import Leases
from api.models import QUEUED, RUNNING, RunRow, utcnow
from api.security import create_key, new_id
from api.settings import Settings
from api.store import Store

LEASE_S, RENEW_S, GRACE_S = 4.0, 1.0, 2.0
# Lai Châu (12), the smallest province: the quickest real run.
LAI_CHAU = {**LAM_DONG_QUICK, "name": "lai-chau", "data": {"dataset": "demo", "provinces": ["12"]},
            "solver": {"time_limit_s": 2, "mip_gap": 0.05}}
pg_only = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)


class Server:
    """``assetplan serve`` in a subprocess; stopped, killed and started again by the tests."""

    def __init__(self, name: str, env: dict[str, str], log: Path, key: str):
        self.name, self.env, self.log = name, env, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = auth(key)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = start_server(self.env, self.port, self.log)
        return self

    def stop(self) -> None:
        """A graceful stop (SIGTERM), as a restart does."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop: {self.log.read_text()}") from None
        # uvicorn shuts down gracefully, then re-raises SIGTERM.
        assert self.proc.returncode in (0, -signal.SIGTERM), self.log.read_text()
        self.proc = None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=self.headers, timeout=30, **kw)

    def owns(self, lease_owner: str | None) -> bool:
        """Whether a run's lease is this server's (the owner ends with hostname:pid)."""
        return (self.proc is not None and lease_owner is not None
                and lease_owner.rsplit(":", 1)[-1] == str(self.proc.pid))


@pytest.fixture
def cluster(store_url, tmp_path) -> Iterator[Callable[..., Server]]:  # type: ignore[no-untyped-def]
    """A factory of servers (not started) on one store and one data directory; those running
    at the end are stopped."""
    data_dir = tmp_path / "data"
    store = Store(Settings(database_url=store_url, data_dir=data_dir).store_url())
    store.migrate()
    with store.session() as s:
        key = create_key(s, "planner")[1]
    store.dispose()
    servers: list[Server] = []

    def server(name: str, **env: str) -> Server:
        full = {**os.environ, "DATABASE_URL": store_url, "ASSETPLAN_DATA_DIR": str(data_dir),
                "ASSETPLAN_WRITE_MAPS": "false", "ASSETPLAN_RUN_WORKERS": "1",
                "ASSETPLAN_LEASE_S": str(LEASE_S), "ASSETPLAN_LEASE_RENEW_S": str(RENEW_S),
                "ASSETPLAN_CANCEL_GRACE_S": str(GRACE_S)} | env
        servers.append(Server(name, full, tmp_path / f"{name}.log", key))
        return servers[-1]

    yield server
    for srv in servers:
        if srv.proc is not None:
            srv.stop()
        assert "Traceback" not in srv.log.read_text(), srv.log.read_text()


@pytest.fixture
def store(store_url) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    s = Store(Settings(database_url=store_url).store_url())
    s.migrate()
    yield s
    s.dispose()


def _up(*servers: Server) -> tuple[Server, ...]:
    """Start the servers side by side (a start is mostly imports)."""
    with cf.ThreadPoolExecutor(len(servers)) as pool:
        return tuple(pool.map(Server.start, servers))


def _scenario(srv: Server, scenario: dict[str, Any]) -> str:
    r = srv.post("/scenarios", json=scenario)
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def _run(srv: Server, scenario: dict[str, Any] | str) -> str:
    sc_id = scenario if isinstance(scenario, str) else _scenario(srv, scenario)
    r = srv.post("/runs", json={"scenario_id": sc_id})
    assert r.status_code == 202, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def _held(store: Store, run_id: str, timeout_s: float = 30) -> RunRow:
    """The run once a worker is on it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with store.session() as s:
            row = s.get(RunRow, run_id)
        assert row is not None
        if row.status == RUNNING and row.worker_pid is not None:
            return row
        assert row.status not in FINAL, (row.status, row.error)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never got a worker")


def _final(srv: Server, run_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = srv.get(f"/runs/{run_id}").json()
        if run["status"] in FINAL:
            return run  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def _holder(servers: tuple[Server, Server], row: RunRow) -> tuple[Server, Server]:
    """(the server holding the run, the other one)."""
    a, b = servers
    assert a.owns(row.lease_owner) != b.owns(row.lease_owner), row.lease_owner
    return (a, b) if a.owns(row.lease_owner) else (b, a)


def _store_of(srv: Server) -> Store:
    return Store(Settings(database_url=srv.env["DATABASE_URL"]).store_url())


# ------------------------------------------------------------------------ two servers


@pg_only
def test_a_server_restarted_beside_another_leaves_its_run_alone(cluster):
    servers = _up(cluster("a"), cluster("b"))
    store = _store_of(servers[0])
    run_id = _run(servers[0], LAI_CHAU)
    row = _held(store, run_id)
    holder, other = _holder(servers, row)
    # A stand-in for the holder's half-written outputs: the other server must not touch them.
    half = Path(holder.env["ASSETPLAN_DATA_DIR"]) / "runs" / f".{run_id}.writing"
    half.mkdir(parents=True)
    os.kill(row.worker_pid, signal.SIGSTOP)  # the run cannot end during the restart
    try:
        other.stop()
        other.start()
        time.sleep(LEASE_S)  # the holder renews meanwhile; its lease never runs out
        with store.session() as s:
            after = s.get(RunRow, run_id)
        assert after.status == RUNNING and after.lease_owner == row.lease_owner
        assert half.is_dir()
    finally:
        os.kill(row.worker_pid, signal.SIGCONT)
    done = _final(other, run_id)
    assert done["status"] == "succeeded", done
    # The outputs are on the shared data directory: every server serves them.
    assert other.get(f"/runs/{run_id}/kpis").status_code == 200
    assert holder.get(f"/runs/{run_id}/kpis").status_code == 200
    store.dispose()


@pg_only
def test_a_killed_servers_run_is_interrupted_once_its_lease_runs_out(cluster):
    servers = _up(cluster("a"), cluster("b"))
    store = _store_of(servers[0])
    run_id = _run(servers[0], LAI_CHAU)
    row = _held(store, run_id)
    holder, other = _holder(servers, row)
    half = Path(holder.env["ASSETPLAN_DATA_DIR"]) / "runs" / f".{run_id}.writing"
    half.mkdir(parents=True)
    holder.kill()
    killed_at = time.monotonic()
    assert other.get(f"/runs/{run_id}").json()["status"] == "running"  # the lease still holds
    while (run := other.get(f"/runs/{run_id}").json())["status"] == "running":
        assert time.monotonic() - killed_at < LEASE_S + RENEW_S + POLL_S + 5, run
        time.sleep(0.1)
    assert run["status"] == "interrupted" and "rerun" in run["message"], run
    assert time.monotonic() - killed_at > LEASE_S - RENEW_S - 0.5  # not before it ran out
    assert not half.exists()  # the dead server's left-overs are removed
    deadline = time.monotonic() + 15  # the orphaned worker noticed its server died
    while pid_alive(row.worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(row.worker_pid)
    again = other.post(f"/runs/{run_id}/rerun")
    assert again.status_code == 202, again.text
    done = _final(other, again.json()["id"])
    assert done["status"] == "succeeded", done
    with store.session() as s:
        assert other.owns(s.get(RunRow, done["id"]).lease_owner)
    store.dispose()


@pg_only
def test_a_cancel_through_one_server_stops_the_worker_on_the_other(cluster):
    servers = _up(cluster("a"), cluster("b"))
    store = _store_of(servers[0])
    run_id = _run(servers[0], LAI_CHAU)
    row = _held(store, run_id)
    holder, other = _holder(servers, row)
    # A stopped worker cannot finish first, and ignores SIGTERM: the holder has to SIGKILL it.
    os.kill(row.worker_pid, signal.SIGSTOP)
    t0 = time.monotonic()
    r = other.post(f"/runs/{run_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    # The answer comes once the holder has seen the cancel and its worker is gone.
    assert GRACE_S <= time.monotonic() - t0 < 2 * POLL_S + GRACE_S + 5
    assert not pid_alive(row.worker_pid)
    assert holder.get("/health").json()["workers_busy"] == 0
    time.sleep(1.5)  # the holder records nothing over the cancel
    final = holder.get(f"/runs/{run_id}").json()
    assert final["status"] == "cancelled" and final["error"] is None
    assert not (Path(holder.env["ASSETPLAN_DATA_DIR"]) / "runs" / run_id).exists()
    assert other.post(f"/runs/{run_id}/cancel").status_code == 409
    store.dispose()


@pg_only
def test_the_worker_limit_holds_for_the_whole_store(cluster):
    # Two runs at once in the store, three queued: without the store's limit "b" would take
    # two of them and "a" (at most one of its own) the third.
    a, b = _up(cluster("a", ASSETPLAN_RUN_WORKERS="2", ASSETPLAN_SERVER_WORKERS="1"),
               cluster("b", ASSETPLAN_RUN_WORKERS="2"))
    store = _store_of(a)
    sc_id = _scenario(a, LAI_CHAU)
    ids = [_run(a if i % 2 else b, sc_id) for i in range(3)]
    most_running = most_on_a = 0
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        with store.session() as s:
            rows = s.scalars(select(RunRow).where(RunRow.id.in_(ids))).all()
            running = s.scalar(select(func.count()).select_from(RunRow)
                               .where(RunRow.status == RUNNING))
        most_running = max(most_running, running or 0)
        most_on_a = max(most_on_a, a.get("/health").json()["workers_busy"])
        if all(r.status in FINAL for r in rows):
            break
        time.sleep(0.05)
    assert [r.status for r in rows] == ["succeeded"] * 3, [(r.status, r.error) for r in rows]
    assert most_running == 2  # the limit was reached, never passed
    assert most_on_a <= 1
    assert a.get("/health").json()["workers_max"] == 1
    store.dispose()


# ------------------------------------------------------------------------ claims and leases


@pg_only
def test_servers_starting_together_migrate_in_turn(store_url):
    # Each in its own process, as servers are, on an empty store; all at the same moment.
    code = ("import sys, time; from api.store import Store; s = Store(sys.argv[1]); "
            "time.sleep(max(0, float(sys.argv[2]) - time.time())); s.migrate(); print('ok')")
    at = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", code, store_url, at], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    store = Store(store_url)
    with store.session() as s:
        assert s.scalars(select(func.count()).select_from(RunRow)).one() == 0
    store.dispose()


def _queued(store: Store, n: int) -> list[str]:
    ids = []
    with store.session() as s:
        for _ in range(n):
            ids.append(new_id())
            s.add(RunRow(id=ids[-1], scenario_id=None, scenario_name="x", overrides=[],
                         resolved={}, dataset_id="demo", provinces=["12"], province_code="12",
                         synthetic=True, status=QUEUED, created_at=utcnow()))
            time.sleep(0.001)  # distinct creation times: claimed oldest first
        s.commit()
    return ids


def test_servers_racing_to_claim_never_pass_the_store_limit(store):
    ids = _queued(store, 12)
    servers = [Leases(store, lease_s=30) for _ in range(6)]
    start = threading.Barrier(len(servers))
    claimed: list[str] = []

    def claim_all(leases: Leases) -> None:
        start.wait()
        for _ in range(20):
            run_id = leases.claim(store_limit=3)
            if run_id is not None:
                claimed.append(run_id)

    threads = [threading.Thread(target=claim_all, args=(lz,)) for lz in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids[:3])  # three, the oldest, each once
    with store.session() as s:
        rows = {r.id: r for r in s.scalars(select(RunRow))}
    assert sum(r.status == RUNNING for r in rows.values()) == 3
    assert all(rows[i].lease_owner in {lz.owner for lz in servers} for i in claimed)
    assert servers[0].claim(store_limit=0) is None


def test_leases_run_out_only_when_not_renewed(store):
    ids = _queued(store, 3)
    mine, theirs = Leases(store, lease_s=1.5), Leases(store, lease_s=1.5)
    first, second = mine.claim(store_limit=5), theirs.claim(store_limit=5)
    assert [first, second] == ids[:2]
    assert mine.lost([first]) == set() and mine.lost([second]) == {second}
    time.sleep(1.0)
    mine.renew([first])
    time.sleep(1.0)
    assert mine.expire() == [second]  # theirs ran out; mine was renewed
    assert mine.lost([first]) == set()
    assert mine.wait_released(second, timeout_s=0)
    assert not mine.wait_released(first, timeout_s=0)
    mine.release(first)
    assert mine.wait_released(first, timeout_s=0)
    with store.session() as s:
        assert s.get(RunRow, second).status == "interrupted"
        assert s.get(RunRow, first).lease_owner == mine.owner  # kept: who ran it


def test_lease_and_worker_settings():
    assert Settings().lease_renew_s * 3 == Settings().lease_s  # renewed at a third of it
    with pytest.raises(ValueError, match="lease_renew_s .* must be less than lease_s"):
        Settings(lease_s=3, lease_renew_s=3)
    assert Settings(run_workers=4).server_limit() == 4
    assert Settings(run_workers=4, server_workers=1).server_limit() == 1
    assert Settings(run_workers=0, server_workers=3).server_limit() == 0  # solves nothing
