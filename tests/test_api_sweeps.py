"""Sweeps through the API (Lâm Đồng, SYNTHETIC demo): members are runs, on the local worker
processes and on Ray; progress, summary as JSON, CSV and Excel, scope, problems, cancel."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import FINAL, LAM_DONG_QUICK, auth, make_keys, make_settings, wait_for
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app

BUDGETS = {"key": "budget.national_vnd", "values": [10_000_000_000, 60_000_000_000]}
DRAWS = {"draws": 2, "seed": 3, "needs": {"distribution": "lognormal", "sigma": 0.3}}


@pytest.fixture
def solver(store_url, tmp_path):  # type: ignore[no-untyped-def]
    s = make_settings(store_url, tmp_path / "data", run_workers=2)
    with TestClient(create_app(s)) as c:
        yield c, make_keys(c.app.state.store)


def wait_sweep(client: TestClient, sweep_id: str, key: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        sw = client.get(f"/sweeps/{sweep_id}", headers=auth(key)).json()
        if sw["status"] in FINAL:
            return sw
        assert time.monotonic() < deadline, sw
        time.sleep(0.2)


def idle(client: TestClient, timeout_s: float = 15) -> None:
    """Until the server's executor holds no job (the supervisor has seen them end)."""
    deadline = time.monotonic() + timeout_s
    while client.app.state.manager.active_count():
        assert time.monotonic() < deadline, "a job is still held"
        time.sleep(0.1)


def scenario(client: TestClient, keys: dict) -> dict:
    r = client.post("/scenarios", json=LAM_DONG_QUICK, headers=auth(keys["planner"]))
    assert r.status_code == 201, r.text
    return r.json()


def test_sweep_members_are_runs_and_the_summary_reads_them(solver) -> None:
    client, keys = solver
    sc = scenario(client, keys)
    r = client.post("/sweeps", json={"scenario_id": sc["id"], "name": "budgets",
                                     "axes": [BUDGETS], "monte_carlo": DRAWS},
                    headers=auth(keys["planner68"]))
    assert r.status_code == 202, r.text
    sweep = r.json()
    assert sweep["members"] == 4 and r.headers["Location"] == f"/sweeps/{sweep['id']}"
    done = wait_sweep(client, sweep["id"], keys["viewer68"])
    assert done["status"] == "succeeded" and done["members_by_status"] == {"succeeded": 4}
    assert done["progress"] == 1.0
    members = client.get(f"/sweeps/{sweep['id']}/members", headers=auth(keys["viewer"])).json()
    assert [m["sweep_member"] for m in members] == ["m0001", "m0002", "m0003", "m0004"]
    assert [m["draw"] for m in members] == [0, 1, 0, 1]
    assert {m["sweep_params"]["budget.national_vnd"] for m in members} == set(BUDGETS["values"])
    # Every member is an ordinary run: its plan is served like any other.
    kpis = client.get(f"/runs/{members[0]['id']}/kpis", headers=auth(keys["viewer"]))
    assert kpis.status_code == 200
    # The summary, from the members' plans.
    url = f"/sweeps/{sweep['id']}/summary"
    rows = client.get(url, headers=auth(keys["viewer"])).json()
    assert [x["member_status"] for x in rows] == ["succeeded"] * 4
    assert [x["run_id"] for x in rows] == [m["id"] for m in members]
    points = client.get(url, params={"table": "points"}, headers=auth(keys["viewer"])).json()
    assert [p["members"] for p in points] == [2, 2]
    assert points[0]["budget_vnd"] == 10_000_000_000
    uses = pd.DataFrame(client.get(url, params={"table": "uses"},
                                   headers=auth(keys["viewer"])).json())
    shares = uses[[c for c in uses.columns if c.startswith("share_")]].fillna(0)
    assert (shares.sum(axis=1).round(9) == 1).all() and len(uses) > 10
    csv = client.get(url, params={"table": "points", "format": "csv"},
                     headers=auth(keys["viewer"]))
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(pd.read_csv(io.StringIO(csv.text))) == 2
    xlsx = client.get(url, params={"format": "xlsx", "lang": "vi"},
                      headers=auth(keys["viewer"]))
    wb = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert wb.sheetnames == ["Các phương án", "Biên hiệu quả", "Độ ổn định mục đích sử dụng"]
    # Scope: another province's keys see nothing of it.
    assert client.get(f"/sweeps/{sweep['id']}",
                      headers=auth(keys["planner01"])).status_code in (403, 404)
    listed = client.get("/sweeps", headers=auth(keys["planner01"])).json()
    assert listed["total"] == 0
    assert client.get("/sweeps", headers=auth(keys["viewer68"])).json()["total"] == 1


def test_sweep_problems_all_at_once(solver) -> None:
    client, keys = solver
    sc = scenario(client, keys)
    planner = auth(keys["planner"])
    r = client.post("/sweeps", json={"scenario_id": sc["id"], "axes": [
        {"key": "policy.service_radius_km.health", "values": [10, -1, 0]}]}, headers=planner)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert [(p["file"], p["column"]) for p in problems] == [
        ("member 2 (policy.service_radius_km.health=-1)", "policy.service_radius_km.health"),
        ("member 3 (policy.service_radius_km.health=0)", "policy.service_radius_km.health")]
    assert all("greater than 0" in p["rule"] for p in problems)
    r = client.post("/sweeps", json={"scenario_id": sc["id"], "set": {
        "data.decisions": "/etc/passwd"}}, headers=planner)
    assert r.status_code == 422 and "data.decisions" in r.text
    r = client.post("/sweeps", json={"scenario_id": sc["id"], "axes": [
        {"key": "solver.seed", "range": {"start": 0, "stop": 600, "num": 600}}]},
                    headers=planner)
    assert r.status_code == 422 and "at most 500" in r.text
    r = client.post("/sweeps", json={"scenario_id": sc["id"], "axes": [{"key": "x.y"}]},
                    headers=planner)
    assert r.status_code == 422 and "axes.0" in r.text
    # A scoped planner of another province may not sweep Lâm Đồng.
    r = client.post("/sweeps", json={"scenario_id": sc["id"]},
                    headers=auth(keys["planner01"]))
    assert r.status_code in (403, 404)
    assert client.get("/sweeps", headers=planner).json()["total"] == 0


def test_sweep_cancel_stops_its_members(solver) -> None:
    client, keys = solver
    sc = scenario(client, keys)
    planner = auth(keys["planner"])
    sweep = client.post("/sweeps", json={
        "scenario_id": sc["id"], "set": {"solver.time_limit_s": 60, "solver.mip_gap": 0},
        "axes": [{"key": "solver.seed", "values": [1, 2, 3]}]}, headers=planner).json()
    members = client.get(f"/sweeps/{sweep['id']}/members", headers=planner).json()
    wait_for(client, members[0]["id"], keys["planner"], states=("running",))
    r = client.post(f"/sweeps/{sweep['id']}/cancel", headers=planner)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["members_by_status"] == {"cancelled": 3}
    idle(client)  # the workers were stopped
    assert client.post(f"/sweeps/{sweep['id']}/cancel", headers=planner).status_code == 409


def test_runs_and_sweeps_on_the_ray_executor(store_url, tmp_path) -> None:
    pytest.importorskip("ray")
    s = make_settings(store_url, tmp_path / "data", run_workers=2, executor="ray")
    with TestClient(create_app(s)) as client:
        keys = make_keys(client.app.state.store)
        sc = scenario(client, keys)
        planner = auth(keys["planner"])
        run = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
        assert wait_for(client, run["id"], keys["planner"])["status"] == "succeeded"
        sweep = client.post("/sweeps", json={"scenario_id": sc["id"], "axes": [BUDGETS]},
                            headers=planner).json()
        done = wait_sweep(client, sweep["id"], keys["planner"])
        assert done["members_by_status"] == {"succeeded": 2}
        rows = client.get(f"/sweeps/{sweep['id']}/summary", headers=planner).json()
        assert all(x["renovation_budget_vnd"] in BUDGETS["values"] for x in rows)
        # A cancel reaches the Ray task.
        long = client.post("/sweeps", json={
            "scenario_id": sc["id"], "set": {"solver.time_limit_s": 60, "solver.mip_gap": 0},
            "axes": [{"key": "solver.seed", "values": [1]}]}, headers=planner).json()
        member = client.get(f"/sweeps/{long['id']}/members", headers=planner).json()[0]
        wait_for(client, member["id"], keys["planner"], states=("running",))
        # The task's progress comes through while it runs.
        until = time.monotonic() + 60
        while time.monotonic() < until:
            got = client.get(f"/runs/{member['id']}", headers=planner).json()
            if got["stage"] == "disposition":
                break
            time.sleep(0.25)
        assert got["status"] == "running" and got["stage"] == "disposition", got
        assert 0 < got["progress"] < 1 and got["message"] != "running on Ray"
        t0 = time.monotonic()
        r = client.post(f"/sweeps/{long['id']}/cancel", headers=planner)
        assert r.status_code == 200 and r.json()["members_by_status"] == {"cancelled": 1}
        assert time.monotonic() - t0 < 20
        idle(client)
