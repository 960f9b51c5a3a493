"""An inventory as Vietnamese planners save it (Vietnamese headers, semicolons, a BOM, Có/Không,
85.970.000.000) validates to the same dataset as the English CSV."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import read_csv_table

from planner.i18n import use_lang
from planner.inventory import InventoryError, load_dataset
from planner.labels import column_label, labels
from planner.localformats import csv_separator, to_number
from planner.readers import RawTable, ReadLimits
from planner.unitnames import codes_from_names


def vietnamese_number(v: str) -> str:
    """12345.5 -> 12.345,5 (dots group thousands, a comma marks decimals)."""
    if v == "":
        return v
    whole, _, frac = f"{float(v):.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    frac = frac.rstrip("0")
    return grouped + ("," + frac if frac else (",0" if grouped.count(".") == 1 else ""))


def test_a_workbook_typed_the_vietnamese_way_reads_the_same(small_csv_dir, small_dataset):
    props = read_csv_table(small_csv_dir, "properties")
    vi = props.copy()
    vi["in_use_as_seat"] = np.where(props["in_use_as_seat"].str.lower() == "true", "Có",
                                    "Không")
    for col in ("market_value_vnd", "floor_area_m2", "land_area_m2"):
        vi[col] = props[col].map(vietnamese_number)
    vi.columns = [column_label(c, "vi") for c in props.columns]
    (small_csv_dir / "properties.csv").write_text(
        vi.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    comm = read_csv_table(small_csv_dir, "communes")
    comm.columns = [column_label(c, "en").upper() for c in comm.columns]  # English labels too
    comm.to_csv(small_csv_dir / "communes.csv", index=False)
    back = load_dataset(small_csv_dir)
    for name in ("properties", "communes"):
        pd.testing.assert_frame_equal(back[name], small_dataset[name], check_dtype=False)
    assert (vi["Giá trị thị trường (đồng)"].str.count(r"\.") >= 2).any()  # it was exercised


def test_numbers_the_english_and_the_vietnamese_way():
    text = pd.Series(["85.970.000.000", "12,5", "85,970,000,000", "1,234.5", "105.123",
                      "1.500,25", "-3", "1 000", "1,234", "abc"])
    num, ambiguous = to_number(text)
    assert num.iloc[:8].tolist() == [85_970_000_000, 12.5, 85_970_000_000, 1234.5, 105.123,
                                     1500.25, -3, 1000]
    assert ambiguous.tolist() == [False] * 8 + [True, False] and num.iloc[8:].isna().all()
    assert csv_separator("a;b;c\n1;2,5;3\n") == ";" and csv_separator("a,b\n1,2\n") == ","


def test_an_ambiguous_number_and_a_bad_yes_no_are_named(small_csv_dir):
    props = read_csv_table(small_csv_dir, "properties")
    props.loc[0, "market_value_vnd"] = "1,234"
    props.loc[1, "in_use_as_seat"] = "có lẽ"
    props.to_csv(small_csv_dir / "properties.csv", index=False)
    with pytest.raises(InventoryError) as err:
        load_dataset(small_csv_dir)
    got = {(p.row, p.column): p.rule for p in err.value.problems}
    assert "ambiguous" in got[(2, "market_value_vnd")]
    assert "Có/Không" in got[(3, "in_use_as_seat")]


def test_labels_dates_and_names_typed_for_codes(small_csv_dir, small_dataset, communes):
    props = read_csv_table(small_csv_dir, "properties")
    unit = communes.set_index("code").loc[props.loc[0, "commune_code"]]
    typed = props.copy()
    typed.loc[0, "commune_code"] = unit["name"].removeprefix(unit["unit_type"]).strip()
    typed["condition"] = props["condition"].map(labels("condition", "vi"))
    typed["kind"] = props["kind"].map(labels("kind", "en")).str.upper()
    built = props["year_built"] != ""
    typed.loc[built, "year_built"] = "15/03/" + props.loc[built, "year_built"]
    typed.to_csv(small_csv_dir / "properties.csv", index=False)
    back = load_dataset(small_csv_dir)
    pd.testing.assert_frame_equal(back.properties, small_dataset.properties, check_dtype=False)
    assert [str(n) for n in back.notes] == [f"properties.csv, row 2, column commune_code: "
                                  f"'{typed.loc[0, 'commune_code']}' read as unit "
                                  f"{unit.name} {unit['name']} ({unit['province_name']})"]
    typed.loc[1, "year_built"] = "31/02/2005"
    typed.loc[2, "condition"] = "Tôt"
    typed.to_csv(small_csv_dir / "properties.csv", index=False)
    with use_lang("vi"), pytest.raises(InventoryError) as err:
        load_dataset(small_csv_dir)
    got = {(p.row, p.column): p.rule for p in err.value.problems}
    assert "dd/mm/yyyy" in got[(3, "year_built")]
    assert got[(4, "condition")] == ("giá trị 'Tôt' không hợp lệ (có phải 'Tốt'?); các giá trị "
                                     "được dùng: " + "; ".join(labels("condition", "vi").values()))


def test_a_name_is_matched_in_the_rows_province(communes):
    df = pd.DataFrame({"commune_code": ["Ba Đình", "Phường Ba Đình", "ba dinh", "Ba Đình"],
                       "province_code": [None, None, "38", "01"]})
    raw = RawTable(df.copy(), "x.xlsx", sheet="properties")
    problems: list = []
    notes: list = []
    codes_from_names(df, "commune_code", raw, communes, ReadLimits(max_problems_per_rule=2),
                     problems, notes)
    assert df["commune_code"].tolist() == ["Ba Đình", "00004", "16171", "00004"]
    assert [str(p) for p in problems] == [
        "x.xlsx, sheet properties, row 2, column commune_code: 'Ba Đình' names several units; "
        "write the code of one: 00004 Phường Ba Đình (Thành phố Hà Nội); 16171 Xã Ba Đình "
        "(Tỉnh Thanh Hóa)"]
    assert [n.row for n in notes] == [3, 4, None]  # the first read one by one, then counted
    assert notes[-1].rule == "... and 1 more names read as codes"


def test_a_csv_in_another_encoding_is_one_problem_that_says_what_to_do(small_csv_dir):
    text = (small_csv_dir / "vehicles.csv").read_text(encoding="utf-8")
    (small_csv_dir / "vehicles.csv").write_bytes(text.encode("utf-16"))  # Unicode Text
    (small_csv_dir / "equipment.csv").write_bytes(
        (small_csv_dir / "equipment.csv").read_text(encoding="utf-8").replace(
            "equipment_id", "equipment_id_Đ").encode("cp1258", errors="replace"))
    with pytest.raises(InventoryError) as err:
        load_dataset(small_csv_dir)
    got = {p.file: p.rule for p in err.value.problems}
    assert len(err.value.problems) == 2
    assert got["vehicles.csv"].startswith("the file is in UTF-16 LE, not UTF-8: save it as "
                                          "'CSV UTF-8")
    assert got["equipment.csv"].startswith("not valid UTF-8")


# Words of the English rules that a Vietnamese problem must not hold.
ENGLISH = re.compile(r"\b(unknown|value|required|number|missing|column|row|rows|duplicate|"
                     r"allowed|not|must|file|sheet|fields|header|date|unit|code|yes)\b")


def test_every_kind_of_problem_in_both_languages(small_csv_dir):
    props = read_csv_table(small_csv_dir, "properties")
    props.loc[0, "land_area_m2"] = "abc"
    props.loc[1, "floor_area_m2"] = ""
    props.loc[2, "in_use_as_seat"] = "có lẽ"
    props.loc[3, "condition"] = "mới tinh"
    props.loc[4, "property_id"] = props.loc[5, "property_id"]
    props.loc[6, "commune_code"] = "99999"
    props.loc[7, "market_value_vnd"] = "1,234"
    props.loc[8, "year_built"] = "30/02/2001"
    props.loc[9, "market_value_vnd"] = "-5"
    props.loc[10, "year_built"] = "1990,5"
    props.loc[11, "commune_code"] = "Sông Hiến Mới"
    props.to_csv(small_csv_dir / "properties.csv", index=False)
    cars = read_csv_table(small_csv_dir, "vehicles").rename(columns={"year": "nam"})
    cars.drop(columns="surplus").to_csv(small_csv_dir / "vehicles.csv", index=False)
    (small_csv_dir / "norms.csv").write_text("", encoding="utf-8")
    said = {}
    for lang in ("en", "vi"):
        with use_lang(lang), pytest.raises(InventoryError) as err:
            load_dataset(small_csv_dir)
        said[lang] = err.value.problems
    assert [(p.file, p.row) for p in said["en"]] == [(p.file, p.row) for p in said["vi"]]
    assert len(said["en"]) >= 14
    for en, vi in zip(said["en"], said["vi"], strict=True):
        assert en.rule != vi.rule
        assert not ENGLISH.search(vi.rule.replace("dd/mm/yyyy", "")), vi.rule
    with use_lang("vi"):
        shown = [str(p) for p in said["vi"] if p.row is not None]
    assert all(", dòng " in s for s in shown)
