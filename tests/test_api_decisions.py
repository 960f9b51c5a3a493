"""The planner's decisions through the API: JSON rows or an uploaded file in POST /runs,
validated with the usual problem body, held to the key's province, honoured by the run, kept
for a re-run, read back, and a re-plan from a run's plan."""

from __future__ import annotations

import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import LAM_DONG_QUICK, auth, make_keys, make_settings, wait_for
from conftest import province_subset
from fastapi.testclient import TestClient

from api.app import create_app
from api.jobs import decisions_file, start_file


@pytest.fixture
def solver(store_url, tmp_path):  # type: ignore[no-untyped-def]
    s = make_settings(store_url, tmp_path / "data", run_workers=1)
    with TestClient(create_app(s)) as c:
        yield c, make_keys(c.app.state.store), s


def lam_dong_building(demo) -> str:  # type: ignore[no-untyped-def]
    p = province_subset(demo, "68").properties
    free = p[~p["in_use_as_seat"] & (p["kind"] == "building")]
    return str(free["property_id"].sort_values().iloc[0])


def test_decisions_in_a_run(solver, demo):
    client, keys, settings = solver
    planner = auth(keys["planner68"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    pid = lam_dong_building(demo)
    rows = [{"property_id": pid, "rule": "require", "use": "hold", "note": "chờ quy hoạch"}]
    r = client.post("/runs", json={"scenario_id": sc["id"], "decisions": rows}, headers=planner)
    assert r.status_code == 202, r.text
    run = wait_for(client, r.json()["id"], keys["viewer"])
    assert run["status"] == "succeeded", run
    out = settings.data_dir / "runs" / run["id"]
    d = pd.read_parquet(out / "tables" / "dispositions.parquet").set_index("property_id")
    assert d.at[pid, "use"] == "hold" and d.at[pid, "decided_by"] == "planner"
    assert "chờ quy hoạch" in d.at[pid, "reason"]
    prov = client.get(f"/runs/{run['id']}/provenance", headers=auth(keys["viewer"])).json()
    assert prov["decisions"]["properties"] == 1
    assert prov["scenario"]["data"]["decisions"] == f"{run['id']}.csv"  # no server path
    assert str(settings.data_dir) not in str(prov)
    # /compare with the same scenario without decisions lists what they changed, and why.
    base = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
    assert wait_for(client, base["id"], keys["viewer"])["status"] == "succeeded"
    cmp = client.get("/compare", params={"runs": f"{base['id']},{run['id']}"},
                     headers=auth(keys["viewer"])).json()
    changed = {c["property_id"]: c for c in cmp["decisions_changed"]}
    assert cmp["decisions_changed_total"] == len(changed)
    if d.at[pid, "use"] != pd.read_parquet(settings.data_dir / "runs" / base["id"] / "tables"
                                           / "dispositions.parquet").set_index(
            "property_id").at[pid, "use"]:
        first = cmp["decisions_changed"][0]
        assert first["property_id"] == pid and first["decided_by"] == "planner"
        assert "chờ quy hoạch" in first["reason_after"]
    else:
        assert pid not in changed

    # Re-plan from the run: its decisions read back, one more added, its plan as the start.
    got = client.get(f"/runs/{run['id']}/decisions", headers=auth(keys["viewer"])).json()
    assert got["total"] == 1 and got["items"][0] == {**rows[0], "row": 2, "holder_code": None,
                                                     "category": None, "quantity": None,
                                                     "commune_code": None}
    other = str(d.index[(d["use"] == "sale") & (d.index != pid)][0])
    more = [{k: v for k, v in r.items() if k != "row" and v is not None}
            for r in got["items"]] + [{"property_id": other, "rule": "forbid", "use": "sale"}]
    r = client.post(f"/runs/{run['id']}/replan", json={"decisions": more, "time_limit_s": 5},
                    headers=planner)
    assert r.status_code == 202, r.text
    assert r.json()["replan_of"] == run["id"]
    assert start_file(settings.data_dir, r.json()["id"]).exists()
    again = wait_for(client, r.json()["id"], keys["viewer"])
    assert again["status"] == "succeeded", again
    d2 = pd.read_parquet(settings.data_dir / "runs" / again["id"] / "tables"
                         / "dispositions.parquet").set_index("property_id")
    assert d2.at[pid, "use"] == "hold" and d2.at[other, "use"] != "sale"
    assert d2.at[other, "decided_by"] == "planner"
    prov = client.get(f"/runs/{again['id']}/provenance", headers=auth(keys["viewer"])).json()
    assert prov["scenario"]["solver"]["time_limit_s"] == 5
    assert client.get(f"/runs/{again['id']}/decisions", headers=planner).json()["total"] == 2
    bad = client.post(f"/runs/{run['id']}/replan", headers=planner,
                      json={"decisions": [{"property_id": "NOPE", "rule": "forbid",
                                           "use": "sale"}]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["row"] == 2


def test_decisions_as_an_uploaded_file(solver, demo, tmp_path):
    client, keys, settings = solver
    planner = auth(keys["planner"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    pid = lam_dong_building(demo)
    rows = pd.DataFrame([{"property_id": pid, "rule": "forbid", "use": "sale",
                          "note": "giữ lại"}])
    xlsx = tmp_path / "quyet-dinh.xlsx"
    rows.to_excel(xlsx, sheet_name="decisions", index=False)
    form = {"scenario_id": sc["id"], "overrides": []}
    r = client.post("/runs", data=form, headers=planner,
                    files={"decisions_file": (xlsx.name, xlsx.read_bytes())})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert client.get(f"/runs/{rid}/decisions", headers=planner).json()["items"][0][
        "note"] == "giữ lại"
    client.post(f"/runs/{rid}/cancel", headers=planner)
    # A bad file: every problem names the file and the row; nothing is started.
    bad = "property_id,rule,use\nNOPE,require,health\n" + f"{pid},forbid,spa\n"
    r = client.post("/runs", data=form, headers=planner,
                    files={"decisions_file": ("bad.csv", bad.encode())})
    assert r.status_code == 422, r.text
    where = {(p["file"], p["row"], p["column"]) for p in r.json()["problems"]}
    assert {("bad.csv", 2, "property_id"), ("bad.csv", 3, "use")} <= where
    for files, code in (({"other_file": ("d.csv", b"a")}, "invalid_decisions"),
                        (None, "unsupported_media_type"),  # a form without a file
                        ({"decisions_file": ("d.txt", b"x")}, "invalid_decisions"),
                        ({"decisions_file": ("d.xlsx", b"not a workbook")},
                         "invalid_decisions")):
        r = client.post("/runs", data=form, headers=planner, files=files)
        assert r.status_code in (415, 422) and r.json()["code"] == code, r.text
    r = client.post("/runs", content=b"scenario_id: x", headers={
        **planner, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert client.get("/runs", headers=planner).json()["total"] == 1
    assert not list((settings.data_dir / "uploads").glob(".decisions-*"))


def test_bad_decisions_get_every_problem_with_its_row(solver, demo):
    client, keys, _ = solver
    planner = auth(keys["planner"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    rows = [{"property_id": "NOPE", "rule": "require", "use": "health"},
            {"commune_code": "99999", "rule": "require"},
            {"property_id": lam_dong_building(demo), "rule": "forbid", "use": "hold"}]
    r = client.post("/runs", json={"scenario_id": sc["id"], "decisions": rows}, headers=planner)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_decisions"
    where = {(p["row"], p["column"]) for p in body["problems"]}
    assert {(2, "property_id"), (3, "commune_code"), (4, "use")} <= where
    assert client.get("/runs", headers=planner).json()["total"] == 0
    shape = client.post("/runs", json={"scenario_id": sc["id"], "decisions": [{"use": "x"}]},
                        headers=planner)
    assert shape.status_code == 422  # rule is required by the schema


def test_a_scoped_key_decides_only_in_its_province(solver, demo):
    client, keys, settings = solver
    planner68 = auth(keys["planner68"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner68).json()
    elsewhere = str(province_subset(demo, "01").properties["property_id"].iloc[0])
    rows = [{"property_id": lam_dong_building(demo), "rule": "forbid", "use": "sale"},
            {"property_id": elsewhere, "rule": "forbid", "use": "sale"}]
    r = client.post("/runs", json={"scenario_id": sc["id"], "decisions": rows},
                    headers=planner68)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert [p["row"] for p in r.json()["problems"]] == [3]
    ok = client.post("/runs", json={"scenario_id": sc["id"], "decisions": rows[:1]},
                     headers=planner68)
    assert ok.status_code == 202
    rid = ok.json()["id"]
    client.post(f"/runs/{rid}/cancel", headers=planner68)
    again = client.post(f"/runs/{rid}/rerun", headers=planner68)
    assert again.status_code == 202
    kept = decisions_file(settings.data_dir, again.json()["id"])
    assert kept.exists() and lam_dong_building(demo) in kept.read_text(encoding="utf-8")
    client.post(f"/runs/{again.json()['id']}/cancel", headers=planner68)
