"""The API answers in the request's language (?lang=, Accept-Language, else the server's):
messages, problems of an upload (validated in another process) and a run's outputs."""

from __future__ import annotations

import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import LAM_DONG_QUICK, auth, make_keys, make_settings, wait_for
from fastapi.testclient import TestClient

from api.app import create_app
from api.language import accept_language
from planner.i18n import _


@pytest.mark.parametrize(("header", "lang"), [
    ("vi-VN,vi;q=0.9,en;q=0.8", "vi"), ("en-US,en;q=0.9", "en"), ("fr, en;q=0.5", "en"),
    ("en;q=0.2, vi;q=0.8", "vi"), ("fr", None), ("", None), ("vi;q=0", None), ("*", None),
])
def test_accept_language(header: str, lang: str | None) -> None:
    assert accept_language(header) == lang


def test_messages_in_the_request_language(client, keys, monkeypatch) -> None:
    viewer = auth(keys["viewer"])
    vi = client.get("/runs/nope", headers={**viewer, "Accept-Language": "vi-VN,vi;q=0.9"})
    assert vi.status_code == 404 and vi.headers["content-language"] == "vi"
    assert vi.json()["message"] == "không có lần chạy 'nope'"
    en = client.get("/runs/nope?lang=en", headers={**viewer, "Accept-Language": "vi"})
    assert en.headers["content-language"] == "en"
    assert en.json()["message"] == "no run 'nope'"  # ?lang= wins over the header
    monkeypatch.setenv("ASSETPLAN_LANG", "vi")  # the server's own language, by default
    plain = client.get("/runs/nope", headers=viewer)
    assert plain.headers["content-language"] == "vi"
    assert plain.json()["message"] == vi.json()["message"]
    # Errors raised before the app (by the body limit) and by FastAPI itself too.
    bad = client.post("/scenarios", content=b"{", headers={
        **auth(keys["planner"]), "Content-Type": "application/json", "Accept-Language": "vi"})
    assert bad.status_code == 422 and bad.headers["content-language"] == "vi"


def test_upload_problems_in_the_request_language(client, keys, small_csv_dir) -> None:
    props = pd.read_csv(small_csv_dir / "properties.csv", dtype=str, keep_default_na=False)
    props.loc[2, "in_use_as_seat"] = "maybe"
    (small_csv_dir / "properties.csv").write_text(props.to_csv(index=False), encoding="utf-8")
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream"))
             for p in sorted(small_csv_dir.glob("*")) if p.is_file()]
    rules = {}
    for lang in ("vi", "en"):
        r = client.post("/datasets", files=files, headers={**auth(keys["admin"]),
                                                           "Accept-Language": lang})
        assert r.status_code == 422, r.text
        (problem,) = [p for p in r.json()["problems"] if p["column"] == "in_use_as_seat"]
        rules[lang] = problem["rule"]
    assert rules["en"] == _("{value!r} is not yes/no ({words})", lang="en", value="maybe",
                            words="Có/Không, x")
    assert rules["vi"] == _("{value!r} is not yes/no ({words})", lang="vi", value="maybe",
                            words="Có/Không, x")
    assert rules["vi"] != rules["en"]


def test_a_run_is_written_in_the_language_it_was_asked_in(store_url, tmp_path) -> None:
    with TestClient(create_app(make_settings(store_url, tmp_path / "data",
                                             run_workers=1))) as client:
        keys = make_keys(client.app.state.store)
        planner = auth(keys["planner"])
        sc = client.post("/scenarios", json=LAM_DONG_QUICK, headers=planner).json()
        runs = {}
        for lang in ("vi", "en"):
            r = client.post("/runs", json={"scenario_id": sc["id"], "overrides": ["quick"]},
                            headers={**planner, "Accept-Language": lang})
            assert r.status_code == 202, r.text
            assert r.json()["lang"] == lang
            runs[lang] = r.json()["id"]
        for lang, run_id in runs.items():
            assert wait_for(client, run_id, keys["viewer"])["status"] == "succeeded"
            disp = client.get(f"/runs/{run_id}/plan?table=dispositions&limit=500",
                              headers=auth(keys["viewer"])).json()["items"]
            reasons = " ".join(d["reason"] for d in disp)
            word = _("Used as {use}: serves {quantity}{whom}{beside}; renovation cost {cost}",
                     lang=lang).split("{")[0]
            assert word in reasons, (lang, reasons[:300])
