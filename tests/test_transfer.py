"""Transfer model: hand-checked optima, a brute-force oracle, an LP oracle and the checker."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from optimization.result import InfeasibleInputError, SolutionCheckError, SolveStatus
from optimization.transfer import TransferModel


def hand_instance() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    supplies = pd.DataFrame({"holder_code": ["A", "B"], "category": ["car", "car"],
                             "surplus": [2, 1], "province_code": ["P1", "P2"]})
    demands = pd.DataFrame({"commune_code": ["x", "y", "z"], "category": "car",
                            "shortfall": [1, 1, 2], "province_code": ["P1", "P1", "P2"],
                            "priority_weight": [1.0, 2.0, 1.0]})
    pairs = pd.DataFrame({"holder_code": ["A", "A", "B", "B"], "commune_code": ["x", "y", "y", "z"],
                          "distance_km": [10.0, 20.0, 5.5, 1.0]})
    return supplies, demands, pairs


def test_hand_instance_optimum() -> None:
    # Unit costs at 1,000 VND/km + 500 handling: A-x 10,500; A-y 20,500; B-y 6,000; B-z 1,500.
    # Surplus 3 < shortfall 4, so at least one item stays unmet (100,000 x weight: x 100k,
    # y 200k, z 100k). B can serve y or z:
    #   B->y, A->x, A keeps 1, z short 2: 6,000 + 10,500 + 200,000 = 216,500;
    #   B->z, A->x, A->y, z short 1:      1,500 + 10,500 + 20,500 + 100,000 = 132,500 (best);
    #   leaving x or y unmet instead costs at least 100,000 more. Optimum 132,500 VND.
    m = TransferModel.from_frames(*hand_instance(), cost_per_km_vnd=1000, handling_vnd=500,
                                  unmet_penalty_vnd=100_000).run()
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == 132_500
    assert m.info.best_bound == m.info.objective_value and m.info.gap == 0.0
    got = {(h, c): q for h, c, q in m.flows[["holder_code", "commune_code", "quantity"]].itertuples(
        index=False)}
    assert got == {("A", "x"): 1, ("A", "y"): 1, ("B", "z"): 1}
    assert m.unmet.set_index("commune_code")["unmet"].to_dict() == {"x": 0, "y": 0, "z": 1}
    assert m.remaining["remaining"].sum() == 0


def test_cross_province_penalty_and_rule() -> None:
    # One car in P1; x (P1) is 30 km away, y (P2) 10 km; each needs 1, unmet costs 100,000.
    # Free choice: A->y = 10,000 + x unmet 100,000 = 110,000 (vs 130,000 for A->x).
    # Cross penalty 25,000: A->y costs 135,000 > 130,000, so A->x. Same-province rule: A->x.
    sup = pd.DataFrame({"holder_code": ["A"], "category": ["car"], "surplus": [1],
                        "province_code": ["P1"]})
    dem = pd.DataFrame({"commune_code": ["x", "y"], "category": "car", "shortfall": [1, 1],
                        "province_code": ["P1", "P2"]})
    pairs = pd.DataFrame({"holder_code": ["A", "A"], "commune_code": ["x", "y"],
                          "distance_km": [30.0, 10.0]})
    kw = {"cost_per_km_vnd": 1000, "unmet_penalty_vnd": 100_000}
    free = TransferModel.from_frames(sup, dem, pairs, **kw).run()
    assert free.info.objective_value == 110_000
    assert free.flows["commune_code"].tolist() == ["y"]
    pen = TransferModel.from_frames(sup, dem, pairs, cross_province_penalty_vnd=25_000,
                                    **kw).run()
    assert pen.info.objective_value == 130_000
    assert pen.flows["commune_code"].tolist() == ["x"]
    rule = TransferModel.from_frames(sup, dem, pairs, same_province=True, **kw).run()
    assert rule.info.objective_value == 130_000
    assert rule.flows["commune_code"].tolist() == ["x"]


def test_categories_are_independent_and_rounded_to_vnd() -> None:
    # Two categories share the pair; each pays its own rate: 2.5 km x 333 = 832.5 -> 832
    # (round half to even) and 2.5 km x 1,001 + 7 = 2,509.5 -> 2,510 per item.
    sup = pd.DataFrame({"holder_code": ["A", "A"], "category": ["pc", "car"], "surplus": [3, 1]})
    dem = pd.DataFrame({"commune_code": ["x", "x"], "category": ["pc", "car"], "shortfall": [2, 1]})
    pairs = pd.DataFrame({"holder_code": ["A"], "commune_code": ["x"], "distance_km": [2.5]})
    m = TransferModel.from_frames(sup, dem, pairs, cost_per_km_vnd={"pc": 333, "car": 1001},
                                  handling_vnd={"pc": 0, "car": 7},
                                  unmet_penalty_vnd=10**6).run()
    assert m.info.objective_value == 2 * 832 + 2510
    assert m.remaining.set_index("category")["remaining"].to_dict() == {"pc": 1, "car": 0}


def random_instance(rng: np.random.Generator, n_h: int, n_c: int, n_k: int, max_q: int,
                    p_pair: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    cats = ["car", "pc", "printer"][:n_k]
    sup = pd.DataFrame([(f"h{i}", k, int(rng.integers(0, max_q + 1)), f"P{rng.integers(2)}")
                        for i in range(n_h) for k in cats if rng.random() < 0.8],
                       columns=["holder_code", "category", "surplus", "province_code"])
    dem = pd.DataFrame([(f"c{j}", k, int(rng.integers(0, max_q + 1)), f"P{rng.integers(2)}",
                         float(rng.choice([0.5, 1.0, 2.0, 3.0])))
                        for j in range(n_c) for k in cats if rng.random() < 0.8],
                       columns=["commune_code", "category", "shortfall", "province_code",
                                "priority_weight"])
    # A holder or commune has one province whatever the category.
    sup["province_code"] = sup.groupby("holder_code")["province_code"].transform("first")
    dem["province_code"] = dem.groupby("commune_code")["province_code"].transform("first")
    pairs = pd.DataFrame([(f"h{i}", f"c{j}", float(rng.integers(0, 60)) + 0.25,
                           bool(rng.random() < 0.25))
                          for i in range(n_h) for j in range(n_c) if rng.random() < p_pair],
                         columns=["holder_code", "commune_code", "distance_km", "sea_leg"])
    params = {
        "sea_leg_vnd": {k: int(rng.integers(0, 200_000)) for k in cats},
        "cost_per_km_vnd": {k: int(rng.integers(500, 5000)) for k in cats},
        "handling_vnd": {k: int(rng.integers(0, 20_000)) for k in cats},
        "unmet_penalty_vnd": {k: int(rng.integers(10_000, 300_000)) for k in cats},
        "same_province": bool(rng.random() < 0.3),
        "cross_province_penalty_vnd": float(rng.choice([0, 15_000.4])),
    }
    return sup, dem, pairs, params


def brute_force(sup: pd.DataFrame, dem: pd.DataFrame, pairs: pd.DataFrame,
                params: dict, fixed: dict | None = None) -> int:
    """Enumerate every integer flow on every allowed arc, category by category; ``fixed``
    (holder_code, commune_code, category) -> least items on that arc."""
    fixed = fixed or {}
    total = 0
    dist = {(h, c): km for h, c, km, _ in pairs.itertuples(index=False)}
    sea = {(h, c): by_sea for h, c, _, by_sea in pairs.itertuples(index=False)}
    for k in sorted(set(dem["category"])):
        s = {h: q for h, kk, q, _ in sup.itertuples(index=False) if kk == k and q > 0}
        d = {c: (q, w) for c, kk, q, _, w in dem.itertuples(index=False) if kk == k and q > 0}
        s_prov = dict(zip(sup["holder_code"], sup["province_code"], strict=True))
        d_prov = dict(zip(dem["commune_code"], dem["province_code"], strict=True))
        arcs, unit = [], []
        for h in s:
            for c in d:
                if (h, c) not in dist:
                    continue
                cross = s_prov[h] != d_prov[c]
                if cross and params["same_province"]:
                    continue
                arcs.append((h, c))
                leg = (params["sea_leg_vnd"][k] if sea[h, c]
                       else dist[h, c] * params["cost_per_km_vnd"][k])
                unit.append(round(leg + params["handling_vnd"][k]
                                  + (params["cross_province_penalty_vnd"] if cross else 0)))
        pen = {c: round(w * params["unmet_penalty_vnd"][k]) for c, (_, w) in d.items()}
        ranges = [range(fixed.get((h, c, k), 0), min(s[h], d[c][0]) + 1) for h, c in arcs]
        combos = list(itertools.product(*ranges))
        grid = np.array(combos, dtype=np.int64).reshape(len(combos), len(arcs))
        ok = np.ones(len(grid), dtype=bool)
        cost = grid @ np.array(unit, dtype=np.int64) if arcs else np.zeros(1, dtype=np.int64)
        for h in s:
            cols = [i for i, a in enumerate(arcs) if a[0] == h]
            ok &= grid[:, cols].sum(axis=1) <= s[h]
        for c, (q, _) in d.items():
            cols = [i for i, a in enumerate(arcs) if a[1] == c]
            got = grid[:, cols].sum(axis=1)
            ok &= got <= q
            cost = cost + (q - got) * pen[c]
        total += int(cost[ok].min())
    return total


@pytest.mark.parametrize("seed", range(250))
def test_brute_force_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sup, dem, pairs, params = random_instance(rng, n_h=int(rng.integers(1, 3)),
                                              n_c=int(rng.integers(1, 4)),
                                              n_k=int(rng.integers(1, 3)), max_q=3, p_pair=0.7)
    m = TransferModel.from_frames(sup, dem, pairs, **params).run()
    assert m.info.objective_value == brute_force(sup, dem, pairs, params)


def random_fixed(rng: np.random.Generator, sup: pd.DataFrame, dem: pd.DataFrame,
                 pairs: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Items a planner sends on allowed arcs, within every surplus and shortfall."""
    left_s = {(h, k): q for h, k, q, _ in sup.itertuples(index=False)}
    left_d = {(c, k): q for c, k, q, _, _ in dem.itertuples(index=False)}
    sp = dict(zip(sup["holder_code"], sup["province_code"], strict=True))
    dp = dict(zip(dem["commune_code"], dem["province_code"], strict=True))
    rows = []
    for h, c, _, _ in pairs.itertuples(index=False):
        for k in sorted({k for hh, k in left_s if hh == h}):
            room = min(left_s[h, k], left_d.get((c, k), 0))
            if room < 1 or rng.random() > 0.35 or (params["same_province"] and sp[h] != dp[c]):
                continue
            q = int(rng.integers(1, room + 1))
            left_s[h, k] -= q
            left_d[c, k] -= q
            rows.append((h, c, k, q))
    return pd.DataFrame(rows, columns=["holder_code", "commune_code", "category", "quantity"])


@pytest.mark.parametrize("seed", range(200))
def test_fixed_flows_brute_force_oracle(seed: int) -> None:
    rng = np.random.default_rng(90_000 + seed)
    sup, dem, pairs, params = random_instance(rng, n_h=int(rng.integers(1, 3)),
                                              n_c=int(rng.integers(1, 4)),
                                              n_k=int(rng.integers(1, 3)), max_q=3, p_pair=0.7)
    fixed = random_fixed(rng, sup, dem, pairs, params)
    m = TransferModel.from_frames(sup, dem, pairs, fixed_flows=fixed, **params).run()
    want = {(h, c, k): q for h, c, k, q in fixed.itertuples(index=False)}
    assert m.info.objective_value == brute_force(sup, dem, pairs, params, want)
    moved = m.flows.set_index(["holder_code", "commune_code", "category"])["quantity"]
    assert all(moved.get(key, 0) >= q for key, q in want.items())


def test_fixed_flow_checks() -> None:
    sup, dem, pairs = hand_instance()
    m = TransferModel.from_frames(sup, dem, pairs, cost_per_km_vnd=1000,
                                  unmet_penalty_vnd=10**9)
    m.run()
    row = m.flows.iloc[0]
    with pytest.raises(InfeasibleInputError, match="beyond its surplus"):
        TransferModel.from_frames(sup, dem, pairs, cost_per_km_vnd=1000,
                                  unmet_penalty_vnd=10**9, fixed_flows=pd.DataFrame({
                                      "holder_code": [row["holder_code"]],
                                      "commune_code": [row["commune_code"]],
                                      "category": [row["category"]],
                                      "quantity": [10**4]})).run()
    m.fixed_flows = pd.DataFrame({"holder_code": [row["holder_code"]],
                                  "commune_code": [row["commune_code"]],
                                  "category": [row["category"]],
                                  "quantity": [int(row["quantity"]) + 1]})
    with pytest.raises(SolutionCheckError, match="moves less than"):
        m.check_solution()


def lp_optimum(m: TransferModel) -> float:
    """The same problem as an LP (network matrix, so integral) solved by scipy/HiGHS."""
    arcs = m.allowed_arcs()
    n_a, n_s, n_d = len(arcs), len(m.supplies), len(m.demands)
    pen = m.unit_penalty_vnd().astype(float)
    c = np.concatenate([arcs["unit_cost_vnd"].to_numpy(float), pen])
    a_ub = np.zeros((n_s, n_a + n_d))
    a_ub[arcs["s"].to_numpy(), np.arange(n_a)] = 1
    a_eq = np.zeros((n_d, n_a + n_d))
    a_eq[arcs["d"].to_numpy(), np.arange(n_a)] = 1
    a_eq[np.arange(n_d), n_a + np.arange(n_d)] = 1
    res = linprog(c, A_ub=a_ub, b_ub=m.supplies["surplus"].to_numpy(float), A_eq=a_eq,
                  b_eq=m.demands["shortfall"].to_numpy(float), bounds=(0, None),
                  method="highs")
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("seed", range(5))
def test_lp_oracle_medium(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    sup, dem, pairs, params = random_instance(rng, n_h=25, n_c=40, n_k=3, max_q=6, p_pair=0.2)
    m = TransferModel.from_frames(sup, dem, pairs, **params).run()
    assert m.info.objective_value == pytest.approx(lp_optimum(m), abs=1e-6)


def test_dense_equals_sparse_covering_radius() -> None:
    rng = np.random.default_rng(7)
    n_h, n_c = 12, 20
    sup = pd.DataFrame({"holder_code": np.arange(n_h), "category": "car",
                        "surplus": rng.integers(0, 4, n_h),
                        "lon": rng.uniform(104, 108, n_h), "lat": rng.uniform(10, 22, n_h)})
    dem = pd.DataFrame({"commune_code": np.arange(100, 100 + n_c), "category": "car",
                        "shortfall": rng.integers(0, 3, n_c),
                        "lon": rng.uniform(104, 108, n_c), "lat": rng.uniform(10, 22, n_c)})
    kw = {"cost_per_km_vnd": 2000, "handling_vnd": 50_000, "unmet_penalty_vnd": 3_000_000}
    dense = TransferModel.from_frames(sup, dem, None, **kw).run()
    # Haversine for every pair, as a radius query covering the whole box would give.
    h, c = np.meshgrid(np.arange(n_h), np.arange(n_c), indexing="ij")
    lon1, lat1 = np.radians(sup["lon"].to_numpy()[h]), np.radians(sup["lat"].to_numpy()[h])
    lon2, lat2 = np.radians(dem["lon"].to_numpy()[c]), np.radians(dem["lat"].to_numpy()[c])
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(
        (lon2 - lon1) / 2) ** 2
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(a))
    pairs = pd.DataFrame({"holder_code": h.ravel(), "commune_code": 100 + c.ravel(),
                          "distance_km": km.ravel()})
    sparse = TransferModel.from_frames(sup.drop(columns=["lon", "lat"]),
                                       dem.drop(columns=["lon", "lat"]), pairs, **kw).run()
    assert dense.info.objective_value == sparse.info.objective_value
    assert dense.info.objective_value < dem["shortfall"].sum() * 3_000_000  # some flow moved


def test_same_seed_same_solution() -> None:
    rng = np.random.default_rng(3)
    sup, dem, pairs, params = random_instance(rng, 30, 50, 3, 5, 0.3)
    a = TransferModel.from_frames(sup, dem, pairs, **params).run(seed=1)
    b = TransferModel.from_frames(sup, dem, pairs, **params).run(seed=1)
    pd.testing.assert_frame_equal(a.flows, b.flows)
    pd.testing.assert_frame_equal(a.unmet, b.unmet)


@pytest.mark.parametrize("tamper", ["quantity", "cost", "unmet", "pair", "received"])
def test_check_solution_catches_tampering(tamper: str) -> None:
    m = TransferModel.from_frames(*hand_instance(), cost_per_km_vnd=1000, handling_vnd=500,
                                  unmet_penalty_vnd=100_000).run()
    if tamper == "quantity":
        m.flows.loc[0, "quantity"] += 1
    elif tamper == "cost":
        m.flows.loc[0, "cost_vnd"] -= 1
    elif tamper == "unmet":
        m.unmet.loc[2, "unmet"] = 0
    elif tamper == "pair":
        m.flows.loc[0, "commune_code"] = "z"
    else:
        m.unmet.loc[0, "received"] = 0
    with pytest.raises(SolutionCheckError):
        m.check_solution()


def test_infeasible_when_unmet_not_allowed() -> None:
    sup, dem, pairs = hand_instance()
    with pytest.raises(InfeasibleInputError, match=r"shortfall 4 cannot all be met; surplus "
                                                   r"is 3 and at most 3"):
        TransferModel.from_frames(sup, dem, pairs, cost_per_km_vnd=1000,
                                  unmet_penalty_vnd=0, allow_unmet=False).build()
    # Enough cars in total, but z (P2) can only be reached from B, which has one.
    sup2 = sup.assign(surplus=[5, 1])
    with pytest.raises(InfeasibleInputError, match="at most 3 can reach"):
        TransferModel.from_frames(sup2, dem, pairs, cost_per_km_vnd=1000,
                                  unmet_penalty_vnd=0, allow_unmet=False).build()
    # Without the A-x pair, x has no holder at all.
    with pytest.raises(InfeasibleInputError, match=r"1 shortfall\(s\) of 1 item\(s\) have no "
                                                   r"holder within reach.*'x'"):
        TransferModel.from_frames(sup2, dem, pairs.iloc[1:], cost_per_km_vnd=1000,
                                  unmet_penalty_vnd=0, allow_unmet=False).build()
    ok = TransferModel.from_frames(sup.assign(surplus=[2, 2]), dem, pairs,
                                   cost_per_km_vnd=1000, unmet_penalty_vnd=0,
                                   allow_unmet=False).run()
    assert ok.unmet["unmet"].sum() == 0


def test_input_errors_are_clear() -> None:
    sup, dem, pairs = hand_instance()
    kw = {"cost_per_km_vnd": 1000, "unmet_penalty_vnd": 1}
    with pytest.raises(ValueError, match=r"supplies.surplus has 1 missing value"):
        TransferModel.from_frames(sup.assign(surplus=[2, np.nan]), dem, pairs, **kw)
    with pytest.raises(ValueError, match=r"pairs.distance_km has 1 missing"):
        TransferModel.from_frames(sup, dem, pairs.assign(distance_km=[1, np.nan, 2, 3]), **kw)
    with pytest.raises(ValueError, match=r"demands lacks column\(s\) \['shortfall'\]"):
        TransferModel.from_frames(sup, dem.drop(columns="shortfall"), pairs, **kw)
    with pytest.raises(ValueError, match="duplicate"):
        TransferModel.from_frames(pd.concat([sup, sup]), dem, pairs, **kw)
    with pytest.raises(ValueError, match="whole numbers"):
        TransferModel.from_frames(sup.assign(surplus=[1.5, 1]), dem, pairs, **kw)
    with pytest.raises(ValueError, match=r"no value for category\(ies\) \['car'\]"):
        TransferModel.from_frames(sup, dem, pairs, cost_per_km_vnd={"pc": 1},
                                  unmet_penalty_vnd=1)
    with pytest.raises(ValueError, match="lon"):
        TransferModel.from_frames(sup, dem, None, **kw)
    # Keys as index levels are accepted.
    m = TransferModel.from_frames(sup.set_index(["holder_code", "category"]), dem, pairs,
                                  cost_per_km_vnd=1000, handling_vnd=500,
                                  unmet_penalty_vnd=100_000).run()
    assert m.info.objective_value == 132_500


def test_nothing_to_move() -> None:
    sup, dem, pairs = hand_instance()
    m = TransferModel.from_frames(sup.assign(surplus=0), dem, pairs, cost_per_km_vnd=1,
                                  unmet_penalty_vnd=10).run()
    assert m.flows.empty
    assert m.info.objective_value == 10 * (1 + 2 * 1 + 2)
