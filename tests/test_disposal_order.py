"""Order of reuse ``public_first`` (Dispatch 213/CĐ-TTg): public uses before sale, hand-over
or hold, in the model and verified by its checker; a brute-force oracle and hand-solved
instances, among them an island whose buildings sell for more than its needs weigh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from disposition_oracle import (
    PUBLIC,
    M,
    _arcs,
    brute_force,
    choices,
    in_units,
    order_violations,
    random_instance,
    unit_penalties,
)

from optimization.disposition import DispositionModel
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus

B = 1_000 * M  # one billion VND


def margin_holds(inst: dict, unit: int) -> bool:
    """One unit of any need outweighs the money of switching any free property to a public
    use that reaches it (recomputed here from the instance, not taken from the model)."""
    props = inst["properties"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    pen = unit_penalties(inst)
    for i, opts in enumerate(choices(inst)):
        if not pd.isna(fixed.iloc[i]):
            continue
        least = min(in_units(r - v, unit) for u, _, r, v, _ in opts if u not in PUBLIC)
        for alt in opts:
            if alt[0] not in PUBLIC:
                continue
            pad = (*[("hold", 0, 0, 0, 0)] * i, alt)
            switch = in_units(alt[2] - alt[3], unit) - least + in_units(alt[4], unit)
            for _, j, cost in _arcs(inst, pad, unit):
                if pen[j] > 0 and not pen[j] > switch + cost:
                    return False
    return True


@pytest.mark.parametrize("seed", range(220))
def test_brute_force_oracle_public_first(seed: int) -> None:
    rng = np.random.default_rng(10_000 + seed)
    inst = random_instance(rng, n_p=int(rng.integers(1, 4)), n_c=int(rng.integers(1, 4)),
                           disposal_order="public_first")
    try:
        m = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None)
    except InfeasibleInputError:
        assert not np.isfinite(brute_force(inst).objective)
        return
    unit = m.info.stats["money_unit_vnd"]
    assert margin_holds(inst, unit)
    assert unit == 1 or not margin_holds(inst, unit // 10)  # the smallest power of ten
    best = brute_force(inst, unit)
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(best.objective, abs=0.5)
    # The proof: no optimum of the objective breaks the order, the model's plan neither.
    assert order_violations(inst, best.uses, best.unmet, best.served) == []
    uses = m.assignment["use"].tolist()
    served = m.service.groupby("property_id")["quantity"].sum().reindex(
        inst["properties"]["property_id"], fill_value=0).to_numpy()
    assert order_violations(inst, uses, m.unmet["unmet"].to_numpy(), served) == []
    assert m.info.stats["unmet_penalty_vnd"] == int(m.unmet["penalty_vnd"].sum())


def island() -> dict:
    """An island commune like Đặc khu Lý Sơn: three buildings worth far more on sale than its
    health (347 m2), culture (365 m2) and housing (339 m2) needs weigh."""
    props = pd.DataFrame({"property_id": ["H1", "H2", "H3"], "province_code": "51",
                          "commune_code": "21548"})
    options = pd.DataFrame({
        "property_id": ["H1", "H1", "H2", "H2", "H3", "H3"],
        "use": ["health", "sale", "culture", "sale", "housing", "sale"],
        "capacity": [3_226, 0, 900, 0, 600, 0],
        "renovation_cost_vnd": [29 * B, 0, 3 * B, 0, 2 * B, 0],
        "revenue_vnd": [0, 60 * B, 0, 25 * B, 0, 18 * B]})
    needs = pd.DataFrame({"commune_code": "21548", "use": ["health", "culture", "housing"],
                          "need": [347, 365, 339], "priority_weight": 3.6, "province_code": "51"})
    pairs = pd.DataFrame({"property_id": ["H1", "H2", "H3"], "commune_code": "21548",
                          "distance_km": [1.0, 2.0, 0.5]})
    return {"properties": props, "options": options, "needs": needs, "pairs": pairs,
            "radius_km": 15.0,
            "unmet_penalty_vnd": {"health": 30 * M, "culture": 6 * M, "housing": 10 * M}}


def test_island_served_under_public_first_and_sold_under_value() -> None:
    # Weighted penalties: health 347 x 108 M = 37.5 bn < 29 + 60 bn; culture 365 x 21.6 M =
    # 7.9 bn < 3 + 25 bn; housing 339 x 36 M = 12.2 bn < 2 + 18 bn: the money trade-off sells
    # all three; the order of reuse serves every need.
    value = DispositionModel.from_frames(**island(), disposal_order="value").run(mip_gap=0.0)
    assert set(value.assignment["use"]) == {"sale"}
    first = DispositionModel.from_frames(**island()).run(mip_gap=0.0)
    assert first.assignment["use"].tolist() == ["health", "culture", "housing"]
    assert first.unmet["unmet"].sum() == 0
    assert first.info.status is SolveStatus.OPTIMAL
    assert first.info.stats["disposal_order"] == "public_first"
    assert first.info.stats["net_cost_vnd"] == 34 * B


def test_budget_limits_the_order_of_reuse() -> None:
    # With 5 bn the health conversion (29 bn) cannot be paid: H1 is sold, culture and
    # housing (5 bn together) are served. With 4 bn only one of them fits: housing weighs
    # more (12.2 bn against 7.9 bn) and H2 is sold, since culture no longer fits the budget.
    m = DispositionModel.from_frames(**island(), budget_vnd=5 * B).run(mip_gap=0.0)
    assert m.assignment["use"].tolist() == ["sale", "culture", "housing"]
    m = DispositionModel.from_frames(**island(), budget_vnd=4 * B).run(mip_gap=0.0)
    assert m.assignment["use"].tolist() == ["sale", "sale", "housing"]
    # The province budget binds the same way.
    m = DispositionModel.from_frames(**island(), province_budget_vnd={"51": 2 * B}).run(
        mip_gap=0.0)
    assert m.assignment["use"].tolist() == ["sale", "sale", "housing"]


def test_a_planners_fixed_sale_is_kept() -> None:
    inst = island()
    inst["properties"] = inst["properties"].assign(fixed_use=["sale", None, None])
    m = DispositionModel.from_frames(**inst).run(mip_gap=0.0)
    assert m.assignment["use"].tolist() == ["sale", "culture", "housing"]


def test_checker_rejects_a_sale_that_breaks_the_order() -> None:
    m = DispositionModel.from_frames(**island()).run(mip_gap=0.0)
    # H3 sold instead of housing, every table made consistent with that: only the order of
    # reuse is broken (housing fits the unlimited budget and its need is left unmet).
    m.assignment.loc[2, ["use", "renovation_cost_vnd", "revenue_vnd"]] = ["sale", 0, 18 * B]
    m.service = m.service[m.service["property_id"] != "H3"].reset_index(drop=True)
    m.unmet.loc[2, ["served", "unmet", "penalty_vnd"]] = [0, 339, 339 * 36 * M]
    unit = m.info.stats["money_unit_vnd"]
    money = sum(in_units(r - v, unit) for r, v in zip(
        m.assignment["renovation_cost_vnd"], m.assignment["revenue_vnd"], strict=True))
    m.info = dataclasses.replace(m.info, objective_value=float(
        m.unmet["penalty_vnd"].sum() + money))
    with pytest.raises(SolutionCheckError, match="order of reuse broken in 1 case"):
        m.check_solution()


def test_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="disposal_order must be one of"):
        DispositionModel.from_frames(**island(), disposal_order="cheapest")
