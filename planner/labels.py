"""The words a planner reads in place of codes: tables, columns, coded values and KPIs.

Each label is an English message with a context (its family), translated through the one
catalogue (``planner.i18n``); ``label``/``column_label`` give it in the current language or
``lang``. Codes stay in the machine tables (Parquet, CSV, JSON); Excel, the report, the maps
and the dashboard show these labels with the code kept in its own column.
"""

from __future__ import annotations

from typing import Any

from planner.i18n import NC_, _, current_lang, pgettext

# The plan's tables (sheet names of plan.xlsx).
TABLES: dict[str, str] = {
    "units": NC_("table", "Units"),
    "seats": NC_("table", "Kept buildings"),
    "areas": NC_("table", "Former communes"),
    "dispositions": NC_("table", "Property dispositions"),
    "service": NC_("table", "Needs served"),
    "needs": NC_("table", "Needs met and unmet"),
    "transfers": NC_("table", "Transfers"),
    "equipment": NC_("table", "Cars and equipment vs norm"),
    "kpis": NC_("table", "KPIs"),
    "solves": NC_("table", "Solves"),
}

# Every column a planner reads: inventory, plan tables, reasons.
COLUMNS: dict[str, str] = {
    "holder": NC_("column", "Holder"),
    "year_built": NC_("column", "Year built"),
    "market_value_vnd": NC_("column", "Market value (VND)"),
    "legal_status": NC_("column", "Legal status"),
    "restriction": NC_("column", "Restriction"),
    "in_use_as_seat": NC_("column", "In use as seat"),
    "vehicle_id": NC_("column", "Vehicle id"),
    "vehicle_type": NC_("column", "Vehicle type"),
    "year": NC_("column", "Year"),
    "surplus": NC_("column", "Surplus"),
    "equipment_id": NC_("column", "Equipment id"),
    "staff": NC_("column", "Staff"),
    "office_floor_area_m2": NC_("column", "Main seat office floor (m2)"),
    "health_need_m2": NC_("column", "Health need (m2)"),
    "education_need_m2": NC_("column", "Education need (m2)"),
    "service_point_need": NC_("column", "Service points needed"),
    "housing_need_m2": NC_("column", "Housing need (m2)"),
    "culture_need_m2": NC_("column", "Culture need (m2)"),
    "basis": NC_("column", "Norm basis"),
    "commune_code": NC_("column", "Unit code"),
    "code": NC_("column", "Code"),
    "hq_point": NC_("column", "HQ point"),
    "name": NC_("column", "Name"),
    "province_code": NC_("column", "Province code"),
    "province_name": NC_("column", "Province"),
    "unit_type": NC_("column", "Unit type"),
    "terrain": NC_("column", "Terrain"),
    "population": NC_("column", "Population"),
    "area_km2": NC_("column", "Area (km²)"),
    "priority_weight": NC_("column", "Priority weight"),
    "served_first": NC_("column", "Served first"),
    "lon": NC_("column", "Longitude"),
    "lat": NC_("column", "Latitude"),
    "property_id": NC_("column", "Property id"),
    "role": NC_("column", "Role"),
    "origin": NC_("column", "Origin"),
    "kind": NC_("column", "Kind"),
    "floor_area_m2": NC_("column", "Floor area (m²)"),
    "land_area_m2": NC_("column", "Land area (m²)"),
    "condition": NC_("column", "Condition"),
    "upkeep_cost_vnd": NC_("column", "Upkeep (VND/year)"),
    "area_id": NC_("column", "Area id"),
    "legacy_code": NC_("column", "Former code"),
    "nearest_kept_km": NC_("column", "To nearest kept site (km)"),
    "nearest_kept_id": NC_("column", "Nearest kept site"),
    "nearest_kept_min": NC_("column", "To fastest kept site (min)"),
    "main_seat_min": NC_("column", "To main seat (min)"),
    "minutes": NC_("column", "Travel time (min)"),
    "within_service_km": NC_("column", "Within service radius"),
    "within_service_min": NC_("column", "Within service travel time"),
    "use": NC_("column", "Use"),
    "use_vi": NC_("column", "Use (Vietnamese)"),
    "report_category": NC_("column", "Ministry reporting category"),
    "reason_code": NC_("column", "Reason code"),
    "decided_by": NC_("column", "Decided by"),
    "distance_source": NC_("column", "Distance from"),
    "sea_leg": NC_("column", "Sea leg (ferry)"),
    "main_seat_km_source": NC_("column", "Main-seat distance from"),
    "nearest_kept_km_source": NC_("column", "Nearest-site distance from"),
    "alt_use": NC_("column", "Best public alternative"),
    "alt_commune_code": NC_("column", "Unit of the public alternative"),
    "alt_unmet": NC_("column", "Unmet need of the alternative"),
    "alt_distance_km": NC_("column", "Distance to the alternative (km)"),
    "alt_cost_one_unit_vnd": NC_("column", "Least cost, one unit (VND)"),
    "alt_cost_vnd": NC_("column", "Cost to serve the unmet (VND)"),
    "budget_scope": NC_("column", "Binding budget"),
    "budget_left_vnd": NC_("column", "Budget left (VND)"),
    "candidate_property_id": NC_("column", "Deciding property"),
    "candidate_distance_km": NC_("column", "Distance of that property (km)"),
    "candidate_use": NC_("column", "That property's use"),
    "cost_one_unit_vnd": NC_("column", "Least cost, one unit (VND)"),
    "serves": NC_("column", "Serves"),
    "office_need_m2": NC_("column", "Office area the main seat lacks (m²)"),
    "office_housed_m2": NC_("column", "Housed in kept buildings (m²)"),
    "office_shortfall_m2": NC_("column", "Still lacking (m²)"),
    "renovation_cost_vnd": NC_("column", "Renovation (VND)"),
    "revenue_vnd": NC_("column", "Revenue (VND)"),
    "served_commune_code": NC_("column", "Main unit served"),
    "served_quantity": NC_("column", "Quantity served (first use)"),
    "shared_uses": NC_("column", "Public uses sharing the building"),
    "reason": NC_("column", "Reason"),
    "quantity": NC_("column", "Quantity"),
    "distance_km": NC_("column", "Distance (km)"),
    "need": NC_("column", "Need"),
    "served": NC_("column", "Served"),
    "unmet": NC_("column", "Unmet"),
    "unit": NC_("column", "Unit"),
    "holder_code": NC_("column", "Holder unit code"),
    "commune_name": NC_("column", "Unit name"),
    "served_commune_name": NC_("column", "Main unit served, name"),
    "alt_commune_name": NC_("column", "Unit of the public alternative, name"),
    "property_name": NC_("column", "Property name"),
    "candidate_property_name": NC_("column", "Deciding property, name"),
    "holder_name": NC_("column", "Holder name"),
    "category": NC_("column", "Category"),
    "cost_vnd": NC_("column", "Cost (VND)"),
    "required": NC_("column", "Required by norm"),
    "held_before": NC_("column", "Held before"),
    "received": NC_("column", "Received"),
    "held_after": NC_("column", "Held after"),
    "shortfall_before": NC_("column", "Shortfall before"),
    "shortfall_after": NC_("column", "Shortfall after"),
    "scope": NC_("column", "Scope"),
    "scope_id": NC_("column", "Scope id"),
    "scope_name": NC_("column", "Scope name"),
    "kpi": NC_("column", "KPI"),
    "kpi_vi": NC_("column", "KPI (Vietnamese)"),
    "before": NC_("column", "Before"),
    "after": NC_("column", "After"),
    "stage": NC_("column", "Stage"),
    "part": NC_("column", "Part"),
    "status": NC_("column", "Status"),
    "member": NC_("column", "Member"),
    "draw": NC_("column", "Draw"),
    "member_status": NC_("column", "Member status"),
    "error": NC_("column", "Error"),
    "attempts": NC_("column", "Attempts"),
    "wall_s": NC_("column", "Time (s)"),
    "weighted_unmet_need_m2": NC_("column", "Priority-weighted unmet need (m²)"),
    "weighted_unmet_need_min_m2": NC_("column", "Priority-weighted unmet need, lowest draw (m²)"),
    "weighted_unmet_need_max_m2": NC_("column",
                                      "Priority-weighted unmet need, highest draw (m²)"),
    "unmet_penalty_vnd": NC_("column", "Unmet need at its penalties (VND)"),
    "disposition_gap": NC_("column", "Disposition gap"),
    "members": NC_("column", "Members"),
    "budget_vnd": NC_("column", "Renovation budget (VND)"),
    "on_frontier": NC_("column", "On the frontier"),
    "modal_use": NC_("column", "Most frequent use"),
    "modal_share": NC_("column", "Share of members giving it that use"),
    "objective": NC_("column", "Objective"),
    "best_bound": NC_("column", "Best bound"),
    "gap": NC_("column", "Gap"),
    "solver": NC_("column", "Solver"),
    "time_limit_s": NC_("column", "Time limit (s)"),
}
# Coded values by family: what a planner reads in place of each code.
VALUES: dict[str, dict[str, str]] = {
    "use": {
        "health": NC_("use", "Health"),
        "education": NC_("use", "Education"),
        "office": NC_("use", "Working office"),
        "service_point": NC_("use", "Public-service point"),
        "housing": NC_("use", "Official housing"),
        "culture": NC_("use", "Culture and sport"),
        "transfer": NC_("use", "Transfer to another body"),
        "sale": NC_("use", "Sale or auction"),
        "hold": NC_("use", "Held for a later decision"),
        "keep": NC_("use", "Kept as annex or service point"),
    },
    "report_category": {
        "working_office": NC_("report_category", "Working offices"),
        "public_service_facility": NC_("report_category", "Public-service facilities"),
        "education": NC_("report_category", "Education and training"),
        "health": NC_("report_category", "Health"),
        "culture_sport": NC_("report_category", "Culture and sport"),
        "official_housing": NC_("report_category", "Official housing"),
        "other_public": NC_("report_category", "Other public uses"),
        "land_fund_handover": NC_("report_category",
                                  "Handed to a land-fund body or a housing business"),
        "sale_auction": NC_("report_category", "Sale, transfer of rights, auction"),
        "transfer": NC_("report_category", "Transfer to other bodies"),
        "hold": NC_("report_category", "Not yet handled, held"),
    },
    "role": {
        "main_seat": NC_("role", "Main seat"),
        "annex": NC_("role", "Annex"),
        "service_point": NC_("role", "Service point"),
    },
    "origin": {
        "old_commune_hq": NC_("origin", "Old commune HQ"),
        "district_compound": NC_("origin", "Old district compound"),
        "provincial_seat": NC_("origin", "Old provincial seat"),
        "other_public": NC_("origin", "Other public building"),
    },
    "kind": {
        "building": NC_("kind", "Building"),
        "land": NC_("kind", "Land"),
    },
    "condition": {
        "good": NC_("condition", "Good"),
        "fair": NC_("condition", "Fair"),
        "poor": NC_("condition", "Poor"),
        "unusable": NC_("condition", "Unusable"),
    },
    "legal_status": {
        "clear": NC_("legal_status", "Clear title"),
        "pending": NC_("legal_status", "Title pending"),
        "disputed": NC_("legal_status", "Disputed"),
    },
    "restriction": {
        "none": NC_("restriction", "No restriction"),
        "heritage": NC_("restriction", "Heritage"),
        "no_sale": NC_("restriction", "Sale forbidden"),
        "no_demolition": NC_("restriction", "Demolition forbidden"),
    },
    "vehicle_type": {
        "car_4_5_seat": NC_("vehicle_type", "Car, 4-5 seats"),
        "car_7_seat": NC_("vehicle_type", "Car, 7 seats"),
        "car_16_seat": NC_("vehicle_type", "Car, 16 seats"),
        "pickup": NC_("vehicle_type", "Pickup"),
    },
    "category": {
        "car": NC_("category", "Car"),
        "computer": NC_("category", "Computer"),
        "printer": NC_("category", "Printer"),
        "photocopier": NC_("category", "Photocopier"),
        "scanner": NC_("category", "Scanner"),
        "projector": NC_("category", "Projector"),
    },
    "basis": {
        "per_unit": NC_("basis", "Per unit"),
        "per_10_staff": NC_("basis", "Per 10 staff"),
    },
    "terrain": {
        "lowland": NC_("terrain", "Lowland"),
        "midland": NC_("terrain", "Midland"),
        "mountain": NC_("terrain", "Mountain"),
        "island": NC_("terrain", "Island"),
    },
    "unit_type": {
        "Xã": NC_("unit_type", "Commune"),
        "Phường": NC_("unit_type", "Ward"),  # data
        "Đặc khu": NC_("unit_type", "Special zone"),  # data
    },
    "decided_by": {
        "model": NC_("decided_by", "The model"),
        "planner": NC_("decided_by", "The planner"),
    },
    "reason_code": {
        "serves": NC_("reason_code", "Serves a need"),
        "fixed": NC_("reason_code", "Decided before"),
        "no_public_option": NC_("reason_code", "No public use eligible"),
        "no_need_in_reach": NC_("reason_code", "No need in reach"),
        "needs_met": NC_("reason_code", "Needs in reach already met"),
        "budget": NC_("reason_code", "Budget exhausted"),
        "value": NC_("reason_code", "Revenue worth more than the need"),
        "no_candidate": NC_("reason_code", "No eligible property in reach"),
        "capacity_taken": NC_("reason_code", "Capacity already taken"),
        "other_use": NC_("reason_code", "Used for another need"),
    },
    "distance_source": {
        "computed": NC_("distance_source", "Computed from coordinates"),
        "od_table": NC_("distance_source", "Travel table"),
    },
    "status": {
        "optimal": NC_("status", "Optimal"),
        "feasible": NC_("status", "Feasible, not proven optimal"),
        "infeasible": NC_("status", "Infeasible"),
        "no solution found": NC_("status", "No solution found"),
        "not solved": NC_("status", "Not solved"),
    },
    "stage": {
        "seats": NC_("stage", "Seats"),
        "disposition": NC_("stage", "Dispositions"),
        "transfer": NC_("stage", "Transfers"),
    },
    "scope": {
        "national": NC_("scope", "National"),
        "province": NC_("scope", "Province"),
        "terrain": NC_("scope", "Terrain"),
    },
    "unit": {
        "units": NC_("unit", "units"),
        "people": NC_("unit", "people"),
        "properties": NC_("unit", "properties"),
        "m2": NC_("unit", "m²"),
        "points": NC_("unit", "points"),
        "VND": NC_("unit", "VND"),
        "items": NC_("unit", "items"),
        "item-km": NC_("unit", "item-km"),
        "year": NC_("unit", "year"),
        "degrees": NC_("unit", "degrees"),
    },
    "member_status": {
        "succeeded": NC_("member_status", "Succeeded"),
        "failed": NC_("member_status", "Failed"),
        "cancelled": NC_("member_status", "Cancelled"),
        "pending": NC_("member_status", "Not run"),
        "queued": NC_("member_status", "Queued"),
        "running": NC_("member_status", "Running"),
        "interrupted": NC_("member_status", "Interrupted"),
    },
    "bool": {
        "True": NC_("bool", "Yes"),
        "False": NC_("bool", "No"),
    },
}

# The KPIs (planner/kpis.py computes them); properties_<category> and need_<use> are
# worded by kpi_label from their category or use.
KPIS: dict[str, str] = {
    "units": NC_("kpi", "Units"),
    "population": NC_("kpi", "Population"),
    "units_without_car": NC_("kpi", "Units without a car"),
    "units_below_equipment_norm": NC_("kpi", "Units below the equipment norm"),
    "surplus_properties": NC_("kpi", "Surplus houses and land"),
    "kept_as_annex_or_service_point": NC_("kpi", "Old HQs kept as annex or service point"),
    "properties_shared": NC_(
        "kpi", "Surplus buildings shared by several public uses (counted above by their "
        "first use)"),
    "population_within_service_km": NC_(
        "kpi", "Population within the service radius of a seat or service point"),
    "population_within_service_min": NC_(
        "kpi", "Population within the service travel time of a seat or service point"),
    "renovation_spend_vnd": NC_("kpi", "Renovation spend"),
    "renovation_budget_vnd": NC_("kpi", "Renovation budget"),
    "sale_revenue_vnd": NC_("kpi", "Sale revenue"),
    "items_transferred": NC_("kpi", "Cars and equipment transferred"),
    "transfer_item_km": NC_("kpi", "Transfer distance"),
    "transfer_cost_vnd": NC_("kpi", "Transfer cost"),
    "priority_units_with_unmet_need": NC_(
        "kpi", "Priority units (island, mountain) with unmet need"),
}
# What `assetplan data-report` says of each repair of the geography (geodata's own words
# are the codes; a test holds them to this list).
REPAIRS: dict[str, dict[str, str]] = {
    "repair_issue": {
        "HQ point far from every predecessor": NC_(
            "repair_issue", "HQ point far from every predecessor"),
        "HQ point outside the unit's own bounding box": NC_(
            "repair_issue", "HQ point outside the unit's own bounding box"),
        "a low density in a flat delta province is not hills": NC_(
            "repair_issue", "a low density in a flat delta province is not hills"),
        "a unit of a town on the high plateaus or ranges": NC_(
            "repair_issue", "a unit of a town on the high plateaus or ranges"),
        "an island commune that is not a special zone": NC_(
            "repair_issue", "an island commune that is not a special zone"),
        "changed 2026-04-30 (NQ 30/2026/QH16)": NC_(
            "repair_issue", "changed 2026-04-30 (NQ 30/2026/QH16)"),
        "most of its predecessors are mountain communes": NC_(
            "repair_issue", "most of its predecessors are mountain communes"),
        "population and area copied from a same-named unit": NC_(
            "repair_issue", "population and area copied from a same-named unit"),
        "population below 300": NC_("repair_issue", "population below 300"),
        "population density over 30x the median xã of its province": NC_(  # data
            "repair_issue", "population density over 30x the median commune of its province"),
        "population missing ('đang cập nhật')": NC_(  # data
            "repair_issue", "population missing (the source says it is being updated)"),
        "some of its predecessors are mountain communes": NC_(
            "repair_issue", "some of its predecessors are mountain communes"),
        "source error": NC_("repair_issue", "error of the source"),
    },
    "repair_action": {
        "corrected": NC_("repair_action", "corrected"),
        "corrected by rule flat_province": NC_("repair_action",
                                               "corrected by the flat-province rule"),
        "corrected by rule highland_town": NC_("repair_action",
                                               "corrected by the highland-town rule"),
        "corrected by rule island_commune": NC_("repair_action",
                                                "corrected by the island-commune rule"),
        "corrected by rule mountain_communes": NC_("repair_action",
                                                   "corrected by the mountain-commune rule"),
        "imputed": NC_("repair_action", "imputed"),
        "kept": NC_("repair_action", "kept"),
        "moved to the centroid of its predecessors (inside its bounding box)": NC_(
            "repair_action",
            "moved to the centroid of its predecessors (inside its bounding box)"),
        "now a Phường": NC_("repair_action", "now a ward"),  # data
        "renamed with its new type": NC_("repair_action", "renamed with its new type"),
    },
}
VALUES.update(REPAIRS)

# The coded columns of the plan and inventory tables, and the family of their values.
VALUE_FAMILY_OF_COLUMN: dict[str, str] = {
    "use": "use", "alt_use": "use", "candidate_use": "use", "shared_uses": "use",
    "report_category": "report_category", "role": "role", "origin": "origin", "kind": "kind",
    "condition": "condition", "legal_status": "legal_status", "restriction": "restriction",
    "vehicle_type": "vehicle_type", "category": "category", "basis": "basis",
    "terrain": "terrain", "unit_type": "unit_type", "decided_by": "decided_by",
    "reason_code": "reason_code", "distance_source": "distance_source",
    "main_seat_km_source": "distance_source", "nearest_kept_km_source": "distance_source",
    "status": "status", "stage": "stage", "scope": "scope", "unit": "unit",
    "budget_scope": "budget_scope", "member_status": "member_status", "modal_use": "use",
}
LIST_SEPARATOR = "+"  # shared_uses joins its uses with it

# Number formats by column name suffix (Excel).
NUMBER_FORMATS: tuple[tuple[str, str], ...] = (
    ("_vnd", "#,##0"),
    ("_km", "#,##0.0"),
    ("_min", "#,##0"),
    ("_m2", "#,##0"),
    ("_km2", "#,##0.00"),
    ("population", "#,##0"),
    ("gap", "0.00%"),
    ("priority_weight", "0.00"),
)


def label(family: str, code: Any, lang: str | None = None) -> str:
    """The label of ``code`` in ``family`` (``use``, ``terrain``, ...); an unknown code is
    shown as it is."""
    if family == "budget_scope":
        return budget_scope_label(str(code), lang)
    if family == "bool" or isinstance(code, bool):
        code = str(bool(code)) if isinstance(code, bool) else str(code)
        family = "bool"
    msg = VALUES.get(family, {}).get(str(code))
    return str(code) if msg is None else pgettext(family, msg, lang=lang)


def labels(family: str, lang: str | None = None) -> dict[str, str]:
    """{code: label} of a family in the current language (or ``lang``)."""
    return {code: pgettext(family, msg, lang=lang) for code, msg in VALUES[family].items()}


def value_label(column: str, value: Any, lang: str | None = None) -> Any:
    """A cell of ``column`` as a planner reads it: its label for a coded column (each part of
    a ``+`` list), Có/Không for a boolean; other values unchanged."""
    if isinstance(value, bool):
        return label("bool", value, lang)
    family = VALUE_FAMILY_OF_COLUMN.get(column)
    if family is None or not isinstance(value, str) or value == "":
        return value
    if column == "shared_uses":
        return " + ".join(label(family, v, lang) for v in value.split(LIST_SEPARATOR) if v)
    return label(family, value, lang)


def budget_scope_label(scope: str, lang: str | None = None) -> str:
    """``national`` or ``province NN`` as the budget it names."""
    if scope == "national":
        return _("national renovation budget", lang=lang)
    if scope.startswith("province "):
        return _("renovation budget of province {code}", lang=lang,
                 code=scope.removeprefix("province "))
    return scope


def table_label(table: str, lang: str | None = None) -> str:
    msg = TABLES.get(table)
    return table if msg is None else pgettext("table", msg, lang=lang)


def column_label(col: str, lang: str | None = None) -> str:
    """The header of ``col``; a column beside a coded one keeps its code: ``use_code``."""
    msg = COLUMNS.get(col)
    if msg is not None:
        return pgettext("column", msg, lang=lang)
    if col.endswith("_code") and (col.removesuffix("_code") in VALUE_FAMILY_OF_COLUMN
                                  or col == "kpi_code"):
        return _("{label} (code)", lang=lang, label=column_label(col.removesuffix("_code"),
                                                                  lang))
    return col


def column_labels_all(col: str) -> tuple[str, ...]:
    """Every header ``col`` may be written with: its code and its label in each language."""
    from planner.i18n import LANGS

    return (col, *(column_label(col, lang) for lang in LANGS))


def kpi_label(kpi: str, lang: str | None = None) -> str:
    lang = lang or current_lang()
    if kpi.startswith("properties_") and kpi.removeprefix("properties_") in VALUES[
            "report_category"]:
        return _("Surplus houses and land: {category}", lang=lang,
                 category=label("report_category", kpi.removeprefix("properties_"), lang))
    if kpi.startswith("need_") and kpi.removeprefix("need_") in VALUES["use"]:
        return _("Need: {use} (before: the need, after: what is unmet)", lang=lang,
                 use=label("use", kpi.removeprefix("need_"), lang).lower())
    msg = KPIS.get(kpi)
    return kpi if msg is None else pgettext("kpi", msg, lang=lang)


def number_format(col: str) -> str | None:
    for suffix, fmt in NUMBER_FORMATS:
        if col.endswith(suffix):
            return fmt
    return None


def _by_value(values: Any, word: Any) -> Any:
    """``values`` with each distinct value worded once (a national table has few)."""
    distinct = values.dropna().unique()
    return values.map(dict(zip(distinct, map(word, distinct), strict=True)))


def readable_frame(df: Any, lang: str | None = None) -> Any:
    """``df`` as a planner reads it: every coded column shown by its labels, its codes kept
    beside it in ``<column>_code`` (left out where they read the same), booleans as Có/Không,
    a KPI's code beside its label; ``kpi_vi`` gives way to the label in ``lang``."""
    lang = lang or current_lang()
    out = df.drop(columns=[c for c in ("kpi_vi",) if c in df.columns])
    for col in list(out.columns):
        values = out[col]
        if col == "kpi":
            shown = _by_value(values, lambda k: kpi_label(str(k), lang))
        elif col == "scope_name" and "scope" in out.columns:
            terrain = _by_value(values, lambda v: label("terrain", v, lang))
            out[col] = values.where(out["scope"] != "terrain", terrain)
            continue
        elif values.dtype == bool:
            out[col] = _by_value(values, lambda v: label("bool", v, lang))
            continue
        elif col in VALUE_FAMILY_OF_COLUMN:
            shown = _by_value(values, lambda v, c=col: value_label(c, v, lang))
        else:
            continue
        if shown.equals(values):
            continue
        out[col] = shown
        out.insert(out.columns.get_loc(col) + 1, f"{col}_code", values.to_numpy())
    return out
