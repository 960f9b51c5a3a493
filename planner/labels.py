"""Vietnamese and English labels for the plan's tables and columns (Excel, report, maps)."""

from __future__ import annotations

TABLE_LABELS: dict[str, tuple[str, str]] = {
    "units": ("Đơn vị hành chính", "Units"),
    "seats": ("Trụ sở giữ lại", "Kept buildings"),
    "areas": ("Địa bàn xã cũ", "Former communes"),
    "dispositions": ("Phương án xử lý nhà đất", "Property dispositions"),
    "service": ("Phục vụ nhu cầu", "Needs served"),
    "needs": ("Nhu cầu và đáp ứng", "Needs met and unmet"),
    "transfers": ("Điều chuyển tài sản", "Transfers"),
    "equipment": ("Xe và thiết bị theo định mức", "Cars and equipment vs norm"),
    "kpis": ("Chỉ tiêu", "KPIs"),
    "solves": ("Lời giải", "Solves"),
}

COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "commune_code": ("Mã ĐVHC", "Unit code"),
    "name": ("Tên", "Name"),
    "province_code": ("Mã tỉnh", "Province code"),
    "province_name": ("Tỉnh, thành phố", "Province"),
    "unit_type": ("Loại ĐVHC", "Unit type"),
    "terrain": ("Địa hình", "Terrain"),
    "population": ("Dân số (người)", "Population"),
    "area_km2": ("Diện tích (km²)", "Area (km²)"),
    "priority_weight": ("Hệ số ưu tiên", "Priority weight"),
    "served_first": ("Được ưu tiên bố trí trước", "Served first"),
    "lon": ("Kinh độ", "Longitude"),
    "lat": ("Vĩ độ", "Latitude"),
    "property_id": ("Mã nhà đất", "Property id"),
    "role": ("Vai trò", "Role"),
    "origin": ("Nguồn gốc", "Origin"),
    "kind": ("Loại", "Kind"),
    "floor_area_m2": ("Diện tích sàn (m²)", "Floor area (m²)"),
    "land_area_m2": ("Diện tích đất (m²)", "Land area (m²)"),
    "condition": ("Hiện trạng", "Condition"),
    "upkeep_cost_vnd": ("Chi phí duy trì (đồng/năm)", "Upkeep (VND/year)"),
    "area_id": ("Mã địa bàn", "Area id"),
    "legacy_code": ("Mã xã cũ", "Former code"),
    "nearest_kept_km": ("Đến điểm phục vụ gần nhất (km)", "To nearest kept site (km)"),
    "nearest_kept_id": ("Điểm phục vụ gần nhất", "Nearest kept site"),
    "nearest_kept_min": ("Thời gian đến điểm phục vụ nhanh nhất (phút)",
                         "To fastest kept site (min)"),
    "main_seat_min": ("Thời gian đến trụ sở chính (phút)", "To main seat (min)"),
    "minutes": ("Thời gian đi đường (phút)", "Travel time (min)"),
    "within_service_km": ("Trong bán kính phục vụ", "Within service radius"),
    "within_service_min": ("Trong thời gian đi đường phục vụ", "Within service travel time"),
    "use": ("Mục đích sử dụng", "Use"),
    "use_vi": ("Mục đích (tiếng Việt)", "Use (Vietnamese)"),
    "report_category": ("Nhóm báo cáo của Bộ Tài chính", "Ministry reporting category"),
    "reason_code": ("Mã lý do", "Reason code"),
    "decided_by": ("Người quyết định", "Decided by"),
    "distance_source": ("Nguồn khoảng cách", "Distance from"),
    "sea_leg": ("Qua biển (tàu, phà)", "Sea leg (ferry)"),
    "main_seat_km_source": ("Nguồn khoảng cách đến trụ sở chính", "Main-seat distance from"),
    "nearest_kept_km_source": ("Nguồn khoảng cách đến điểm gần nhất",
                               "Nearest-site distance from"),
    "alt_use": ("Phương án công tốt nhất", "Best public alternative"),
    "alt_commune_code": ("ĐVHC của phương án công", "Unit of the public alternative"),
    "alt_unmet": ("Nhu cầu còn thiếu của phương án công", "Unmet need of the alternative"),
    "alt_distance_km": ("Khoảng cách phương án công (km)", "Distance to the alternative (km)"),
    "alt_cost_one_unit_vnd": ("Chi phí tối thiểu (1 đơn vị) (đồng)", "Least cost, one unit (VND)"),
    "alt_cost_vnd": ("Chi phí đáp ứng phần còn thiếu (đồng)", "Cost to serve the unmet (VND)"),
    "budget_scope": ("Ngân sách ràng buộc", "Binding budget"),
    "budget_left_vnd": ("Ngân sách còn lại (đồng)", "Budget left (VND)"),
    "candidate_property_id": ("Tài sản quyết định", "Deciding property"),
    "candidate_distance_km": ("Khoảng cách tài sản (km)", "Distance of that property (km)"),
    "candidate_use": ("Mục đích hiện tại của tài sản", "That property's use"),
    "cost_one_unit_vnd": ("Chi phí tối thiểu (1 đơn vị) (đồng)", "Least cost, one unit (VND)"),
    "serves": ("Đang phục vụ", "Serves"),
    "office_need_m2": ("Diện tích làm việc còn thiếu ở trụ sở chính (m²)",
                       "Office area the main seat lacks (m²)"),
    "office_housed_m2": ("Bố trí tại cơ sở giữ lại (m²)", "Housed in kept buildings (m²)"),
    "office_shortfall_m2": ("Còn thiếu sau khi giữ cơ sở (m²)", "Still lacking (m²)"),
    "renovation_cost_vnd": ("Chi phí cải tạo (đồng)", "Renovation (VND)"),
    "revenue_vnd": ("Thu (đồng)", "Revenue (VND)"),
    "served_commune_code": ("Phục vụ ĐVHC chính", "Main unit served"),
    "served_quantity": ("Khối lượng phục vụ (mục đích chính)", "Quantity served (first use)"),
    "shared_uses": ("Mục đích công dùng chung", "Public uses sharing the building"),
    "reason": ("Lý do", "Reason"),
    "quantity": ("Số lượng", "Quantity"),
    "distance_km": ("Khoảng cách (km)", "Distance (km)"),
    "need": ("Nhu cầu", "Need"),
    "served": ("Đã đáp ứng", "Served"),
    "unmet": ("Chưa đáp ứng", "Unmet"),
    "unit": ("Đơn vị tính", "Unit"),
    "holder_code": ("Mã ĐVHC nơi giữ", "Holder unit code"),
    "holder_name": ("Nơi giữ", "Holder"),
    "category": ("Loại tài sản", "Category"),
    "cost_vnd": ("Chi phí (đồng)", "Cost (VND)"),
    "required": ("Định mức", "Required by norm"),
    "held_before": ("Hiện có", "Held before"),
    "received": ("Được điều chuyển", "Received"),
    "held_after": ("Sau điều chuyển", "Held after"),
    "shortfall_before": ("Thiếu trước", "Shortfall before"),
    "shortfall_after": ("Thiếu sau", "Shortfall after"),
    "scope": ("Phạm vi", "Scope"),
    "scope_id": ("Mã phạm vi", "Scope id"),
    "scope_name": ("Tên phạm vi", "Scope name"),
    "kpi": ("Chỉ tiêu", "KPI"),
    "kpi_vi": ("Chỉ tiêu (tiếng Việt)", "KPI (Vietnamese)"),
    "before": ("Trước", "Before"),
    "after": ("Sau", "After"),
    "stage": ("Bước", "Stage"),
    "part": ("Phần", "Part"),
    "status": ("Trạng thái", "Status"),
    "objective": ("Giá trị mục tiêu", "Objective"),
    "best_bound": ("Cận tốt nhất", "Best bound"),
    "gap": ("Khoảng cách tối ưu", "Gap"),
    "solver": ("Bộ giải", "Solver"),
    "time_limit_s": ("Giới hạn thời gian (s)", "Time limit (s)"),
}

USE_LABELS: dict[str, str] = {
    "health": "Y tế",
    "education": "Giáo dục",
    "office": "Trụ sở làm việc",
    "service_point": "Điểm phục vụ hành chính công",
    "housing": "Nhà ở công vụ",
    "culture": "Văn hóa, thể thao",
    "transfer": "Điều chuyển",
    "sale": "Bán, chuyển nhượng",
    "hold": "Chờ xử lý",
}

REPORT_CATEGORY_LABELS: dict[str, str] = {
    "working_office": "Trụ sở làm việc",
    "public_service_facility": "Cơ sở hoạt động sự nghiệp",
    "education": "Giáo dục, đào tạo",
    "health": "Y tế",
    "culture_sport": "Văn hóa, thể thao",
    "official_housing": "Nhà ở công vụ",
    "other_public": "Mục đích công cộng khác",
    "land_fund_handover": "Bàn giao tổ chức phát triển quỹ đất, doanh nghiệp kinh doanh nhà",
    "sale_auction": "Bán, chuyển nhượng, đấu giá",
    "transfer": "Điều chuyển cho cơ quan, đơn vị khác",
    "hold": "Chưa xử lý, tạm quản lý",
}

ROLE_LABELS: dict[str, str] = {
    "main_seat": "Trụ sở chính",
    "annex": "Cơ sở làm việc phụ",
    "service_point": "Điểm phục vụ",
}

# Number formats by column name suffix (Excel).
NUMBER_FORMATS: tuple[tuple[str, str], ...] = (
    ("_vnd", "#,##0"),
    ("_km", "#,##0.0"),
    ("_m2", "#,##0"),
    ("_km2", "#,##0.00"),
    ("population", "#,##0"),
    ("gap", "0.00%"),
    ("priority_weight", "0.00"),
)


def column_label(col: str) -> tuple[str, str]:
    return COLUMN_LABELS.get(col, (col, col))


def number_format(col: str) -> str | None:
    for suffix, fmt in NUMBER_FORMATS:
        if col.endswith(suffix):
            return fmt
    return None
