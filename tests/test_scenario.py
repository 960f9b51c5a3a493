"""Scenarios: validated, frozen, stackable overrides, errors that name file, key and rule."""

from __future__ import annotations

import typing
from pathlib import Path

import pydantic
import pytest

from planner.scenario import (
    LATEST_GEOGRAPHY,
    GeographyDate,
    ScenarioError,
    json_schema,
    load_scenario,
)

SCEN = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.parametrize("path", sorted(SCEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_scenario_is_valid(path):
    s = load_scenario(path)
    assert s.name == path.stem or path.stem == "national-baseline" or s.name
    assert "hold" in s.policy.uses_allowed


def test_variants_differ_from_baseline_only_where_they_say():
    base = load_scenario(SCEN / "national-baseline.yaml")
    tight = load_scenario(SCEN / "tight-budget.yaml")
    assert tight.budget.national_vnd == 800_000_000_000
    assert tight.budget.default_province_vnd == 40_000_000_000
    assert tight.policy == base.policy and tight.solver == base.solver
    assert load_scenario(SCEN / "lam-dong.yaml").data.provinces == ("68",)


def test_frozen():
    s = load_scenario(SCEN / "national-baseline.yaml")
    with pytest.raises(pydantic.ValidationError):
        s.name = "other"  # type: ignore[misc]


def test_overrides_stack(tmp_path):
    s = load_scenario(SCEN / "national-baseline.yaml", ["quick", "wide-radius"])
    assert s.solver.time_limit_s == 10 and s.policy.service_radius_km["health"] == 25
    assert s.policy.service_radius_km["office"] == 20  # untouched key kept
    assert s.applied_overrides == ("quick", "wide-radius")


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_two_overrides_setting_the_same_key_is_an_error(tmp_path):
    p = write(tmp_path, """
name: x
overrides:
  a: {solver: {time_limit_s: 5}}
  b: {solver: {time_limit_s: 9, seed: 3}}
  c: {solver: {seed: 4}}
""")
    with pytest.raises(ScenarioError, match=r"overrides 'a' and 'b' both set solver.time_limit_s"):
        load_scenario(p, ["a", "b"])
    assert load_scenario(p, ["a", "c"]).solver.seed == 4
    with pytest.raises(ScenarioError, match=r"unknown override\(s\) \['zz'\]"):
        load_scenario(p, ["zz"])


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\npolicy: {service_radius_km: {health: -3}}",
     "policy.service_radius_km.health: Input should be greater than 0"),
    ("name: x\npolicy: {colour: red}", "policy.colour: unknown key"),
    ("name: x\nbudget: {national_vnd: lots}", "budget.national_vnd: Input should be a valid"),
    ("name: X Y", "name: String should match pattern"),
    ("name: x\ndata: {provinces: ['1']}", "data.provinces.0: String should match pattern"),
    ("name: x\npolicy: {uses_allowed: [health, sale]}", "uses_allowed must include 'hold'"),
    ("name: x\npolicy: {uses_allowed: [health, party, hold]}", "policy.uses_allowed.1"),
    ("name: x\npolicy: {priority: {terrain: {island: 2}}}", "terrain weights must name exactly"),
    ("name: x\npolicy: {transfer: {cost_per_km_vnd: {car: 1}}}", "missing category(ies)"),
    ("name: x\nsolver: {mip_gap: 2}", "solver.mip_gap: Input should be less than or equal to 1"),
    ("name: x\ndata: {geography_as_of: 2026-01-01}", "data.geography_as_of: Input should be "
     "'2025-07-01' or '2026-07-25'"),
    ("- just\n- a list", "a scenario must be a YAML mapping"),
    ("name: [unclosed", "not valid YAML"),
])
def test_bad_scenarios_are_rejected_with_file_key_and_rule(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert str(p) in str(err.value)
    assert message in str(err.value)


def test_extends_loop_and_missing_file(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("extends: b.yaml\nname: a\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="loops back"):
        load_scenario(a)
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.yaml")


def test_relative_dataset_path_is_relative_to_the_file(tmp_path):
    p = write(tmp_path, "name: x\ndata: {dataset: inv}")
    assert load_scenario(p).data.dataset == str((tmp_path / "inv").resolve())


def test_json_schema_documents_the_file():
    schema = json_schema()
    assert schema["title"] == "Scenario"
    assert "policy" in schema["properties"]
    text = str(schema)
    assert "max_service_km" in text and "additionalProperties" in text


def test_geography_as_of_reaches_the_units(tmp_path):
    import geodata
    from planner.pipeline import load_inputs

    assert typing.get_args(GeographyDate) == geodata.AS_OF
    assert LATEST_GEOGRAPHY == geodata.AS_OF[-1]
    base = load_scenario(SCEN / "national-baseline.yaml")
    assert base.data.geography_as_of == geodata.AS_OF[-1]  # the latest by default
    old = load_scenario(write(tmp_path, "name: x\ndata: {provinces: ['75'], geography_as_of: "
                                        "2025-07-01}"))
    new = old.model_copy(update={"data": old.data.model_copy(update={
        "geography_as_of": "2026-07-25"})})
    from planner.pipeline import provenance

    inputs = [load_inputs(s) for s in (old, new)]
    before, after = (i.units.set_index("commune_code").loc["26368"] for i in inputs)
    assert provenance(inputs[0], [], {})["geography"].startswith("Units as of 2025-07-01.")
    assert (before["unit_type"], before["name"]) == ("Xã", "Xã Long Thành")
    assert (after["unit_type"], after["name"]) == ("Phường", "Phường Long Thành")
