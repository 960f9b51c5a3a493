"""Fixtures of the API tests: an app on a fresh store (SQLite file, and PostgreSQL when
ASSETPLAN_TEST_POSTGRES_URL is set: each test gets its own schema), and one key per role.

Import with ``from api_fixtures import *`` in a test module.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.security import create_key
from api.settings import Settings
from api.store import Store

PG_ENV = "ASSETPLAN_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parents[1]
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


def pg_base_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    return Settings(database_url=url).store_url()


@pytest.fixture(scope="session")
def pg_engine():  # type: ignore[no-untyped-def]
    url = pg_base_url()
    if url is None:
        yield None
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, pg_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    if pg_engine is None:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"t_{secrets.token_hex(6)}"
    with pg_engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_base_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with pg_engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def make_settings(store_url: str, data_dir: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {"database_url": store_url, "data_dir": data_dir, "run_workers": 0,
                            "write_maps": False, "progress_interval_s": 0.1,
                            "max_upload_bytes": 20 * 2**20, "max_body_bytes": 256 * 1024,
                            "upload_max_unpacked_bytes": 8 * 2**20}
    return Settings(**(base | kw))


@pytest.fixture
def settings(store_url, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    """No solving: runs stay queued (run_workers=0). Tests that solve make their own."""
    return make_settings(store_url, tmp_path / "data")


@pytest.fixture
def client(settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings)) as c:
        yield c


def make_keys(store: Store) -> dict[str, str]:
    out = {}
    with store.session() as s:
        for name, role, province in (("admin", "admin", None), ("planner", "planner", None),
                                     ("viewer", "viewer", None), ("planner68", "planner", "68"),
                                     ("viewer68", "viewer", "68"),
                                     ("planner01", "planner", "01")):
            out[name] = create_key(s, role, province, name)[1]  # type: ignore[arg-type]
    return out


@pytest.fixture
def keys(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_keys(client.app.state.store)


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def wait_for(client: TestClient, run_id: str, key: str, states: tuple[str, ...] = FINAL,
             timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.get(f"/runs/{run_id}", headers=auth(key)).json()
        if run["status"] in states:
            return run  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run['status']} after {timeout_s} s: {run}")
        time.sleep(0.1)


LAM_DONG_QUICK = {
    "name": "lam-dong-quick", "description": "Lâm Đồng, short solver limit",
    "data": {"dataset": "demo", "provinces": ["68"]},
    "policy": {"seats": {"max_service_km": 15}},
    "solver": {"time_limit_s": 5, "mip_gap": 0.01},
    "overrides": {"tight": {"budget": {"national_vnd": 10_000_000_000}},
                  "quick": {"solver": {"time_limit_s": 2}}},
}


# ------------------------------------------------------------------------ real servers


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has stopped working


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``assetplan serve`` in a subprocess on loopback, once /health answers."""
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not start: {log.read_text()}")
