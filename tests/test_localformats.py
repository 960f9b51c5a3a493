"""An inventory as Vietnamese planners save it (Vietnamese headers, semicolons, a BOM, Có/Không,
85.970.000.000) validates to the same dataset as the English CSV."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import read_csv_table

from planner.inventory import InventoryError, load_dataset
from planner.labels import column_label
from planner.localformats import csv_separator, to_number


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
