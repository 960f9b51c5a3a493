"""Seats model: a hand-solved instance, a brute-force oracle, the checker, input errors."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from optimization.result import SolutionCheckError, SolveStatus
from optimization.seats import SeatsModel


def hand_instance():
    # Unit A: main seat M (far from both areas), candidates B1 (serves a1, a2) and B2 (a2).
    # Upkeep B1 = 100, B2 = 30; penalty 1 per person; a1 has 80 people, a2 has 50.
    # Options: nothing -> 130; B1 -> 100; B2 -> 30 + 80 = 110; both -> 130. Optimum: keep B1.
    buildings = pd.DataFrame({"property_id": ["M", "B1", "B2"], "commune_code": "A",
                              "is_main_seat": [True, False, False],
                              "upkeep_cost_vnd": [500, 100, 30],
                              "floor_area_m2": [900.0, 600.0, 100.0]})
    areas = pd.DataFrame({"area_id": ["a1", "a2"], "commune_code": "A", "population": [80, 50]})
    pairs = pd.DataFrame({"area_id": ["a1", "a2", "a2", "a1"],
                          "property_id": ["B1", "B1", "B2", "M"],
                          "distance_km": [3.0, 4.0, 1.0, 40.0]})
    return buildings, areas, pairs


def test_hand_instance():
    b, a, p = hand_instance()
    m = SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=1).run()
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == 500 + 100  # main seat upkeep is counted
    assert dict(zip(m.kept["property_id"], m.kept["role"], strict=True)) == {
        "M": "main_seat", "B1": "annex"}
    assert m.surplus["property_id"].tolist() == ["B2"]
    assert m.coverage["served"].all()


def test_unlimited_penalty_zero_keeps_only_main_seat():
    b, a, p = hand_instance()
    m = SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=0).run()
    assert m.kept["property_id"].tolist() == ["M"]


def brute_force(b, a, p, radius, penalty):
    ok = p[p["distance_km"] <= radius]
    best = np.inf
    pinned = b["keep_required"] if "keep_required" in b else pd.Series(False, index=b.index)
    always = b["is_main_seat"] | pinned
    free = b.index[~always].tolist()
    for r in range(len(free) + 1):
        for combo in itertools.combinations(free, r):
            keep = set(b.loc[always, "property_id"]) | set(b.loc[list(combo), "property_id"])
            served = set(ok.loc[ok["property_id"].isin(keep), "area_id"])
            cost = b.loc[b["property_id"].isin(keep), "upkeep_cost_vnd"].sum() + penalty * a.loc[
                ~a["area_id"].isin(served), "population"].sum()
            best = min(best, cost)
    return best


def random_instance(rng):
    units = ["U1", "U2"][: rng.integers(1, 3)]
    rows, arows, prow = [], [], []
    for u in units:
        n_b = int(rng.integers(1, 5))
        for k in range(n_b):
            rows.append((f"{u}b{k}", u, k == 0, int(rng.integers(0, 200))))
        for i in range(int(rng.integers(1, 5))):
            arows.append((f"{u}a{i}", u, int(rng.integers(0, 150))))
            for k in range(n_b):
                if rng.random() < 0.6:
                    prow.append((f"{u}a{i}", f"{u}b{k}", float(rng.uniform(0, 20))))
    b = pd.DataFrame(rows, columns=["property_id", "commune_code", "is_main_seat",
                                    "upkeep_cost_vnd"])
    a = pd.DataFrame(arows, columns=["area_id", "commune_code", "population"])
    p = pd.DataFrame(prow, columns=["area_id", "property_id", "distance_km"])
    return b, a, p


@pytest.mark.parametrize("seed", range(200))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    b, a, p = random_instance(rng)
    radius, penalty = float(rng.uniform(2, 15)), float(rng.integers(0, 4))
    m = SeatsModel.from_frames(b, a, p, max_service_km=radius,
                               penalty_vnd_per_person=penalty).run()
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(brute_force(b, a, p, radius, penalty))


@pytest.mark.parametrize("seed", range(200))
def test_buildings_the_planner_keeps_match_brute_force(seed):
    rng = np.random.default_rng(7_000 + seed)
    b, a, p = random_instance(rng)
    b["keep_required"] = ~b["is_main_seat"] & (rng.random(len(b)) < 0.4)
    radius, penalty = float(rng.uniform(2, 15)), float(rng.integers(0, 4))
    m = SeatsModel.from_frames(b, a, p, max_service_km=radius,
                               penalty_vnd_per_person=penalty).run()
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(brute_force(b, a, p, radius, penalty))
    kept = m.kept.set_index("property_id")["role"]
    pinned = b.loc[b["keep_required"], "property_id"]
    assert pinned.isin(kept.index).all() and (kept.reindex(pinned) != "main_seat").all()
    assert (kept == "main_seat").sum() == b["is_main_seat"].sum()


def test_office_space_keeps_an_annex() -> None:
    # Unit A lacks 700 m2 of office in its main seat. Rent 1 per m2: B1 (600 m2, upkeep 100)
    # houses 600 of it (saves 600 > 100), B2 (100 m2, upkeep 30) the last 100 (saves 100 >
    # 30). With penalty 0 distance counts for nothing: both are kept for the offices alone.
    b, a, p = hand_instance()
    m = SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=0,
                               office_deficit_m2=pd.Series({"A": 700.0}),
                               office_rent_vnd_per_m2_year=1).run()
    assert set(m.kept["property_id"]) == {"M", "B1", "B2"}
    assert m.info.objective_value == 500 + 100 + 30
    o = m.office.set_index("commune_code").loc["A"]
    assert (o["kept_floor_area_m2"], o["office_shortfall_m2"]) == (700.0, 0.0)
    # At rent 0.2 per m2 B2 (saves 20 < 30) is not worth it; B1 (120 > 100) is.
    m = SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=0,
                               office_deficit_m2=pd.Series({"A": 700.0}),
                               office_rent_vnd_per_m2_year=0.2).run()
    assert set(m.kept["property_id"]) == {"M", "B1"}
    assert m.info.objective_value == pytest.approx(500 + 100 + 0.2 * 100)


def brute_force_office(b, a, p, radius, penalty, deficit, rent):
    ok = p[p["distance_km"] <= radius]
    free = b.index[~b["is_main_seat"]].tolist()
    best = np.inf
    for r in range(len(free) + 1):
        for combo in itertools.combinations(free, r):
            kept = b.loc[list(combo)]
            keep = set(b.loc[b["is_main_seat"], "property_id"]) | set(kept["property_id"])
            served = set(ok.loc[ok["property_id"].isin(keep), "area_id"])
            housed = np.floor(kept["floor_area_m2"]).groupby(kept["commune_code"]).sum()
            lacking = sum(max(0.0, np.ceil(d) - housed.get(u, 0.0)) for u, d in deficit.items())
            best = min(best, b.loc[b["property_id"].isin(keep), "upkeep_cost_vnd"].sum()
                       + penalty * a.loc[~a["area_id"].isin(served), "population"].sum()
                       + rent * lacking)
    return best


@pytest.mark.parametrize("seed", range(200))
def test_office_space_matches_brute_force(seed):
    rng = np.random.default_rng(1_000 + seed)
    b, a, p = random_instance(rng)
    b["floor_area_m2"] = rng.integers(0, 400, len(b)) + rng.choice([0.0, 0.5], len(b))
    units = b["commune_code"].unique()
    deficit = pd.Series(rng.integers(0, 600, len(units)) + rng.choice([0.0, 0.3], len(units)),
                        index=units)
    radius, penalty = float(rng.uniform(2, 15)), float(rng.integers(0, 4))
    rent = float(rng.choice([0.0, 0.1, 0.5, 2.0]))
    m = SeatsModel.from_frames(b, a, p, max_service_km=radius, penalty_vnd_per_person=penalty,
                               office_deficit_m2=deficit, office_rent_vnd_per_m2_year=rent).run()
    assert m.info.status is SolveStatus.OPTIMAL
    assert m.info.objective_value == pytest.approx(
        brute_force_office(b, a, p, radius, penalty, deficit, rent))


def test_same_seed_same_solution():
    rng = np.random.default_rng(11)
    b, a, p = random_instance(rng)
    runs = [SeatsModel.from_frames(b, a, p, max_service_km=12, penalty_vnd_per_person=2).run(
        seed=3).kept for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_check_solution_catches_tampering():
    b, a, p = hand_instance()
    m = SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=1).run()
    m.selected_sites = np.array([1])  # drops the main seat
    with pytest.raises(SolutionCheckError, match="required sites not selected"):
        m.check_solution()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b, a, p: (b.assign(is_main_seat=False), a, p), "no main seat"),
    (lambda b, a, p: (b.assign(is_main_seat=True), a, p), "has 3 main seats"),
    (lambda b, a, p: (b, a.assign(commune_code="Z"), p), "no main seat"),
    (lambda b, a, p: (b.assign(commune_code=["A", "B", "A"]),
                      a.assign(commune_code=["A", "A"]), p), "another unit"),
    (lambda b, a, p: (b, a.assign(population=[-1, 5]), p), "must be finite and >= 0"),
    (lambda b, a, p: (b, a, p.assign(area_id="zz")), "unknown area_id"),
])
def test_bad_inputs(mutate, message):
    b, a, p = mutate(*hand_instance())
    with pytest.raises(ValueError, match=message):
        SeatsModel.from_frames(b, a, p, max_service_km=10, penalty_vnd_per_person=1)
