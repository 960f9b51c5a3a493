"""The planner's own decisions: the table validated like the inventory, honoured by the three
stages of a province run, marked as the planner's, and rejected with their rows where a stage
cannot honour them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from test_localformats import ENGLISH
from test_pipeline import SCEN, province_scenario
from typer.testing import CliRunner

from planner.cli import app
from planner.decisions import (
    DecisionError,
    decisions_from_frame,
    holdings_surplus,
    load_decisions,
)
from planner.demo import load_demo
from planner.i18n import _, use_lang
from planner.labels import column_label
from planner.pipeline import output_name, run_scenario


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def with_decisions(rows: list[dict], path: Path, **solver):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    s = province_scenario("04", time_limit_s=10, **solver)
    return s.model_copy(update={"data": s.data.model_copy(update={"decisions": str(path)})})


@pytest.fixture(scope="module")
def baseline():
    return run_scenario(province_scenario("04", time_limit_s=10))


@pytest.fixture(scope="module")
def decided(baseline, demo, tmp_path_factory):
    d = baseline["dispositions"]
    sold = d.loc[d["use"] == "sale", "property_id"].tolist()
    seats = baseline["seats"]
    annex = seats.loc[seats["role"] != "main_seat", "property_id"].tolist()
    building = d.loc[(d["kind"] == "building") & (d["use"] == "sale")
                     & (d["floor_area_m2"] > 0), "property_id"].tolist()
    tr = baseline["transfers"]
    lot = tr.iloc[0]
    other = tr[(tr["holder_code"] != lot["holder_code"])].iloc[0]
    rows = [
        {"property_id": sold[0], "rule": "forbid", "use": "sale", "note": "giữ cho địa phương"},
        {"property_id": sold[1], "rule": "require", "use": "health",
         "note": "đã hứa cho ngành y tế"},
        {"property_id": annex[0], "rule": "forbid", "use": "keep"},
        {"property_id": building[-1], "rule": "require", "use": "keep"},
        {"holder_code": lot["holder_code"], "category": lot["category"], "rule": "require",
         "quantity": int(lot["quantity"]), "commune_code": lot["commune_code"]},
        {"holder_code": other["holder_code"], "category": other["category"], "rule": "forbid"},
        {"commune_code": d["commune_code"].iloc[0], "rule": "require", "use": "served_first"},
        # Another province's: it waits for a run that plans it.
        {"property_id": demo.properties.loc[demo.properties["commune_code"].str.startswith(
            "00"), "property_id"].iloc[0], "rule": "forbid", "use": "sale"},
    ]
    scenario = with_decisions(rows, tmp_path_factory.mktemp("dec") / "decisions.csv")
    return rows, run_scenario(scenario)


def test_every_problem_of_a_decisions_table_at_once(demo):
    p = demo.properties
    free = p.loc[~p["in_use_as_seat"], "property_id"].tolist()
    main = p.loc[p["in_use_as_seat"], "property_id"].iloc[0]
    bad = pd.DataFrame([
        {"property_id": "NOPE", "rule": "require", "use": "health"},
        {"property_id": main, "rule": "forbid", "use": "keep"},
        {"property_id": free[0], "rule": "require", "use": "health"},
        {"property_id": free[0], "rule": "forbid", "use": "health"},
        {"property_id": free[1], "rule": "forbid", "use": "hold"},
        {"property_id": free[2], "rule": "require", "use": "health"},
        {"property_id": free[2], "rule": "require", "use": "culture"},
        {"commune_code": "99999", "rule": "require"},
        {"rule": "maybe"},
        {"property_id": free[3], "rule": "forbid", "use": "sale", "commune_code": "00004"},
    ])
    with pytest.raises(DecisionError) as err:
        decisions_from_frame(bad, demo, name="d.csv")
    said = [(q.row, q.column, q.rule) for q in err.value.problems]

    def has(row: int, column: str | None, text: str) -> bool:
        return any(r == row and c == column and text in t for r, c, t in said)

    assert has(2, "property_id", "unknown property 'NOPE'")
    assert has(3, "property_id", f"{main!r} is a unit's main seat, which is always kept")
    assert has(5, "use", "Health is both required (row 4) and forbidden")
    assert has(6, "use", "'Held for a later decision' cannot be forbidden")
    assert has(8, "use", "a property is given one use")
    assert has(9, "commune_code", "unknown unit '99999'")
    assert has(10, "rule", "unknown value 'maybe'")
    assert has(11, "commune_code", "only a required service use names the unit it serves")
    assert all(q.file == "d.csv" for q in err.value.problems)
    with use_lang("vi"), pytest.raises(DecisionError) as vi:
        decisions_from_frame(bad, demo, name="d.csv")
    assert [(q.row, q.column) for q in vi.value.problems] == [(r, c) for r, c, _t in said]
    for q, (_r, _c, rule) in zip(vi.value.problems, said, strict=True):
        assert q.rule != rule and not ENGLISH.search(q.rule), q.rule


def test_csv_excel_and_parquet_read_alike(demo, tmp_path):
    free = demo.properties.loc[~demo.properties["in_use_as_seat"], "property_id"]
    rows = pd.DataFrame({"property_id": free.iloc[:2].tolist(), "rule": ["require", "forbid"],
                         "use": ["education", "sale"], "note": ["trường mầm non", ""]})
    rows.to_csv(tmp_path / "d.csv", index=False)
    rows.to_excel(tmp_path / "d.xlsx", sheet_name="decisions", index=False)
    rows.to_parquet(tmp_path / "d.parquet", index=False)
    frames = [load_decisions(tmp_path / f"d.{ext}", demo).properties
              for ext in ("csv", "xlsx", "parquet")]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(f, frames[0])
    assert frames[0]["use"].tolist() == ["education", "sale"]
    (tmp_path / "e.csv").write_text("property_id,rul,use\nX,require,health\n", encoding="utf-8")
    with pytest.raises(DecisionError, match="column rul: unknown column"):
        load_decisions(tmp_path / "e.csv", demo)


def test_decisions_are_honoured_and_marked(decided, baseline):
    rows, plan = decided
    d = plan["dispositions"].set_index("property_id")
    no_sale, health, released, kept = (r["property_id"] for r in rows[:4])
    assert d.at[no_sale, "use"] != "sale" and d.at[health, "use"] == "health"
    for pid in (no_sale, health, released):
        assert d.at[pid, "decided_by"] == "planner"
        assert d.at[pid, "reason"].startswith(_("The planner's decision: "))
    assert "đã hứa cho ngành y tế" in d.at[health, "reason"]
    seats = plan["seats"].set_index("property_id")
    assert released not in seats.index and kept in seats.index and kept not in d.index
    assert seats.at[kept, "decided_by"] == "planner"
    assert (plan["dispositions"]["decided_by"] == "planner").sum() == 3
    tr = plan["transfers"]
    lot, other = rows[4], rows[5]
    sent = tr[(tr["holder_code"] == lot["holder_code"]) & (tr["commune_code"]
                                                          == lot["commune_code"])
              & (tr["category"] == lot["category"])]
    assert sent["quantity"].sum() >= lot["quantity"] and (sent["decided_by"] == "planner").all()
    assert tr[(tr["holder_code"] == other["holder_code"])
              & (tr["category"] == other["category"])].empty
    needs = plan["needs"]
    assert needs.loc[needs["commune_code"] == rows[6]["commune_code"], "served_first"].all()
    counts = plan.provenance["decisions"]
    assert (counts["properties"], counts["lots"], counts["units"]) == (4, 2, 1)
    assert counts["outside_provinces"] == 1
    # The seats may re-optimise around the kept and released buildings; none is lost.
    assert len(plan["dispositions"]) + len(plan["seats"]) == len(
        baseline["dispositions"]) + len(baseline["seats"])


@pytest.mark.parametrize("case", ["not_eligible", "beyond_radius", "too_many_items"])
def test_a_decision_a_stage_cannot_honour_names_its_row(case, baseline, demo, tmp_path):
    d = baseline["dispositions"]
    if case == "not_eligible":
        land = d.loc[d["kind"] == "land", "property_id"].iloc[0]
        rows = [{"property_id": land, "rule": "require", "use": "health"}]
        match = f"row 2, column use: '{land}' is not eligible for Health: its kind is 'Land'"
    elif case == "beyond_radius":
        far = d.sort_values("lat")["property_id"].iloc[0]
        north = baseline["units"].sort_values("lat")["commune_code"].iloc[-1]
        rows = [{"property_id": far, "rule": "require", "use": "hold"},
                {"property_id": d.loc[d["use"] == "education", "property_id"].iloc[0],
                 "rule": "require", "use": "education", "commune_code": north}]
        match = f"row 3, column commune_code: unit '{north}' is"
    else:
        short = baseline["equipment"].groupby(["commune_code", "category"])[
            "shortfall_before"].first()
        have = holdings_surplus(demo)
        # A lot whose holder has more than its target lacks: only the target's shortfall bars it.
        lot = next(t for t in baseline["transfers"].itertuples()
                   if have.get((t.holder_code, t.category), 0) > short[t.commune_code, t.category])
        lacks = int(short[lot.commune_code, lot.category])
        rows = [{"holder_code": lot.holder_code, "category": lot.category,
                 "rule": "require", "quantity": lacks + 1, "commune_code": lot.commune_code}]
        match = f"lacks {lacks} {lot.category}"
    with pytest.raises(DecisionError, match=match):
        run_scenario(with_decisions(rows, tmp_path / "d.csv"))


@pytest.mark.parametrize("case", ["within", "road", "minutes"])
def test_a_target_is_held_to_the_roads_of_the_od_table(case, baseline, tmp_path):
    # The pair a required target uses is measured as the disposition measures it: a road
    # longer than the radius, or a time beyond the use's limit, refuses the row.
    sv = baseline["service"]
    pair = sv[(sv["use"] == "education") & (sv["distance_km"] > 1)].iloc[0]
    rows = [{"property_id": pair["property_id"], "rule": "require", "use": "education",
             "commune_code": pair["commune_code"]}]
    s = with_decisions(rows, tmp_path / "d.csv")
    radius = s.policy.service_radius_km["education"]
    od = tmp_path / "od.csv"
    pd.DataFrame({"origin": [pair["property_id"]], "destination": [pair["commune_code"]],
                  "distance_km": [radius + 25.0 if case == "road" else pair["distance_km"]],
                  "minutes": [90.0]}).to_csv(od, index=False)
    pol = s.policy.model_copy(update={"service_radius_min": {"education": 60.0}}) \
        if case == "minutes" else s.policy
    s = s.model_copy(update={"policy": pol, "data": s.data.model_copy(update={
        "od_table": str(od)})})
    if case == "within":
        served = run_scenario(s)["service"]
        mine = served[served["property_id"] == pair["property_id"]]
        assert set(mine["commune_code"]) == {pair["commune_code"]}
        assert (mine["distance_source"] == "od_table").all()
        return
    match = (f"unit '{pair['commune_code']}' is {radius + 25:.1f} km by road" if case == "road"
             else f"unit '{pair['commune_code']}' is 90 min from")
    with pytest.raises(DecisionError, match=match):
        run_scenario(s)


def test_cli_run_with_decisions_names_its_folder(tmp_path, baseline, demo, monkeypatch):
    sold = baseline["dispositions"].query("use == 'sale'")["property_id"].iloc[0]
    elsewhere = demo.properties.loc[demo.properties["commune_code"].str.startswith("00"),
                                    "property_id"].iloc[0]
    rows = [{"property_id": p, "rule": "forbid", "use": "sale"} for p in (sold, elsewhere)]
    path = tmp_path / "d.csv"
    s = with_decisions(rows, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    assert str(output_name(s)) == f"runs/test-04@p04@d{digest}"
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["run", str(SCEN / "national-baseline.yaml"), "--province",
                                   "04", "--override", "quick", "--no-maps", "--decisions",
                                   str(path)])
    assert res.exit_code == 0, res.output
    assert "1 decision row(s) name units outside this run's provinces" in res.output
    assert "map.html" not in res.output and "plan.xlsx" in res.output  # what --no-maps wrote
    out = tmp_path / "runs" / f"national-baseline+quick@p04@d{digest}"
    d = pd.read_parquet(out / "tables" / "dispositions.parquet").set_index("property_id")
    assert d.at[sold, "use"] != "sale" and d.at[sold, "decided_by"] == "planner"
    bad = tmp_path / "bad.csv"
    bad.write_text("property_id,rule,use\nNOPE,require,health\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(SCEN / "national-baseline.yaml"), "--province",
                                   "04", "--no-maps", "--decisions", str(bad), "--out",
                                   str(tmp_path / "x")])
    assert res.exit_code == 1 and "row 2" in res.output and "NOPE" in res.output
    assert not (tmp_path / "x").exists()


def test_diff_shows_what_the_decisions_changed_and_why(baseline, decided, tmp_path,
                                                       monkeypatch):
    from planner.outputs import write_plan

    rows, plan = decided
    a = write_plan(baseline, tmp_path / "a", maps=False)
    b = write_plan(plan, tmp_path / "b", maps=False)
    res = CliRunner().invoke(app, ["diff", str(a), str(b), "--out", str(tmp_path / "d.xlsx")])
    assert res.exit_code == 0, res.output
    assert "(4 by the planner)" in res.output and "KPIs" in res.output
    monkeypatch.setenv("ASSETPLAN_LANG", "vi")  # the workbook a Vietnamese planner reads
    res = CliRunner().invoke(app, ["diff", str(a), str(b), "--out", str(tmp_path / "d.xlsx")])
    assert res.exit_code == 0, res.output
    sheets = pd.read_excel(tmp_path / "d.xlsx", sheet_name=None)
    props = sheets["Nhà đất thay đổi"]
    by_id = props.set_index("Mã nhà đất")
    for r in rows[:4]:
        assert r["property_id"] in by_id.index
        assert by_id.at[r["property_id"], "Người quyết định"] == "Người lập kế hoạch"
        assert by_id.at[r["property_id"], "Người quyết định (mã)"] == "planner"
    # The planner's own rows come first; every change carries the reason of the new plan.
    planner_rows = (props["Người quyết định (mã)"] == "planner").to_numpy()
    assert planner_rows[:planner_rows.sum()].all()
    assert props["Lý do sau"].fillna("").ne("").sum() >= len(props) - (
        props["Sau"].fillna("").str.startswith("seat:")).sum()
    kpis = sheets["Chỉ tiêu"].set_index(column_label("kpi_code", "vi"))
    assert kpis.at["renovation_spend_vnd", "Thay đổi"] == pytest.approx(
        kpis.at["renovation_spend_vnd", "Sau"] - kpis.at["renovation_spend_vnd", "Trước"])
    assert "Điều chuyển thay đổi" in sheets
    bad = CliRunner().invoke(app, ["diff", str(a), str(tmp_path)])
    assert bad.exit_code == 1 and "not a run" in bad.output and "directory" in bad.output


def test_a_start_keeps_its_plan_and_budget_price(baseline, tmp_path):
    # A re-plan's start goes through a file on the server: the plan and the price the run's
    # disposition put on the national budget come back as they went in.
    import json

    from planner.diff import Start, start_plan
    from planner.outputs import write_plan

    run = write_plan(baseline, tmp_path / "a", maps=False)
    prov = json.loads((run / "provenance.json").read_text(encoding="utf-8"))
    record = next(s for s in prov["solves"] if s["stage"] == "disposition")
    assert "budget_price" not in record  # one province: no Lagrangian price
    record["budget_price"] = 8.25
    (run / "provenance.json").write_text(json.dumps(prov), encoding="utf-8")
    start = start_plan(run)
    assert start.budget_price == 8.25 and len(start.options) >= len(baseline["dispositions"])
    start.save(tmp_path / "start.parquet")
    back = Start.load(tmp_path / "start.parquet")
    assert back.budget_price == 8.25
    pd.testing.assert_frame_equal(back.options, start.options)
    Start(start.options).save(tmp_path / "none.parquet")
    assert Start.load(tmp_path / "none.parquet").budget_price is None


def test_replan_from_a_run_into_a_new_folder(baseline, tmp_path):
    from test_pipeline import digest

    from planner.outputs import write_plan

    a = write_plan(baseline, tmp_path / "a", maps=False)
    before = digest(a)
    d = baseline["dispositions"]
    sold = d.loc[d["use"] == "sale", "property_id"].iloc[0]
    path = tmp_path / "d.csv"
    pd.DataFrame([{"property_id": sold, "rule": "require", "use": "hold",
                   "note": "chờ quy hoạch"}]).to_csv(path, index=False)
    same = CliRunner().invoke(app, ["replan", str(a), "--decisions", str(path), "--out",
                                    str(a), "--force", "--no-maps"])
    assert same.exit_code == 1 and "never the run re-planned" in same.output
    res = CliRunner().invoke(app, ["replan", str(a), "--decisions", str(path), "--out",
                                   str(tmp_path / "b"), "--no-maps"])
    assert res.exit_code == 0, res.output
    assert digest(a) == before
    b = pd.read_parquet(tmp_path / "b" / "tables" / "dispositions.parquet").set_index(
        "property_id")
    assert b.at[sold, "use"] == "hold" and "chờ quy hoạch" in b.at[sold, "reason"]
    again = CliRunner().invoke(app, ["replan", str(a), "--decisions", str(path), "--out",
                                     str(tmp_path / "b"), "--no-maps"])
    assert again.exit_code == 1 and "exists" in again.output


def test_decisions_change_exactly_what_they_say(tmp_path):
    """One use per building (so a property's use is its whole state). Every property pinned
    to the use a run gave it: the re-plan from that run is the run (nothing in the diff). The
    same pins with one sale turned into a hold: the diff holds that property alone, as the
    planner's, and the KPIs move by its revenue."""
    from planner.diff import Start, diff_tables, start_rows

    def scenario(rows: pd.DataFrame | None, name: str):  # type: ignore[no-untyped-def]
        s = province_scenario("04", time_limit_s=10)
        if rows is not None:
            s = with_decisions(rows.to_dict("records"), tmp_path / f"{name}.csv")
        return s.model_copy(update={"policy": s.policy.model_copy(update={
            "max_uses_per_building": 1})})

    def tables(plan):  # type: ignore[no-untyped-def]
        return lambda t: plan.kpis if t == "kpis" else plan[t]

    base = run_scenario(scenario(None, "base"))
    d = base["dispositions"]
    assert (d["shared_uses"].fillna("") == "").all()
    start = Start(start_rows(d, base["service"]))
    pins = pd.DataFrame({"property_id": d["property_id"], "rule": "require", "use": d["use"]})
    same = run_scenario(scenario(pins, "same"), start=start)
    diff = diff_tables(tables(base), tables(same))
    assert diff.properties.empty, diff.properties
    assert diff.transfers.empty
    assert (diff.kpis["change"].fillna(0) == 0).all(), diff.kpis[diff.kpis["change"] != 0]
    assert (same["dispositions"]["decided_by"] == "planner").all()

    sold = str(d.loc[d["use"] == "sale", "property_id"].iloc[0])
    one = pins.assign(use=pins["use"].where(pins["property_id"] != sold, "hold"))
    moved = run_scenario(scenario(one, "one"), start=start)
    diff = diff_tables(tables(base), tables(moved))
    assert diff.properties[["property_id", "before", "after", "decided_by"]].values.tolist() \
        == [[sold, "sale", "hold", "planner"]]
    k = diff.kpis.set_index("kpi")["change"]
    assert k["sale_revenue_vnd"] == pytest.approx(-d.set_index("property_id").at[
        sold, "revenue_vnd"])
    assert k["properties_hold"] == 1
