"""The planner's decisions applied to each stage's inputs, and checked against them.

``decisions`` validates the table against the dataset; here each stage turns it into what its
model honours (fixed and forbidden uses, kept and released buildings, fixed and forbidden
transfers, units served first), and what only the stage can know is checked: a required use
the property is not eligible for, a target unit out of reach, required renovations above a
budget, a lot sent beyond reach. The problems name the decision rows, all at once.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import geodata
from planner import prepare
from planner.decisions import DecisionError, Decisions
from planner.i18n import _, number, vnd
from planner.i18n import km as geo_km
from planner.labels import budget_scope_label, column_label, label, value_label
from planner.readers import Problem
from planner.scenario import Policy, Scenario
from planner.schema import SERVICE_USES
from planner.travel import OD_TABLE, TravelTable


def _fail(decisions: Decisions, problems: list[tuple[int, str | None, str]]) -> None:
    if problems:
        raise DecisionError([Problem(decisions.file or "<decisions>", r, c, rule)
                             for r, c, rule in sorted(problems, key=lambda p: p[0])])


def pin_seats(cand: pd.DataFrame, decisions: Decisions, planned: set[str]) -> pd.DataFrame:
    """Seat candidates with ``keep_required`` (kept by the planner) and without the buildings
    the planner releases (forbidden keep, or given a use). ``planned``: the properties of
    the units this run plans (decisions on others wait for a run that plans them)."""
    kept = decisions.kept()
    usable = set(cand["property_id"])
    _fail(decisions, [(int(r.row), "property_id", _(
                        "{id!r} cannot be kept by its unit: only a usable building (floor "
                        "area > 0, not unusable) is", id=r.property_id))
                      for r in kept.itertuples(index=False)
                      if r.property_id in planned and r.property_id not in usable])
    out = cand[~cand["property_id"].isin(decisions.released()) | cand["is_main_seat"]].copy()
    out["keep_required"] = out["property_id"].isin(set(kept["property_id"]))
    return out.reset_index(drop=True)


def pin_disposition(options: pd.DataFrame, surplus: pd.DataFrame, units: pd.DataFrame,
                    scenario: Scenario, decisions: Decisions, travel: TravelTable
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The eligible options without the forbidden ones, and the required uses
    (property_id, use, commune_code, row, note) of surplus properties, each checked:
    eligible, its target within reach, the budgets able to pay for them together."""
    pol = scenario.policy
    ids = set(surplus["property_id"])
    rows = decisions.properties[decisions.properties["property_id"].isin(ids)]
    forbid = rows[(rows["rule"] == "forbid") & (rows["use"].isin(options["use"].unique()))]
    key = pd.MultiIndex.from_frame(options[["property_id", "use"]])
    out = options[~key.isin(pd.MultiIndex.from_frame(forbid[["property_id", "use"]]))]
    req = rows[(rows["rule"] == "require") & (rows["use"] != "keep")]
    problems: list[tuple[int, str | None, str]] = []
    have = pd.MultiIndex.from_frame(out[["property_id", "use"]])
    ok = pd.MultiIndex.from_frame(req[["property_id", "use"]]).isin(have)
    info = surplus.set_index("property_id")
    for r in req[~ok].itertuples(index=False):
        problems.append((int(r.row), "use", _(
            "{id!r} is not eligible for {use}: {why}", id=r.property_id, use=label("use", r.use),
            why=_why_not(info.loc[[r.property_id]], pol, r.use))))
    targeted = req[ok & req["commune_code"].notna().to_numpy()]
    problems += _unreachable(targeted, info, units, pol, travel)
    problems += _over_budget(req[ok], out, info, units, scenario)
    _fail(decisions, problems)
    return out.reset_index(drop=True), req[ok].reset_index(drop=True)


def _why_not(prop: pd.DataFrame, policy: Policy, use: str) -> str:
    rules = (prepare.sale_rules(prop, policy) if use == "sale"
             else prepare.service_rules(prop, policy, use) if use in SERVICE_USES else [])
    failed = prepare.first_failed(rules)[0] if rules else ""
    if failed in ("", None):
        return _("the scenario does not allow it") if use not in policy.uses_allowed else \
            _("it has no capacity for it")
    if failed == "use_allowed":
        return _("the scenario does not allow this use (policy.uses_allowed)")
    value = prop[failed].iloc[0] if failed in prop else prop["kind"].iloc[0]
    column = failed if failed in prop else "kind"
    return _("its {column} is {value!r}", column=column_label(column).lower(),
             value=value_label(column, value))


def _unreachable(targeted: pd.DataFrame, info: pd.DataFrame, units: pd.DataFrame,
                 policy: Policy, travel: TravelTable) -> list[tuple[int, str | None, str]]:
    """Targets the property cannot serve, measured as the disposition measures its service
    pairs: the OD table's road distance and minutes where it has the pair, else the great
    circle, and no straight line over the sea unless the policy allows it."""
    out: list[tuple[int, str | None, str]] = []
    if targeted.empty:
        return out
    u = units.set_index("commune_code")
    prop = info.loc[targeted["property_id"]]
    hq = u.reindex(targeted["commune_code"])
    pairs = travel.apply(pd.DataFrame({
        "property_id": targeted["property_id"].to_numpy(),
        "commune_code": targeted["commune_code"].to_numpy(),
        "distance_km": geodata.haversine_km(prop["lon"].to_numpy(), prop["lat"].to_numpy(),
                                            hq["lon"].to_numpy(), hq["lat"].to_numpy())}),
        "property_id", "commune_code")
    by_sea = prepare.sea_legs(prop["commune_code"].reset_index(drop=True),
                              targeted["commune_code"].reset_index(drop=True), units, policy)
    for r, p, p_unit, sea in zip(targeted.itertuples(index=False),
                                 pairs.itertuples(index=False), prop["commune_code"], by_sea,
                                 strict=True):
        code, radius = r.commune_code, policy.service_radius_km[r.use]
        limit = policy.service_radius_min.get(r.use)
        road = p.distance_source == OD_TABLE
        if code not in u.index:
            out.append((int(r.row), "commune_code", _("unit {code!r} is not planned in this run",
                                                      code=code)))
        elif policy.same_province_only and u.at[code, "province_code"] != u.at[
                p_unit, "province_code"]:
            out.append((int(r.row), "commune_code", _(
                "unit {code!r} lies in another province and the scenario serves only the "
                "property's own", code=code)))
        elif sea and not road and not policy.service_across_sea:
            out.append((int(r.row), "commune_code", _(
                "unit {code!r} lies across the sea from {id!r}: serving it needs the ferry "
                "route in the OD table (or policy.service_across_sea)", code=code,
                id=r.property_id)))
        elif p.distance_km > radius:
            out.append((int(r.row), "commune_code", _(
                "unit {code!r} is {km} by road from {id!r}, beyond the {use} radius of "
                "{radius} km", code=code, km=geo_km(p.distance_km), id=r.property_id,
                use=label("use", r.use), radius=number(radius, None)) if road else _(
                "unit {code!r} is {km} from {id!r}, beyond the {use} radius of {radius} km",
                code=code, km=geo_km(p.distance_km), id=r.property_id,
                use=label("use", r.use), radius=number(radius, None))))
        elif limit is not None and not p.minutes <= limit:
            out.append((int(r.row), "commune_code", _(
                "unit {code!r} is {minutes} min from {id!r} (or the OD table has no time for "
                "the pair), beyond the {use} limit of {limit} min", code=code,
                minutes=number(p.minutes) if p.minutes == p.minutes else "?",
                id=r.property_id, use=label("use", r.use), limit=number(limit, None))))
    return out


def _over_budget(req: pd.DataFrame, options: pd.DataFrame, info: pd.DataFrame,
                 units: pd.DataFrame, scenario: Scenario) -> list[tuple[int, str | None, str]]:
    """Required conversions whose fixed parts alone exceed the national or a province's
    budget."""
    if req.empty:
        return []
    cost = req.merge(options[["property_id", "use", "renovation_cost_vnd"]],
                     on=["property_id", "use"])
    prov = units.set_index("commune_code")["province_code"]
    cost["province_code"] = prov.reindex(info.loc[cost["property_id"], "commune_code"]).to_numpy()
    b = scenario.budget
    out: list[tuple[int, str | None, str]] = []
    groups = [(budget_scope_label("national"), cost, b.national_vnd)]
    for k, rows in cost.groupby("province_code"):
        groups.append((budget_scope_label(f"province {k}"), rows,
                       b.per_province_vnd.get(str(k), b.default_province_vnd)))
    for what, rows, cap in groups:
        spent = int(rows["renovation_cost_vnd"].sum())
        if cap is not None and spent > cap:
            listed = ", ".join(str(int(r)) for r in rows["row"])
            out.append((int(rows["row"].iloc[0]), None, _(
                "the required uses (rows {rows}) need {spent} of renovation before serving "
                "anyone, above the {budget} of {cap}", rows=listed, spent=vnd(spent),
                budget=what, cap=vnd(cap))))
    return out


def restrict_targets(pairs: pd.DataFrame, all_pairs: pd.DataFrame,
                     required: pd.DataFrame) -> pd.DataFrame:
    """Candidate pairs where a property required for a unit reaches that unit only."""
    target = required[required["commune_code"].notna()]
    if target.empty:
        return pairs
    mine = pairs["property_id"].isin(target["property_id"])
    want = all_pairs.merge(target[["property_id", "commune_code"]],
                           on=["property_id", "commune_code"])
    return pd.concat([pairs[~mine], want[pairs.columns]], ignore_index=True)


def served_first(needs: pd.DataFrame, decisions: Decisions) -> pd.DataFrame:
    """Needs with the units the planner serves first marked ``served_first``."""
    first = needs["commune_code"].isin(set(decisions.units["commune_code"]))
    return needs.assign(served_first=needs["served_first"].to_numpy() | first.to_numpy())


def pin_transfer(supplies: pd.DataFrame, demands: pd.DataFrame, pairs: pd.DataFrame,
                 units: pd.DataFrame, policy: Policy, decisions: Decisions
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Supplies without the lots the planner keeps, and the lots sent (holder_code,
    commune_code, category, quantity), each checked: the target planned and short of that
    category by at least the quantity, within ``max_km`` (and the province rule)."""
    lots = decisions.lots[decisions.lots["holder_code"].isin(set(supplies["holder_code"]))]
    keep = lots[lots["rule"] == "forbid"]
    held = pd.MultiIndex.from_frame(keep[["holder_code", "category"]])
    out = supplies[~pd.MultiIndex.from_frame(supplies[["holder_code", "category"]]).isin(held)]
    sent = lots[lots["rule"] == "require"]
    short = demands.set_index(["commune_code", "category"])["shortfall"]
    reach = set(zip(pairs["holder_code"], pairs["commune_code"], strict=True))
    prov = units.set_index("commune_code")["province_code"]
    problems: list[tuple[int, str | None, str]] = []
    for r in sent.itertuples(index=False):
        lacks = int(short.get((r.commune_code, r.category), 0))
        if r.commune_code not in prov.index:
            problems.append((int(r.row), "commune_code", _(
                "unit {code!r} is not planned in this run", code=r.commune_code)))
        elif int(r.quantity) > lacks:
            problems.append((int(r.row), "quantity", _(
                "unit {code!r} lacks {lacks} {category} against the norm; {n} cannot be sent",
                code=r.commune_code, lacks=lacks, category=label("category", r.category).lower(),
                n=int(r.quantity))))
        elif (r.holder_code, r.commune_code) not in reach:
            problems.append((int(r.row), "commune_code", _(
                "unit {code!r} is farther than {km} km from {holder!r}", code=r.commune_code,
                km=number(policy.transfer.max_km, None), holder=r.holder_code)))
        elif policy.same_province_only and prov[r.holder_code] != prov[r.commune_code]:
            problems.append((int(r.row), "commune_code", _(
                "unit {code!r} lies in another province and the scenario moves items within "
                "one", code=r.commune_code)))
    _fail(decisions, problems)
    fixed = sent[["holder_code", "commune_code", "category", "quantity"]].astype(
        {"quantity": np.int64})
    return out.reset_index(drop=True), fixed.reset_index(drop=True)
