"""The data rows of large sheets, written as SpreadsheetML text and set into the workbook that
openpyxl's write-only mode saved with the headers, styles, widths, filters and small sheets.

openpyxl builds and serialises an object for every cell, which is most of the time a national
plan.xlsx takes; the rows here are the same XML openpyxl writes for the same values (the test
compares the two), with two differences that only make them safer: a text is always a text
(openpyxl reads ``=...`` as a formula and ``#N/A`` as an error), and characters XML cannot hold
are dropped (openpyxl refuses the whole value).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

from openpyxl.utils import get_column_letter

from planner.safecells import as_text, formula_rows

MAX_TEXT = 32_767  # Excel's limit for a cell
ROWS_PER_CHUNK = 2_000
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# The types a fast row holds; a sheet with any other value (dates, decimals) goes through openpyxl.
FAST_TYPES = (str, bool, int, float)


def fast(columns: Sequence[Sequence[Any]]) -> bool:
    """Whether every value is one the fast rows write as openpyxl would (or is empty)."""
    return all(v is None or type(v) in FAST_TYPES for col in columns for v in col)


def _text(v: str) -> str:
    v = _ILLEGAL.sub("", v[:MAX_TEXT])
    escaped = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "\r", "&#13;")
    space = ' xml:space="preserve"' if v != v.strip() else ""
    return f"<is><t{space}>{escaped}</t></is>" if v else ""


def _cells(values: Sequence[Any], letter: str, style: int | None, first_row: int) -> list[str]:
    """Each value's ``<c>`` element in column ``letter`` ('' where the cell is empty)."""
    s = f' s="{style}"' if style is not None else ""
    out: list[str] = []
    texts: dict[str, str] = {}  # labels repeat down a column: each is escaped once
    for i, v in enumerate(values, start=first_row):
        if v is None:
            out.append("")
        elif type(v) is str:
            t = texts.get(v)
            if t is None:
                t = texts[v] = _text(v)
            out.append(f'<c r="{letter}{i}"{s} t="inlineStr">{t}</c>')
        elif type(v) is bool:
            out.append(f'<c r="{letter}{i}"{s} t="b"><v>{int(v)}</v></c>')
        else:
            out.append(f'<c r="{letter}{i}"{s} t="n"><v>{v:.16g}</v></c>')
    return out


def rows_xml(columns: Sequence[Sequence[Any]], styles: Sequence[int | None],
             first_row: int = 2) -> Iterator[bytes]:
    """``<row>`` elements of ``columns`` (Python scalars or None) from row ``first_row``, in
    chunks of ASCII bytes (characters beyond it as references, as openpyxl writes them).
    ``styles``: each column's cell style id, None for unstyled cells."""
    cells = [_cells(col, get_column_letter(j + 1), style, first_row)
             for j, (col, style) in enumerate(zip(columns, styles, strict=True))]
    n = len(cells[0]) if cells else 0
    for start in range(0, n, ROWS_PER_CHUNK):
        stop = min(start + ROWS_PER_CHUNK, n)
        chunk = "".join(
            f'<row r="{start + k + first_row}">{"".join(row)}</row>'
            for k, row in enumerate(zip(*(c[start:stop] for c in cells), strict=True)))
        yield chunk.encode("ascii", "xmlcharrefreplace")


class Rows:
    """Data rows waiting to be set into a saved workbook, by sheet title."""

    def __init__(self) -> None:
        self.sheets: dict[str, tuple[Sequence[Sequence[Any]], Sequence[int | None]]] = {}

    def put(self, ws: Any, columns: list[list[Any]], formats: Sequence[str | None]) -> None:
        """Rows 2.. of the write-only sheet ``ws`` (its header row appended), column by column
        (Python scalars or None), each column with its number format or None. Values the fast
        rows do not write (dates) make the sheet's rows go through openpyxl's cells."""
        if fast(columns):
            self.sheets[ws.title] = (columns, [_style_id(ws, f) for f in formats])
        else:
            _append_cells(ws, columns, formats)

    def finish(self, src: str | IO[bytes], dst: str | IO[bytes], stamp: dt.datetime) -> None:
        """Copy the workbook ``src`` to ``dst`` with the rows in their sheets and every entry,
        and the workbook's modified date, stamped ``stamp`` (so the file is reproducible)."""
        iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            paths = _sheet_paths(zin)
            missing = set(self.sheets) - set(paths)
            if missing:
                raise KeyError(f"no such sheet in the workbook: {sorted(missing)}")
            rows_of = {paths[t]: v for t, v in self.sheets.items()}
            for info in zin.infolist():
                data = zin.read(info)
                entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = info.external_attr
                if info.filename == "docProps/core.xml":
                    data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso, data)
                if info.filename not in rows_of:
                    zout.writestr(entry, data)
                    continue
                head, tail = _split_at_rows_end(data, info.filename)
                with zout.open(entry, "w") as out:
                    out.write(head)
                    for chunk in rows_xml(*rows_of[info.filename]):
                        out.write(chunk)
                    out.write(tail)


def _style_id(ws: Any, fmt: str | None) -> int | None:
    """The workbook's style id of a cell with number format ``fmt`` (None: no style)."""
    from openpyxl.cell import WriteOnlyCell

    if fmt is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = fmt
    return int(cell.style_id) if cell.has_style else None


def _append_cells(ws: Any, columns: list[list[Any]], formats: Sequence[str | None]) -> None:
    from openpyxl.cell import WriteOnlyCell

    # One styled cell per formatted column, refilled for every row: openpyxl's streaming
    # writer serialises a row as soon as it is appended, so the cell can be reused.
    styled: list[Any] = []
    for fmt in formats:
        cell = None
        if fmt is not None:
            cell = WriteOnlyCell(ws)
            cell.number_format = fmt
        styled.append(cell)
    for j, column in enumerate(columns):
        if styled[j] is None:
            for i in formula_rows(column):  # text that users wrote stays text
                column[i] = as_text(ws, column[i])
    for values in zip(*columns, strict=True):
        out: list[Any] = list(values)
        for j, cell in enumerate(styled):
            if cell is not None and out[j] is not None:
                cell.value = out[j]
                if cell.data_type == "f":  # never a formula, whatever the column holds
                    cell.data_type = "s"
                out[j] = cell
        ws.append(out)


def _split_at_rows_end(sheet: bytes, name: str) -> tuple[bytes, bytes]:
    """The sheet's XML cut where rows are added: before ``</sheetData>``."""
    at = sheet.find(b"</sheetData>")
    if at < 0:
        empty = sheet.find(b"<sheetData/>")
        if empty < 0:
            raise ValueError(f"{name}: no sheetData")
        return sheet[:empty] + b"<sheetData>", b"</sheetData>" + sheet[empty + 12:]
    return sheet[:at], sheet[at:]


def _sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its part's name in the zip, read from the workbook and its relations."""
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG}Relationship")}
    out = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        t = target[sheet.get(f"{_REL}id")]
        out[sheet.get("name", "")] = (t.lstrip("/") if t.startswith("/")
                                      else str(PurePosixPath("xl") / t))
    return out
