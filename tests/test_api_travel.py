"""A travel table uploaded with a dataset: checked against its inventory (problems with the
file's rows), part of the dataset's identity, and used by every run on it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import auth, make_keys, make_settings, wait_for
from fastapi.testclient import TestClient

import geodata
from api.app import create_app


@pytest.fixture
def solver(store_url, tmp_path):  # type: ignore[no-untyped-def]
    s = make_settings(store_url, tmp_path / "data", run_workers=1)
    with TestClient(create_app(s)) as c:
        yield c, make_keys(c.app.state.store)


def files(folder, od: pd.DataFrame | None = None) -> list:  # type: ignore[no-untyped-def]
    out = [("files", (p.name, p.read_bytes(), "text/csv")) for p in sorted(folder.iterdir())]
    if od is not None:
        out.append(("files", ("od.csv", od.to_csv(index=False).encode(), "text/csv")))
    return out


def road_table(dataset) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Every property and every unit of Cao Bằng to every unit within 300 km, at 1.3 times
    the great circle."""
    units = geodata.load_communes()
    units = units[units["province_code"] == "04"]
    props = dataset.properties
    origin = pd.concat([pd.DataFrame({"origin": props["property_id"], "lon": props["lon"],
                                      "lat": props["lat"]}),
                        pd.DataFrame({"origin": units["code"], "lon": units["lon"],
                                      "lat": units["lat"]})], ignore_index=True)
    pairs = geodata.pairs_within_radius(origin[["lon", "lat"]].to_numpy(),
                                        units[["lon", "lat"]].to_numpy(), 300.0)
    return pd.DataFrame({
        "origin": origin["origin"].to_numpy()[pairs["origin"]],
        "destination": units["code"].to_numpy()[pairs["destination"]],
        "distance_km": np.round(pairs["distance_km"].to_numpy() * 1.3, 3) + 0.001})


def test_a_bad_travel_table_is_refused_with_its_rows(solver, small_csv_dir):
    client, keys = solver
    od = pd.DataFrame({"origin": ["NOPE", "04"], "destination": ["01234", "01273"],
                       "distance_km": [1.0, -2.0]})
    r = client.post("/datasets", files=files(small_csv_dir, od), headers=auth(keys["admin"]))
    assert r.status_code == 422, r.text
    got = {(p["file"], p["row"], p["column"]) for p in r.json()["problems"]}
    assert ("od.csv", 2, "origin") in got and ("od.csv", 3, "distance_km") in got
    assert client.get("/datasets", headers=auth(keys["admin"])).json()[-1]["id"] == "demo"


def test_runs_on_a_dataset_take_its_travel_table(solver, small_csv_dir, small_dataset):
    client, keys = solver
    admin, planner = auth(keys["admin"]), auth(keys["planner"])
    plain = client.post("/datasets", files=files(small_csv_dir), headers=admin).json()
    od = road_table(small_dataset)
    r = client.post("/datasets", files=files(small_csv_dir, od), headers=admin)
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["id"] != plain["id"] and ds["tables"]["od"] == len(od)
    spec = {"name": "cao-bang-roads", "data": {"dataset": ds["id"], "provinces": ["04"]},
            "solver": {"time_limit_s": 5, "mip_gap": 0.05}}
    sc = client.post("/scenarios", json=spec, headers=planner).json()
    run = client.post("/runs", json={"scenario_id": sc["id"]}, headers=planner).json()
    assert wait_for(client, run["id"], keys["planner"])["status"] == "succeeded"
    prov = client.get(f"/runs/{run['id']}/provenance", headers=planner).json()
    assert prov["travel"]["source"] == "od_table" and prov["travel"]["rows"] == len(od)
    table = od.set_index(["origin", "destination"])["distance_km"]
    for name, origin in (("service", "property_id"), ("transfers", "holder_code")):
        rows = pd.DataFrame(client.get(f"/runs/{run['id']}/plan", params={
            "table": name, "limit": 1000}, headers=planner).json()["items"])
        assert len(rows) > 0 and (rows["distance_source"] == "od_table").all(), name
        want = table.reindex(pd.MultiIndex.from_frame(rows[[origin, "commune_code"]]))
        assert np.allclose(rows["distance_km"], want.to_numpy()), name
