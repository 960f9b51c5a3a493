"""Disposition model: hand-checked optima, a brute-force oracle (order of reuse ``value``:
money traded against weighted need), budgets and the checker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from disposition_oracle import M, brute_force, random_instance

from optimization.disposition import DispositionModel
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus


def hand_instance() -> dict:
    # P1 in commune c1 can be a clinic (10 beds, renovation 100 M) or be sold (500 M);
    # P2 in c2 can be a school (50 places, renovation 200 M). c1 needs 8 beds (weight 1,
    # 100 M VND per bed unmet); c2 needs 30 places (weight 2, 10 M per place unmet).
    props = pd.DataFrame({"property_id": ["P1", "P2"], "province_code": ["A", "A"],
                          "commune_code": ["c1", "c2"]})
    options = pd.DataFrame({"property_id": ["P1", "P1", "P2"],
                            "use": ["health", "sale", "education"],
                            "capacity": [10, 0, 50],
                            "renovation_cost_vnd": [100 * M, 0, 200 * M],
                            "revenue_vnd": [0, 500 * M, 0]})
    needs = pd.DataFrame({"commune_code": ["c1", "c2"], "use": ["health", "education"],
                          "need": [8, 30], "priority_weight": [1.0, 2.0],
                          "province_code": ["A", "A"]})
    pairs = pd.DataFrame({"property_id": ["P1", "P2", "P1"], "commune_code": ["c1", "c2", "c2"],
                          "distance_km": [0.0, 1.0, 5.0]})
    return {"properties": props, "needs": needs, "pairs": pairs, "options": options,
            "radius_km": 10.0,
            "unmet_penalty_vnd": {"health": 100 * M, "education": 10 * M},
            "disposal_order": "value"}


def test_hand_instance_optimum() -> None:
    # Unmet health costs 8 x 100 M = 800 M, unmet education 30 x 10 M x 2 = 600 M.
    # P1: clinic 100 M (c1 fully served) vs sale -500 M + 800 M = 300 M vs hold 800 M -> clinic.
    # P2: school 200 M vs hold 600 M -> school. Optimum 100 M + 200 M = 300 M.
    m = DispositionModel.from_frames(**hand_instance()).run(mip_gap=0.0)
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == 300 * M
    assert m.info.best_bound == m.info.objective_value
    assert m.assignment.set_index("property_id")["use"].to_dict() == {"P1": "health",
                                                                        "P2": "education"}
    assert m.unmet["unmet"].sum() == 0
    assert m.service.set_index("property_id")["quantity"].to_dict() == {"P1": 8, "P2": 30}


def test_budget_changes_the_plan() -> None:
    # National budget 250 M cannot pay both renovations (300 M). Candidates:
    #   clinic only: 100 M + school need unmet 600 M            = 700 M;
    #   school + P1 sold: 200 M - 500 M + health unmet 800 M     = 500 M (best);
    #   school + P1 held: 200 M + 800 M                          = 1,000 M.
    m = DispositionModel.from_frames(**hand_instance(), budget_vnd=250 * M).run(mip_gap=0.0)
    assert m.info.objective_value == 500 * M
    assert m.assignment.set_index("property_id")["use"].to_dict() == {"P1": "sale",
                                                                        "P2": "education"}
    assert m.assignment["revenue_vnd"].sum() == 500 * M
    # The same limit as a provincial budget gives the same plan.
    p = DispositionModel.from_frames(**hand_instance(),
                                     province_budget_vnd={"A": 250 * M}).run(mip_gap=0.0)
    assert p.info.objective_value == 500 * M


def test_wide_columns_equal_long_options() -> None:
    inst = hand_instance()
    wide = inst["properties"].assign(
        eligible_health=[True, False], capacity_health=[10, np.nan],
        renovation_cost_vnd_health=[100 * M, np.nan],
        eligible_education=[False, True], capacity_education=[np.nan, 50],
        renovation_cost_vnd_education=[np.nan, 200 * M],
        eligible_sale=[True, False], sale_revenue_vnd=[500 * M, 0])
    kw = {k: v for k, v in inst.items() if k not in ("properties", "options")}
    m = DispositionModel.from_frames(wide, **kw).run(mip_gap=0.0)
    assert m.info.objective_value == 300 * M


def test_travel_cost_picks_the_nearer_property() -> None:
    # Two identical schools, 2 km and 8 km from c1 (need 10 places), one must be enough.
    # Travel 1 M per place-km: nearer school costs 50 M + 10 x 2 M = 70 M; the farther one
    # 50 M + 80 M. Optimum 70 M with the far school held.
    props = pd.DataFrame({"property_id": [1, 2], "province_code": "A",
                          "commune_code": ["c1", "c2"]})
    options = pd.DataFrame({"property_id": [1, 2], "use": "education", "capacity": 20,
                            "renovation_cost_vnd": 50 * M, "revenue_vnd": 0})
    needs = pd.DataFrame({"commune_code": ["c1"], "use": ["education"], "need": [10],
                          "province_code": ["A"]})
    pairs = pd.DataFrame({"property_id": [1, 2], "commune_code": ["c1", "c1"],
                          "distance_km": [2.0, 8.0]})
    m = DispositionModel.from_frames(props, needs, pairs, options=options, radius_km=10,
                                     unmet_penalty_vnd={"education": 100 * M},
                                     travel_cost_vnd_per_unit_km={"education": M}
                                     ).run(mip_gap=0.0)
    assert m.info.objective_value == 70 * M
    assert m.assignment.set_index("property_id")["use"].to_dict() == {1: "education", 2: "hold"}
    assert m.service["cost_vnd"].tolist() == [20 * M]


# ---------------------------------------------------------------------------- oracle
@pytest.mark.parametrize("seed", range(220))
def test_brute_force_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, n_p=int(rng.integers(1, 4)), n_c=int(rng.integers(1, 4)))
    expected = brute_force(inst).objective
    if not np.isfinite(expected):  # a fixed use breaks a budget: no plan at all
        with pytest.raises(InfeasibleInputError, match="fixed uses need renovation"):
            DispositionModel.from_frames(**inst).build()
        return
    m = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None)
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(expected, abs=0.5)


# ---------------------------------------------------------------------------- behaviour
def medium_instance(seed: int, n_p: int = 120, n_c: int = 40) -> dict:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(105, 106, n_c), rng.uniform(20, 21, n_c)
    home = rng.integers(0, n_c, n_p)
    plon, plat = lon[home] + rng.normal(0, 0.03, n_p), lat[home] + rng.normal(0, 0.03, n_p)
    km = np.hypot((plon[:, None] - lon[None]) * 104, (plat[:, None] - lat[None]) * 111)
    prov = np.where(lon < 105.5, "S0", "S1")
    props = pd.DataFrame({"property_id": np.arange(n_p), "province_code": prov[home],
                          "commune_code": home})
    opts = []
    for u, p_el, cap_hi in (("health", .4, 20), ("education", .5, 200), ("office", .6, 600)):
        el = np.flatnonzero(rng.random(n_p) < p_el)
        opts.append(pd.DataFrame({"property_id": el, "use": u,
                                  "capacity": rng.integers(1, cap_hi, len(el)),
                                  "renovation_cost_vnd": rng.integers(50, 900, len(el)) * M,
                                  "revenue_vnd": 0}))
    sale = np.flatnonzero(rng.random(n_p) < 0.4)
    opts.append(pd.DataFrame({"property_id": sale, "use": "sale", "capacity": 0,
                              "renovation_cost_vnd": 0,
                              "revenue_vnd": rng.integers(100, 3000, len(sale)) * M}))
    needs = pd.DataFrame([(c, u, int(rng.integers(lo, hi)), float(rng.choice([1, 2])),
                           prov[c]) for c in range(n_c)
                          for u, lo, hi in (("health", 5, 40), ("education", 50, 400),
                                            ("office", 100, 900)) if rng.random() < 0.6],
                         columns=["commune_code", "use", "need", "priority_weight",
                                  "province_code"])
    i, j = np.nonzero(km <= 40)
    pairs = pd.DataFrame({"property_id": i, "commune_code": j, "distance_km": km[i, j]})
    return {"properties": props, "needs": needs, "pairs": pairs,
            "options": pd.concat(opts, ignore_index=True),
            "radius_km": {"health": 20, "education": 10, "office": 15},
            "unmet_penalty_vnd": {"health": 400 * M, "education": 12 * M, "office": 3 * M}}


def test_same_seed_same_plan() -> None:
    inst = medium_instance(1)
    a = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None, seed=5)
    b = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None, seed=5)
    pd.testing.assert_frame_equal(a.assignment, b.assignment)
    pd.testing.assert_frame_equal(a.service, b.service)
    assert a.info.objective_value == b.info.objective_value


def test_sparse_pairs_equal_dense_pairs_filtered_by_radius() -> None:
    # Dense pairs (every property with every commune) filtered by the model's radius give
    # the same optimum as pairs filtered beforehand and a radius that covers everything.
    inst = medium_instance(2, n_p=40, n_c=15)
    radius = inst["radius_km"]
    dense = DispositionModel.from_frames(**inst).run(mip_gap=0.0, time_limit_s=None)
    # Pre-filter per use: keep a pair if it is within the largest radius of a use it can serve.
    pairs = inst["pairs"]
    kept = pairs[pairs["distance_km"] <= max(radius.values())]
    sparse_inst = {**inst, "pairs": kept}
    sparse = DispositionModel.from_frames(**sparse_inst).run(mip_gap=0.0, time_limit_s=None)
    assert len(kept) < len(pairs)
    assert dense.info.objective_value == sparse.info.objective_value
    wide = {**inst, "radius_km": 1e6}
    covering = DispositionModel.from_frames(**wide).run(mip_gap=0.0, time_limit_s=None)
    assert covering.info.objective_value <= dense.info.objective_value


def test_gap_reported_and_check_passes_under_time_limit() -> None:
    m = DispositionModel.from_frames(**medium_instance(3, n_p=300, n_c=80)).run(
        time_limit_s=1.5, mip_gap=0.0)
    i = m.info
    assert i.best_bound <= i.objective_value
    assert i.gap == pytest.approx(abs(i.objective_value - i.best_bound) / abs(i.objective_value))
    assert (i.status is SolveStatus.OPTIMAL) == (i.gap <= 1e-6)
    assert i.stats["lp_bound_vnd"] <= i.best_bound + 1


def test_tight_budgets_hold_with_parallel_search() -> None:
    # Budgets that bind hard, with the local search, neighbourhoods solved side by side and
    # branch-and-bound on blocks all active; run() checks every budget in whole VND (a national
    # run once overspent by 0.02 % when parallel neighbourhoods each took the whole slack).
    inst = medium_instance(4, n_p=200, n_c=60)
    free = DispositionModel.from_frames(**inst).run(time_limit_s=1.5, threads=2)
    spent = int(free.assignment["renovation_cost_vnd"].sum())
    assert spent > 0
    for kw in ({"budget_vnd": spent // 3}, {"province_budget_vnd": {"S0": spent // 5}}):
        m = DispositionModel.from_frames(**inst, **kw).run(time_limit_s=2.0, threads=2,
                                                           mip_gap=0.0)
        assert m.info.best_bound <= m.info.objective_value
        assert m.info.objective_value >= free.info.best_bound


def test_same_province_rule_drops_cross_pairs() -> None:
    inst = hand_instance()
    inst["properties"] = inst["properties"].assign(province_code=["A", "B"])
    inst["needs"] = inst["needs"].assign(province_code=["A", "A"])
    # P2 (province B) may not serve c2 (province A): the school need stays unmet (600 M).
    m = DispositionModel.from_frames(**inst).run(mip_gap=0.0)
    assert m.info.objective_value == 100 * M + 600 * M
    free = DispositionModel.from_frames(**inst, same_province=False).run(mip_gap=0.0)
    assert free.info.objective_value == 300 * M


@pytest.mark.parametrize(("penalty", "expected", "use"), [
    (10 * M, 100 * M + 200 * M + 30 * 10 * M, "education"),  # 500 M < 600 M unmet: serve
    (20 * M, 100 * M + 600 * M, "hold"),  # 200 M + 600 M across the border > 600 M unmet
])
def test_cross_province_penalty_per_unit(penalty: int, expected: int, use: str) -> None:
    inst = hand_instance()
    inst["properties"] = inst["properties"].assign(province_code=["A", "B"])
    inst["needs"] = inst["needs"].assign(province_code=["A", "A"])
    m = DispositionModel.from_frames(**inst, same_province=False,
                                     cross_province_penalty_vnd=penalty).run(mip_gap=0.0)
    m.check_solution()
    assert m.info.status is SolveStatus.OPTIMAL and m.info.objective_value == expected
    assert m.assignment.set_index("property_id")["use"]["P2"] == use
    if use == "education":
        assert m.service.set_index("property_id")["cost_vnd"]["P2"] == 30 * penalty
    with pytest.raises(ValueError, match="cross_province_penalty_vnd"):
        DispositionModel.from_frames(**inst, same_province=False,
                                     cross_province_penalty_vnd=-1)


def test_allowed_uses_and_fixed_use() -> None:
    inst = hand_instance()
    # Without health, P1 is sold (-500 M) and c1's beds stay unmet (800 M): 200 + 300 = 500 M.
    m = DispositionModel.from_frames(**inst, allowed_uses=["education", "sale"]).run(
        mip_gap=0.0)
    assert m.info.objective_value == 500 * M
    inst["properties"] = inst["properties"].assign(fixed_use=[None, "hold"])
    f = DispositionModel.from_frames(**inst).run(mip_gap=0.0)
    assert f.assignment.set_index("property_id")["use"]["P2"] == "hold"
    assert f.info.objective_value == 100 * M + 600 * M


@pytest.mark.parametrize("tamper", ["use", "quantity", "capacity", "unmet", "budget", "pair"])
def test_check_solution_catches_tampering(tamper: str) -> None:
    m = DispositionModel.from_frames(**hand_instance(), budget_vnd=400 * M).run(mip_gap=0.0)
    if tamper == "use":
        m.assignment.loc[0, "use"] = "sale"
    elif tamper == "quantity":
        m.service.loc[0, "quantity"] -= 1
    elif tamper == "capacity":
        m.service.loc[m.service["property_id"] == "P1", "quantity"] = 11
        m.unmet.loc[0, "served"] = 11
    elif tamper == "unmet":
        m.unmet.loc[1, "unmet"] = 5
    elif tamper == "budget":
        m.budget_vnd = 250 * M
        m.budget_rows[0] = ("national", None, 250 * M, m.budget_rows[0][3])
    else:
        m.service.loc[m.service["property_id"] == "P2", "commune_code"] = "c1"
    with pytest.raises(SolutionCheckError):
        m.check_solution()


def test_infeasible_inputs_are_reported_with_numbers() -> None:
    inst = hand_instance()
    inst["properties"] = inst["properties"].assign(fixed_use=["health", "education"])
    with pytest.raises(InfeasibleInputError, match=r"fixed uses need renovation of "
                                                   r"300,000,000 VND, above the national "
                                                   r"budget of 250,000,000"):
        DispositionModel.from_frames(**inst, budget_vnd=250 * M).build()
    with pytest.raises(InfeasibleInputError, match=r"province 'A': fixed uses need "
                                                   r"renovation of 300,000,000"):
        DispositionModel.from_frames(**inst, province_budget_vnd={"A": 10 * M}).build()
    inst["properties"] = inst["properties"].assign(fixed_use=["education", None])
    with pytest.raises(InfeasibleInputError, match=r"'P1' fixed to 'education'"):
        DispositionModel.from_frames(**inst).build()


def test_input_errors_are_clear() -> None:
    inst = hand_instance()
    bad = {**inst, "needs": inst["needs"].assign(need=[8, np.nan])}
    with pytest.raises(ValueError, match=r"needs.need has 1 missing value"):
        DispositionModel.from_frames(**bad)
    bad = {**inst, "pairs": inst["pairs"].assign(distance_km=[0, np.nan, 1])}
    with pytest.raises(ValueError, match=r"pairs.distance_km has 1 missing"):
        DispositionModel.from_frames(**bad)
    bad = {**inst, "needs": inst["needs"].assign(use=["health", "sale"])}
    with pytest.raises(ValueError, match="must be a service use"):
        DispositionModel.from_frames(**bad)
    bad = {**inst, "unmet_penalty_vnd": {"health": 1}}
    with pytest.raises(ValueError, match=r"no value for use\(s\) \['education'\]"):
        DispositionModel.from_frames(**bad)
    bad = {**inst, "options": inst["options"].assign(capacity=[10.5, 0, 50])}
    with pytest.raises(ValueError, match="whole numbers"):
        DispositionModel.from_frames(**bad)
    bad = {**inst, "options": pd.concat([inst["options"], inst["options"].iloc[:1]])}
    with pytest.raises(ValueError, match="duplicate"):
        DispositionModel.from_frames(**bad)
