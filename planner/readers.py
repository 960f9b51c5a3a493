"""Reading the raw tables of an inventory (CSV, Excel, GeoPackage, Parquet) as strings, within
limits checked before a file is unpacked or parsed: the unpacked size of a workbook, the rows of
a table, the size of ``dataset.json``. Every failure is a :class:`Problem`; nothing raises."""

from __future__ import annotations

import csv
import datetime
import io
import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.i18n import _, number
from planner.localformats import csv_separator
from planner.schema import TABLES

META_FILE = "dataset.json"
MAX_META_BYTES = 1 << 20


@dataclass(frozen=True)
class Problem:
    """One broken rule: the file (and the sheet of a workbook), the row as the spreadsheet
    numbers it (the header is row 1), the column as its header is written, the rule in words.
    ``kind`` names the rule for code that tells problems apart (the words are translated)."""

    file: str
    row: int | None
    column: str | None
    rule: str
    sheet: str | None = None
    kind: str = ""

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(_("sheet {sheet}", sheet=self.sheet))
        if self.row is not None:
            where.append(_("row {row}", row=self.row))
        if self.column is not None:
            where.append(_("column {column}", column=self.column))
        return f"{', '.join(where)}: {self.rule}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sheet": self.sheet, "row": self.row,
                "column": self.column, "rule": self.rule}


@dataclass(frozen=True)
class ReadLimits:
    """What one dataset may cost to read. The defaults fit a national inventory many times
    over; the API sets its own from its settings."""

    max_unpacked_bytes: int = 2 << 30  # of a workbook's XML
    max_rows: int = 5_000_000  # per table
    max_problems_per_rule: int = 20  # listed one by one; the rest are counted

    def report(self, problems: list[Problem], file: str, rows: np.ndarray, column: str | None,
               rule: str | Callable[[int], str], sheet: str | None = None) -> None:
        """The first ``max_problems_per_rule`` rows that break a rule (``rule(i)`` words it
        for row index i), then one line counting the others."""
        n = self.max_problems_per_rule
        for i in rows[:n]:
            problems.append(Problem(file, int(i), column, rule(int(i)) if callable(rule)
                                    else rule, sheet))
        if len(rows) > n:
            first = rule(int(rows[n])) if callable(rule) else rule
            problems.append(Problem(file, None, column, _(
                "... and {count} more rows break the same rule (the next at row {row}: "
                "{rule})", count=number(len(rows) - n), row=int(rows[n]), rule=first),
                sheet))


@dataclass
class RawTable:
    frame: pd.DataFrame  # values as read; CSV/XLSX as strings
    file: str
    row_offset: int = 2  # spreadsheet row of the first record
    crs: Any = None
    has_geometry: bool = False
    sheet: str | None = None  # of a workbook, or the layer of a GeoPackage
    headers: dict[str, str] = field(default_factory=dict)  # column code -> header as written

    def header(self, column: str) -> str:
        """``column`` as the file heads it (a Vietnamese header stays Vietnamese)."""
        return self.headers.get(column, column)

    def problem(self, row: int | None, column: str | None, rule: str,
                kind: str = "") -> Problem:
        return Problem(self.file, row, None if column is None else self.header(column), rule,
                       self.sheet, kind)

    def report(self, limits: ReadLimits, problems: list[Problem], rows: np.ndarray,
               column: str | None, rule: str | Callable[[int], str]) -> None:
        limits.report(problems, self.file, rows, None if column is None else
                      self.header(column), rule, self.sheet)


_UTF16_BOMS = {b"\xff\xfe": "UTF-16 LE", b"\xfe\xff": "UTF-16 BE"}


def _decode(path: Path, problems: list[Problem]) -> str | None:
    raw = path.read_bytes()
    if raw[:3] != b"\xef\xbb\xbf" and raw[:2] in _UTF16_BOMS:  # Excel's "Unicode Text"
        problems.append(Problem(path.name, None, None, _(
            "the file is in {encoding}, not UTF-8: save it as 'CSV UTF-8 (Comma delimited)'",
            encoding=_UTF16_BOMS[raw[:2]])))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # cp1258 and windows-1252 cannot be told apart by their bytes: only say what to do.
        line = raw[: err.start].count(b"\n") + 1
        problems.append(Problem(path.name, line, None, _(
            "not valid UTF-8 (byte {byte}); save the file as 'CSV UTF-8 (Comma delimited)' so "
            "Vietnamese names keep their diacritics", byte=f"{err.start}: "
            f"{raw[err.start:err.start + 1]!r}")))
        return None
    if not text.strip():  # also a file that is only a byte-order mark
        problems.append(Problem(path.name, None, None, _("the file is empty")))
        return None
    return text


def _ragged_rows(text: str, path: Path, limits: ReadLimits, problems: list[Problem],
                 sep: str = ",") -> None:
    """Rows whose number of fields differs from the header's, streamed (the reason pandas
    gave up, or would have shifted every column)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    bad: list[tuple[int, int]] = []
    try:
        header = next(reader)
        for fields in reader:
            if len(fields) != len(header) and any(f.strip() for f in fields):
                bad.append((reader.line_num, len(fields)))
    except (csv.Error, StopIteration) as err:
        problems.append(Problem(path.name, reader.line_num or None, None,
                                _("cannot be read as CSV: {error}", error=err)))
        return
    rows = np.array([r for r, _row in bad], dtype=np.int64)
    counts = dict(bad)
    limits.report(problems, path.name, rows, None, lambda r: _(
        "{fields} fields; the header has {header} (a stray separator, or a value with a comma "
        "that is not in quotes)", fields=counts[r], header=len(header)))


def _read_csv(path: Path, limits: ReadLimits, problems: list[Problem]) -> RawTable | None:
    text = _decode(path, problems)
    if text is None:
        return None
    sep = csv_separator(text)  # Excel saves ';' under Vietnamese regional settings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            # index_col=False: a longer first row must not turn the first column into an index
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                index_col=False, sep=sep)
        except pd.errors.EmptyDataError:
            problems.append(Problem(path.name, None, None, _("the file has no header row")))
            return None
        except (pd.errors.ParserError, csv.Error, ValueError):
            frame = None
    if frame is None or any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        before = len(problems)
        _ragged_rows(text, path, limits, problems, sep)
        if len(problems) == before:
            problems.append(Problem(path.name, None, None, _("cannot be read as CSV")))
        return None
    if _too_many_rows(path.name, None, len(frame), limits, problems):
        return None
    return RawTable(frame, path.name)


def _cell_text(value: Any) -> str:
    """A cell as a CSV holds it; an Excel date is written dd/mm/yyyy, as a planner types it."""
    if isinstance(value, datetime.datetime | datetime.date | pd.Timestamp):
        return value.strftime("%d/%m/%Y")
    return str(value)


def stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel and Parquet cells to the strings a CSV would hold (empty for missing)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
            s = s.astype("Int64")  # 2.0 read from Excel is the integer 2
        # Only a column that may hold dates pays for looking at each cell's type.
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        dated = "date" in inferred or inferred.startswith("mixed")
        out[str(col)] = s.astype(object).where(s.notna(), "").map(_cell_text if dated else str)
    return pd.DataFrame(out, index=frame.index)


def _too_many_rows(file: str, sheet: str | None, rows: int, limits: ReadLimits,
                   problems: list[Problem]) -> bool:
    if rows > limits.max_rows:
        problems.append(Problem(file, None, None, _(
            "{rows} rows; at most {most} are read", rows=number(rows),
            most=number(limits.max_rows)), sheet))
        return True
    return False


def _read_sheets(path: Path, limits: ReadLimits, problems: list[Problem]) -> dict[str, RawTable]:
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        problems.append(Problem(path.name, None, None, _(
            "cannot be read as an Excel workbook (not a zip archive: {error})", error=err)))
        return {}
    if unpacked > limits.max_unpacked_bytes:
        problems.append(Problem(path.name, None, None, _(
            "unpacks to {size} bytes; at most {most} are read (save the workbook without "
            "unused sheets, styles or blank rows)", size=number(unpacked),
            most=number(limits.max_unpacked_bytes))))
        return {}
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as err:  # openpyxl raises many types for a broken workbook
        problems.append(Problem(path.name, None, None, _(
            "cannot be read as an Excel workbook: {error}", error=err)))
        return {}
    out = {}
    for name, df in sheets.items():
        if not _too_many_rows(path.name, str(name), len(df), limits, problems):
            out[str(name)] = RawTable(stringify(df), path.name, sheet=str(name))
    return out


def _read_parquet(path: Path, limits: ReadLimits, problems: list[Problem]) -> RawTable | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        if _too_many_rows(path.name, None, meta.num_rows, limits, problems):
            return None
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if unpacked > limits.max_unpacked_bytes:
            problems.append(Problem(path.name, None, None, _(
                "unpacks to {size} bytes; at most {most} are read", size=number(unpacked),
                most=number(limits.max_unpacked_bytes))))
            return None
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises ArrowInvalid and OSError subclasses
        problems.append(Problem(path.name, None, None, _("cannot be read as Parquet: {error}",
                                                         error=err)))
        return None
    return RawTable(stringify(frame), path.name)


def _read_gpkg_layers(path: Path, limits: ReadLimits,
                      problems: list[Problem]) -> dict[str, RawTable]:
    import pyogrio

    try:
        layers = [name for name, _kind in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio.errors.DataSourceError and friends
        problems.append(Problem(path.name, None, None, _("cannot be read as GeoPackage: {error}",
                                                         error=err)))
        return {}
    out: dict[str, RawTable] = {}
    for layer in layers:
        try:
            if _too_many_rows(path.name, layer, int(pyogrio.read_info(path, layer=layer)[
                    "features"]), limits, problems):
                continue
            gdf = pyogrio.read_dataframe(path, layer=layer)
        except Exception as err:  # a broken layer: the others are still read
            problems.append(Problem(path.name, None, None, _("cannot be read: {error}",
                                                             error=err), layer))
            continue
        has_geom = "geometry" in gdf.columns and gdf["geometry"].notna().any()
        crs = getattr(gdf, "crs", None) if has_geom else None
        frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))
        raw = RawTable(stringify(frame), path.name, crs=crs, has_geometry=has_geom, sheet=layer)
        if has_geom:
            raw.frame["__geometry__"] = list(gdf.geometry)
        out[layer] = raw
    return out


def _read_meta(path: Path, problems: list[Problem]) -> dict[str, Any]:
    if path.stat().st_size > MAX_META_BYTES:
        problems.append(Problem(META_FILE, None, None, _("larger than {size} bytes",
                                                         size=number(MAX_META_BYTES))))
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        problems.append(Problem(META_FILE, None, None, _("not valid UTF-8 JSON: {error}",
                                                         error=err)))
        return {}
    if not isinstance(meta, dict):
        problems.append(Problem(META_FILE, None, None, _("must be a JSON object")))
        return {}
    return meta


def read_raw(path: Path, limits: ReadLimits,
             problems: list[Problem]) -> tuple[dict[str, RawTable], dict[str, Any]]:
    """Find the tables of a dataset folder or single file."""
    raws: dict[str, RawTable] = {}
    meta: dict[str, Any] = {}
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            raws = _read_sheets(path, limits, problems)
        elif suffix == ".gpkg":
            raws = _read_gpkg_layers(path, limits, problems)
        else:
            problems.append(Problem(path.name, None, None, _(
                "a single-file dataset must be an .xlsx workbook or a .gpkg GeoPackage with one "
                "sheet or layer per table")))
        return raws, meta
    if not path.is_dir():
        problems.append(Problem(str(path), None, None, _("no such file or folder")))
        return raws, meta
    if (path / META_FILE).exists():
        meta = _read_meta(path / META_FILE, problems)
    for single in sorted(path.glob("*.xlsx")) + sorted(path.glob("*.gpkg")):
        read = _read_sheets if single.suffix == ".xlsx" else _read_gpkg_layers
        for name, layer in read(single, limits, problems).items():
            if name in TABLES:
                raws.setdefault(name, layer)
    for name in TABLES:
        for ext in (".csv", ".parquet"):
            file = path / f"{name}{ext}"
            if file.exists() and name not in raws:
                one = (_read_csv if ext == ".csv" else _read_parquet)(file, limits, problems)
                if one is not None:
                    raws[name] = one
    return raws, meta
