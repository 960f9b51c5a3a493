"""Issue 10's reproductions, each against the API on SQLite and PostgreSQL: province scope
through ``extends``, bad input that once answered 500 or was stored and failed later, strict
parsing by content type, formula injection, bounded cost per request, no server paths."""

from __future__ import annotations

import concurrent.futures as cf
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import LAM_DONG_QUICK, auth, make_keys, make_settings, wait_for
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.models import DatasetRow, ScenarioRow
from planner.inventory import write_dataset

YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}


def post_yaml(client, key, text, **params):  # type: ignore[no-untyped-def]
    return client.post("/scenarios", content=text.encode("utf-8", "surrogatepass"),
                       params=params, headers={**auth(key), **YAML})


def post_json_text(client, key, text):  # type: ignore[no-untyped-def]
    return client.post("/scenarios", content=text.encode(), headers={**auth(key), **JSON})


def stored(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Scenarios and datasets in the store."""
    with client.app.state.store.session() as s:
        return (s.scalar(select(func.count()).select_from(ScenarioRow)) or 0,
                s.scalar(select(func.count()).select_from(DatasetRow)) or 0)


def files_of(folder: Path, pattern: str = "*") -> list:
    return [("files", (p.name, p.read_bytes(), "application/octet-stream"))
            for p in sorted(folder.glob(pattern)) if p.is_file()]


# ------------------------------------------------------------------------------------ scope


def test_a_scoped_key_cannot_read_another_province_through_extends(client, keys):
    ha_noi = {"name": "ha-noi", "data": {"provinces": ["01"]},
              "budget": {"per_province_vnd": {"01": 123_456_000_000}},
              "overrides": {"secret": {"budget": {"national_vnd": 7}}}}
    assert client.post("/scenarios", json=ha_noi, headers=auth(keys["planner"])).status_code \
        == 201
    steal = {"extends": "ha-noi", "name": "steal-hn", "data": {"provinces": ["68"]}}
    hidden = client.post("/scenarios", json=steal, headers=auth(keys["planner68"]))
    unknown = client.post("/scenarios", json={**steal, "extends": "nope-xyz"},
                          headers=auth(keys["planner68"]))
    assert hidden.status_code == unknown.status_code == 422
    assert hidden.json()["problems"][0]["column"] == "extends"
    assert hidden.json()["message"].replace("ha-noi", "?") == \
        unknown.json()["message"].replace("nope-xyz", "?")
    assert client.get("/scenarios/steal-hn", headers=auth(keys["planner68"])).status_code == 404
    # A key that may see the parent may extend it.
    own = {"extends": "ha-noi", "name": "hn-2"}
    assert client.post("/scenarios", json=own, headers=auth(keys["planner01"])).status_code \
        == 201


# ---------------------------------------------------------- scenario bodies: 4xx, stored never


BAD_YAML = [
    "name: x\ndescription: !!binary aGVsbG8=\n",
    "name: x\ndata: {provinces: !!set {'68'}}\n",
    "name: x\n!!python/object/apply:os.system ['true']: 1\n",
    "name: x\npolicy: {service_radius_km: {health: .nan}}\n",
    "name: x\nsolver: {time_limit_s: .inf}\n",
    "name: x\noverrides: {a: {solver: {mip_gap: -.inf}}}\n",
    "name: x\nname: y\n",
    "name: x\nwhen: 2001-12-14\n",
    "name: x\noverrides: {x: 5}\n",
    "name: x\noverrides: [1, 2]\n",
    "name: x\noverrides: abc\n",
    "name: x\nextends: [a]\n",
    "name: x\nbudget: {per_province_vnd: {68: 5}}\n",
    "name: x\ndescription: \"bell \\a\"\n",
    "- just\n- a list\n",
    "[" * 100_000,
    "name: x\nd: " + "[" * 900 + "]" * 900 + "\n",
    "name: x\nd: " + "{a: " * 250 + "1" + "}" * 250 + "\n",
]


def test_a_date_is_text_and_a_date_key_names_an_override(client, keys):
    r = post_yaml(client, keys["planner"], "name: dated\ndescription: 2001-12-14\noverrides:\n"
                  "  2026-07-01: {solver: {time_limit_s: 5}}\n")
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "2001-12-14"
    assert r.json()["overrides_available"] == ["2026-07-01"]


BAD_JSON = [
    '{"name": "x",}',
    "name: x\n",
    '{"name": "x", "solver": {"mip_gap": NaN}}',
    '{"name": "x", "solver": {"time_limit_s": Infinity}}',
    '{"name": "x", "budget": {"national_vnd": 1e400}}',
    '{"name": "x", "name": "y"}',
    '{"name": "x", "description": "\\ud83d"}',
    '{"name": "x", "description": "nul \\u0000"}',
    "[" * 100_000,
    '{"name": "x", "d": ' + "[" * 900 + "]" * 900 + "}",
    '{"name": "x", "d": ' + '{"a": ' * 250 + "1" + "}" * 250 + "}",
]


BAD_BODIES = [(t, YAML) for t in BAD_YAML] + [(t, JSON) for t in BAD_JSON]


@pytest.mark.parametrize(("text", "media"), BAD_BODIES, ids=[
    f"{m['Content-Type'].split('/')[1]}-{i}" for i, (_, m) in enumerate(BAD_BODIES)])
def test_bad_scenario_bodies_are_4xx_and_store_nothing(client, keys, text, media):
    """Each parsed strictly by its content type; nothing stored, the listing still answers."""
    before = stored(client)
    r = client.post("/scenarios", content=text.encode("utf-8", "surrogatepass"),
                    headers={**auth(keys["planner"]), **media})
    assert r.status_code == 422, r.text
    assert r.json()["code"] in ("invalid_scenario", "invalid_request") and r.json()["problems"]
    assert stored(client) == before
    assert client.get("/scenarios", params={"limit": 1000},
                      headers=auth(keys["viewer"])).status_code == 200


def test_json_numbers_and_escapes_are_read_as_json_reads_them(client, keys):
    r = post_json_text(client, keys["planner"], '{"name": "json-ok", "description": '
                       '"\\ud83d\\ude00 Lâm Đồng", "budget": {"national_vnd": 3e12}}')
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "😀 Lâm Đồng"
    assert r.json()["scenario"]["budget"]["national_vnd"] == 3_000_000_000_000


@pytest.mark.parametrize(("body", "column", "bound"), [
    ({"budget": {"national_vnd": 10**400}}, None, "9,223,372,036,854,775,807"),
    ({"budget": {"national_vnd": 10**17}}, "budget.national_vnd", "1000000000000000"),
    ({"policy": {"unmet_penalty_vnd_per_service_point": 99999999999999999999}}, None,
     "9,223,372,036,854,775,807"),
    ({"solver": {"seed": 2**70}}, None, "9,223,372,036,854,775,807"),
    ({"solver": {"seed": 2**40}}, "solver.seed", "2147483647"),
    ({"policy": {"seats": {"upkeep_vnd_per_m2_year": 1e30}}},
     "policy.seats.upkeep_vnd_per_m2_year", "9,223,372,036,854,775,807"),
    ({"policy": {"seats": {"upkeep_vnd_per_m2_year": 1e16}}},
     "policy.seats.upkeep_vnd_per_m2_year", "1000000000"),
    ({"policy": {"unmet_penalty_vnd_per_service_point": 10**11}},
     "policy.unmet_penalty_vnd_per_service_point", "10000000000"),
    ({"policy": {"priority": {"terrain": {"island": 21, "mountain": 1, "midland": 1,
                                          "lowland": 1}}}}, "policy.priority.terrain.island",
     "20"),
])
def test_numbers_are_bounded_by_the_schema_with_the_bound_in_the_message(client, keys, body,
                                                                         column, bound):
    r = client.post("/scenarios", content=json.dumps({"name": "big", **body}),
                    headers={**auth(keys["planner"]), **JSON})
    assert r.status_code == 422, r.text
    problem = r.json()["problems"][0]
    assert bound in problem["rule"]
    if column is not None:
        assert problem["column"] == column
    assert stored(client) == (0, 1)


def test_overrides_of_the_wrong_shape_never_reach_a_run(client, keys):
    planner = auth(keys["planner"])
    for text in ("name: x\noverrides: {x: 5}\n", "name: x\noverrides: null\n",
                 "name: x\noverrides: [1, 2]\n"):
        r = post_yaml(client, keys["planner"], text, override="x")
        assert r.status_code == 422, (text, r.text)
    # A named override that breaks the schema on its own is refused before it is stored.
    r = client.post("/scenarios", json={"name": "o", "overrides": {
        "bad": {"solver": {"threads": 0}}, "ok": {"solver": {"threads": 2}}}}, headers=planner)
    assert r.status_code == 422
    assert r.json()["problems"][0]["file"] == "override bad"
    assert r.json()["problems"][0]["column"] == "solver.threads"
    parent = client.post("/scenarios", json={**LAM_DONG_QUICK, "name": "parent"},
                         headers=planner)
    assert parent.status_code == 201
    for overrides in (["a", "b"], "abc", 5):
        r = client.post("/scenarios", json={"extends": "parent", "name": "child",
                                            "overrides": overrides}, headers=planner)
        assert r.status_code == 422, (overrides, r.text)
    r = client.post("/runs", json={"scenario_id": "parent", "overrides": ["x"]},
                    headers=planner)
    assert r.status_code == 422 and "unknown override" in r.json()["problems"][0]["rule"]


def test_alias_bombs_are_refused_before_they_are_built(client, keys):
    lines = ["name: bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    text = "\n".join(lines) + "\n"
    assert len(text) < 500
    r = post_yaml(client, keys["planner"], text)
    assert r.status_code == 422 and "aliases are expanded" in r.json()["problems"][0]["rule"]
    assert stored(client) == (0, 1)


def test_a_scenario_that_expands_past_the_stored_size_is_refused(client, keys):
    text = "name: wide\nx: &x '" + "á" * 2000 + "'\noverrides:\n  o: {description: [" + \
        ", ".join(["*x"] * 40) + "]}\n"
    assert len(text.encode()) < 8_000
    r = post_yaml(client, keys["planner"], text)
    assert r.status_code == 422 and "at most 65,536" in r.json()["problems"][0]["rule"]
    assert stored(client) == (0, 1)


def test_query_integers_are_bounded(client, keys):
    viewer = auth(keys["viewer"])
    for path in ("/scenarios", "/runs", "/communes"):
        r = client.get(path, params={"limit": 606, "offset": 287339718927974362913850752237568},
                       headers=viewer)
        assert r.status_code == 422, (path, r.text)
        assert client.get(path, params={"offset": 10**9}, headers=viewer).status_code == 200


def test_runs_are_listed_by_scenario_name_or_id(client, keys):
    planner = auth(keys["planner"])
    sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
    run = client.post("/runs", json={"scenario_id": sc["name"]}, headers=planner).json()
    for ident in (sc["name"], sc["id"]):
        page = client.get("/runs", params={"scenario_id": ident}, headers=planner).json()
        assert [r["id"] for r in page["items"]] == [run["id"]]
    assert client.get("/runs", params={"scenario_id": "other"},
                      headers=planner).json()["total"] == 0


# ------------------------------------------------------------------------------------ uploads


def upload(client, key, files):  # type: ignore[no-untyped-def]
    return client.post("/datasets", files=files, headers=auth(key))


def assert_no_server_path(body: str, settings) -> None:  # type: ignore[no-untyped-def]
    assert ".upload-" not in body
    assert str(settings.data_dir.resolve()) not in body and str(settings.data_dir) not in body


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"])
def test_a_bom_only_csv_upload_is_a_422(client, keys, small_csv_dir, content):
    (small_csv_dir / "properties.csv").write_bytes(content)
    r = upload(client, keys["admin"], files_of(small_csv_dir))
    assert r.status_code == 422, r.text
    assert any(p["file"] == "properties.csv" and p["rule"] == "the file is empty"
               for p in r.json()["problems"])
    assert stored(client) == (0, 1)


def test_a_geopackage_in_an_engineering_crs_is_a_422(client, keys, settings, small_dataset,
                                                     tmp_path):
    import geopandas as gpd
    import pyogrio

    gpkg = write_dataset(small_dataset, tmp_path / "g", "gpkg") / "dataset.gpkg"
    props = gpd.read_file(gpkg, layer="properties").set_crs(
        'ENGCRS["local",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["m",1]],'
        'AXIS["y",north,LENGTHUNIT["m",1]]]', allow_override=True)
    pyogrio.write_dataframe(props, gpkg, layer="properties", driver="GPKG")
    r = upload(client, keys["admin"], files_of(gpkg.parent, "*.gpkg"))
    assert r.status_code == 422, r.text
    assert any(p["column"] == "geometry" for p in r.json()["problems"])
    assert_no_server_path(r.text, settings)


def test_broken_parquet_and_geopackage_errors_show_no_server_path(client, keys, settings):
    for name in ("properties.parquet", "inventory.gpkg"):
        r = upload(client, keys["admin"], [("files", (name, b"PAR1 not really", "x"))])
        assert r.status_code == 422, r.text
        assert_no_server_path(r.text, settings)


def test_a_nul_byte_in_an_uploaded_name_is_refused(client, keys, small_csv_dir):
    props = pd.read_csv(small_csv_dir / "properties.csv", dtype=str, keep_default_na=False)
    props.loc[3, "name"] = "Trụ sở\x00cũ"
    props.to_csv(small_csv_dir / "properties.csv", index=False)
    r = upload(client, keys["admin"], files_of(small_csv_dir))
    assert r.status_code == 422
    [p] = [p for p in r.json()["problems"] if p["column"] == "name"]
    assert p["row"] == 5 and "U+0000" in p["rule"]
    assert stored(client) == (0, 1)


def test_thousands_of_unknown_codes_are_listed_briefly(client, keys, settings, small_csv_dir):
    props = pd.read_csv(small_csv_dir / "properties.csv", dtype=str, keep_default_na=False)
    many = pd.concat([props] * 17, ignore_index=True)
    many["property_id"] = [f"Q{i:06d}" for i in range(len(many))]
    many["commune_code"] = [f"9{i % 9999:04d}" for i in range(len(many))]
    many.to_csv(small_csv_dir / "properties.csv", index=False)
    r = upload(client, keys["admin"], files_of(small_csv_dir))
    assert r.status_code == 422
    codes = [p for p in r.json()["problems"] if p["column"] == "commune_code"]
    assert len(codes) == settings.upload_problems_per_rule + 1
    assert f"{len(many) - settings.upload_problems_per_rule:,} more rows" in codes[-1]["rule"]


def test_a_workbook_bomb_is_refused_unread(store_url, tmp_path, small_dataset):
    s = make_settings(store_url, tmp_path / "data", upload_max_unpacked_bytes=50 * 2**20)
    xlsx = write_dataset(small_dataset, tmp_path / "x", "xlsx") / "dataset.xlsx"
    with zipfile.ZipFile(xlsx, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet99.xml", b"<row/>" * (13 * 2**20))  # 78 MiB
    assert xlsx.stat().st_size < 1_000_000
    with TestClient(create_app(s)) as c:
        r = upload(c, make_keys(c.app.state.store)["admin"],
                   [("files", ("dataset.xlsx", xlsx.read_bytes(), "x"))])
        assert r.status_code == 422, r.text
        assert "unpacks to" in r.json()["problems"][0]["rule"]
        assert stored(c) == (0, 1)


def test_an_upload_past_the_time_limit_is_refused_and_its_worker_replaced(
        store_url, tmp_path, small_csv_dir):
    s = make_settings(store_url, tmp_path / "data", upload_timeout_s=0.2)
    with TestClient(create_app(s)) as c:
        admin = make_keys(c.app.state.store)["admin"]
        for _ in range(2):
            r = upload(c, admin, files_of(small_csv_dir))
            assert r.status_code == 422, r.text
            assert "time limit of 0.2 s" in r.json()["problems"][0]["rule"]
        assert stored(c) == (0, 1)
        assert list((s.data_dir / "datasets").iterdir()) == []


def test_identical_uploads_at_once_make_one_dataset(store_url, tmp_path, small_csv_dir):
    s = make_settings(store_url, tmp_path / "data", upload_workers=3)
    with TestClient(create_app(s)) as c:
        admin = make_keys(c.app.state.store)["admin"]
        files = files_of(small_csv_dir)
        with cf.ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: upload(c, admin, files), range(3)))
        assert sorted(r.status_code for r in answers) == [200, 200, 201]
        assert len({r.json()["id"] for r in answers}) == 1
        assert stored(c) == (0, 2)
        assert len(list((s.data_dir / "datasets").iterdir())) == 1


def test_the_losing_upload_of_a_race_answers_with_the_winner(client, keys, small_csv_dir,
                                                             monkeypatch):
    import api.routers.datasets as datasets

    first = upload(client, keys["admin"], files_of(small_csv_dir))
    assert first.status_code == 201
    real, calls = datasets._same_content, []

    def late(session, content_hash):  # type: ignore[no-untyped-def]
        calls.append(content_hash)  # the first check runs before the winner committed
        return None if len(calls) == 1 else real(session, content_hash)

    monkeypatch.setattr(datasets, "_same_content", late)
    again = upload(client, keys["admin"], files_of(small_csv_dir))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert len(calls) == 2 and stored(client) == (0, 2)


# ----------------------------------------------------------------- injection and paths in runs


FORMULA = '=HYPERLINK("http://evil.example/","click me")'


def test_formulas_stay_text_and_no_server_path_reaches_a_plan(tmp_path, small_dataset):
    s = make_settings(f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path / "data",
                      run_workers=1)
    props = small_dataset.properties.copy()
    props["name"] = props["name"].astype(object)
    props.loc[props.index[:3], "name"] = [FORMULA, "=1+2", "@SUM(A1)"]
    ds = type(small_dataset)({**small_dataset.tables, "properties": props})
    folder = write_dataset(ds, tmp_path / "inv", "csv")
    with TestClient(create_app(s)) as c:
        keys = make_keys(c.app.state.store)
        r = upload(c, keys["admin"], files_of(folder))
        assert r.status_code == 201, r.text
        planner = auth(keys["planner"])
        sc = {"name": "cao-bang", "description": FORMULA,
              "data": {"dataset": r.json()["id"], "provinces": ["04"]},
              "solver": {"time_limit_s": 5, "mip_gap": 0.01}}
        assert c.post("/scenarios", json=sc, headers=planner).status_code == 201
        run = c.post("/runs", json={"scenario_id": "cao-bang"}, headers=planner).json()
        assert wait_for(c, run["id"], keys["viewer"])["status"] == "succeeded"
        out = s.data_dir / "runs" / run["id"]
        viewer = auth(keys["viewer"])
        # Excel: the run's workbook and the downloads hold text, never a formula.
        workbooks = [out / "plan.xlsx"] + [io.BytesIO(c.get(
            f"/runs/{run['id']}/plan", params={"format": "xlsx", **extra}, headers=viewer
        ).content) for extra in ({"table": "dispositions"}, {"province": "04"})]
        for book in workbooks:
            wb = openpyxl.load_workbook(book)
            cells = [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]
            assert not [c_.coordinate for c_ in cells if c_.data_type == "f"]
            assert FORMULA in {c_.value for c_ in cells}
        # CSV: neutralised in the download and in the run folder; Parquet keeps the text.
        download = c.get(f"/runs/{run['id']}/plan", params={"format": "csv"},
                         headers=viewer).text
        for text in (download, (out / "tables" / "dispositions.csv").read_text("utf-8")):
            names = pd.read_csv(io.StringIO(text), dtype=str)["name"]
            assert {"'" + FORMULA, "'=1+2", "'@SUM(A1)"} <= set(names)
            assert not names.str.match(r"^[=+\-@\t\r]").any()
        assert FORMULA in set(pd.read_parquet(out / "tables" / "dispositions.parquet")["name"])
        # No server path in provenance, the About sheet or the report.
        prov = c.get(f"/runs/{run['id']}/provenance", headers=viewer)
        assert prov.json()["dataset"]["source"] == r.json()["id"]
        about = openpyxl.load_workbook(out / "plan.xlsx").worksheets[0]
        texts = [prov.text, " ".join(str(v) for row in about.iter_rows(values_only=True)
                                     for v in row),
                 c.get(f"/runs/{run['id']}/report", headers=viewer).text]
        for text in texts:
            assert_no_server_path(text, s)


def test_text_fields_refuse_control_characters(client, keys, small_csv_dir):
    admin = auth(keys["admin"])
    assert client.post("/keys", json={"role": "viewer", "name": "bell\x07"},
                       headers=admin).status_code == 422
    assert client.post("/keys", json={"role": "viewer", "name": "Sở Tài chính\tLâm Đồng"},
                       headers=admin).status_code == 201
    r = client.post("/datasets", files=files_of(small_csv_dir), data={"name": "x\x1b[31m"},
                    headers=admin)
    assert r.status_code == 422 and stored(client) == (0, 1)
