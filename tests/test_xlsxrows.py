"""The fast data rows of plan.xlsx write the XML openpyxl writes for the same values, and a text
stays a text."""

from __future__ import annotations

import io
import random
import zipfile

import openpyxl
import pandas as pd
import pytest
from openpyxl import Workbook

from planner import xlsxrows
from planner.safecells import FIXED_TIME, xlsx_bytes

TEXTS = ["", " ", "  lead", "trail ", "Xã Lý Sơn", "a & b < c > d", 'say "hi"', "tab\there",
         "two\nlines", "cr\rhere", "Đặc khu Trường Sa 🏝", "0123", "1e5", "x" * 40_000]
NUMBERS = [0, -1, 7, 2**40, 12_345_678_901_234_567, 0.1 + 0.2, -0.0, 1e-7, 1e20, 85.97e9,
           3.14159, True, False]


def _columns(seed: int, n: int) -> list[list[object]]:
    rng = random.Random(seed)
    pool = [*TEXTS, *NUMBERS, None]
    return [[rng.choice(pool) for _ in range(n)] for _ in range(6)]


def _sheet_xml(book: bytes, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        return z.read(part)


def _book(columns: list[list[object]], formats: list[str | None], fast: bool) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append([f"c{j}" for j in range(len(columns))])
    rows = xlsxrows.Rows()
    if fast:
        rows.put(ws, [list(c) for c in columns], formats)
    else:  # styles registered in column order, as the fast rows do, so their ids agree
        for f in formats:
            xlsxrows._style_id(ws, f)
        xlsxrows._append_cells(ws, [list(c) for c in columns], formats)
    skeleton, out = io.BytesIO(), io.BytesIO()
    wb.save(skeleton)
    rows.finish(skeleton, out, FIXED_TIME)
    return out.getvalue()


@pytest.mark.parametrize("seed", range(5))
def test_fast_rows_are_the_xml_openpyxl_writes(seed: int) -> None:
    columns = _columns(seed, 3 * xlsxrows.ROWS_PER_CHUNK // 2 + seed)
    formats = [None, "#,##0", "0.0", None, "0.00%", "#,##0"]
    assert xlsxrows.fast(columns)
    slow, quick = _book(columns, formats, False), _book(columns, formats, True)
    assert _sheet_xml(quick) == _sheet_xml(slow)
    assert _sheet_xml(quick, "xl/styles.xml") == _sheet_xml(slow, "xl/styles.xml")


def test_text_stays_text_and_characters_xml_cannot_hold_are_dropped() -> None:
    book = _book([["=1+1", "#N/A", "@cmd", "bell\x07ok"], [1.5, None, 2, True]],
                 [None, "0.0"], True)
    ws = openpyxl.load_workbook(io.BytesIO(book)).active
    assert ws is not None
    cells = list(ws.iter_rows(min_row=2, values_only=False))
    assert [c[0].value for c in cells] == ["=1+1", "#N/A", "@cmd", "bellok"]
    assert {c[0].data_type for c in cells} == {"s"}
    assert [c[1].value for c in cells] == [1.5, None, 2, True]
    assert cells[0][1].number_format == "0.0"


def test_a_sheet_with_dates_goes_through_openpyxl() -> None:
    day = pd.Timestamp("2025-07-01").to_pydatetime()
    assert not xlsxrows.fast([["a", "b"], [day, None]])
    book = _book([["a", "b"], [day, None]], [None, None], True)
    ws = openpyxl.load_workbook(io.BytesIO(book)).active
    assert ws is not None
    assert [r for r in ws.iter_rows(min_row=2, values_only=True)] == [("a", day), ("b", None)]


def test_downloads_read_back_and_are_reproducible() -> None:
    sheets = {"Nhà đất": pd.DataFrame({"property_id": ["P1", "P2", "=HYPERLINK(1)"],
                                       "floor_area_m2": [120.5, None, 3],
                                       "kept": [True, False, True]}),
              "trống": pd.DataFrame({"a": pd.Series([], dtype=float)})}
    book = xlsx_bytes(sheets)
    assert book == xlsx_bytes(sheets)
    back = pd.read_excel(io.BytesIO(book), sheet_name=None)
    assert list(back) == ["Nhà đất", "trống"]
    pd.testing.assert_frame_equal(back["Nhà đất"], sheets["Nhà đất"])
    assert back["trống"].empty and list(back["trống"].columns) == ["a"]
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        assert {i.date_time for i in z.infolist()} == {FIXED_TIME.timetuple()[:6]}


def test_rows_for_a_sheet_the_workbook_lacks_are_refused() -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append(["a"])
    rows = xlsxrows.Rows()
    rows.sheets["other"] = ([[1]], [None])
    skeleton = io.BytesIO()
    wb.save(skeleton)
    with pytest.raises(KeyError, match="other"):
        rows.finish(skeleton, io.BytesIO(), FIXED_TIME)


def test_column_values_are_each_values_cell() -> None:
    from planner.safecells import cell_value, column_values

    df = pd.DataFrame({"i": [1, -2, 3], "u": pd.Series([1, 2, 3], dtype="uint8"),
                       "b": [True, False, True], "f": [1.5, float("nan"), float("inf")],
                       "n": pd.array([1, None, 3], dtype="Int64"),
                       "s": pd.array(["a", None, "c"], dtype="string"),
                       "o": ["x", None, 2.5]})
    for col in df.columns:
        got = column_values(df[col])
        want = [cell_value(v) for v in df[col].tolist()]
        assert got == want and [type(v) for v in got] == [type(v) for v in want], col
