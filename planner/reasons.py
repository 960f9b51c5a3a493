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
from planner.labels import USE_LABELS
from planner.scenario import Policy
from planner.schema import SERVICE_USES

RULE_LABELS = {
    "use_allowed": "kịch bản không cho phép mục đích này",
    "kind": "là đất, không có công trình",
    "legal_status": "tình trạng pháp lý",
    "condition": "hiện trạng",
    "floor_area_m2": "diện tích sàn",
    "land_area_m2": "diện tích đất",
    "restriction": "hạn chế",
}


def _vnd(x: float) -> str:
    return f"{x:,.0f}".replace(",", ".") + " đồng"


def _qty(x: float, use: str) -> str:
    unit = "điểm" if use == "service_point" else "m²"
    return f"{x:,.0f}".replace(",", ".") + f" {unit}"


def _km(x: float) -> str:
    return f"{x:.1f}".replace(".", ",") + " km"


def _scope(scope: str) -> str:
    if scope == "national":
        return "ngân sách cải tạo cả nước"
    return f"ngân sách cải tạo tỉnh {scope.removeprefix('province ')}"


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
            out.append("kịch bản không cho phép mục đích công nào")
        elif len(common) == 1:
            rule = common.pop()
            if rule == "floor_area_m2":
                lows = ", ".join(f"{USE_LABELS[u]} {el.min_floor_area_m2.get(u, 0):g}"
                                 for u in rules)
                out.append(f"diện tích sàn {row['floor_area_m2']:,.0f} m² dưới mức tối thiểu "
                           f"({lows} m²)")
            elif rule in ("legal_status", "condition", "restriction"):
                out.append(f"{RULE_LABELS[rule]} “{row[rule]}”")
            else:
                out.append(RULE_LABELS.get(rule, rule))
        else:
            out.append("; ".join(f"{USE_LABELS[u]}: {RULE_LABELS.get(r, r)}"
                                 for u, r in rules.items() if r))
    return pd.Series(out, index=surplus["property_id"].to_numpy())


def _why_not_sold(surplus: pd.DataFrame, policy: Policy) -> pd.Series:
    fail = prepare.first_failed(prepare.sale_rules(surplus, policy))
    text = [("" if not r else (f"không bán được: {RULE_LABELS[r]} “{v}”"
                               if r in ("legal_status", "restriction") else
                               "không bán được: kịch bản không cho phép bán"))
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
            whom = (f" (nhiều nhất cho {names.get(main, main)}, {main})"
                    if isinstance(main, str) else "")
            beside = "".join(
                f"; cùng {USE_LABELS[u]}: phục vụ {_qty(by_use.get((r.property_id, u), 0), u)}"
                for u in str(r.shared_uses).split("+") if u)
            text = (f"Sử dụng làm {USE_LABELS[r.use]}: phục vụ {_qty(r.served_quantity, r.use)}"
                    f"{whom}{beside}; chi phí cải tạo {_vnd(r.renovation_cost_vnd)}")
        elif code == "fixed":
            text = f"{USE_LABELS[r.use]} theo quyết định trước"
        elif code == "no_public_option":
            text = f"Không đủ điều kiện dùng vào mục đích công: {d}"
        elif code == "no_need_in_reach":
            text = ("Không có nhu cầu nào mà tài sản này đủ điều kiện đáp ứng trong bán kính "
                    f"phục vụ (trong số {policy.candidates_per_need} tài sản gần nhất của mỗi "
                    "nhu cầu)")
        else:
            code_ = c.alt_commune_code
            code_ = c.alt_commune_code
            alt = (f"{USE_LABELS[c.alt_use]} cho {names.get(code_, code_)} "
                   f"({code_}, {_km(c.alt_distance_km)})")
            if code == "needs_met":
                text = f"Nhu cầu trong tầm phục vụ đã được đáp ứng (gần nhất: {alt})"
            elif code == "budget":
                text = (f"Phương án công tốt nhất: {alt}, còn thiếu "
                        f"{_qty(c.alt_unmet, c.alt_use)}; cần {_vnd(c.alt_cost_vnd)} "
                        f"(ít nhất {_vnd(c.alt_cost_one_unit_vnd)}) nhưng "
                        f"{_scope(c.budget_scope)} chỉ còn {_vnd(c.budget_left_vnd)}")
            else:  # value
                text = (f"Phương án công tốt nhất: {alt}, còn thiếu "
                        f"{_qty(c.alt_unmet, c.alt_use)}; theo thứ tự ưu tiên “value”, "
                        f"thu {_vnd(r.revenue_vnd)} lớn hơn giá trị nhu cầu mà nó đáp ứng")
        if r.use == "sale":
            text += "; bán, đấu giá"
        elif r.use == "hold" and ns:
            text += f"; chờ xử lý ({ns})"
        elif r.use == "transfer":
            text += "; điều chuyển cho đơn vị khác"
        out.append(text)
    return np.asarray(out, dtype=object)


def need_texts(codes: pd.DataFrame, units: pd.DataFrame, policy: Policy) -> np.ndarray:
    """The reason of each unmet need (rows of ``DispositionModel.need_reasons``)."""
    names = units.set_index("commune_code")["name"]
    scope = " trong tỉnh" if policy.same_province_only else ""
    out = []
    for c in codes.itertuples(index=False):
        code = c.reason_code
        if code == "no_candidate":
            limit = policy.service_radius_min.get(c.use)
            within = "" if limit is None else f" và {limit:g} phút đi đường"
            out.append(f"Không có tài sản đủ điều kiện{scope} trong bán kính "
                       f"{policy.service_radius_km.get(c.use, 0):g} km{within}")
            continue
        who = f"{c.property_id} ({_km(c.distance_km)})"
        serves = ", ".join(f"{names.get(k, k)} {v}" for k, v in
                           (s.split(":") for s in c.serves.split(", ") if s))
        if code == "budget":
            out.append(f"{who} có thể đáp ứng nhưng cần {_vnd(c.cost_vnd)} (ít nhất "
                       f"{_vnd(c.cost_one_unit_vnd)}); {_scope(c.budget_scope)} chỉ còn "
                       f"{_vnd(c.budget_left_vnd)}")
        elif code == "capacity_taken":
            out.append(f"{who} đã dùng hết diện tích cho: {serves}")
        elif code == "other_use":
            out.append(f"{who} đang dùng làm {USE_LABELS[c.candidate_use]} cho: {serves}")
        elif code == "fixed":
            out.append(f"{who} đã được quyết định trước cho mục đích "
                       f"{USE_LABELS[c.candidate_use]}")
        else:
            out.append(f"{who} được {USE_LABELS[c.candidate_use].lower()} theo thứ tự ưu "
                       "tiên “value” (tiền thu lớn hơn giá trị nhu cầu)")
    return np.asarray(out, dtype=object)


def decision_texts(ids: pd.Series, rows: pd.DataFrame) -> pd.Series:
    """Per id (a property or a lot key) what the planner decided, in Vietnamese, from its
    decision rows (id, rule, use or target, row, note); '' where nothing was decided."""
    if rows.empty:
        return pd.Series("", index=ids.index, dtype=object)

    def one(r: pd.Series) -> str:
        what = USE_LABELS.get(str(r["use"]), "giữ lại làm trụ sở phụ hoặc điểm phục vụ"
                              if r["use"] == "keep" else str(r["use"]))
        verb = what if r["rule"] == "require" else f"không {what.lower()}"
        note = f": {r['note']}" if isinstance(r["note"], str) and r["note"] else ""
        return f"{verb} (dòng {int(r['row'])}{note})"

    said = rows.assign(text=rows.apply(one, axis=1)).groupby("id")["text"].agg("; ".join)
    texts = ids.map(said)
    return ("Quyết định của người lập kế hoạch: " + texts).where(texts.notna(), "").astype(object)
