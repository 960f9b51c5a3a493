"""End to end: a province subset (fast), the national baseline (slow), KPIs recomputed from the
plan tables, determinism, compare, outputs re-read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from planner.cli import app
from planner.kpis import kpi_value
from planner.labels import kpi_label
from planner.outputs import RunExistsError, write_plan
from planner.pipeline import coverage, output_name, run_scenario
from planner.scenario import load_scenario

SCEN = Path(__file__).resolve().parents[1] / "scenarios"


def province_scenario(code: str = "04", **solver):
    s = load_scenario(SCEN / "national-baseline.yaml")
    return s.model_copy(update={
        "name": f"test-{code}",
        "data": s.data.model_copy(update={"provinces": (code,)}),
        "solver": s.solver.model_copy(update={"time_limit_s": 20, **solver})})


@pytest.fixture(scope="module")
def plan():
    return run_scenario(province_scenario())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, plan):
    return write_plan(plan, tmp_path_factory.mktemp("run") / "cao-bang")


def test_province_plan_is_complete(plan):
    units = plan["units"]
    assert (units["province_code"] == "04").all() and len(units) == 56
    disp = plan["dispositions"]
    assert disp["property_id"].is_unique
    # Every surplus property of the province gets exactly one use.
    seats = plan["seats"]
    assert set(disp["property_id"]).isdisjoint(seats["property_id"])
    assert (seats.groupby("commune_code")["role"].apply(lambda r: (r == "main_seat").sum())
            == 1).all()
    for s in plan.solves:
        assert s["status"] in ("optimal", "feasible")
        assert s["gap"] >= 0


def test_office_space_housed_by_the_seats(plan):
    # Office need = staff x norm - main seat floor; kept annexes house it first, and the
    # disposition serves only what they leave.
    from planner.demo import load_demo

    units, seats, needs = plan["units"], plan["seats"], plan["needs"]
    staff = load_demo().communes.set_index("commune_code")["staff"]
    main = seats[seats["role"] == "main_seat"].set_index("commune_code")["floor_area_m2"]
    norm = plan.scenario.policy.seats.office_m2_per_staff
    expected = np.ceil(np.maximum(staff.reindex(units["commune_code"]).to_numpy() * norm
                                  - main.reindex(units["commune_code"]).to_numpy(), 0))
    assert np.array_equal(units["office_need_m2"].to_numpy(), expected)
    others = seats[seats["role"] != "main_seat"]
    housed = np.floor(others["floor_area_m2"]).groupby(others["commune_code"]).sum()
    assert np.array_equal(units["office_housed_m2"].to_numpy(), np.minimum(
        housed.reindex(units["commune_code"]).fillna(0).to_numpy(),
        units["office_need_m2"].to_numpy()))
    assert np.array_equal(units["office_shortfall_m2"],
                          units["office_need_m2"] - units["office_housed_m2"])
    office = needs[needs["use"] == "office"].set_index("commune_code")["need"]
    short = units.set_index("commune_code")["office_shortfall_m2"]
    assert np.array_equal(office.to_numpy(), short.reindex(office.index).to_numpy())
    assert set(short[short > 0].index) == set(office.index)


def test_land_plots_take_uses_that_build_on_land():
    from planner import prepare
    from planner.demo import load_demo

    pol = load_scenario(SCEN / "national-baseline.yaml").policy
    props = load_demo().properties
    land = props[props["kind"] == "land"].reset_index(drop=True)
    opts = prepare.eligibility(land, pol)
    public = opts[opts["use"].isin(["health", "education", "office", "service_point",
                                    "housing", "culture"])]
    assert set(public["use"]) == set(pol.land_uses) == {"education", "culture"}
    edu = public[public["use"] == "education"].merge(land, on="property_id")
    school = pol.land_uses["education"]
    assert np.array_equal(edu["capacity"], edu["land_area_m2"] * school.floor_per_land_m2)
    assert (edu["renovation_vnd_per_unit"] == school.construction_vnd_per_m2).all()
    assert (edu["renovation_cost_vnd"] == pol.renovation_fixed_vnd["education"]).all()
    assert (edu["land_area_m2"] >= pol.eligibility.min_land_area_m2["education"]).all()
    assert edu["legal_status"].isin(pol.eligibility.legal_statuses_for_conversion).all()


def test_kpis_recomputed_from_tables(plan):
    t, k = plan.tables, plan.kpis
    eq = t["equipment"]
    car = eq[eq["category"] == "car"]
    assert kpi_value(k, "units_without_car", "before") == (car["held_before"] == 0).sum()
    assert kpi_value(k, "units_without_car", "after") == (car["held_after"] == 0).sum()
    dev = eq[eq["category"] != "car"]
    below = dev[dev["shortfall_after"] > 0]["commune_code"].nunique()
    assert kpi_value(k, "units_below_equipment_norm", "after") == below
    disp = t["dispositions"]
    assert kpi_value(k, "surplus_properties", "after") == len(disp)
    for category, uses in (("sale_auction", ["sale"]), ("hold", ["hold"]),
                           ("working_office", ["office", "service_point"])):
        assert kpi_value(k, f"properties_{category}") == disp["use"].isin(uses).sum()
        assert (disp["report_category"] == category).sum() == disp["use"].isin(uses).sum()
    assert kpi_value(k, "renovation_spend_vnd") == disp["renovation_cost_vnd"].sum()
    n = t["needs"]
    for use in n["use"].unique():
        assert kpi_value(k, f"need_{use}", "before") == pytest.approx(
            n.loc[n["use"] == use, "need"].sum())
        assert kpi_value(k, f"need_{use}", "after") == pytest.approx(
            n.loc[n["use"] == use, "unmet"].sum())
    tr = t["transfers"]
    assert kpi_value(k, "items_transferred") == tr["quantity"].sum()
    assert kpi_value(k, "transfer_cost_vnd") == tr["cost_vnd"].sum()
    # Province and terrain scopes add up to the national figure.
    for scope in ("province", "terrain"):
        part = k[(k["scope"] == scope) & (k["kpi"] == "renovation_spend_vnd")]["after"].sum()
        assert part == pytest.approx(kpi_value(k, "renovation_spend_vnd"))


def test_needs_served_within_radius_and_capacity(plan):
    sv = plan["service"]
    radius = province_scenario().policy.service_radius_km
    assert (sv["distance_km"] <= sv["use"].map(radius) + 1e-9).all()
    disp = plan["dispositions"].set_index("property_id")
    # Each service row's use is one of its property's uses (its first or a shared one).
    d = disp.loc[sv["property_id"]]
    uses = [{u, *filter(None, x.split("+"))} for u, x in zip(d["use"], d["shared_uses"],
                                                            strict=True)]
    assert all(u in us for u, us in zip(sv["use"], uses, strict=True))
    # A building's uses fit within its floor (a service point takes its rooms).
    rooms = np.minimum(d["floor_area_m2"], province_scenario().policy.service_point_floor_area_m2)
    taken = np.where(sv["use"] == "service_point", np.floor(rooms), sv["quantity"])
    floor = pd.Series(taken).groupby(sv["property_id"].to_numpy()).sum()
    shared = disp.loc[floor.index, "shared_uses"] != ""
    assert (floor[shared.to_numpy()] <= np.floor(disp.loc[floor.index[shared.to_numpy()],
                                                          "floor_area_m2"])).all()
    n = plan["needs"]
    assert np.allclose(n["served"] + n["unmet"], n["need"])
    assert (n.loc[n["unmet"] > 1e-6, "reason"] != "").all()


def test_outputs_reread(run_dir, plan):
    wb = load_workbook(run_dir / "plan.xlsx", read_only=True)
    names = wb.sheetnames
    assert names[0] == "About" and names[-1] == "Dictionary"  # the tests' language
    about = [r for r in wb[names[0]].iter_rows(values_only=True)]
    assert any("SYNTHETIC" in str(v) for row in about for v in row)
    rows = list(wb["Property dispositions"].iter_rows(values_only=True))
    assert rows[0][0] == "Property id" and len(rows) - 1 == len(plan["dispositions"])
    layers = gpd.list_layers(run_dir / "plan.gpkg")["name"].tolist()
    assert {"units", "properties", "seats"} <= set(layers)
    props = gpd.read_file(run_dir / "plan.gpkg", layer="properties")
    assert props.crs.to_epsg() == 4326 and len(props) == len(plan["dispositions"])
    assert (run_dir / "report.html").exists() and (run_dir / "maps" / "needs.png").exists()
    back = pd.read_parquet(run_dir / "tables" / "kpis.parquet")
    pd.testing.assert_frame_equal(back, plan.kpis, check_dtype=False)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "timings.json"}


def test_same_inputs_same_bytes(tmp_path):
    # A gap the search reaches before any phase's deadline: a time-limited search ends where
    # the machine's load lets it, and its plan may differ by a few properties from run to run.
    # The search stops at the gap, so a far deadline costs no time, only keeps it from binding.
    scenario = province_scenario(mip_gap=0.05, time_limit_s=60)
    plans = [run_scenario(scenario) for _ in range(2)]
    assert all(s["wall_time_s"] < 0.5 * (s["time_limit_s"] or np.inf) for s in plans[0].solves)
    runs = [write_plan(p, tmp_path / str(i)) for i, p in enumerate(plans)]
    assert digest(runs[0]) == digest(runs[1])


def test_a_run_folder_is_never_replaced_without_force(tmp_path, plan, run_dir):
    before = digest(run_dir)
    with pytest.raises(RunExistsError, match="exists"):
        write_plan(plan, run_dir, maps=False)
    assert digest(run_dir) == before
    out = write_plan(plan, tmp_path / "fresh", maps=False)
    stale = out / "stale.txt"
    stale.write_text("from an older run", encoding="utf-8")
    write_plan(plan, out, maps=False, force=True)
    assert not stale.exists() and (out / "plan.xlsx").exists()


def test_default_folders_name_the_scenario_overrides_and_provinces():
    base = load_scenario(SCEN / "national-baseline.yaml")
    quick = load_scenario(SCEN / "national-baseline.yaml", ["quick", "wide-radius"])
    names = {str(output_name(s)) for s in [
        base, quick, province_scenario(), base.model_copy(update={
            "data": base.data.model_copy(update={"provinces": ("04", "06", "08", "10",
                                                               "11")})})]}
    assert names == {"runs/national-baseline", "runs/national-baseline+quick+wide-radius",
                     "runs/test-04@p04", "runs/national-baseline@p" + hashlib.sha256(
                         b"04,06,08,10,11").hexdigest()[:8]}
    assert coverage(base) == "national" and coverage(province_scenario()) == "provinces 04"


def test_a_province_plan_is_titled_by_its_province(plan):
    assert plan.coverage_name == "Tỉnh Cao Bằng"
    assert {s["part"] for s in plan.solves} == {"provinces 04"}


def test_cli_run_and_compare(tmp_path):
    runner = CliRunner()
    a = runner.invoke(app, ["run", str(SCEN / "national-baseline.yaml"), "--province", "04",
                            "--override", "quick", "--out", str(tmp_path / "a"), "--no-maps"])
    assert a.exit_code == 0, a.output
    assert kpi_label("units") in a.output and "SYNTHETIC" in a.output  # KPIs by their label
    assert "Cao Bằng" in a.output and "national" not in a.output
    kept = digest(tmp_path / "a")
    again = runner.invoke(app, ["run", str(SCEN / "national-baseline.yaml"), "--province",
                                "04", "--out", str(tmp_path / "a"), "--no-maps"])
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output
    assert digest(tmp_path / "a") == kept
    b = runner.invoke(app, ["run", str(SCEN / "tight-budget.yaml"), "--province", "04",
                            "--override", "quick", "--out", str(tmp_path / "b"), "--no-maps"])
    assert b.exit_code == 0, b.output
    c = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--csv",
                            str(tmp_path / "kpis.csv")])
    assert c.exit_code == 0, c.output
    side = pd.read_csv(tmp_path / "kpis.csv", encoding="utf-8-sig")
    assert {"national-baseline", "tight-budget", "change tight-budget"} <= set(side.columns)
    both = [pd.read_parquet(tmp_path / r / "tables" / "kpis.parquet").query(
        "scope == 'national'").set_index("kpi")["after"] for r in ("a", "b")]
    got = side.set_index("kpi")
    assert list(got.index) == list(both[0].index)
    np.testing.assert_allclose(got["change tight-budget"], both[1] - both[0])
    bad = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path)])
    assert bad.exit_code == 1 and "not a run directory" in bad.output


def test_cli_bad_scenario_exit_code(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\npolicy: {colour: red}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(p)])
    assert res.exit_code == 2 and "policy.colour: unknown key" in res.output


def test_budget_bound_plan_same_bytes(tmp_path):
    # A binding budget under the order of reuse: the solve ends on its gap goal, not on the
    # clock, so a second run is byte-identical. The goal is one the search reaches in seconds
    # on the demo's draws (its 0.5 % takes half a minute on two loaded cores).
    from test_reasons import budget_bound

    s = budget_bound()
    s = s.model_copy(update={"solver": s.solver.model_copy(update={"mip_gap": 0.02})})
    plan = run_scenario(s)
    assert all(r["wall_time_s"] < 0.5 * (r["time_limit_s"] or np.inf) for r in plan.solves)
    first = write_plan(plan, tmp_path / "first", maps=False)
    again = write_plan(run_scenario(s), tmp_path / "again", maps=False)
    assert digest(again) == digest(first)


@pytest.mark.slow
def test_national_baseline(tmp_path):
    from test_reasons import check_reasons

    plan = run_scenario(load_scenario(SCEN / "national-baseline.yaml"))
    k = plan.kpis
    assert kpi_value(k, "units") == 3321
    assert kpi_value(k, "units_without_car", "before") == 354
    assert kpi_value(k, "units_below_equipment_norm", "before") == 601
    assert kpi_value(k, "surplus_properties", "before") == 16_124
    assert kpi_value(k, "surplus_properties", "after") + kpi_value(
        k, "kept_as_annex_or_service_point") == 16_124
    assert kpi_value(k, "renovation_spend_vnd") <= kpi_value(k, "renovation_budget_vnd")
    # Every reason of the national plan agrees with its tables; the island district of Ly Son
    # (served first, its buildings worth more on sale than its needs' penalty) is served in
    # full although the national budget is spent.
    check_reasons(plan)
    needs = plan["needs"]
    ly_son = needs[needs["commune_code"] == "21548"]
    assert len(ly_son) >= 1 and ly_son["served_first"].all()
    assert (ly_son["unmet"] == 0).all()
    assert kpi_value(k, "renovation_budget_vnd") - kpi_value(k, "renovation_spend_vnd") < 1e9
    run = write_plan(plan, tmp_path / "national", maps=False)
    # The national budget's price, where a re-plan of this run begins its own search.
    from planner.diff import start_plan

    price = start_plan(run).budget_price
    assert price is not None and price > 0


def test_kpi_tables_fold_to_80_columns_and_say_each_difference(plan):
    from rich.console import Console

    from planner.cli_plans import _kpi_table, kpi_frame

    other = plan.kpis.assign(after=plan.kpis["after"] * 2)
    runs = {"national-baseline-with-a-long-name": plan.kpis, "the-other-scenario": other}
    frame = kpi_frame(runs, "province", "04")
    np.testing.assert_allclose(frame["change the-other-scenario"],
                               frame["national-baseline-with-a-long-name"])
    for kpis in (runs, {"one": plan.kpis}):
        console = Console(width=80, record=True, color_system=None)
        console.print(_kpi_table("KPIs", kpis, "province", "04"))
        text = console.export_text()
        assert "…" not in text  # folded, never cut
        assert max(len(line) for line in text.splitlines()) <= 80
    one = kpi_frame({"one": plan.kpis}, "province", "04")
    np.testing.assert_allclose(one["change"], one["after"] - one["before"], equal_nan=True)


def test_data_report_full_writes_a_file(tmp_path):
    out = tmp_path / "repairs.csv"
    res = CliRunner().invoke(app, ["data-report", "--full", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = pd.read_csv(out, encoding="utf-8-sig")
    assert len(report) > 100 and f"{len(report):,} repairs" in res.output
    assert len(res.output.splitlines()) < 60


def test_workbook_reads_like_a_planner_expects(tmp_path, plan):
    from planner.labels import VALUES, column_label, label, table_label
    from planner.outputs import MAX_SHEET_NAME, sheet_name, write_excel

    assert sheet_name("Xe và thiết bị theo định mức của đơn vị") == "Xe và thiết bị theo định mức"
    for lang, li in (("vi", 0), ("en", 1)):
        path = tmp_path / f"plan-{lang}.xlsx"
        write_excel(plan, plan.tables, path, lang=lang)
        wb = load_workbook(path, read_only=True)
        for table in plan.tables:
            full = table_label(table, lang)
            name = sheet_name(full)
            assert len(name) <= MAX_SHEET_NAME and full.startswith(name)
            assert name in wb.sheetnames
        # One header row, the unit's name beside its code (needs had codes only).
        needs = pd.DataFrame(list(wb[sheet_name(table_label("needs", lang))].iter_rows(
            values_only=True)))
        header = needs.iloc[0].tolist()
        code_col = header.index(("Mã ĐVHC", "Unit code")[li])
        assert header[code_col + 1] == ("Tên ĐVHC", "Unit name")[li]
        names = plan["units"].set_index("commune_code")["name"]
        body = needs.iloc[1:]
        assert len(body) == len(plan["needs"])
        assert (body[code_col + 1].to_numpy() == names.reindex(
            body[code_col]).to_numpy()).all()
        transfers = list(wb[sheet_name(table_label("transfers", lang))].iter_rows(
            values_only=True))
        assert ("Tên ĐVHC", "Unit name")[li] in transfers[0]
        words = pd.DataFrame(list(wb[("Từ điển", "Dictionary")[li]].iter_rows(
            values_only=True))[1:], columns=["sheet", "code", "vi", "en"])
        assert {"commune_code", "commune_name", "property_id"} <= set(words["code"])
        assert (words.loc[words["code"] == "commune_code", "vi"] == "Mã ĐVHC").all()
        cells = " ".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(
            values_only=True) for v in row)
        assert "/tmp/" not in cells and "/work/" not in cells  # no path of this machine
        # Coded values read as labels in the sheet's language, the codes beside them.
        disp = pd.DataFrame(list(wb[sheet_name(table_label("dispositions", lang))].iter_rows(
            values_only=True)))
        head = disp.iloc[0].tolist()
        shown = disp[head.index(column_label("use", lang))].iloc[1:]
        codes = disp[head.index(column_label("use_code", lang))].iloc[1:]
        assert codes.tolist() == plan["dispositions"]["use"].tolist()
        assert shown.tolist() == [label("use", u, lang) for u in codes]
        if lang == "vi":  # no English code left where a planner reads a value
            english = {c for family in VALUES.values() for c in family} - {"Xã", "Phường",
                                                                            "Đặc khu"}
            code_cols = {j for j, h in enumerate(head) if str(h).endswith("(mã)")}
            for j, h in enumerate(head):
                if j not in code_cols and h not in (column_label("property_id", "vi"),):
                    assert not set(disp[j].iloc[1:].astype(str)) & english, h


def test_no_path_of_this_machine_in_any_output(run_dir):
    root = str(Path(__file__).resolve().parents[1])
    for f in run_dir.rglob("*"):
        if f.suffix in (".html", ".json", ".csv", ".geojson", ".md", ".txt"):
            text = f.read_text(encoding="utf-8", errors="replace")
            assert root not in text and str(run_dir) not in text, f
