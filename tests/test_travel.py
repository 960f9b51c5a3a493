"""The OD table: validated row by row, honoured by seats, disposition and transfer, recorded in
provenance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_pipeline import province_scenario

import geodata
from planner.demo import load_demo
from planner.i18n import _
from planner.pipeline import run_scenario
from planner.travel import OD_TABLE, TravelError, load_travel


def quick(od_table=None):
    # A gap the search reaches before any deadline: both runs end the same on any machine.
    s = province_scenario(mip_gap=0.05)
    return s.model_copy(update={"data": s.data.model_copy(update={"od_table": od_table})})


@pytest.fixture(scope="module")
def computed():
    return run_scenario(quick())


def codes():
    communes = geodata.load_communes()
    return (pd.Index(load_demo().properties["property_id"]), pd.Index(communes["code"]),
            pd.Index(geodata.load_legacy_units()["legacy_code"]))


def test_bad_od_tables_are_rejected_with_every_row(tmp_path):
    path = tmp_path / "od.csv"
    path.write_text(
        "origin,destination,distance_km,minutes\n"
        "OHQ-00001,00004,1.5,\n"          # row 2: fine
        "NOPE-1,00004,2,\n"               # row 3: unknown origin
        "OHQ-00001,99999,2,\n"            # row 4: unknown unit
        "OHQ-00001,00004,3,\n"            # row 5: repeats row 2
        "4,00004,-1,\n"                   # row 6: negative (origin 00004 is a unit)
        "OHQ-00001,00008,,5\n"            # row 7: distance missing
        "OHQ-00001,00025,abc,-2\n",       # row 8: not a number, negative minutes
        encoding="utf-8")
    with pytest.raises(TravelError) as err:
        load_travel(path, *codes())
    got = {(p.row, p.column) for p in err.value.problems}
    assert got == {(3, "origin"), (4, "destination"), (5, "origin"), (6, "distance_km"),
                   (7, "distance_km"), (8, "distance_km"), (8, "minutes")}
    text = str(err.value)
    assert "od.csv" in text and "repeats the pair of row 2" in text and "NOPE-1" in text


def test_an_unknown_former_commune_and_a_missing_column(tmp_path):
    path = tmp_path / "od.csv"
    path.write_text("origin,destination,destination_type,distance_km\n"
                    "OHQ-00001,00001,former_commune,1\n"
                    "OHQ-00001,00002,former_commune,1\n"
                    "OHQ-00001,00001,town,1\n", encoding="utf-8")
    with pytest.raises(TravelError) as err:
        load_travel(path, *codes())
    assert {(p.row, p.column) for p in err.value.problems} == {(3, "destination"),
                                                                (4, "destination_type")}
    path.write_text("origin,km\nOHQ-00001,1\n", encoding="utf-8")
    with pytest.raises(TravelError, match="missing column"):
        load_travel(path, *codes())


def test_a_run_takes_its_distances_from_the_od_table(tmp_path, computed):
    sv, tr, areas = computed["service"], computed["transfers"], computed["areas"]
    assert (sv["distance_source"] == "computed").all() and len(tr) > 0
    assert computed.provenance["travel"] == {"source": "computed"}
    # Every second service pair and transfer a little longer by road; one service pair beyond
    # every radius (it must drop out); every former commune's distance to its nearest site.
    s = sv.drop_duplicates(["property_id", "commune_code"]).iloc[::2]
    far = s.iloc[0]
    t = tr.drop_duplicates(["holder_code", "commune_code"])
    kept = areas[areas["nearest_kept_km"] > 0]
    od = pd.concat([
        pd.DataFrame({"origin": s["property_id"], "destination": s["commune_code"],
                      "distance_km": np.where(s["property_id"] == far["property_id"], 2999.0,
                                              s["distance_km"] * 1.01)}),
        pd.DataFrame({"origin": t["holder_code"], "destination": t["commune_code"],
                      "distance_km": t["distance_km"] * 1.5}),
        pd.DataFrame({"origin": kept["nearest_kept_id"], "destination": kept["legacy_code"],
                      "destination_type": "former_commune",
                      "distance_km": kept["nearest_kept_km"] * 1.01})], ignore_index=True)
    path = tmp_path / "od.parquet"
    od.to_parquet(path)
    plan = run_scenario(quick(str(path)))
    key = ["origin", "destination"]
    got = plan["service"].merge(od[od["destination_type"].isna()].rename(columns={
        "distance_km": "table_km"}), left_on=["property_id", "commune_code"], right_on=key,
        how="left")
    from_table = got["table_km"].notna().to_numpy()
    assert np.array_equal(got["distance_source"] == OD_TABLE, from_table)
    assert np.allclose(got.loc[from_table, "distance_km"], got.loc[from_table, "table_km"])
    assert from_table.any() and not from_table.all()
    assert not ((plan["service"]["property_id"] == far["property_id"])
                & (plan["service"]["commune_code"] == far["commune_code"])).any()
    got = plan["transfers"].merge(od.rename(columns={"distance_km": "table_km"}),
                                  left_on=["holder_code", "commune_code"], right_on=key,
                                  how="left")
    from_table = got["table_km"].notna().to_numpy()
    assert np.array_equal(got["distance_source"] == OD_TABLE, from_table)
    assert np.allclose(got.loc[from_table, "distance_km"], got.loc[from_table, "table_km"])
    assert from_table.any()
    a = plan["areas"]
    assert (a["nearest_kept_km_source"] == OD_TABLE).any()
    prov = plan.provenance["travel"]
    assert prov["file"] == "od.parquet" and prov["rows"] == len(od)
    assert prov["plan_rows"]["service"]["from_table"] == int(
        (plan["service"]["distance_source"] == OD_TABLE).sum())
    assert plan.provenance["scenario"]["data"]["od_table"] == "od.parquet"


def test_the_cli_reports_a_bad_od_table_and_writes_nothing(tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    from planner.cli import app

    bad = tmp_path / "od.csv"
    bad.write_text("origin,destination,distance_km\nOHQ-00001,00004,-3\nX,00004,1\n",
                   encoding="utf-8")
    out = tmp_path / "run"
    scen = Path(__file__).resolve().parents[1] / "scenarios" / "national-baseline.yaml"
    res = CliRunner().invoke(app, ["run", str(scen), "--province", "04", "--override", "quick",
                                   "--od", str(bad), "--out", str(out), "--no-maps"])
    assert res.exit_code != 0
    assert "row 2" in res.output and "row 3" in res.output and "must not be negative" in \
        res.output
    assert not out.exists()


def test_transfers_across_the_sea_are_costed_as_ferry_legs(tmp_path):
    from planner.pipeline import load_inputs, run_transfer

    scenario = quick().model_copy(update={"data": quick().data.model_copy(update={
        "provinces": ("91",)})})  # An Giang: Phú Quốc, Thổ Châu, Kiên Hải
    tp = scenario.policy.transfer
    tr = run_transfer(load_inputs(scenario))[0]["transfers"]
    island = set(geodata.load_communes().query("terrain == 'island'")["code"])
    by_sea = ((tr["holder_code"].isin(island) | tr["commune_code"].isin(island))
              & (tr["holder_code"] != tr["commune_code"])).to_numpy()
    assert by_sea.any() and np.array_equal(tr["sea_leg"].to_numpy(), by_sea)
    sea = tr[by_sea]
    assert np.array_equal(sea["cost_vnd"], sea["quantity"] * (
        sea["category"].map(tp.sea_leg_vnd) + sea["category"].map(tp.handling_vnd)))
    road = tr[~by_sea]
    assert np.allclose(road["cost_vnd"], road["quantity"] * np.rint(
        road["distance_km"] * road["category"].map(tp.cost_per_km_vnd)
        + road["category"].map(tp.handling_vnd)))
    # A travel table that has the pair (a road and ferry route measured) replaces the leg.
    first = sea.iloc[0]
    path = tmp_path / "od.csv"
    pd.DataFrame({"origin": [first["holder_code"]], "destination": [first["commune_code"]],
                  "distance_km": [150.0]}).to_csv(path, index=False)
    with_table = scenario.model_copy(update={"data": scenario.data.model_copy(update={
        "od_table": str(path)})})
    again = run_transfer(load_inputs(with_table))[0]["transfers"]
    row = again[(again["holder_code"] == first["holder_code"])
                & (again["commune_code"] == first["commune_code"])]
    if len(row):  # the measured route may make another holder the cheaper one
        assert not row["sea_leg"].any() and (row["distance_km"] == 150.0).all()
        assert (row["distance_source"] == "od_table").all()


def test_radii_in_minutes_and_people_within_minutes(tmp_path, computed):
    from planner.pipeline import load_inputs
    from planner.travel_times import candidate_pairs

    base = quick()
    pairs = candidate_pairs(load_inputs(base))
    # Every candidate pair measured at 30 km/h: 2 minutes per km.
    od = pairs[["origin", "destination", "destination_type"]].assign(
        distance_km=pairs["great_circle_km"], minutes=2 * pairs["great_circle_km"])
    path = tmp_path / "od.parquet"
    od.to_parquet(path)
    limit = {"health": 12.0, "education": 8.0}  # 6 and 4 km at that speed
    seats = base.policy.seats.model_copy(update={"max_service_min": 20.0})  # 10 km
    pol = base.policy.model_copy(update={"service_radius_min": limit, "seats": seats})
    timed = quick(str(path)).model_copy(update={"policy": pol})
    plan = run_scenario(timed)
    sv = plan["service"]
    before = computed["service"]
    for use, mins in limit.items():
        assert (before.loc[before["use"] == use, "distance_km"] > mins / 2).any()  # it binds
        mine = sv[sv["use"] == use]
        assert len(mine) and (mine["minutes"] <= mins + 1e-9).all()
        assert (mine["distance_source"] == OD_TABLE).all()
    assert (sv.loc[~sv["use"].isin(list(limit)), "minutes"] > 12).any()  # other uses by km
    no_candidate = plan["needs"].query("use == 'health' and reason_code == 'no_candidate'")
    within = _(" and {minutes} minutes of travel", minutes="12")
    assert len(no_candidate) and no_candidate["reason"].str.contains(within).all()
    # People within the report's minutes of the main seat and of the fastest kept site.
    a = plan["areas"]
    assert np.allclose(a["main_seat_min"], 2 * a["main_seat_km"])
    assert (a["nearest_kept_min"] <= a["main_seat_min"] + 1e-9).all()
    assert (a["within_service_min"] == (a["nearest_kept_min"] <= 20)).all()
    assert (~a["within_service_min"] & a["within_service_km"]).any()  # minutes bind
    tight, loose = (next(r for r in p_.solves if r["stage"] == "seats")
                    for p_ in (plan, computed))
    assert tight["objective"] >= loose["best_bound"] - 1e-6
    k = plan.kpis.query("scope == 'national' and kpi == 'population_within_service_min'")
    within = 20.0  # max_service_min, not report_within_min
    assert k["before"].iloc[0] == a.loc[a["main_seat_min"] <= within, "population"].sum()
    assert k["after"].iloc[0] == a.loc[a["nearest_kept_min"] <= within, "population"].sum()
    # Without a table that gives times, minutes cannot be asked for.
    with pytest.raises(ValueError, match="service_radius_min, policy.seats.max_service_min"):
        load_inputs(base.model_copy(update={"policy": pol}))


def test_no_service_by_straight_line_over_the_sea(tmp_path):
    from planner import prepare
    from planner.pipeline import load_inputs
    from planner.travel import TravelTable

    scenario = quick().model_copy(update={"data": quick().data.model_copy(update={
        "provinces": ("91",)})})
    inputs = load_inputs(scenario)
    props = inputs.dataset.properties
    props = props[props["commune_code"].isin(inputs.units["commune_code"])]
    pol = scenario.policy
    free = prepare.service_pairs(props, inputs.units, pol.model_copy(
        update={"service_across_sea": True}), TravelTable.empty())
    kept = prepare.service_pairs(props, inputs.units, pol, TravelTable.empty())
    island = set(inputs.units.query("terrain == 'island'")["commune_code"])
    unit_of = props.set_index("property_id")["commune_code"]
    home = unit_of.reindex(free["property_id"]).to_numpy()
    by_sea = (pd.Series(home).isin(island).to_numpy() | free["commune_code"].isin(island)
              ) & (home != free["commune_code"].to_numpy())
    assert by_sea.any()
    assert len(kept) == int((~by_sea).sum())
    # A measured route (a ferry in the OD table) serves again.
    first = free[by_sea].iloc[0]
    path = tmp_path / "od.csv"
    pd.DataFrame({"origin": [first["property_id"]], "destination": [first["commune_code"]],
                  "distance_km": [first["distance_km"]]}).to_csv(path, index=False)
    table = load_travel(path, *codes())
    again = prepare.service_pairs(props, inputs.units, pol, table)
    assert len(again) == len(kept) + 1
