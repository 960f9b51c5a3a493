"""KPIs before and after the plan, nationally, per province and per terrain class.

Every KPI is computed here from the plan tables alone (plus the scenario's budget and service
radius), so anyone holding the tables can recompute it. Each is first summed per unit, then per
scope; a KPI with no "before" has NaN there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from planner.i18n import _
from planner.labels import kpi_label
from planner.scenario import Scenario
from planner.schema import REPORT_CATEGORIES, REPORT_CATEGORY_OF_USE, SERVICE_USES

# kpi -> unit (its label: planner.labels.kpi_label)
KPI_UNITS: dict[str, str] = {
    "units": "units",
    "population": "people",
    "units_without_car": "units",
    "units_below_equipment_norm": "units",
    "surplus_properties": "properties",
    "kept_as_annex_or_service_point": "properties",
    **{f"properties_{c}": "properties" for c in REPORT_CATEGORIES},
    "properties_shared": "properties",
    "population_within_service_km": "people",
    "population_within_service_min": "people",
    **{f"need_{u}": "points" if u == "service_point" else "m2" for u in SERVICE_USES},
    "renovation_spend_vnd": "VND",
    "renovation_budget_vnd": "VND",
    "sale_revenue_vnd": "VND",
    "items_transferred": "items",
    "transfer_item_km": "item-km",
    "transfer_cost_vnd": "VND",
    "priority_units_with_unmet_need": "units",
}
PRIORITY_TERRAINS = ("island", "mountain")


def _per_unit(tables: Mapping[str, pd.DataFrame], scenario: Scenario) -> pd.DataFrame:
    """Before/after metrics per unit: columns '<kpi>|before' and '<kpi>|after'."""
    units = tables["units"].set_index("commune_code")
    idx = units.index
    m = pd.DataFrame(index=idx)

    def put(kpi: str, before: pd.Series | float | None, after: pd.Series | float) -> None:
        m[f"{kpi}|before"] = (np.nan if before is None else
                              (before.reindex(idx).fillna(0) if isinstance(before, pd.Series)
                               else before))
        m[f"{kpi}|after"] = (after.reindex(idx).fillna(0) if isinstance(after, pd.Series)
                             else after)

    put("units", 1.0, 1.0)
    put("population", units["population"], units["population"])
    eq = tables["equipment"]
    car = eq[eq["category"] == "car"].set_index("commune_code")
    put("units_without_car", (car["held_before"] == 0).astype(float),
        (car["held_after"] == 0).astype(float))
    dev = eq[eq["category"] != "car"]
    put("units_below_equipment_norm",
        (dev.groupby("commune_code")["shortfall_before"].max() > 0).astype(float),
        (dev.groupby("commune_code")["shortfall_after"].max() > 0).astype(float))
    seats = tables["seats"]
    disp = tables["dispositions"]
    kept = seats[seats["role"] != "main_seat"].groupby("commune_code").size()
    surplus_before = disp.groupby("commune_code").size().add(kept, fill_value=0)
    put("surplus_properties", surplus_before, disp.groupby("commune_code").size())
    put("kept_as_annex_or_service_point", None, kept)
    category = disp["use"].map(REPORT_CATEGORY_OF_USE)
    for c in REPORT_CATEGORIES:
        put(f"properties_{c}", None, disp[category == c].groupby("commune_code").size())
    shared = disp["shared_uses"].fillna("").astype(str) != ""
    put("properties_shared", None, disp[shared].groupby("commune_code").size())
    areas = tables["areas"]
    radius = scenario.policy.seats.max_service_km
    if radius is not None:
        before = areas.loc[areas["main_seat_km"] <= radius].groupby("commune_code")[
            "population"].sum()
        after = areas.loc[areas["nearest_kept_km"] <= radius].groupby("commune_code")[
            "population"].sum()
        put("population_within_service_km", before, after)
    if "nearest_kept_min" in areas:  # the OD table gives times
        seats = scenario.policy.seats
        limit = seats.max_service_min or seats.report_within_min
        put("population_within_service_min",
            areas.loc[areas["main_seat_min"] <= limit].groupby("commune_code")[
                "population"].sum(),
            areas.loc[areas["nearest_kept_min"] <= limit].groupby("commune_code")[
                "population"].sum())
    needs = tables["needs"]
    for use in SERVICE_USES:
        n = needs[needs["use"] == use].groupby("commune_code")
        put(f"need_{use}", n["need"].sum(), n["unmet"].sum())
    put("renovation_spend_vnd", 0.0, disp.groupby("commune_code")["renovation_cost_vnd"].sum())
    sale = disp[disp["use"] == "sale"]
    put("sale_revenue_vnd", 0.0, sale.groupby("commune_code")["revenue_vnd"].sum())
    tr = tables["transfers"]
    put("items_transferred", 0.0, tr.groupby("commune_code")["quantity"].sum())
    put("transfer_item_km", 0.0, (tr["quantity"] * tr["distance_km"]).groupby(
        tr["commune_code"]).sum())
    put("transfer_cost_vnd", 0.0, tr.groupby("commune_code")["cost_vnd"].sum())
    prio = units["terrain"].isin(PRIORITY_TERRAINS)
    need_before = needs.groupby("commune_code")["need"].sum() > 0
    eq_before = eq.groupby("commune_code")["shortfall_before"].sum() > 0
    unmet_after = needs.groupby("commune_code")["unmet"].sum() > 1e-6
    eq_after = eq.groupby("commune_code")["shortfall_after"].sum() > 0
    any_before = need_before.reindex(idx, fill_value=False) | eq_before.reindex(
        idx, fill_value=False)
    any_after = unmet_after.reindex(idx, fill_value=False) | eq_after.reindex(
        idx, fill_value=False)
    put("priority_units_with_unmet_need", (prio & any_before).astype(float),
        (prio & any_after).astype(float))
    return m


def compute_kpis(tables: Mapping[str, pd.DataFrame], scenario: Scenario) -> pd.DataFrame:
    """KPI table: scope (national / province / terrain), scope_id, scope_name, kpi, kpi_vi,
    unit, before, after."""
    per_unit = _per_unit(tables, scenario)
    units = tables["units"].set_index("commune_code")
    groups = {
        "national": pd.Series("VN", index=units.index),
        "province": units["province_code"],
        "terrain": units["terrain"],
    }
    planned = units.drop_duplicates("province_code").sort_values("province_code")
    names = {"national": {"VN": ", ".join(planned["province_name"]) if scenario.data.provinces
                          else _("Viet Nam")},
             "province": units.groupby("province_code")["province_name"].first().to_dict(),
             "terrain": {t: t for t in units["terrain"].unique()}}
    frames = []
    for scope, key in groups.items():
        summed = per_unit.groupby(key).sum(min_count=1)
        long = summed.stack(future_stack=True).rename("value").reset_index()
        long.columns = ["scope_id", "metric", "value"]
        long[["kpi", "when"]] = long["metric"].str.split("|", expand=True)
        wide = long.pivot_table(index=["scope_id", "kpi"], columns="when", values="value",
                                dropna=False, aggfunc="first").reset_index()
        wide["scope"] = scope
        wide["scope_name"] = wide["scope_id"].map(names[scope])
        frames.append(wide)
    out = pd.concat(frames, ignore_index=True)
    budget = scenario.budget
    nat = (out["scope"] == "national") & (out["kpi"] == "renovation_spend_vnd")
    if budget.national_vnd is not None:
        row = out[nat].iloc[0].copy()
        row["kpi"] = "renovation_budget_vnd"
        row["before"], row["after"] = np.nan, float(budget.national_vnd)
        out = pd.concat([out, row.to_frame().T], ignore_index=True)
    order = {k: i for i, k in enumerate(KPI_UNITS)}
    scope_order = {"national": 0, "province": 1, "terrain": 2}
    out["kpi_vi"] = out["kpi"].map(lambda k: kpi_label(k, "vi"))
    out["unit"] = out["kpi"].map(KPI_UNITS)
    out = out.assign(_s=out["scope"].map(scope_order), _k=out["kpi"].map(order))
    out = out.sort_values(["_s", "scope_id", "_k"], kind="stable")
    cols = ["scope", "scope_id", "scope_name", "kpi", "kpi_vi", "unit", "before", "after"]
    out = out[cols].reset_index(drop=True)
    out.columns.name = None
    out["before"] = out["before"].astype(float)
    out["after"] = out["after"].astype(float)
    return out


def kpi_value(kpis: pd.DataFrame, kpi: str, when: str = "after", scope: str = "national",
              scope_id: str = "VN") -> float:
    row = kpis[(kpis["scope"] == scope) & (kpis["scope_id"] == scope_id) & (kpis["kpi"] == kpi)]
    if row.empty:
        raise KeyError(f"no KPI {kpi!r} for {scope} {scope_id}")
    return float(row[when].iloc[0])
