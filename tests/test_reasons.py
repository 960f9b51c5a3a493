"""Every reason of a plan held against the plan's own tables: no reason may contradict them.

``check_reasons`` is also run on the national baseline (tests/test_pipeline.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_pipeline import province_scenario

from planner import prepare
from planner.demo import load_demo
from planner.pipeline import Plan, run_scenario
from planner.schema import SERVICE_USES


def _capacity(disp: pd.DataFrame, use: pd.Series, policy) -> np.ndarray:
    """What a property can serve of a use: one service point, else its floor area (on a
    plot, the floor the use builds)."""
    out = np.ones(len(disp))
    for u in set(use) - {"service_point"}:
        rows = (use == u).to_numpy()
        out[rows] = np.floor(prepare.usable_floor_m2(disp[rows], policy, u))
    return out


def _budget_left(plan: Plan, scope: pd.Series) -> pd.Series:
    disp, budget = plan["dispositions"], plan.scenario.budget
    caps, spent = {}, {}
    if budget.national_vnd is not None:
        caps["national"] = budget.national_vnd
        spent["national"] = disp["renovation_cost_vnd"].sum()
    for prov, group in disp.groupby("province_code"):
        cap = budget.per_province_vnd.get(prov, budget.default_province_vnd)
        if cap is not None:
            caps[f"province {prov}"] = cap
            spent[f"province {prov}"] = group["renovation_cost_vnd"].sum()
    return scope.map(lambda s: caps[s] - spent[s] if s in caps else np.nan)


def _floor_left(disp: pd.DataFrame, service: pd.DataFrame, policy) -> pd.Series:
    """Floor a building's public uses leave (a service point takes its rooms, other uses
    the m2 they serve); 0 for plots and for buildings without a public use."""
    sp_rooms = np.minimum(disp["floor_area_m2"], policy.service_point_floor_area_m2)
    s = service.merge(disp[["property_id"]].assign(rooms=np.floor(sp_rooms)), on="property_id")
    taken = np.where(s["use"] == "service_point", s["rooms"], s["quantity"])
    used = pd.Series(taken).groupby(s["property_id"].to_numpy()).sum()
    left = np.floor(disp["floor_area_m2"]) - used.reindex(disp["property_id"]).fillna(0).to_numpy()
    public = disp["use"].isin(SERVICE_USES) & (disp["kind"] == "building")
    return pd.Series(np.where(public, left, 0), index=disp["property_id"].to_numpy())


def check_reasons(plan: Plan) -> None:
    disp, needs, service = plan["dispositions"], plan["needs"], plan["service"]
    pol = plan.scenario.policy
    need = needs.set_index(["commune_code", "use"])
    by_use = service.groupby(["property_id", "use"])["quantity"].sum()
    served = by_use.reindex(pd.MultiIndex.from_frame(disp[["property_id", "use"]])).fillna(0)
    served.index = disp["property_id"].to_numpy()
    uses = {p: {u, *filter(None, str(x).split("+"))}
            for p, u, x in zip(disp["property_id"], disp["use"], disp["shared_uses"],
                               strict=True)}
    floor_left = _floor_left(disp, service, pol)
    rooms = np.floor(np.minimum(disp["floor_area_m2"], pol.service_point_floor_area_m2))
    sp_rooms = pd.Series(rooms.to_numpy(), index=disp["property_id"].to_numpy())

    def room(props: pd.Series, use: pd.Series) -> np.ndarray:
        """Whether each building could still take ``use`` beside its uses: fewer than the
        limit and the floor the use needs (a service point's rooms, else one m2) left."""
        need = np.where(use == "service_point", sp_rooms.reindex(props).to_numpy(), 1)
        few = np.array([len(uses[p]) < pol.max_uses_per_building for p in props], dtype=bool)
        return few & (floor_left.reindex(props).to_numpy() >= need)
    assert (disp["reason"] != "").all() and (disp["reason_code"] != "").all()
    code = disp["reason_code"]
    public = disp["use"].isin(SERVICE_USES)
    # A public use serves what the service table says.
    s = disp[code == "serves"]
    assert s["use"].isin(SERVICE_USES).all()
    assert np.array_equal(s["served_quantity"], served.reindex(s["property_id"]))
    assert (floor_left >= 0).all()
    assert (disp.loc[disp["shared_uses"] != "", "kind"] == "building").all()
    assert (code[public] == "serves").all()
    # Not eligible for any public use: the eligibility rules say so.
    props = load_demo().properties.set_index("property_id")
    ids = disp.loc[code.isin(["no_public_option", "no_need_in_reach"]), "property_id"]
    options = prepare.eligibility(props.loc[ids].reset_index(), pol)
    has_public = options[options["use"].isin(SERVICE_USES)]["property_id"].unique()
    none = disp.loc[code == "no_public_option", "property_id"]
    assert not none.isin(has_public).any()
    reach = disp.loc[code == "no_need_in_reach", "property_id"]
    assert reach.isin(has_public).all() and not reach.isin(service["property_id"]).any()
    # The best public alternative: its need as the needs table has it.
    alt = disp[code.isin(["needs_met", "budget", "value"])]
    assert not alt["use"].isin(SERVICE_USES).any()
    left = need["unmet"].reindex(pd.MultiIndex.from_frame(alt[["alt_commune_code", "alt_use"]]))
    assert np.array_equal(left.to_numpy(), alt["alt_unmet"].to_numpy())
    assert (alt.loc[alt["reason_code"] == "needs_met", "alt_unmet"] == 0).all()
    short = alt[alt["reason_code"] != "needs_met"]
    assert (short["alt_unmet"] > 0).all()
    b = short[short["reason_code"] == "budget"]
    assert np.allclose(b["budget_left_vnd"], _budget_left(plan, b["budget_scope"]))
    assert (b["alt_cost_one_unit_vnd"] > b["budget_left_vnd"]).all()
    if pol.disposal_order == "public_first":
        assert (short["reason_code"] == "budget").all()
    # Unmet needs: the deciding candidate as the dispositions and service tables have it.
    un = needs[needs["unmet"] > 0]
    assert (un["reason"] != "").all()
    assert (un.loc[un["reason_code"] == "no_candidate", "served"] == 0).all()
    cand = un[un["reason_code"] != "no_candidate"]
    by_id = disp.set_index("property_id")
    now = by_id.loc[cand["candidate_property_id"]]
    # The candidate's use: the need's own use where the candidate has it, else its first.
    has_use = [u in uses[p] for p, u in zip(cand["candidate_property_id"], cand["use"],
                                            strict=True)]
    assert np.array_equal(np.where(has_use, cand["use"], now["use"]),
                          cand["candidate_use"].to_numpy())
    taken = cand["reason_code"] == "capacity_taken"
    assert (cand.loc[taken, "candidate_use"] == cand.loc[taken, "use"]).all()
    t = now[taken.to_numpy()]
    t_use = cand.loc[taken, "use"].set_axis(t.index)
    t_served = by_use.reindex(pd.MultiIndex.from_arrays([t.index, t_use])).to_numpy()
    # Full: the use serves its capacity, or the uses sharing the building fill its floor.
    assert ((t_served == _capacity(t, t_use, pol))
            | (floor_left.reindex(t.index).to_numpy() == 0)).all()
    other = cand["reason_code"] == "other_use"
    assert cand.loc[other, "candidate_use"].isin(SERVICE_USES).all()
    assert (cand.loc[other, "candidate_use"] != cand.loc[other, "use"]).all()
    # A building that could still take the use beside its others is not "other use".
    assert not room(cand.loc[other, "candidate_property_id"], cand.loc[other, "use"]).any()
    for r in cand[taken | other].itertuples():
        rows = service[(service["property_id"] == r.candidate_property_id)
                       & (service["use"] == r.candidate_use)].sort_values(
            "quantity", ascending=False, kind="stable")
        listed = dict(s.split(":") for s in r.serves.split(", "))
        assert {k: int(v) for k, v in listed.items()} == dict(
            zip(rows["commune_code"].head(5), rows["quantity"].head(5), strict=True))
    bud = cand[cand["reason_code"] == "budget"]
    assert np.allclose(bud["budget_left_vnd"], _budget_left(plan, bud["budget_scope"]))
    assert (bud["cost_one_unit_vnd"] > bud["budget_left_vnd"]).all()
    grow = bud["candidate_use"] == bud["use"]  # an open candidate that cannot grow its area
    grown = by_id.loc[bud.loc[grow, "candidate_property_id"]]
    g_use = bud.loc[grow, "use"].set_axis(grown.index)
    assert (by_use.reindex(pd.MultiIndex.from_arrays([grown.index, g_use])).to_numpy()
            < _capacity(grown, g_use, pol)).all()
    # Otherwise a property to convert, or a shared building with room for one more use.
    beside = bud.loc[~grow, "candidate_use"].isin(SERVICE_USES)
    assert room(bud.loc[~grow, "candidate_property_id"][beside],
                bud.loc[~grow, "use"][beside]).all()


def budget_bound(code: str = "08", vnd: int = 60_000_000_000, order: str = "public_first"):
    s = province_scenario(code)
    return s.model_copy(update={
        "budget": s.budget.model_copy(update={"national_vnd": vnd}),
        "policy": s.policy.model_copy(update={"disposal_order": order})})


@pytest.mark.parametrize("order", ["public_first", "value"])
def test_reasons_agree_with_the_tables_under_a_binding_budget(order: str) -> None:
    plan = run_scenario(budget_bound(order=order))
    check_reasons(plan)
    codes = set(plan["dispositions"]["reason_code"]) | set(plan["needs"]["reason_code"])
    assert {"serves", "budget"} <= codes
