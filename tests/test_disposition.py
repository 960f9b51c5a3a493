"""Disposition model: hand-checked optima, a brute-force oracle, budgets and the checker."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from optimization.disposition import SERVICE_USES, DispositionModel
from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus

M = 1_000_000  # one million VND


def hand_instance() -> dict:
    # P1 in commune c1 can be a clinic (10 beds, renovation 100 M) or be sold (500 M);
    # P2 in c2 can be a school (50 places, renovation 200 M). c1 needs 8 beds (weight 1,
    # 100 M VND per bed unmet); c2 needs 30 places (weight 2, 10 M per place unmet).
    props = pd.DataFrame({"property_id": ["P1", "P2"], "province": ["A", "A"],
                          "commune": ["c1", "c2"]})
    options = pd.DataFrame({"property_id": ["P1", "P1", "P2"],
                            "use": ["health", "sale", "education"],
                            "capacity": [10, 0, 50],
                            "renovation_cost_vnd": [100 * M, 0, 200 * M],
                            "revenue_vnd": [0, 500 * M, 0]})
    needs = pd.DataFrame({"commune": ["c1", "c2"], "use": ["health", "education"],
                          "need": [8, 30], "priority_weight": [1.0, 2.0],
                          "province": ["A", "A"]})
    pairs = pd.DataFrame({"property_id": ["P1", "P2", "P1"], "commune": ["c1", "c2", "c2"],
                          "distance_km": [0.0, 1.0, 5.0]})
    return {"properties": props, "needs": needs, "pairs": pairs, "options": options,
            "radius_km": 10.0,
            "unmet_penalty_vnd": {"health": 100 * M, "education": 10 * M}}


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
    props = pd.DataFrame({"property_id": [1, 2], "province": "A", "commune": ["c1", "c2"]})
    options = pd.DataFrame({"property_id": [1, 2], "use": "education", "capacity": 20,
                            "renovation_cost_vnd": 50 * M, "revenue_vnd": 0})
    needs = pd.DataFrame({"commune": ["c1"], "use": ["education"], "need": [10],
                          "province": ["A"]})
    pairs = pd.DataFrame({"property_id": [1, 2], "commune": ["c1", "c1"],
                          "distance_km": [2.0, 8.0]})
    m = DispositionModel.from_frames(props, needs, pairs, options=options, radius_km=10,
                                     unmet_penalty_vnd={"education": 100 * M},
                                     travel_cost_vnd_per_unit_km={"education": M}
                                     ).run(mip_gap=0.0)
    assert m.info.objective_value == 70 * M
    assert m.assignment.set_index("property_id")["use"].to_dict() == {1: "education", 2: "hold"}
    assert m.service["cost_vnd"].tolist() == [20 * M]


# ---------------------------------------------------------------------------- oracle
def random_instance(rng: np.random.Generator, n_p: int, n_c: int) -> dict:
    uses = list(rng.choice(SERVICE_USES, size=int(rng.integers(1, 3)), replace=False))
    prov = {f"c{j}": f"S{rng.integers(2)}" for j in range(n_c)}
    props, opts = [], []
    for i in range(n_p):
        c = f"c{rng.integers(n_c)}"
        props.append((i, prov[c], c))
        for u in rng.permutation(uses)[:int(rng.integers(0, 3))]:
            opts.append((i, u, int(rng.integers(1, 25)), int(rng.integers(0, 300)) * M, 0))
        if rng.random() < 0.4:
            opts.append((i, "sale", 0, 0, int(rng.integers(0, 400)) * M))
        if rng.random() < 0.2:
            opts.append((i, "transfer", 0, 0, 0))
    props = pd.DataFrame(props, columns=["property_id", "province", "commune"])
    options = pd.DataFrame(opts, columns=["property_id", "use", "capacity",
                                          "renovation_cost_vnd", "revenue_vnd"])
    needs = pd.DataFrame([(c, u, int(rng.integers(1, 30)), float(rng.choice([1, 2, 3])),
                           prov[c]) for c in prov for u in uses if rng.random() < 0.7],
                         columns=["commune", "use", "need", "priority_weight", "province"])
    pairs = pd.DataFrame([(i, c, float(rng.integers(0, 20))) for i in range(n_p) for c in prov
                          if rng.random() < 0.8],
                         columns=["property_id", "commune", "distance_km"])
    kw: dict = {
        "radius_km": {u: float(rng.integers(5, 30)) for u in uses},
        "unmet_penalty_vnd": {u: int(rng.integers(1, 40)) * M for u in uses},
        "travel_cost_vnd_per_unit_km": {u: float(rng.choice([0, 100_000, 333_333]))
                                        for u in uses},
        "same_province": bool(rng.random() < 0.5),
    }
    r = rng.random()
    if r < 0.25:
        kw["budget_vnd"] = int(rng.integers(0, 400)) * M
    elif r < 0.5:
        kw["province_budget_vnd"] = {"S0": int(rng.integers(0, 300)) * M}
    if rng.random() < 0.2 and len(options):
        row = options.iloc[int(rng.integers(len(options)))]
        props["fixed_use"] = np.array([row["use"] if p == row["property_id"] else None
                                       for p in props["property_id"]], dtype=object)
    if not kw["same_province"] and rng.random() < 0.5:
        kw["cross_province_penalty_vnd"] = int(rng.integers(1, 40)) * M // 4
    return {"properties": props, "needs": needs, "pairs": pairs, "options": options, **kw}


def brute_force(inst: dict) -> float:
    """Every use per property; the service part of each as an LP (scipy/HiGHS)."""
    props, options, needs, pairs = (inst[k] for k in ("properties", "options", "needs",
                                                      "pairs"))
    radius, pen = inst["radius_km"], inst["unmet_penalty_vnd"]
    travel = inst["travel_cost_vnd_per_unit_km"]
    fixed = props["fixed_use"] if "fixed_use" in props else pd.Series([None] * len(props))
    prov_of = dict(zip(props["property_id"], props["province"], strict=True))
    dist = {(p, c): km for p, c, km in pairs.itertuples(index=False)}
    choices = []
    for pid, f in zip(props["property_id"], fixed, strict=True):
        rows = [(u, cap, r, v) for p, u, cap, r, v in options.itertuples(index=False)
                if p == pid] + [("hold", 0, 0, 0)]
        choices.append([x for x in rows if pd.isna(f) or x[0] == f])
    best = np.inf
    for combo in itertools.product(*choices):
        spent = [r for _, _, r, _ in combo]
        if inst.get("budget_vnd") is not None and sum(spent) > inst["budget_vnd"]:
            continue
        pb = inst.get("province_budget_vnd", {})
        if any(sum(r for r, p in zip(spent, props["province"], strict=True) if p == k) > b
               for k, b in pb.items()):
            continue
        net = sum(r - v for _, _, r, v in combo)
        # Service LP: arcs (property, need) of the chosen use within reach.
        arcs = []
        for i, (u, cap, _, _) in enumerate(combo):
            pid = props["property_id"].iloc[i]
            for j, (c, nu, _, _, nprov) in enumerate(needs.itertuples(index=False)):
                km = dist.get((pid, c))
                if nu != u or km is None or km > radius[u] or cap <= 0:
                    continue
                across = prov_of[pid] != nprov
                if inst["same_province"] and across:
                    continue
                border = inst.get("cross_province_penalty_vnd", 0) if across else 0
                arcs.append((i, j, round(km * travel[u]) + border))
        n_a, n_n = len(arcs), len(needs)
        unit_pen = np.array([round(w * pen[u]) for _, u, _, w, _ in
                             needs.itertuples(index=False)], dtype=float)
        q = needs["need"].to_numpy(float)
        if n_a == 0:
            best = min(best, net + float(unit_pen @ q))
            continue
        c_vec = np.concatenate([[a[2] for a in arcs], unit_pen])
        a_ub = np.zeros((len(combo) + n_n, n_a + n_n))
        b_ub = np.concatenate([[x[1] for x in combo], -q])
        for k, (i, j, _) in enumerate(arcs):
            a_ub[i, k] = 1
            a_ub[len(combo) + j, k] = -1
        a_ub[len(combo) + np.arange(n_n), n_a + np.arange(n_n)] = -1
        res = linprog(c_vec, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        assert res.status == 0
        best = min(best, net + res.fun)
    return best


@pytest.mark.parametrize("seed", range(220))
def test_brute_force_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, n_p=int(rng.integers(1, 4)), n_c=int(rng.integers(1, 4)))
    expected = brute_force(inst)
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
    props = pd.DataFrame({"property_id": np.arange(n_p), "province": prov[home],
                          "commune": home})
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
                         columns=["commune", "use", "need", "priority_weight", "province"])
    i, j = np.nonzero(km <= 40)
    pairs = pd.DataFrame({"property_id": i, "commune": j, "distance_km": km[i, j]})
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
    inst["properties"] = inst["properties"].assign(province=["A", "B"])
    inst["needs"] = inst["needs"].assign(province=["A", "A"])
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
    inst["properties"] = inst["properties"].assign(province=["A", "B"])
    inst["needs"] = inst["needs"].assign(province=["A", "A"])
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
        m.service.loc[m.service["property_id"] == "P2", "commune"] = "c1"
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
