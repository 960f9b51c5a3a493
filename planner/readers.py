"""Reading the raw tables of an inventory (CSV, Excel, GeoPackage, Parquet) as strings, within
limits checked before a file is unpacked or parsed: the unpacked size of a workbook, the rows of
a table, the size of ``dataset.json``. Every failure is a :class:`Problem`; nothing raises."""

from __future__ import annotations

import csv
import io
import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.localformats import csv_separator
from planner.schema import TABLES

META_FILE = "dataset.json"
MAX_META_BYTES = 1 << 20


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    rule: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.rule}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "rule": self.rule}


@dataclass(frozen=True)
class ReadLimits:
    """What one dataset may cost to read. The defaults fit a national inventory many times
    over; the API sets its own from its settings."""

    max_unpacked_bytes: int = 2 << 30  # of a workbook's XML
    max_rows: int = 5_000_000  # per table
    max_problems_per_rule: int = 20  # listed one by one; the rest are counted

    def report(self, problems: list[Problem], file: str, rows: np.ndarray, column: str | None,
               rule: str | Callable[[int], str]) -> None:
        """The first ``max_problems_per_rule`` rows that break a rule (``rule(i)`` words it
        for row index i), then one line counting the others."""
        n = self.max_problems_per_rule
        for i in rows[:n]:
            problems.append(Problem(file, int(i), column, rule(int(i)) if callable(rule)
                                    else rule))
        if len(rows) > n:
            first = rule(int(rows[n])) if callable(rule) else rule
            problems.append(Problem(file, None, column, f"... and {len(rows) - n:,} more rows "
                                    f"break the same rule (the next at row {int(rows[n])}: "
                                    f"{first})"))


@dataclass
class RawTable:
    frame: pd.DataFrame  # values as read; CSV/XLSX as strings
    file: str
    row_offset: int = 2  # spreadsheet row of the first record
    crs: Any = None
    has_geometry: bool = False


def _decode(path: Path, problems: list[Problem]) -> str | None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problems.append(Problem(
            path.name, line, None,
            f"not valid UTF-8 (byte {err.start}: {raw[err.start:err.start + 1]!r}); save the "
            "file as UTF-8 (Excel: 'CSV UTF-8') so Vietnamese names keep their diacritics"))
        return None
    if not text.strip():  # also a file that is only a byte-order mark
        problems.append(Problem(path.name, None, None, "the file is empty"))
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
                                f"cannot be read as CSV: {err}"))
        return
    rows = np.array([r for r, _ in bad], dtype=np.int64)
    counts = dict(bad)
    limits.report(problems, path.name, rows, None,
                  lambda r: f"{counts[r]} fields; the header has {len(header)} (a stray "
                  "separator, or a value with a comma that is not in quotes)")


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
            problems.append(Problem(path.name, None, None, "the file has no header row"))
            return None
        except (pd.errors.ParserError, csv.Error, ValueError):
            frame = None
    if frame is None or any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        before = len(problems)
        _ragged_rows(text, path, limits, problems, sep)
        if len(problems) == before:
            problems.append(Problem(path.name, None, None, "cannot be read as CSV"))
        return None
    if _too_many_rows(path.name, len(frame), limits, problems):
        return None
    return RawTable(frame, path.name)


def stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel and Parquet cells to the strings a CSV would hold (empty for missing)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
            s = s.astype("Int64")  # 2.0 read from Excel is the integer 2
        out[str(col)] = s.astype(object).where(s.notna(), "").map(str)
    return pd.DataFrame(out, index=frame.index)


def _too_many_rows(file: str, rows: int, limits: ReadLimits, problems: list[Problem]) -> bool:
    if rows > limits.max_rows:
        problems.append(Problem(file, None, None, f"{rows:,} rows; at most "
                                f"{limits.max_rows:,} are read"))
        return True
    return False


def _read_sheets(path: Path, limits: ReadLimits, problems: list[Problem]) -> dict[str, RawTable]:
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        problems.append(Problem(path.name, None, None, f"cannot be read as an Excel workbook "
                                f"(not a zip archive: {err})"))
        return {}
    if unpacked > limits.max_unpacked_bytes:
        problems.append(Problem(path.name, None, None, f"unpacks to {unpacked:,} bytes; at "
                                f"most {limits.max_unpacked_bytes:,} are read (save the "
                                "workbook without unused sheets, styles or blank rows)"))
        return {}
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as err:  # openpyxl raises many types for a broken workbook
        problems.append(Problem(path.name, None, None, f"cannot be read as an Excel workbook: "
                                f"{err}"))
        return {}
    out = {}
    for name, df in sheets.items():
        file = f"{path.name}[{name}]"
        if not _too_many_rows(file, len(df), limits, problems):
            out[name] = RawTable(stringify(df), file)
    return out


def _read_parquet(path: Path, limits: ReadLimits, problems: list[Problem]) -> RawTable | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        if _too_many_rows(path.name, meta.num_rows, limits, problems):
            return None
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if unpacked > limits.max_unpacked_bytes:
            problems.append(Problem(path.name, None, None, f"unpacks to {unpacked:,} bytes; "
                                    f"at most {limits.max_unpacked_bytes:,} are read"))
            return None
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises ArrowInvalid and OSError subclasses
        problems.append(Problem(path.name, None, None, f"cannot be read as Parquet: {err}"))
        return None
    return RawTable(stringify(frame), path.name)


def _read_gpkg_layers(path: Path, limits: ReadLimits,
                      problems: list[Problem]) -> dict[str, RawTable]:
    import pyogrio

    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio.errors.DataSourceError and friends
        problems.append(Problem(path.name, None, None, f"cannot be read as GeoPackage: {err}"))
        return {}
    out: dict[str, RawTable] = {}
    for layer in layers:
        file = f"{path.name}[{layer}]"
        try:
            if _too_many_rows(file, int(pyogrio.read_info(path, layer=layer)["features"]),
                              limits, problems):
                continue
            gdf = pyogrio.read_dataframe(path, layer=layer)
        except Exception as err:  # a broken layer: the others are still read
            problems.append(Problem(file, None, None, f"cannot be read: {err}"))
            continue
        has_geom = "geometry" in gdf.columns and gdf["geometry"].notna().any()
        crs = getattr(gdf, "crs", None) if has_geom else None
        frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))
        raw = RawTable(stringify(frame), file, crs=crs, has_geometry=has_geom)
        if has_geom:
            raw.frame["__geometry__"] = list(gdf.geometry)
        out[layer] = raw
    return out


def _read_meta(path: Path, problems: list[Problem]) -> dict[str, Any]:
    if path.stat().st_size > MAX_META_BYTES:
        problems.append(Problem(META_FILE, None, None, f"larger than {MAX_META_BYTES:,} bytes"))
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        problems.append(Problem(META_FILE, None, None, f"not valid UTF-8 JSON: {err}"))
        return {}
    if not isinstance(meta, dict):
        problems.append(Problem(META_FILE, None, None, "must be a JSON object"))
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
            problems.append(Problem(path.name, None, None, "a single-file dataset must be an "
                                    ".xlsx workbook or a .gpkg GeoPackage with one sheet or "
                                    "layer per table"))
        return raws, meta
    if not path.is_dir():
        problems.append(Problem(str(path), None, None, "no such file or folder"))
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
