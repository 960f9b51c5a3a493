"""Reasons a planner reads, in Vietnamese, from the reason codes and numbers the disposition
model computes on its solved plan (``DispositionModel.property_reasons`` / ``need_reasons``)
and, for a property no public use may take, from the eligibility rule it fails.

Each reason keeps its code and numbers in their own columns, so a test (and a planner) can
hold every reason against the plan's tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner import prepare
from planner.i18n import N_, _, km, number, vnd
from planner.labels import budget_scope_label, label
from planner.scenario import Policy
from planner.schema import SERVICE_USES

RULE_LABELS = {
    "use_allowed": N_("the scenario does not allow this use"),
    "kind": N_("it is land, without a building"),
    "legal_status": N_("legal status"),
    "condition": N_("condition"),
    "floor_area_m2": N_("floor area"),
    "land_area_m2": N_("land area"),
    "restriction": N_("restriction"),
}


def _rule(rule: str) -> str:
    return _(RULE_LABELS[rule]) if rule in RULE_LABELS else rule


def _qty(x: float, use: str) -> str:
    return number(x) + " " + (_("points") if use == "service_point" else "m²")


def _use(use: str) -> str:
    return label("use", use)


def rule_detail(surplus: pd.DataFrame, policy: Policy) -> pd.Series:
    """Per property without any public use: the rule that keeps it out, with its value
    and threshold (the first rule every allowed public use fails, else per use)."""
    el = policy.eligibility
    failed = {u: prepare.first_failed(prepare.service_rules(surplus, policy, u))
              for u in SERVICE_USES}
    out = []
    for i in range(len(surplus)):
        row = surplus.iloc[i]
        rules = {u: failed[u][i] for u in SERVICE_USES if u in policy.uses_allowed}
        common = set(rules.values())
        if not rules:
            out.append(_("the scenario allows no public use"))
        elif len(common) == 1:
            rule = common.pop()
            if rule == "floor_area_m2":
                lows = ", ".join(f"{_use(u)} {number(el.min_floor_area_m2.get(u, 0), None)}"
                                 for u in rules)
                out.append(_("floor area {area} m² below the minimum ({lows} m²)",
                             area=number(row["floor_area_m2"]), lows=lows))
            elif rule in ("legal_status", "condition", "restriction"):
                out.append(f"{_rule(rule)} “{label(rule, row[rule])}”")
            else:
                out.append(_rule(rule))
        else:
            out.append("; ".join(f"{_use(u)}: {_rule(r)}" for u, r in rules.items() if r))
    return pd.Series(out, index=surplus["property_id"].to_numpy())


def _why_not_sold(surplus: pd.DataFrame, policy: Policy) -> pd.Series:
    fail = prepare.first_failed(prepare.sale_rules(surplus, policy))
    text = [("" if not r else (_("cannot be sold: {rule} “{value}”", rule=_rule(r),
                                 value=label(r, v))
                               if r in ("legal_status", "restriction") else
                               _("cannot be sold: the scenario does not allow sale")))
            for r, v in zip(fail, np.where(fail == "legal_status", surplus["legal_status"],
                                             surplus["restriction"]), strict=True)]
    return pd.Series(text, index=surplus["property_id"].to_numpy())


def property_texts(disp: pd.DataFrame, codes: pd.DataFrame, surplus: pd.DataFrame,
                   units: pd.DataFrame, policy: Policy, service: pd.DataFrame) -> np.ndarray:
    """The reason of each disposition row (``disp`` and ``codes`` share property order);
    a shared building's other uses with what each serves (``service``)."""
    names = units.set_index("commune_code")["name"]
    by_use = service.groupby(["property_id", "use"])["quantity"].sum()
    # The rule that keeps a property out, for those no public use may take (a row loop).
    out_ids = codes.loc[codes["reason_code"] == "no_public_option", "property_id"]
    detail = rule_detail(surplus[surplus["property_id"].isin(out_ids)].reset_index(drop=True),
                         policy).reindex(disp["property_id"]).to_numpy()
    not_sold = _why_not_sold(surplus, policy).reindex(disp["property_id"]).to_numpy()
    out = []
    for r, c, d, ns in zip(disp.itertuples(index=False), codes.itertuples(index=False),
                           detail, not_sold, strict=True):
        code = c.reason_code
        if code == "serves" or (code == "fixed" and r.use in SERVICE_USES):
            main = r.served_commune_code
            whom = (_(" (most of it for {name}, {code})", name=names.get(main, main),
                      code=main) if isinstance(main, str) else "")
            beside = "".join(
                _("; also {use}: serves {quantity}", use=_use(u),
                  quantity=_qty(by_use.get((r.property_id, u), 0), u))
                for u in str(r.shared_uses).split("+") if u)
            text = _("Used as {use}: serves {quantity}{whom}{beside}; renovation cost {cost}",
                     use=_use(r.use), quantity=_qty(r.served_quantity, r.use), whom=whom,
                     beside=beside, cost=vnd(r.renovation_cost_vnd))
        elif code == "fixed":
            text = _("{use}, as decided before", use=_use(r.use))
        elif code == "no_public_option":
            text = _("Not eligible for any public use: {detail}", detail=d)
        elif code == "no_need_in_reach":
            text = _("No need that this property is eligible to serve lies within the service "
                     "radius (among the {n} nearest properties of each need)",
                     n=policy.candidates_per_need)
        else:
            code_ = c.alt_commune_code
            alt = _("{use} for {name} ({code}, {distance})", use=_use(c.alt_use),
                    name=names.get(code_, code_), code=code_, distance=km(c.alt_distance_km))
            if code == "needs_met":
                text = _("The needs in reach are already met (nearest: {alt})", alt=alt)
            elif code == "budget":
                text = _("Best public option: {alt}, {unmet} still unmet; it needs {cost} (at "
                         "least {cost_one}) but the {budget} has only {left} left", alt=alt,
                         unmet=_qty(c.alt_unmet, c.alt_use), cost=vnd(c.alt_cost_vnd),
                         cost_one=vnd(c.alt_cost_one_unit_vnd),
                         budget=budget_scope_label(c.budget_scope), left=vnd(c.budget_left_vnd))
            else:  # value
                text = _("Best public option: {alt}, {unmet} still unmet; under the “value” "
                         "priority order the revenue of {revenue} is worth more than the need "
                         "it would serve", alt=alt, unmet=_qty(c.alt_unmet, c.alt_use),
                         revenue=vnd(r.revenue_vnd))
        if r.use == "sale":
            text += _("; sale or auction")
        elif r.use == "hold" and ns:
            text += _("; held for a later decision ({why})", why=ns)
        elif r.use == "transfer":
            text += _("; transferred to another body")
        out.append(text)
    return np.asarray(out, dtype=object)


def need_texts(codes: pd.DataFrame, units: pd.DataFrame, policy: Policy) -> np.ndarray:
    """The reason of each unmet need (rows of ``DispositionModel.need_reasons``)."""
    names = units.set_index("commune_code")["name"]
    scope = _(" in the province") if policy.same_province_only else ""
    out = []
    for c in codes.itertuples(index=False):
        code = c.reason_code
        if code == "no_candidate":
            limit = policy.service_radius_min.get(c.use)
            within = "" if limit is None else _(" and {minutes} minutes of travel",
                                                minutes=number(limit, None))
            out.append(_("No eligible property{scope} within {radius} km{within}", scope=scope,
                         radius=number(policy.service_radius_km.get(c.use, 0), None),
                         within=within))
            continue
        who = f"{c.candidate_property_id} ({km(c.candidate_distance_km)})"
        serves = ", ".join(f"{names.get(k, k)} {v}" for k, v in
                           (s.split(":") for s in c.serves.split(", ") if s))
        if code == "budget":
            out.append(_("{who} could serve it but needs {cost} (at least {cost_one}); the "
                         "{budget} has only {left} left", who=who, cost=vnd(c.cost_vnd),
                         cost_one=vnd(c.cost_one_unit_vnd),
                         budget=budget_scope_label(c.budget_scope), left=vnd(c.budget_left_vnd)))
        elif code == "capacity_taken":
            out.append(_("{who} has all its floor area taken by: {serves}", who=who,
                         serves=serves))
        elif code == "other_use":
            out.append(_("{who} is used as {use} for: {serves}", who=who,
                         use=_use(c.candidate_use), serves=serves))
        elif code == "fixed":
            out.append(_("{who} was decided before for {use}", who=who,
                         use=_use(c.candidate_use)))
        else:
            out.append(_("{who} goes to {use} under the “value” priority order (its revenue "
                         "is worth more than the need)", who=who,
                         use=_use(c.candidate_use).lower()))
    return np.asarray(out, dtype=object)


def decision_texts(ids: pd.Series, rows: pd.DataFrame, key: str = "property_id") -> pd.Series:
    """Per id (a property or a lot key) what the planner decided, from its decision rows
    (``key``, rule, use or target, row, note); '' where nothing was decided."""
    if rows.empty:
        return pd.Series("", index=ids.index, dtype=object)

    def one(r: pd.Series) -> str:
        what = label("use", str(r["use"]))
        verb = what if r["rule"] == "require" else _("not {what}", what=what.lower())
        note = f": {r['note']}" if isinstance(r["note"], str) and r["note"] else ""
        return _("{verb} (row {row}{note})", verb=verb, row=int(r["row"]), note=note)

    said = rows.assign(text=rows.apply(one, axis=1)).groupby(key)["text"].agg("; ".join)
    texts = ids.map(said)
    return (_("The planner's decision: ") + texts).where(texts.notna(), "").astype(object)
