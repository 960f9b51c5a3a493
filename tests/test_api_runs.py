"""Runs that really solve (Lâm Đồng, a few seconds each) through the API, on SQLite and
PostgreSQL: the planner's walkthrough, cancel, failures, 10 concurrent runs, and a server
killed in the middle of a run."""

from __future__ import annotations

import concurrent.futures as cf
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import (
    FINAL,
    LAM_DONG_QUICK,
    auth,
    free_port,
    make_keys,
    make_settings,
    pid_alive,
    start_server,
    wait_for,
)
from conftest import province_subset
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import DatasetRow, RunRow
from api.security import create_key
from api.settings import Settings
from api.store import Store
from planner.inventory import write_dataset
from planner.labels import column_label, table_label


@pytest.fixture
def solver(store_url, tmp_path):  # type: ignore[no-untyped-def]
    """An app with two workers, and its keys."""
    s = make_settings(store_url, tmp_path / "data", run_workers=2)
    with TestClient(create_app(s)) as c:
        yield c, make_keys(c.app.state.store), s


def test_planner_walkthrough(solver, demo, tmp_path):
    client, keys, settings = solver
    admin, planner, viewer = auth(keys["admin"]), auth(keys["planner"]), auth(keys["viewer"])
    # Upload an inventory (Lâm Đồng's part of the demo, as a workbook).
    folder = write_dataset(province_subset(demo, "68"), tmp_path / "inv", "xlsx")
    xlsx = (folder / "dataset.xlsx").read_bytes()
    r = client.post("/datasets", files=[("files", ("lam-dong.xlsx", xlsx, "application/x"))],
                    data={"name": "lam-dong"}, headers=admin)
    assert r.status_code == 201, r.text
    dataset = r.json()
    # A baseline on the shipped demo and a variant on the upload.
    base = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    variant = {**LAM_DONG_QUICK, "name": "lam-dong-upload",
               "data": {"dataset": dataset["id"], "provinces": ["68"]}}
    var = client.post("/scenarios", json=variant, headers=planner).json()
    t0 = time.perf_counter()
    r = client.post("/runs", json={"scenario_id": base["id"]}, headers=planner)
    assert r.status_code == 202 and time.perf_counter() - t0 < 2.0
    base_run = r.json()
    var_run = client.post("/runs", json={"scenario_id": var["id"], "overrides": ["tight"]},
                          headers=planner).json()
    # Follow the progress: stages in order, progress never going back.
    seen, last = [], 0.0
    while True:
        run = client.get(f"/runs/{var_run['id']}", headers=viewer).json()
        assert run["progress"] >= last
        last = run["progress"]
        if not seen or seen[-1] != run["stage"]:
            seen.append(run["stage"])
        if run["status"] in FINAL:
            break
        time.sleep(0.05)
    assert run["status"] == "succeeded", run
    assert run["progress"] == 1.0 and run["stage"] == "done" and run["finished_at"]
    assert run["synthetic"] is False
    order = ["queued", "start", "load", "seats", "disposition", "transfer", "kpis", "write",
             "done"]
    assert [s for s in seen if s in order] == [s for s in order if s in seen]
    assert len(seen) >= 3, seen
    assert wait_for(client, base_run["id"], keys["viewer"])["status"] == "succeeded"

    # KPIs
    kpis = client.get(f"/runs/{var_run['id']}/kpis", headers=viewer).json()
    assert kpis["synthetic"] is False
    national = {k["kpi"]: k for k in kpis["items"] if k["scope"] == "national"}
    assert national["units"]["after"] == 124
    prov = client.get(f"/runs/{var_run['id']}/kpis",
                      params={"scope": "province", "scope_id": "68"}, headers=viewer).json()
    assert prov["items"] and {k["scope_id"] for k in prov["items"]} == {"68"}
    csv = client.get(f"/runs/{var_run['id']}/kpis", params={"format": "csv"}, headers=viewer)
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(pd.read_csv(io.StringIO(csv.text))) == len(kpis["items"])

    # Plan pages: pagination and the province filter.
    rid = var_run["id"]
    full = pd.read_parquet(settings.data_dir / "runs" / rid / "tables" / "dispositions.parquet")
    p1 = client.get(f"/runs/{rid}/plan", params={"limit": 50}, headers=viewer).json()
    p2 = client.get(f"/runs/{rid}/plan", params={"limit": 50, "offset": 50},
                    headers=viewer).json()
    assert p1["table"] == "dispositions" and p1["total"] == len(full)
    assert [i["property_id"] for i in p1["items"] + p2["items"]] == \
        full["property_id"].head(100).tolist()
    other = client.get(f"/runs/{rid}/plan", params={"province": "01"}, headers=viewer).json()
    assert other["total"] == 0 and other["items"] == []
    eq = client.get(f"/runs/{rid}/plan", params={"table": "equipment", "province": "68",
                                                 "limit": 5}, headers=viewer).json()
    assert eq["total"] > 0 and len(eq["items"]) == 5
    assert client.get(f"/runs/{rid}/plan", params={"table": "solves", "province": "68"},
                      headers=viewer).status_code == 422
    assert client.get(f"/runs/{rid}/plan", params={"table": "nope"},
                      headers=viewer).status_code == 422
    # GeoJSON: points, and lines for transfers.
    gj = client.get(f"/runs/{rid}/plan", params={"format": "geojson", "limit": 1000},
                    headers=viewer)
    assert gj.headers["content-type"].startswith("application/geo+json")
    fc = gj.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == min(1000, len(full))
    assert fc["features"][0]["geometry"]["type"] == "Point"
    tr = client.get(f"/runs/{rid}/plan", params={"table": "transfers", "format": "geojson"},
                    headers=viewer).json()
    assert tr["features"] and tr["features"][0]["geometry"]["type"] == "LineString"
    assert client.get(f"/runs/{rid}/plan", params={"table": "solves", "format": "geojson"},
                      headers=viewer).status_code == 422
    # CSV and Excel downloads.
    csv = client.get(f"/runs/{rid}/plan", params={"table": "transfers", "format": "csv"},
                     headers=viewer)
    assert "attachment" in csv.headers["content-disposition"]
    assert len(pd.read_csv(io.StringIO(csv.text))) == tr["total"]
    book = client.get(f"/runs/{rid}/plan", params={"format": "xlsx"}, headers=viewer)
    assert book.status_code == 200 and book.content[:2] == b"PK"
    assert book.content == (settings.data_dir / "runs" / rid / "plan.xlsx").read_bytes()
    sheets = pd.read_excel(io.BytesIO(client.get(
        f"/runs/{rid}/plan", params={"format": "xlsx", "province": "68"},
        headers=viewer).content), sheet_name=None)
    assert table_label("dispositions") in sheets and table_label("solves") not in sheets
    assert column_label("use_code") in sheets[table_label("dispositions")].columns
    one = pd.read_excel(io.BytesIO(client.get(
        f"/runs/{rid}/plan", params={"format": "xlsx", "table": "units"},
        headers=viewer).content))
    assert len(one) == 124
    # Report and provenance.
    html = client.get(f"/runs/{rid}/report", headers=viewer)
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text
    md = client.get(f"/runs/{rid}/report", params={"format": "md"}, headers=viewer)
    assert md.headers["content-type"].startswith("text/markdown")
    prov_doc = client.get(f"/runs/{rid}/provenance", headers=viewer).json()
    assert prov_doc["dataset"]["content_hash"] == dataset["content_hash"]
    assert prov_doc["scenario"]["applied_overrides"] == ["tight"]

    # Compare with the baseline.
    cmp = client.get("/compare", params={"runs": f"{base_run['id']},{rid}"},
                     headers=viewer).json()
    assert [r["id"] for r in cmp["runs"]] == [base_run["id"], rid]
    assert cmp["runs"][0]["synthetic"] is True and cmp["runs"][1]["synthetic"] is False
    rows = {r["kpi"]: r for r in cmp["items"]}
    assert set(rows["units"]["after"].values()) == {124}
    budget = rows["renovation_budget_vnd"]["after"]
    assert budget[rid] == 10_000_000_000 and budget[base_run["id"]] != budget[rid]
    cmp_csv = client.get("/compare", params={"runs": [base_run["id"], rid], "format": "csv"},
                         headers=viewer)
    assert f"after_{rid}" in cmp_csv.text.splitlines()[0]


def test_cancel_terminates_the_worker(solver):
    client, keys, settings = solver
    planner = auth(keys["planner"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    run = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
    store = client.app.state.store
    deadline = time.monotonic() + 30
    pid = None
    while pid is None and time.monotonic() < deadline:
        with store.session() as s:
            pid = s.get(RunRow, run["id"]).worker_pid
        time.sleep(0.02)
    assert pid is not None and pid_alive(pid)
    r = client.post(f"/runs/{run['id']}/cancel", headers=planner)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert not pid_alive(pid)
    time.sleep(1.5)  # the supervisor reaps the worker and stays cancelled
    final = client.get(f"/runs/{run['id']}", headers=planner).json()
    assert final["status"] == "cancelled" and final["error"] is None
    assert not (settings.data_dir / "runs" / run["id"]).exists()
    assert client.app.state.manager.active_count() == 0


def test_failed_run_reports_the_planner_message(solver, demo, tmp_path):
    client, keys, settings = solver
    folder = write_dataset(province_subset(demo, "68"), tmp_path / "inv", "csv")
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in folder.glob("*.csv")]
    ds = client.post("/datasets", files=files, headers=auth(keys["admin"])).json()
    body = {**LAM_DONG_QUICK, "data": {"dataset": ds["id"], "provinces": ["68"]}}
    sc = client.post("/scenarios", json=body, headers=auth(keys["planner"])).json()
    # The stored copy breaks on disk after the upload (e.g. a disk error).
    with client.app.state.store.session() as s:
        (Path(s.get(DatasetRow, ds["id"]).path) / "norms.csv").unlink()
    run = client.post("/runs", json={"scenario_id": sc["id"]},
                      headers=auth(keys["planner"])).json()
    done = wait_for(client, run["id"], keys["viewer"])
    assert done["status"] == "failed"
    assert "norms" in done["error"] and "Traceback" not in done["error"]
    assert not (settings.data_dir / "runs" / run["id"]).exists()
    r = client.post(f"/runs/{run['id']}/rerun", headers=auth(keys["planner"]))
    assert r.status_code == 202 and r.json()["retry_of"] == run["id"]
    client.post(f"/runs/{r.json()['id']}/cancel", headers=auth(keys["planner"]))


def test_ten_concurrent_runs_without_corruption(store_url, tmp_path):
    # Workers retire after 3 runs, so the ten runs also go through fresh workers.
    settings = make_settings(store_url, tmp_path / "data", run_workers=2, worker_max_runs=3)
    with TestClient(create_app(settings)) as client:
        keys = make_keys(client.app.state.store)
        _ten_runs(client, keys, settings)


def _ten_runs(client: TestClient, keys: dict[str, str], settings: Settings) -> None:
    planner = auth(keys["planner"])
    # Lai Châu (12): the smallest province, so ten runs take seconds.
    body = {**LAM_DONG_QUICK, "name": "lai-chau", "data": {"provinces": ["12"]},
            "solver": {"time_limit_s": 2, "mip_gap": 0.05}}
    sc = client.post("/scenarios", json=body, headers=planner).json()

    def post(i: int) -> str:
        r = client.post("/runs", json={"scenario_id": sc["id"]},
                        headers={**planner, "Idempotency-Key": f"run-{i}"})
        assert r.status_code == 202, r.text
        return r.json()["id"]  # type: ignore[no-any-return]

    with cf.ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(post, range(10)))
    assert len(set(ids)) == 10
    busy_seen, pids = 0, set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        busy_seen = max(busy_seen, client.get("/health").json()["workers_busy"])
        with client.app.state.store.session() as s:
            rows = s.query(RunRow).all()
        pids |= {r.worker_pid for r in rows if r.worker_pid is not None}
        if all(r.status in FINAL for r in rows):
            break
        time.sleep(0.1)
    assert {r.status for r in rows} == {"succeeded"}
    assert busy_seen <= settings.run_workers
    assert len(pids) >= 4  # 10 runs, at most 3 per worker
    # Every run's outputs are whole and its own: all tables there, one decision per surplus
    # property, and the counts that do not depend on the solver identical. (The decisions may
    # differ when a time limit binds under load, so they are not compared.)
    first = None
    for rid in ids:
        out = settings.data_dir / "runs" / rid
        tables = {p.stem for p in (out / "tables").glob("*.parquet")}
        assert tables >= {"kpis", "units", "dispositions", "transfers", "equipment"}
        disp = pd.read_parquet(out / "tables" / "dispositions.parquet")
        assert disp["property_id"].is_unique
        kpis = pd.read_parquet(out / "tables" / "kpis.parquet").set_index(["scope", "scope_id",
                                                                           "kpi"])
        fixed = kpis.loc[("national", "VN"), "before"]
        prov = json.loads((out / "provenance.json").read_text())
        assert prov["provinces"] == ["12"]
        signature = (sorted(disp["property_id"]), fixed.dropna().to_dict(), prov["scenario_hash"])
        if first is None:
            first = signature
        assert signature == first, rid
    runs = client.get("/runs", params={"limit": 50}, headers=planner).json()
    assert runs["total"] == 10
    assert {r["status"] for r in runs["items"]} == {"succeeded"}
    assert all(r["progress"] == 1.0 and r["started_at"] and r["finished_at"]
               for r in runs["items"])


# ------------------------------------------------------------------------ kill and restart


def test_a_killed_server_leaves_its_runs_interrupted_and_rerunnable(store_url, tmp_path):
    data_dir = tmp_path / "data"
    env = {**os.environ, "DATABASE_URL": store_url, "ASSETPLAN_DATA_DIR": str(data_dir),
           "ASSETPLAN_RUN_WORKERS": "1", "ASSETPLAN_WRITE_MAPS": "false",
           "ASSETPLAN_LEASE_S": "2", "ASSETPLAN_LEASE_RENEW_S": "0.5"}
    store = Store(Settings(database_url=store_url, data_dir=data_dir).store_url())
    store.migrate()
    with store.session() as s:
        key = create_key(s, "planner")[1]
    h = auth(key)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start_server(env, port, log)
    try:
        sc = httpx.post(f"{base}/scenarios", json=LAM_DONG_QUICK, headers=h).json()
        run = httpx.post(f"{base}/runs", json={"scenario_id": sc["id"]}, headers=h).json()
        pid = None
        deadline = time.monotonic() + 30
        while pid is None and time.monotonic() < deadline:
            with store.session() as s:
                pid = s.get(RunRow, run["id"]).worker_pid
            time.sleep(0.05)
        assert pid is not None
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        # The orphaned worker notices and stops on its own.
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(pid)
        with store.session() as s:
            assert s.get(RunRow, run["id"]).status == "running"  # as the dead server left it
        server = start_server(env, port, log)
        # The restarted server is another lease owner: the run is interrupted once the dead
        # server's lease has run out.
        deadline = time.monotonic() + 10
        while (after := httpx.get(f"{base}/runs/{run['id']}", headers=h).json())["status"] \
                == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert after["status"] == "interrupted" and "rerun" in after["message"]
        again = httpx.post(f"{base}/runs/{run['id']}/rerun", headers=h)
        assert again.status_code == 202
        new_id = again.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/runs/{new_id}", headers=h).json()["status"]
            if status in FINAL:
                break
            time.sleep(0.2)
        assert status == "succeeded"
        assert httpx.get(f"{base}/runs/{new_id}/kpis", headers=h).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        store.dispose()
    # uvicorn shuts down gracefully, then re-raises SIGTERM.
    assert server.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Traceback" not in log.read_text()
