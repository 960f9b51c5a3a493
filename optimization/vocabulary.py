"""The words every layer shares: the uses a surplus property can be given and the names of
the key columns of the frames the models take and return.

Defined here, at the lowest layer, so that ``optimization``, ``planner`` and ``api`` speak one
vocabulary and no layer renames another's columns: a frame the planner builds goes into a
model as it is, and what the model returns goes into the plan's tables as it is.
"""
from __future__ import annotations

# Uses that serve a commune's need within a radius: health and education first, as Official
# Dispatch 213/CĐ-TTg orders them, then offices, public-service points, official housing and
# culture and sport. Labels, the message catalogue and the workbook's dropdowns follow this order.
SERVICE_USES: tuple[str, ...] = ("health", "education", "office", "service_point", "housing",
                                 "culture")
# What is left after the public needs: transfer to another body, sale or auction, or held.
OTHER_USES: tuple[str, ...] = ("transfer", "sale", "hold")
# Every use a surplus property can be given, public uses first (DESIGN.md section 5).
USES: tuple[str, ...] = SERVICE_USES + OTHER_USES

# Key columns of the frames the models take and return, and what each names. Other columns
# carry their unit in their name (distance_km, cost_vnd, floor_area_m2, ...).
KEY_COLUMNS: dict[str, str] = {
    "property_id": "a house or plot of land of the inventory (a building the seats model may "
                   "keep, a surplus property the disposition gives a use)",
    "commune_code": "5-digit code of a new commune-level unit: where a property lies, whose "
                    "need is served, which lacks cars or equipment",
    "province_code": "2-digit code of a province (its budget, the same-province rule)",
    "holder_code": "5-digit code of the unit that holds surplus cars or equipment",
    "area_id": "a former commune (or the part of a split one) inside a new unit",
    "category": "'car' or an equipment category",
    "use": "one of USES",
}
