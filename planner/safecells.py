"""Text that a spreadsheet will not run: names, descriptions and reasons come from inventories
and scenarios that anyone with an upload or planner key wrote.

- Excel: a text cell is always written as text (openpyxl would turn a string that begins with
  ``=`` into a live formula).
- CSV: a text cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading apostrophe (OWASP's rule against CSV injection), in downloads and in run folders
  alike. Numbers are left alone; Parquet and JSON keep every text as it was.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pandas as pd

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The date written into workbooks and layers, so they are reproducible.
FIXED_TIME = dt.datetime(2025, 7, 1)


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns
            if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell that a spreadsheet would evaluate prefixed by ``'``."""
    out = None
    for col in _text_columns(df):
        s = df[col]
        hit = s.map(lambda v: isinstance(v, str) and v.startswith(CSV_TRIGGERS)).to_numpy(bool)
        if hit.any():
            out = df.copy() if out is None else out
            out[col] = s.where(~hit, "'" + s.astype(str))
    return df if out is None else out


def csv_text(df: pd.DataFrame) -> str:
    return csv_safe(df).to_csv(index=False, lineterminator="\n")


def formula_rows(values: list[Any]) -> np.ndarray:
    """Positions of the strings Excel would read as a formula."""
    return np.flatnonzero([isinstance(v, str) and v.startswith("=") for v in values])


def as_text(ws: Any, value: str) -> Any:
    """A write-only cell that holds ``value`` as text, whatever it begins with."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value)
    cell.data_type = "s"
    return cell


def cell_value(v: Any) -> Any:
    """A value as a spreadsheet cell holds it: Python scalars, None for missing and
    non-finite numbers."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def column_values(s: pd.Series) -> list[Any]:
    """``cell_value`` of every value of ``s``, a column at a time where its dtype allows."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biu":
        return list(s.tolist())
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
        arr = s.to_numpy()
        values: list[Any] = arr.tolist()
        for i in np.flatnonzero(~np.isfinite(arr)):
            values[i] = None
        return values
    return [cell_value(v) for v in s.tolist()]


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """A workbook with one sheet per frame (one header row), every text cell as text."""
    from openpyxl import Workbook

    from planner.xlsxrows import Rows

    wb = Workbook(write_only=True)
    rows = Rows()
    for name, df in sheets.items():
        ws = wb.create_sheet(name[:31])
        ws.append([str(c) for c in df.columns])
        rows.put(ws, [column_values(df[col]) for col in df.columns], [None] * len(df.columns))
    skeleton, out = io.BytesIO(), io.BytesIO()
    wb.save(skeleton)
    rows.finish(skeleton, out, FIXED_TIME)
    return out.getvalue()
