"""Sweep files: validation (every problem at once, named), expansion (grid, Latin hypercube,
draws), the draws' factors and what they change (no Ray here; tests/test_sweep_ray.py runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from planner.scenario import ScenarioError
from planner.sweep import Distribution, MonteCarlo, SweepSpec, apply_draw, draw_rng, load_sweep
from planner.sweep_summary import frontier

BASE = Path(__file__).resolve().parents[1] / "scenarios" / "national-baseline.yaml"
ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, spec: dict, name: str = "sweep.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"name": "t", "base": str(BASE), **spec}), encoding="utf-8")
    return p


def test_shipped_sweep_expands() -> None:
    spec, members = load_sweep(ROOT / "sweeps" / "cao-bang-budgets.yaml")
    assert len(members) == 4 * 2 * 3
    budgets = sorted({m.scenario.budget.national_vnd for m in members})
    assert budgets == [20_000_000_000, 80_000_000_000, 140_000_000_000, 200_000_000_000]
    assert all(m.scenario.data.provinces == ("04",) for m in members)
    assert all(m.scenario.applied_overrides == ("quick",) for m in members)
    assert all(m.scenario.solver.threads == 1 for m in members)
    assert [m.name for m in members[:2]] == ["m0001", "m0002"]
    assert {m.draw for m in members} == {0, 1, 2}


def test_every_problem_at_once_with_its_place(tmp_path: Path) -> None:
    p = write(tmp_path, {"axes": [{"key": "budget.national_vnd"},
                                  {"overrides": [[]], "key": "solver.seed"},
                                  {"key": "x", "values": [1]}],
                         "sampling": "latin_hypercube", "colour": "blue"})
    with pytest.raises(ScenarioError) as err:
        load_sweep(p)
    text = str(err.value)
    assert text.count(str(p)) >= 4
    for where in ("axes.0", "axes.1", "axes.2.key", "colour"):
        assert where in text, where


def test_members_validated_as_scenarios(tmp_path: Path) -> None:
    """A setting the scenario refuses names the member, its settings, the key and the rule;
    all of them, not the first."""
    p = write(tmp_path, {"axes": [{"key": "policy.service_radius_km.health",
                                   "values": [10, -1, 0]},
                                  {"key": "policy.colour", "values": [1]}]})
    with pytest.raises(ScenarioError) as err:
        load_sweep(p)
    lines = str(err.value).splitlines()
    assert any("member 2" in x and "health=-1" in x and "greater than 0" in x for x in lines)
    assert any("member 3" in x and "health=0" in x for x in lines)
    assert any("policy.colour" in x and "unknown key" in x for x in lines)


def test_range_and_grid(tmp_path: Path) -> None:
    p = write(tmp_path, {"axes": [
        {"key": "budget.national_vnd", "range": {"start": 10**12, "stop": 2 * 10**12,
                                                  "step": 5 * 10**11}},
        {"key": "policy.service_radius_km.health", "range": {"start": 5, "stop": 6.5,
                                                              "num": 4}},
        {"overrides": [None, "quick", ["quick", "one-use-per-building"]]}]})
    spec, members = load_sweep(p)
    assert len(members) == 3 * 4 * 3
    assert spec.axes[0].choices() == [10**12, 15 * 10**11, 2 * 10**12]
    assert spec.axes[1].choices() == [5.0, 5.5, 6.0, 6.5]
    whole = SweepSpec(name="t", base="x", axes=[{"key": "a.b", "range": {
        "start": 5, "stop": 25, "num": 4}}]).axes[0].choices()
    assert whole == [5, 12, 18, 25] and all(isinstance(v, int) for v in whole)
    last = members[-1].scenario
    assert last.applied_overrides == ("quick", "one-use-per-building")
    assert last.policy.max_uses_per_building == 1 and last.solver.time_limit_s == 10
    assert last.budget.national_vnd == 2 * 10**12
    assert members[0].params == {"budget.national_vnd": 10**12,
                                 "policy.service_radius_km.health": 5.0, "overrides": ()}


def test_a_key_set_by_the_sweep_and_an_override_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, {"axes": [{"key": "budget.national_vnd", "values": [1, 2]},
                                  {"overrides": [[], ["no-budget-cap"]]}]})
    with pytest.raises(ScenarioError) as err:
        load_sweep(p)
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and all("'no-budget-cap' and the sweep both set "
                                   "budget.national_vnd" in x for x in lines)
    assert "member 2" in lines[0] and "member 4" in lines[1]


def test_latin_hypercube_one_sample_per_stratum() -> None:
    spec = SweepSpec(name="t", base="x.yaml", sampling="latin_hypercube", samples=20, seed=3,
                     axes=[{"key": "a.b", "range": {"start": 0.0, "stop": 1.0, "num": 2}},
                           {"key": "c.d", "values": list(range(10))}])
    pts = spec.points()
    assert len(pts) == 20
    a = np.array([p["a.b"] for p in pts])
    assert sorted(np.floor(a * 20).astype(int)) == list(range(20))  # one per stratum
    c = [p["c.d"] for p in pts]
    assert sorted(c) == sorted([v for v in range(10) for _ in range(2)])
    assert spec.points() == pts  # seeded


def test_draws_common_across_points_and_streams_apart() -> None:
    mc = MonteCarlo(draws=3, seed=7, needs={"distribution": "lognormal", "sigma": 0.3})
    mc2 = MonteCarlo(draws=3, seed=7, needs={"distribution": "lognormal", "sigma": 0.3},
                     prices={"distribution": "uniform", "low": 0.5, "high": 1.5})
    assert mc.needs is not None and mc2.needs is not None
    f1 = mc.needs.factors(draw_rng(mc, 1, 0), 1000)
    assert np.array_equal(f1, mc2.needs.factors(draw_rng(mc2, 1, 0), 1000))
    assert not np.array_equal(f1, mc.needs.factors(draw_rng(mc, 2, 0), 1000))
    big = mc.needs.factors(draw_rng(mc, 0, 0), 200_000)
    assert big.mean() == pytest.approx(1.0, abs=0.005)  # lognormal with mean 1
    one = Distribution(distribution="uniform", low=0.9, high=1.1, per="member")
    assert len(set(one.factors(np.random.default_rng(0), 50))) == 1


@pytest.mark.parametrize("bad, words", [
    ({"distribution": "uniform", "low": 1.2, "high": 0.8}, "low must be below high"),
    ({"distribution": "uniform", "low": 0.8}, "uniform takes low, high"),
    ({"distribution": "triangular", "low": 0.8, "mode": 1.3, "high": 1.2}, "mode must lie"),
    ({"distribution": "normal", "sd": 0.1, "sigma": 0.2}, "normal takes sd"),
])
def test_bad_distributions(bad: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Distribution(**bad)


def test_cost_draws_scale_the_scenario_rates(tmp_path: Path) -> None:
    p = write(tmp_path, {"monte_carlo": {"draws": 2, "seed": 1, "costs": {
        "distribution": "uniform", "low": 0.5, "high": 1.5, "per": "member"}}})
    _spec, members = load_sweep(p)
    base = load_sweep(write(tmp_path, {}, "plain.yaml"))[1][0].scenario.policy
    for m in members:
        pol = m.scenario.policy
        f = pol.renovation_fixed_vnd["health"] / base.renovation_fixed_vnd["health"]
        assert 0.5 <= f <= 1.5
        rate = pol.renovation_vnd_per_m2["poor"]["health"]
        assert rate == pytest.approx(base.renovation_vnd_per_m2["poor"]["health"] * f,
                                     rel=1e-6)
        build = pol.land_uses["education"].construction_vnd_per_m2
        assert build == pytest.approx(base.land_uses["education"].construction_vnd_per_m2 * f,
                                      rel=1e-6)
    assert members[0].scenario.policy != members[1].scenario.policy
    with pytest.raises(ScenarioError, match="per: member"):
        load_sweep(write(tmp_path, {"monte_carlo": {"draws": 2, "costs": {
            "distribution": "uniform", "low": 0.5, "high": 1.5}}}, "rows.yaml"))


def test_apply_draw_changes_needs_and_prices_only() -> None:
    from planner.pipeline import load_inputs

    _spec, members = load_sweep(ROOT / "sweeps" / "cao-bang-budgets.yaml")
    inputs = load_inputs(members[0].scenario)
    mc = MonteCarlo(draws=1, needs={"distribution": "uniform", "low": 0.5, "high": 1.5},
                    prices={"distribution": "uniform", "low": 2.0, "high": 3.0})
    out = apply_draw(inputs, mc, 0)
    before, after = inputs.dataset["communes"], out.dataset["communes"]
    assert list(after.dtypes) == list(before.dtypes)
    ratio = (after["health_need_m2"] / before["health_need_m2"]).dropna()
    ratio = ratio[before["health_need_m2"].reindex(ratio.index) > 100]
    assert ratio.between(0.49, 1.51).all() and ratio.std() > 0.1
    # One factor per unit, for all of its needs.
    both = (before["health_need_m2"] > 100) & (before["education_need_m2"] > 100)
    r2 = after["education_need_m2"][both] / before["education_need_m2"][both]
    assert np.allclose(r2, (after["health_need_m2"] / before["health_need_m2"])[both],
                       rtol=1e-6)
    pv = out.dataset["properties"]["market_value_vnd"] / inputs.dataset["properties"][
        "market_value_vnd"]
    assert pv.dropna().between(1.99, 3.01).all()
    for t in ("vehicles", "equipment", "norms"):
        pd.testing.assert_frame_equal(out.dataset[t], inputs.dataset[t])
    assert dataclasses.replace(out, dataset=inputs.dataset) == inputs


def test_frontier_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 9))
        x = rng.integers(0, 4, n).astype(float)
        y = rng.integers(0, 4, n).astype(float)
        if rng.uniform() < 0.2:
            y[0] = np.nan
        want = [bool(np.isfinite(x[i]) and np.isfinite(y[i]) and not any(
            np.isfinite(y[j]) and x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i])
            for j in range(n))) for i in range(n)]
        assert frontier(x, y).tolist() == want
