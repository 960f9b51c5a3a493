"""Every route and error path of the HTTP API that needs no solve, on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures as cf
import json
from pathlib import Path

import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import LAM_DONG_QUICK, ROOT, auth, make_keys, make_settings
from fastapi.testclient import TestClient

from api import geo
from api.app import create_app
from api.models import DatasetRow, RunRow

OPERATION_IDS = {
    ("get", "/health"): "get_health", ("get", "/i18n"): "get_i18n",
    ("get", "/keys"): "list_keys", ("get", "/keys/me"): "get_own_key",
    ("post", "/keys"): "create_key", ("delete", "/keys/{key_id}"): "revoke_key",
    ("get", "/datasets"): "list_datasets", ("post", "/datasets"): "create_dataset",
    ("get", "/datasets/{dataset_id}"): "get_dataset",
    ("delete", "/datasets/{dataset_id}"): "delete_dataset",
    ("get", "/scenarios/schema"): "get_scenario_schema",
    ("post", "/scenarios"): "create_scenario", ("get", "/scenarios"): "list_scenarios",
    ("get", "/scenarios/{scenario_id}"): "get_scenario",
    ("delete", "/scenarios/{scenario_id}"): "delete_scenario",
    ("post", "/runs"): "create_run", ("get", "/runs"): "list_runs",
    ("get", "/runs/{run_id}"): "get_run", ("post", "/runs/{run_id}/cancel"): "cancel_run",
    ("post", "/runs/{run_id}/rerun"): "rerun_run",
    ("post", "/runs/{run_id}/replan"): "replan_run",
    ("get", "/runs/{run_id}/decisions"): "get_run_decisions",
    ("get", "/runs/{run_id}/kpis"): "get_run_kpis",
    ("get", "/runs/{run_id}/plan"): "get_run_plan",
    ("get", "/runs/{run_id}/report"): "get_run_report",
    ("get", "/runs/{run_id}/provenance"): "get_run_provenance",
    ("post", "/sweeps"): "create_sweep", ("get", "/sweeps"): "list_sweeps",
    ("get", "/sweeps/{sweep_id}"): "get_sweep",
    ("get", "/sweeps/{sweep_id}/members"): "list_sweep_members",
    ("post", "/sweeps/{sweep_id}/cancel"): "cancel_sweep",
    ("get", "/sweeps/{sweep_id}/summary"): "get_sweep_summary",
    ("get", "/compare"): "compare_runs",
    ("get", "/communes"): "list_communes", ("get", "/communes/{code}"): "get_commune",
    ("get", "/provinces"): "list_provinces", ("get", "/provinces/{code}"): "get_province",
}


def scenario(client: TestClient, key: str, body: dict | None = None, **q) -> dict:
    r = client.post("/scenarios", json=body or LAM_DONG_QUICK, headers=auth(key), params=q)
    assert r.status_code == 201, r.text
    return r.json()


# --------------------------------------------------------------------------- OpenAPI, health


def test_openapi_is_complete_with_stable_operation_ids(client):
    doc = client.get("/openapi.json").json()
    found = {(m, p): op["operationId"] for p, ops in doc["paths"].items()
             for m, op in ops.items()}
    assert found == OPERATION_IDS
    schemas = doc["components"]["schemas"]
    for name in ("ErrorPublic", "Problem", "RunPublic", "ScenarioSpec", "PlanPage",
                 "GeoJSONFeatureCollection", "ComparePublic", "DatasetPublic", "KeyCreated"):
        assert name in schemas, name
    # The scenario body is the planner's schema, referenced for JSON and YAML.
    body = doc["paths"]["/scenarios"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["$ref"].endswith("/ScenarioSpec")
    assert "application/yaml" in body
    assert "policy" in schemas["ScenarioSpec"]["properties"]
    for (method, path), _ in OPERATION_IDS.items():
        op = doc["paths"][path][method]
        assert op.get("summary"), (method, path)
        if path not in ("/health", "/i18n"):
            assert "401" in op["responses"], (method, path)
            assert op["responses"]["401"]["content"]["application/json"]["schema"][
                "$ref"].endswith("/ErrorPublic")
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in op["responses"], (method, path)
            assert "HTTPValidationError" not in json.dumps(op["responses"])
    assert schemas["RunPublic"].get("examples")
    assert doc["components"]["securitySchemes"].keys() >= {"APIKeyHeader", "HTTPBearer"}


def test_health_needs_no_key(client, settings):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["store"] == ("postgresql" if settings.store_url().startswith("postgresql")
                             else "sqlite")
    assert body["workers_max"] == settings.run_workers


def test_migrations_ran_and_demo_is_preloaded_once(client, keys, settings):
    # A second app start on the same store neither fails nor duplicates the demo.
    with TestClient(create_app(settings)) as again:
        r = again.get("/datasets", headers=auth(keys["viewer"]))
    demo = [d for d in r.json() if d["id"] == "demo"]
    assert len(demo) == 1
    assert demo[0]["synthetic"] is True and demo[0]["source"] == "demo"
    assert demo[0]["tables"]["communes"] == 3321


# ----------------------------------------------------------------------------- authentication


def test_missing_unknown_and_revoked_keys_get_401(client, keys):
    r = client.get("/datasets")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["code"] == "unauthenticated"
    assert client.get("/datasets", headers=auth("ap_not-a-key")).status_code == 401
    ok = client.get("/datasets", headers={"Authorization": f"Bearer {keys['viewer']}"})
    assert ok.status_code == 200
    keys_list = client.get("/keys", headers=auth(keys["admin"])).json()
    viewer_id = next(k["id"] for k in keys_list if k["name"] == "viewer")
    assert all("key" not in k and "key_hash" not in k for k in keys_list)
    r = client.delete(f"/keys/{viewer_id}", headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert client.get("/datasets", headers=auth(keys["viewer"])).status_code == 401


ROLE_MATRIX = [
    # method, path, body, least role
    ("get", "/datasets", None, "viewer"),
    ("get", "/scenarios", None, "viewer"),
    ("get", "/runs", None, "viewer"),
    ("get", "/communes", None, "viewer"),
    ("get", "/provinces", None, "viewer"),
    ("get", "/scenarios/schema", None, "viewer"),
    ("post", "/scenarios", LAM_DONG_QUICK, "planner"),
    ("post", "/runs", {"scenario_id": "nope"}, "planner"),
    ("post", "/runs/nope/cancel", None, "planner"),
    ("post", "/runs/nope/rerun", None, "planner"),
    ("delete", "/scenarios/nope", None, "planner"),
    ("get", "/keys", None, "admin"),
    ("post", "/keys", {"role": "viewer"}, "admin"),
    ("delete", "/keys/nope", None, "admin"),
    ("delete", "/datasets/nope", None, "admin"),
]
ORDER = ("viewer", "planner", "admin")


@pytest.mark.parametrize(("method", "path", "body", "least"), ROLE_MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in ROLE_MATRIX])
def test_role_matrix(client, keys, method, path, body, least):
    for role in ORDER:
        r = client.request(method, path, json=body, headers=auth(keys[role]))
        if ORDER.index(role) < ORDER.index(least):
            assert r.status_code == 403, (role, r.text)
            assert r.json()["code"] == "forbidden"
        else:
            assert r.status_code not in (401, 403), (role, r.text)


def test_upload_needs_admin(client, keys, small_csv_dir):
    files = [("files", (p.name, p.read_bytes(), "text/csv"))
             for p in sorted(small_csv_dir.glob("*.csv"))]
    r = client.post("/datasets", files=files, headers=auth(keys["planner"]))
    assert r.status_code == 403


# --------------------------------------------------------------------------------------- keys


def test_keys_create_list_revoke(client, keys):
    admin = auth(keys["admin"])
    r = client.post("/keys", json={"role": "planner", "province_code": "68", "name": "LĐ"},
                    headers=admin)
    assert r.status_code == 201
    new = r.json()
    assert new["key"].startswith("ap_") and new["prefix"] == new["key"][:10]
    assert client.get("/scenarios", headers=auth(new["key"])).status_code == 200
    own = client.get("/keys/me", headers=auth(new["key"])).json()  # any role sees its own key
    assert (own["id"], own["role"], own["province_code"]) == (new["id"], "planner", "68")
    assert "key" not in own
    listed = {k["id"]: k for k in client.get("/keys", headers=admin).json()}
    assert listed[new["id"]]["province_code"] == "68" and "key" not in listed[new["id"]]
    assert client.post("/keys", json={"role": "admin", "province_code": "68"},
                       headers=admin).status_code == 422
    assert client.post("/keys", json={"role": "viewer", "province_code": "99"},
                       headers=admin).status_code == 422
    assert client.post("/keys", json={"role": "root"}, headers=admin).status_code == 422
    assert client.delete("/keys/nope", headers=admin).status_code == 404
    me = next(k["id"] for k in listed.values() if k["name"] == "admin")
    assert client.delete(f"/keys/{me}", headers=admin).status_code == 409
    assert client.delete(f"/keys/{new['id']}", headers=admin).status_code == 200
    assert client.get("/scenarios", headers=auth(new["key"])).status_code == 401


# ----------------------------------------------------------------------------------- datasets


def _files(folder: Path, pattern: str = "*") -> list:
    return [("files", (p.name, p.read_bytes(), "application/octet-stream"))
            for p in sorted(folder.glob(pattern)) if p.is_file()]


def test_upload_csv_then_same_content_as_xlsx_is_the_same_dataset(client, keys, settings,
                                                                   small_dataset, tmp_path):
    from planner.inventory import write_dataset

    admin = auth(keys["admin"])
    csv_dir = write_dataset(small_dataset, tmp_path / "csv", "csv")
    r = client.post("/datasets", files=_files(csv_dir, "*.csv"), data={"name": "cao-bang"},
                    headers=admin)
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["name"] == "cao-bang" and ds["source"] == "upload"
    assert ds["content_hash"] == small_dataset.content_hash
    assert ds["tables"]["properties"] == len(small_dataset.properties)
    assert ds["synthetic"] is False  # no dataset.json sent: nothing says it is the demo
    with client.app.state.store.session() as s:
        stored = Path(s.get(DatasetRow, ds["id"]).path)
    assert stored.is_relative_to(settings.data_dir.resolve()) and stored.is_dir()
    for fmt in ("xlsx", "gpkg", "parquet"):
        folder = write_dataset(small_dataset, tmp_path / fmt, fmt)
        r = client.post("/datasets", files=_files(folder, f"*.{fmt}"), headers=admin)
        assert r.status_code == 200, (fmt, r.text)
        assert r.json()["id"] == ds["id"]
    assert client.get(f"/datasets/{ds['id']}", headers=auth(keys["viewer"])).json() == ds
    assert client.get("/datasets/nope", headers=admin).status_code == 404


def test_upload_with_dataset_json_keeps_the_synthetic_label(client, keys, small_csv_dir):
    r = client.post("/datasets", files=_files(small_csv_dir), headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    assert r.json()["synthetic"] is True


def test_invalid_upload_is_a_structured_422_and_stores_nothing(client, keys, settings,
                                                               small_csv_dir):
    props = pd.read_csv(small_csv_dir / "properties.csv", dtype=str, keep_default_na=False)
    props.loc[4, "commune_code"] = "99999"
    props.loc[6, "floor_area_m2"] = "-5"
    (small_csv_dir / "properties.csv").write_text(props.to_csv(index=False), encoding="utf-8")
    (small_csv_dir / "vehicles.csv").unlink()
    r = client.post("/datasets", files=_files(small_csv_dir), headers=auth(keys["admin"]))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_inventory"
    problems = body["problems"]
    assert {"file", "row", "column", "rule"} <= problems[0].keys()
    assert any(p["file"] == "properties.csv" and p["row"] == 6 and p["column"] ==
               "commune_code" for p in problems), problems
    assert any(p["row"] == 8 and p["column"] == "floor_area_m2" for p in problems)
    assert any("vehicles" in p["file"] and p["row"] is None for p in problems)
    assert [d["id"] for d in client.get("/datasets", headers=auth(keys["admin"])).json()] \
        == ["demo"]
    assert list((settings.data_dir / "datasets").iterdir()) == []


@pytest.mark.parametrize(("name", "content"), [
    ("notes.txt", b"hello"), ("../../properties.exe", b"x"), ("stuff.csv", b"a,b\n1,2\n")])
def test_upload_refuses_files_that_are_not_an_inventory(client, keys, name, content):
    r = client.post("/datasets", files=[("files", (name, content, "text/plain"))],
                    headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert r.json()["problems"][0]["file"] == name


def test_upload_broken_workbook_and_empty_csv(client, keys):
    r = client.post("/datasets", files=[("files", ("book.xlsx", b"not a zip", "x"))],
                    headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert any("Excel" in p["rule"] for p in r.json()["problems"])
    r = client.post("/datasets", files=[("files", ("norms.csv", b"", "text/csv"))],
                    headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert any(p["file"] == "norms.csv" and "empty" in p["rule"] for p in r.json()["problems"])


def test_upload_size_limit(store_url, tmp_path):
    s = make_settings(store_url, tmp_path / "d", max_upload_bytes=10_000, max_body_bytes=500)
    with TestClient(create_app(s)) as c:
        k = make_keys(c.app.state.store)
        r = c.post("/datasets", files=[("files", ("norms.csv", b"x" * 20_000, "text/csv"))],
                   headers=auth(k["admin"]))
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        r = c.post("/scenarios", content=json.dumps({"name": "x" * 1000}),
                   headers={**auth(k["planner"]), "Content-Type": "application/json"})
        assert r.status_code == 413

        # Streamed without Content-Length: counted as it arrives.
        def chunks():
            for _ in range(10):
                yield b"x" * 100

        r = c.post("/scenarios", content=chunks(),
                   headers={**auth(k["planner"]), "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["code"] == "too_large"

        def upload():
            boundary = b"--xyz"
            yield boundary + b'\r\nContent-Disposition: form-data; name="files"; ' \
                b'filename="norms.csv"\r\nContent-Type: text/csv\r\n\r\n'
            for _ in range(30):
                yield b"x" * 1000
            yield b"\r\n" + boundary + b"--\r\n"

        r = c.post("/datasets", content=upload(), headers={
            **auth(k["admin"]), "Content-Type": "multipart/form-data; boundary=xyz"})
        assert r.status_code == 413 and r.json()["code"] == "too_large"


def test_delete_dataset_rules(client, keys, small_csv_dir, settings):
    admin = auth(keys["admin"])
    assert client.delete("/datasets/demo", headers=admin).status_code == 409
    ds = client.post("/datasets", files=_files(small_csv_dir), headers=admin).json()
    body = {**LAM_DONG_QUICK, "name": "cb", "data": {"dataset": ds["id"], "provinces": ["04"]}}
    sc = scenario(client, keys["planner"], body)
    assert client.delete(f"/datasets/{ds['id']}", headers=admin).status_code == 409
    assert client.delete(f"/scenarios/{sc['id']}",
                         headers=auth(keys["planner"])).status_code == 204
    assert client.delete(f"/datasets/{ds['id']}", headers=admin).status_code == 204
    assert client.get(f"/datasets/{ds['id']}", headers=admin).status_code == 404
    assert list((settings.data_dir / "datasets").iterdir()) == []


# ---------------------------------------------------------------------------------- scenarios


def test_create_scenario_from_yaml_files_with_extends(client, keys):
    planner = auth(keys["planner"])
    for name in ("national-baseline", "lam-dong"):
        text = (ROOT / "scenarios" / f"{name}.yaml").read_bytes()
        r = client.post("/scenarios", content=text,
                        headers={**planner, "Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
    lam = r.json()
    assert lam["name"] == "lam-dong" and lam["provinces"] == ["68"]
    # Settings and named overrides come from the stored baseline.
    assert lam["scenario"]["policy"]["seats"]["max_service_km"] == 15
    assert lam["scenario"]["budget"]["national_vnd"] == 3_000_000_000_000
    assert "quick" in lam["overrides_available"]
    r = client.get("/scenarios/lam-dong", headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.json()["id"] == lam["id"]


def test_create_scenario_json_with_overrides(client, keys):
    sc = scenario(client, keys["planner"], override=["quick", "tight"])
    assert sc["overrides"] == ["quick", "tight"]
    assert sc["scenario"]["solver"]["time_limit_s"] == 2
    assert sc["scenario"]["budget"]["national_vnd"] == 10_000_000_000
    assert sc["scenario"]["applied_overrides"] == ["quick", "tight"]
    assert sc["dataset_id"] == "demo" and sc["provinces"] == ["68"]
    r = client.post("/scenarios", json={**LAM_DONG_QUICK, "name": "dup"},
                    params={"override": "nope"}, headers=auth(keys["planner"]))
    assert r.status_code == 422 and "unknown override" in r.json()["problems"][0]["rule"]


@pytest.mark.parametrize(("body", "column"), [
    ({**LAM_DONG_QUICK, "polcy": {}}, "polcy"),
    ({**LAM_DONG_QUICK, "solver": {"time_limit_s": -1}}, "solver.time_limit_s"),
    ({**LAM_DONG_QUICK, "name": "Bad Name"}, "name"),
    ({**LAM_DONG_QUICK, "data": {"dataset": "nope"}}, "data.dataset"),
    ({**LAM_DONG_QUICK, "data": {"provinces": ["99"]}}, "data.provinces"),
    ({**LAM_DONG_QUICK, "data": {"od_table": "/etc/passwd"}}, "data.od_table"),
    ({**LAM_DONG_QUICK, "extends": "missing.yaml"}, "extends"),
])
def test_invalid_scenarios_name_the_key(client, keys, body, column):
    r = client.post("/scenarios", json=body, headers=auth(keys["planner"]))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_scenario"
    assert any(p["column"] == column for p in r.json()["problems"]), r.json()
    assert client.get("/scenarios", headers=auth(keys["viewer"])).json()["total"] == 0


@pytest.mark.parametrize(("content", "ctype", "status"), [
    (b"name: [unclosed", "application/yaml", 422),
    (b"- a list\n- not a mapping\n", "application/yaml", 422),
    (b'{"name": ', "application/json", 422),
    (b"\xff\xfe", "application/json", 422),
    (b"name: x", "text/html", 415),
])
def test_unparseable_scenario_bodies(client, keys, content, ctype, status):
    r = client.post("/scenarios", content=content,
                    headers={**auth(keys["planner"]), "Content-Type": ctype})
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text


def test_scenario_list_get_delete_and_duplicates(client, keys):
    planner = auth(keys["planner"])
    sc = scenario(client, keys["planner"])
    r = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner)
    assert r.status_code == 409
    for i in range(3):
        scenario(client, keys["planner"], {**LAM_DONG_QUICK, "name": f"v{i}"})
    page = client.get("/scenarios", params={"limit": 2, "offset": 1}, headers=planner).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    assert page["items"][0]["name"] == "v0"
    assert client.get(f"/scenarios/{sc['id']}", headers=planner).json()["name"] == sc["name"]
    assert client.delete(f"/scenarios/{sc['id']}", headers=planner).status_code == 204
    assert client.get(f"/scenarios/{sc['id']}", headers=planner).status_code == 404
    assert client.delete(f"/scenarios/{sc['id']}", headers=planner).status_code == 404
    schema = client.get("/scenarios/schema", headers=planner).json()
    assert "solver" in schema["properties"]


def test_province_scope_on_scenarios(client, keys):
    p68, v68 = auth(keys["planner68"]), auth(keys["viewer68"])
    national = {**LAM_DONG_QUICK, "name": "nat", "data": {"dataset": "demo"}}
    r = client.post("/scenarios", json=national, headers=p68)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    two = {**LAM_DONG_QUICK, "name": "two", "data": {"provinces": ["68", "01"]}}
    assert client.post("/scenarios", json=two, headers=p68).status_code == 403
    mine = scenario(client, keys["planner68"])
    other = scenario(client, keys["planner"], national)
    assert client.post("/scenarios", json={**LAM_DONG_QUICK, "name": "x01"},
                       headers=auth(keys["planner01"])).status_code == 403
    names = [s["name"] for s in client.get("/scenarios", headers=v68).json()["items"]]
    assert names == [mine["name"]]
    # Out of scope answers exactly as unknown: ids and names cannot be probed.
    for ident in (other["id"], other["name"]):
        hidden = client.get(f"/scenarios/{ident}", headers=v68)
        unknown = client.get(f"/scenarios/{ident}x", headers=v68)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["message"].replace(ident, "?") == \
            unknown.json()["message"].replace(f"{ident}x", "?")
    assert client.delete(f"/scenarios/{other['id']}", headers=p68).status_code == 404
    all_names = {s["name"] for s in client.get("/scenarios",
                                               headers=auth(keys["viewer"])).json()["items"]}
    assert all_names == {"nat", mine["name"]}


# --------------------------------------------------------------------- runs (no solve here)


def test_create_run_answers_202_and_stays_queued_without_workers(client, keys):
    sc = scenario(client, keys["planner"])
    r = client.post("/runs", json={"scenario_id": sc["id"], "overrides": ["quick"]},
                    headers=auth(keys["planner"]))
    assert r.status_code == 202, r.text
    run = r.json()
    assert r.headers["location"] == f"/runs/{run['id']}"
    assert run["status"] == "queued" and run["progress"] == 0
    assert run["overrides"] == ["quick"] and run["synthetic"] is True
    assert run["scenario_name"] == sc["name"] and run["provinces"] == ["68"]
    by_name = client.post("/runs", json={"scenario_id": sc["name"]},
                          headers=auth(keys["planner"]))
    assert by_name.status_code == 202 and by_name.json()["id"] != run["id"]
    page = client.get("/runs", headers=auth(keys["viewer"])).json()
    assert page["total"] == 2 and page["items"][0]["id"] == by_name.json()["id"]
    assert client.get("/runs", params={"status": "running"},
                      headers=auth(keys["viewer"])).json()["total"] == 0
    assert client.get("/runs", params={"scenario_id": sc["id"]},
                      headers=auth(keys["viewer"])).json()["total"] == 2
    assert client.get("/runs", params={"status": "bogus"},
                      headers=auth(keys["viewer"])).status_code == 422


def test_create_run_errors(client, keys):
    planner = auth(keys["planner"])
    assert client.post("/runs", json={"scenario_id": "nope"}, headers=planner).status_code \
        == 404
    sc = scenario(client, keys["planner"])
    r = client.post("/runs", json={"scenario_id": sc["id"], "overrides": ["nope"]},
                    headers=planner)
    assert r.status_code == 422 and r.json()["code"] == "invalid_scenario"
    r = client.post("/runs", json={"scenario_id": sc["id"], "extra": 1}, headers=planner)
    assert r.status_code == 422
    assert client.get("/runs/nope", headers=planner).status_code == 404


def test_idempotency_key(client, keys):
    sc = scenario(client, keys["planner"])
    h = {**auth(keys["planner"]), "Idempotency-Key": "abc-1"}
    first = client.post("/runs", json={"scenario_id": sc["id"]}, headers=h)
    again = client.post("/runs", json={"scenario_id": sc["id"]}, headers=h)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    r = client.post("/runs", json={"scenario_id": sc["id"], "overrides": ["quick"]}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    # The key belongs to the API key that sent it.
    other = client.post("/runs", json={"scenario_id": sc["id"]},
                        headers={**auth(keys["admin"]), "Idempotency-Key": "abc-1"})
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert client.get("/runs", headers=h).json()["total"] == 2


def test_concurrent_retries_with_one_idempotency_key_start_one_run(client, keys):
    sc = scenario(client, keys["planner"])
    h = {**auth(keys["planner"]), "Idempotency-Key": "same"}
    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.post("/runs", json={"scenario_id": sc["id"]},
                                                      headers=h), range(8)))
    assert {r.status_code for r in answers} == {202}
    assert len({r.json()["id"] for r in answers}) == 1
    with client.app.state.store.session() as s:
        assert s.query(RunRow).count() == 1


def test_cancel_and_rerun_of_a_queued_run(client, keys, settings):
    sc = scenario(client, keys["planner"])
    planner = auth(keys["planner"])
    run = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
    assert client.post(f"/runs/{run['id']}/rerun", headers=planner).status_code == 409
    r = client.post(f"/runs/{run['id']}/cancel", headers=planner)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["finished_at"] is not None
    assert client.post(f"/runs/{run['id']}/cancel", headers=planner).status_code == 409
    r = client.post(f"/runs/{run['id']}/rerun", headers={**planner, "Idempotency-Key": "k"})
    assert r.status_code == 202
    again = r.json()
    assert again["retry_of"] == run["id"] and again["status"] == "queued"
    assert client.post(f"/runs/{run['id']}/rerun",
                       headers={**planner, "Idempotency-Key": "k"}).json()["id"] == again["id"]
    # Results exist only for succeeded runs.
    for path in ("kpis", "plan", "report", "provenance"):
        r = client.get(f"/runs/{run['id']}/{path}", headers=planner)
        assert r.status_code == 409, path
    r = client.get("/compare", params={"runs": run["id"]}, headers=planner)
    assert r.status_code == 409
    assert client.get("/compare", params={"runs": "nope"}, headers=planner).status_code == 404
    assert client.get("/runs/nope/plan", headers=planner).status_code == 404


def test_deleting_a_scenario_keeps_its_runs(client, keys):
    sc = scenario(client, keys["planner"])
    planner = auth(keys["planner"])
    run = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
    client.post(f"/runs/{run['id']}/cancel", headers=planner)
    assert client.delete(f"/scenarios/{sc['id']}", headers=planner).status_code == 204
    kept = client.get(f"/runs/{run['id']}", headers=planner).json()
    assert kept["scenario_id"] is None and kept["scenario_name"] == sc["name"]
    r = client.post(f"/runs/{run['id']}/rerun", headers=planner)
    assert r.status_code == 202 and r.json()["scenario_id"] is None


def test_province_scope_on_runs(client, keys):
    nat = scenario(client, keys["planner"], {**LAM_DONG_QUICK, "name": "nat",
                                             "data": {"dataset": "demo"}})
    mine = scenario(client, keys["planner68"])
    p68 = auth(keys["planner68"])
    r = client.post("/runs", json={"scenario_id": nat["id"]}, headers=p68)
    assert r.status_code == 404  # a scenario it may not see
    nat_run = client.post("/runs", json={"scenario_id": nat["id"]},
                          headers=auth(keys["planner"])).json()
    my_run = client.post("/runs", json={"scenario_id": mine["id"]}, headers=p68).json()
    runs = client.get("/runs", headers=auth(keys["viewer68"])).json()
    assert [r["id"] for r in runs["items"]] == [my_run["id"]]
    # Another province's run answers as an unknown one does.
    assert client.get(f"/runs/{nat_run['id']}", headers=p68).status_code == 404
    assert client.post(f"/runs/{nat_run['id']}/cancel", headers=p68).status_code == 404
    assert client.get(f"/runs/{nat_run['id']}/kpis", headers=p68).status_code == 404
    assert client.get("/compare", params={"runs": nat_run["id"]},
                      headers=p68).status_code == 404
    assert client.get("/runs", params={"scenario_id": "nat"},
                      headers=p68).json()["total"] == 0


# ---------------------------------------------------------------------------------- geography


def test_communes_filters_and_geojson(client, keys):
    v = auth(keys["viewer"])
    page = client.get("/communes", params={"province": "68", "limit": 5}, headers=v).json()
    assert page["total"] == 124 and len(page["items"]) == 5
    assert {c["province_code"] for c in page["items"]} == {"68"}
    islands = client.get("/communes", params={"terrain": "island", "limit": 5000},
                         headers=v).json()
    assert islands["total"] > 0 and {c["terrain"] for c in islands["items"]} == {"island"}
    wards = client.get("/communes", params={"unit_type": "Phường", "q": "ba đình"},
                       headers=v).json()
    assert [c["code"] for c in wards["items"]] == ["00004"]
    # The same search typed without diacritics, or sent in decomposed Unicode (NFD).
    import unicodedata
    for typed in ("ba dinh", "BA  DINH", unicodedata.normalize("NFD", "Ba Đình")):
        again = client.get("/communes", params={"unit_type": "Phường", "q": typed},
                           headers=v).json()
        assert [c["code"] for c in again["items"]] == ["00004"], typed
    ham = client.get("/communes", params={"q": "ham thanh"}, headers=v).json()
    assert ham["total"] >= 1 and all("Hàm Thạnh" in c["name"] for c in ham["items"])
    gj = client.get("/communes", params={"province": "68", "format": "geojson",
                                         "limit": 3}, headers=v)
    assert gj.headers["content-type"].startswith("application/geo+json")
    fc = gj.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    lon, lat = fc["features"][0]["geometry"]["coordinates"]
    assert 102 < lon < 118 and 6 < lat < 24
    one = client.get("/communes/00004", headers=v).json()
    assert one["name"] == "Phường Ba Đình"
    assert client.get("/communes/99999", headers=v).status_code == 404
    assert client.get("/communes", params={"province": "6"}, headers=v).status_code == 422


def test_provinces_and_scope_on_geography(client, keys):
    v, v68 = auth(keys["viewer"]), auth(keys["viewer68"])
    provinces = client.get("/provinces", headers=v).json()
    assert len(provinces) == 34 and sum(p["n_units"] for p in provinces) == 3321
    fc = client.get("/provinces", params={"format": "geojson"}, headers=v).json()
    assert len(fc["features"]) == 34
    assert client.get("/provinces/68", headers=v).json()["n_units"] == 124
    assert client.get("/provinces/99", headers=v).status_code == 404
    assert [p["province_code"] for p in client.get("/provinces", headers=v68).json()] == ["68"]
    assert client.get("/provinces/01", headers=v68).status_code == 403
    assert client.get("/communes", params={"province": "01"}, headers=v68).status_code == 403
    assert client.get("/communes", headers=v68).json()["total"] == 124
    assert client.get("/communes/00004", headers=v68).status_code == 403


# ------------------------------------------------------------------------------------- errors


def test_errors_are_json_without_traces(client, keys):
    r = client.get("/no-such-route", headers=auth(keys["viewer"]))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.put("/datasets", headers=auth(keys["viewer"]))
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = client.get("/communes", params={"limit": 0}, headers=auth(keys["viewer"]))
    assert r.status_code == 422
    assert r.json()["problems"][0] == {"file": "query", "row": None, "column": "limit",
                                       "rule": r.json()["problems"][0]["rule"]}


def test_nul_characters_are_refused_before_any_store_sees_them(client, keys):
    # PostgreSQL keeps no NUL in text: without these checks it would be a 500 there.
    planner = auth(keys["planner"])
    assert client.get("/runs/a%00b", headers=planner).status_code == 422
    assert client.get("/runs", params={"scenario_id": "a\x00"},
                      headers=planner).status_code == 422
    assert client.post("/runs", json={"scenario_id": "a\x00"},
                       headers=planner).status_code == 422
    r = client.post("/scenarios", json={**LAM_DONG_QUICK, "description": "a\x00b"},
                    headers=planner)
    assert r.status_code == 422 and r.json()["code"] == "invalid_scenario"
    assert client.post("/keys", json={"role": "viewer", "name": "\x00"},
                       headers=auth(keys["admin"])).status_code == 422
    # A lone surrogate (valid JSON escape, not encodable text) is refused the same way.
    for path, body in (("/scenarios", '{"name": "x", "description": "\\ud800"}'),
                       ("/keys", '{"role": "viewer", "name": "\\udfff"}'),
                       ("/runs", '{"scenario_id": "\\ud800"}')):
        r = client.post(path, content=body, headers={**auth(keys["admin"]),
                                                    "Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.text)


def test_unexpected_errors_are_500_without_a_trace(store_url, tmp_path, monkeypatch):
    s = make_settings(store_url, tmp_path / "d")
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        def boom():
            raise RuntimeError("secret internals")

        monkeypatch.setattr(geo, "provinces", boom)
        k = make_keys(c.app.state.store)
        r = c.get("/provinces", headers=auth(k["viewer"]))
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": r.json()["message"],
                        "problems": []}
    assert "secret" not in r.text and "Traceback" not in r.text
