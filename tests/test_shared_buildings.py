"""Shared buildings: up to ``max_uses_per_property`` public uses in one building, their
areas within its floor; a brute-force oracle over every set of uses and hand-solved cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from disposition_oracle import M, brute_force, order_violations, random_instance

from optimization.disposition import DispositionModel
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus
from planner.diff import start_rows


def uses_of(m: DispositionModel) -> list[str]:
    """Each property's uses as the oracle writes them (sorted, joined by '+')."""
    a = m.assignment
    return ["+".join(sorted([u, *filter(None, str(s).split("+"))]))
            for u, s in zip(a["use"], a["shared_uses"], strict=True)]


@pytest.mark.parametrize("seed", range(200))
def test_brute_force_oracle_shared(seed: int) -> None:
    rng = np.random.default_rng(20_000 + seed)
    order = "public_first" if seed % 2 else "value"
    inst = random_instance(rng, n_p=int(rng.integers(1, 4)), n_c=int(rng.integers(1, 3)),
                           disposal_order=order, shared=True)
    try:
        m = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None)
    except InfeasibleInputError:
        assert not np.isfinite(brute_force(inst).objective)
        return
    best = brute_force(inst, m.info.stats["money_unit_vnd"])
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(best.objective, abs=0.5)
    served = m.service.groupby("property_id")["quantity"].sum().reindex(
        inst["properties"]["property_id"], fill_value=0).to_numpy()
    if order == "public_first":
        # A shared building's renovation: what its assignment row says, checked against its
        # service rows by check_solution.
        spent = m.assignment["renovation_cost_vnd"].tolist()
        assert order_violations(inst, uses_of(m), m.unmet["unmet"].to_numpy(), served,
                                spent) == []
    # Each use serves within the floor its building shares.
    floor = inst["properties"].set_index("property_id")["shared_floor_m2"]
    n_uses = np.array([len(u.split("+")) for u in uses_of(m)])
    assert (n_uses <= inst["max_uses_per_property"]).all()
    assert ((n_uses == 1) | (floor.to_numpy() > 0)).all()


def district_compound(n_max: int, floor_m2: int = 1_000, **kw) -> DispositionModel:
    """One old district building of ``floor_m2`` and a commune needing 400 m2 of health,
    300 m2 of culture and a public-service point (which takes 120 m2 of rooms)."""
    props = pd.DataFrame({"property_id": ["D1"], "province_code": "P", "commune_code": "c1",
                          "shared_floor_m2": [floor_m2]})
    options = pd.DataFrame({
        "property_id": "D1", "use": ["health", "culture", "service_point", "sale"],
        "capacity": [floor_m2, floor_m2, 1, 0],
        "renovation_cost_vnd": [500 * M, 300 * M, 100 * M, 0],
        "renovation_vnd_per_unit": [9 * M, 5 * M, 0, 0],
        "revenue_vnd": [0, 0, 0, 50_000 * M],
        "floor_m2_fixed": [0, 0, 120, 0]})
    needs = pd.DataFrame({"commune_code": "c1", "use": ["health", "culture", "service_point"],
                          "need": [400, 300, 1], "priority_weight": 1.0, "province_code": "P"})
    pairs = pd.DataFrame({"property_id": ["D1"], "commune_code": ["c1"], "distance_km": [0.5]})
    return DispositionModel.from_frames(
        props, needs, pairs, options=options, max_uses_per_property=n_max,
        radius_km=15, unmet_penalty_vnd={"health": 30 * M, "culture": 6 * M,
                                         "service_point": 1_000 * M}, **kw)


def test_a_district_compound_houses_health_culture_and_a_service_point() -> None:
    m = district_compound(3).run(mip_gap=0.0, time_limit_s=None)
    assert m.info.status is SolveStatus.OPTIMAL
    a = m.assignment.iloc[0]
    assert sorted([a["use"], *a["shared_uses"].split("+")]) == ["culture", "health",
                                                                 "service_point"]
    assert a["use"] == "health"  # the use that takes the most floor comes first
    assert m.unmet["unmet"].sum() == 0
    # Renovation: each use's fixed part plus its rate on the area it takes.
    assert a["renovation_cost_vnd"] == 900 * M + 400 * 9 * M + 300 * 5 * M


def test_the_floor_limits_what_shared_uses_serve() -> None:
    # 600 m2: the service point's 120 m2 and health's 400 leave 80 m2 of culture.
    m = district_compound(3, floor_m2=600).run(mip_gap=0.0, time_limit_s=None)
    served = m.service.set_index("use")["quantity"]
    assert served["health"] == 400 and served["service_point"] == 1
    assert served["culture"] == 80
    assert m.unmet.set_index("use").loc["culture", "unmet"] == 220


def test_one_use_per_building_without_sharing() -> None:
    m = district_compound(1).run(mip_gap=0.0, time_limit_s=None)
    assert m.assignment.iloc[0]["shared_uses"] == ""
    assert m.assignment.iloc[0]["use"] == "health"  # the largest weighted need
    assert m.unmet.set_index("use")["unmet"].to_dict() == {"culture": 300, "health": 0,
                                                            "service_point": 1}
    # Two uses: health and culture (1.8 bn VND of weighted need against 1 bn).
    two = district_compound(2).run(mip_gap=0.0, time_limit_s=None)
    a = two.assignment.iloc[0]
    assert (a["use"], a["shared_uses"]) == ("health", "culture")


def test_sale_takes_the_whole_building_under_value() -> None:
    m = district_compound(3, disposal_order="value").run(mip_gap=0.0, time_limit_s=None)
    a = m.assignment.iloc[0]
    assert a["use"] == "sale" and a["shared_uses"] == ""


def test_checker_rejects_shared_uses_beyond_the_rules() -> None:
    m = district_compound(3, floor_m2=600).run(mip_gap=0.0, time_limit_s=None)
    m.check_solution()
    good = m.assignment.copy()
    m.assignment = good.assign(shared_uses="service_point+culture+office")
    with pytest.raises(SolutionCheckError, match="may take 3"):
        m.check_solution()
    m.assignment = good.assign(shared_uses="")
    with pytest.raises(SolutionCheckError, match="other than its assigned uses"):
        m.check_solution()
    # More culture than the floor leaves beside health and the service point.
    m.assignment = good
    m.service.loc[m.service["use"] == "culture", "quantity"] = 200
    with pytest.raises(SolutionCheckError, match="take 720 m2 of its 600 m2"):
        m.check_solution()


def test_an_option_larger_than_the_shared_floor_is_refused() -> None:
    with pytest.raises(InfeasibleInputError, match="occupies"):
        district_compound(2, floor_m2=100).build()


@pytest.mark.parametrize("seed", range(60))
def test_a_start_plan_reproduces_the_plan_it_was_read_from(seed: int) -> None:
    # A re-plan starts from an earlier plan's open options and the areas they serve: read
    # back, they give exactly that plan.
    rng = np.random.default_rng(60_000 + seed)
    inst = random_instance(rng, n_p=int(rng.integers(1, 4)), n_c=int(rng.integers(1, 3)),
                           disposal_order="public_first" if seed % 2 else "value",
                           shared=True)
    try:
        m = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None)
    except InfeasibleInputError:
        return
    rows = start_rows(m.assignment, m.service)
    again = DispositionModel.from_frames(**inst).build()
    choice, area, extra = again._from_frame(rows)
    plan = again.evaluate(choice, "start", area, extra)
    assert plan.objective == m.info.objective_value
    warm = again.solve(mip_gap=0.0, time_limit_s=None, start=rows).check_solution()
    assert warm.info.objective_value == m.info.objective_value
