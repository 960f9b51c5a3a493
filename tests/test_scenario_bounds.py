"""The schema's upper bounds are safe: a scenario with every money rate, lump sum, budget and
priority weight at its maximum, all at once, plans a province end to end (no int64 overflow,
no cost range refused by a solver) and every solve checks out."""

from __future__ import annotations

from planner.pipeline import run_scenario
from planner.scenario import MAX_VND, MAX_VND_LUMP, MAX_VND_RATE, Scenario, scenario_from_dict
from planner.schema import EQUIPMENT_CATEGORIES, SERVICE_USES


def everything_at_its_maximum(provinces: list[str]) -> Scenario:
    bounds = Scenario.model_json_schema()["$defs"]["PriorityWeights"]["properties"]
    terrain_max = bounds["terrain"]["additionalProperties"]["maximum"]
    unit_type_max = bounds["unit_type"]["additionalProperties"]["maximum"]
    categories = ("car", *EQUIPMENT_CATEGORIES)
    return scenario_from_dict({
        "name": "at-the-bounds", "data": {"provinces": provinces},
        "solver": {"time_limit_s": 20, "seed": 2**31 - 1},
        "policy": {
            "unmet_penalty_vnd_per_m2": {u: MAX_VND_RATE for u in SERVICE_USES
                                         if u != "service_point"},
            "unmet_penalty_vnd_per_service_point": MAX_VND_LUMP,
            "priority": {"terrain": dict.fromkeys(("island", "mountain", "midland", "lowland"),
                                                  terrain_max),
                         "unit_type": dict.fromkeys(("Đặc khu", "Xã", "Phường"),
                                                    unit_type_max)},
            "renovation_vnd_per_m2": {c: dict.fromkeys(SERVICE_USES, MAX_VND_RATE)
                                      for c in ("good", "fair", "poor")},
            "seats": {"upkeep_vnd_per_m2_year": MAX_VND_RATE,
                      "penalty_vnd_per_person": MAX_VND_RATE, "max_service_km": 15},
            "transfer": {"cost_per_km_vnd": dict.fromkeys(categories, MAX_VND_RATE),
                         "handling_vnd": dict.fromkeys(categories, MAX_VND_LUMP),
                         "unmet_penalty_vnd": dict.fromkeys(categories, MAX_VND_LUMP)},
            "same_province_only": False, "cross_province_penalty_vnd": MAX_VND_RATE},
        "budget": {"national_vnd": MAX_VND, "default_province_vnd": MAX_VND}})


def test_a_scenario_at_every_bound_plans_a_province():
    plan = run_scenario(everything_at_its_maximum(["04", "08"]))
    assert {s["stage"] for s in plan.solves} == {"seats", "disposition", "transfer"}
    assert all(s["status"] in ("optimal", "feasible") for s in plan.solves)
    assert plan.tables["dispositions"]["property_id"].is_unique
