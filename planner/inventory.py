"""Load and validate an inventory dataset (CSV, Excel, GeoPackage or Parquet).

Validation reports every problem at once, each with file, row, column and the rule broken, and
loads nothing on failure. Rows are numbered as a spreadsheet shows them: the header is row 1, so
the first record is row 2 (also for Parquet and GeoPackage, where it is record 1 + 1).
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geodata
from planner.schema import NEED_COLUMNS, TABLES, Column, Table

FORMATS = ("csv", "xlsx", "parquet", "gpkg")
META_FILE = "dataset.json"

# Where a point may lie: the mainland and near islands, Hoàng Sa, Trường Sa (lon/lat boxes).
VIETNAM_BOXES = (
    (102.1, 8.3, 109.6, 23.4),   # mainland, Phú Quốc, Côn Đảo, Bạch Long Vĩ, Lý Sơn
    (111.0, 15.6, 113.0, 17.3),  # Hoàng Sa
    (111.4, 6.0, 117.9, 12.2),   # Trường Sa
    (103.0, 8.3, 104.2, 10.5),   # Thổ Chu and the Gulf of Thailand islands
)
# A point further than this outside its unit's bounding box is "far outside its commune".
FAR_OUTSIDE_KM = 10.0


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


class InventoryError(ValueError):
    """The dataset breaks the schema; ``problems`` lists every broken rule."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = f"{len(problems)} problem(s) in the inventory:"
        shown = "\n".join(f"- {p}" for p in problems[:200])
        more = f"\n... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(f"{head}\n{shown}{more}")


@dataclass(frozen=True)
class Dataset:
    """A validated inventory: one typed DataFrame per table, plus provenance.

    ``meta`` carries the dataset's own description (``dataset.json``: name, synthetic flag,
    seed, calibration notes); ``content_hash`` is a SHA-256 over the canonical tables.
    """

    tables: Mapping[str, pd.DataFrame]
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    @property
    def properties(self) -> pd.DataFrame:
        return self.tables["properties"]

    @property
    def vehicles(self) -> pd.DataFrame:
        return self.tables["vehicles"]

    @property
    def equipment(self) -> pd.DataFrame:
        return self.tables["equipment"]

    @property
    def communes(self) -> pd.DataFrame:
        return self.tables["communes"]

    @property
    def norms(self) -> pd.DataFrame:
        return self.tables["norms"]

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in TABLES:
            digest.update(name.encode())
            digest.update(_canonical_csv(self.tables[name]).encode())
        return digest.hexdigest()


def _canonical_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n", float_format="%.6f")


# ---------------------------------------------------------------------------------------------
# Reading raw tables


@dataclass
class _RawTable:
    frame: pd.DataFrame  # values as read; CSV/XLSX as strings
    file: str
    row_offset: int = 2  # spreadsheet row of the first record
    crs: Any = None
    has_geometry: bool = False


def _decode(path: Path, problems: list[Problem]) -> str | None:
    raw = path.read_bytes()
    if not raw.strip():
        problems.append(Problem(path.name, None, None, "the file is empty"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problems.append(Problem(
            path.name, line, None,
            f"not valid UTF-8 (byte {err.start}: {raw[err.start:err.start + 1]!r}); save the "
            "file as UTF-8 (Excel: 'CSV UTF-8') so Vietnamese names keep their diacritics"))
        return None


def _read_csv(path: Path, problems: list[Problem]) -> _RawTable | None:
    text = _decode(path, problems)
    if text is None:
        return None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        problems.append(Problem(path.name, None, None, f"cannot be read as CSV: {err}"))
        return None
    return _RawTable(frame, path.name)


def _stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel and Parquet cells to the strings a CSV would hold (empty for missing)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
            s = s.astype("Int64")  # 2.0 read from Excel is the integer 2
        out[str(col)] = s.astype(object).where(s.notna(), "").map(str)
    return pd.DataFrame(out, index=frame.index)


def _read_sheets(path: Path, problems: list[Problem]) -> dict[str, _RawTable]:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as err:  # openpyxl raises many types for a broken workbook
        problems.append(Problem(path.name, None, None, f"cannot be read as an Excel workbook: "
                                f"{err}"))
        return {}
    return {name: _RawTable(_stringify(df), f"{path.name}[{name}]")
            for name, df in sheets.items()}


def _read_parquet(path: Path, problems: list[Problem]) -> _RawTable | None:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises ArrowInvalid and OSError subclasses
        problems.append(Problem(path.name, None, None, f"cannot be read as Parquet: {err}"))
        return None
    return _RawTable(_stringify(frame), path.name)


def _read_gpkg_layers(path: Path, problems: list[Problem]) -> dict[str, _RawTable]:
    import pyogrio

    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio.errors.DataSourceError and friends
        problems.append(Problem(path.name, None, None, f"cannot be read as GeoPackage: {err}"))
        return {}
    out: dict[str, _RawTable] = {}
    for layer in layers:
        gdf = pyogrio.read_dataframe(path, layer=layer)
        has_geom = "geometry" in gdf.columns and gdf["geometry"].notna().any()
        crs = getattr(gdf, "crs", None) if has_geom else None
        frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))
        raw = _RawTable(_stringify(frame), f"{path.name}[{layer}]", crs=crs,
                        has_geometry=has_geom)
        if has_geom:
            raw.frame["__geometry__"] = list(gdf.geometry)
        out[layer] = raw
    return out


def _read_raw(path: Path, problems: list[Problem]) -> tuple[dict[str, _RawTable], dict]:
    """Find the tables of a dataset folder or single file."""
    raws: dict[str, _RawTable] = {}
    meta: dict[str, Any] = {}
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            raws = _read_sheets(path, problems)
        elif suffix == ".gpkg":
            raws = _read_gpkg_layers(path, problems)
        else:
            problems.append(Problem(path.name, None, None, "a single-file dataset must be an "
                                    ".xlsx workbook or a .gpkg GeoPackage with one sheet or "
                                    "layer per table"))
        return raws, meta
    if not path.is_dir():
        problems.append(Problem(str(path), None, None, "no such file or folder"))
        return raws, meta
    if (path / META_FILE).exists():
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    for single in sorted(path.glob("*.xlsx")) + sorted(path.glob("*.gpkg")):
        layers = (_read_sheets if single.suffix == ".xlsx" else _read_gpkg_layers)(single, problems)
        for name, layer in layers.items():
            if name in TABLES:
                raws.setdefault(name, layer)
    for name in TABLES:
        for ext, read_one in ((".csv", _read_csv), (".parquet", _read_parquet)):
            file = path / f"{name}{ext}"
            if file.exists() and name not in raws:
                one = read_one(file, problems)
                if one is not None:
                    raws[name] = one
    return raws, meta


# ---------------------------------------------------------------------------------------------
# Validation


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _coerce(values: pd.Series, col: Column, raw: _RawTable,
            problems: list[Problem]) -> pd.Series:
    """Typed column from strings; every bad cell becomes a Problem."""
    text = values.astype(str).str.strip()
    blank = text.eq("") | text.str.lower().isin({"nan", "<na>", "null"})
    rows = np.arange(len(text)) + raw.row_offset

    def bad(mask: np.ndarray, rule: Any) -> None:
        for i in np.flatnonzero(mask):
            problems.append(Problem(raw.file, int(rows[i]), col.name,
                                    rule(text.iloc[i]) if callable(rule) else rule))

    if col.required:
        bad(blank.to_numpy(), "a value is required")
    if col.kind in ("int", "float"):
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        bad((~blank & num.isna()).to_numpy(), lambda v: f"{v!r} is not a number")
        bad((~blank & num.notna() & ~np.isfinite(num)).to_numpy(), "must be finite")
        if col.kind == "int":
            frac = num.notna() & np.isfinite(num) & (num != num.round())
            bad(frac.to_numpy(), lambda v: f"{v!r} is not a whole number")
        if col.min_value is not None:
            below = num < col.min_value
            rule = ("must not be negative" if col.min_value == 0 else
                    f"must be at least {col.min_value:g}")
            bad(below.to_numpy(), lambda v: f"{rule} (got {v})")
        if col.max_value is not None:
            bad((num > col.max_value).to_numpy(),
                lambda v: f"{v} is absurd: more than {col.max_value:,.0f} {col.unit}".rstrip())
        if col.kind == "int":
            return num.round().astype("Int64")
        return num.astype(float)
    if col.kind == "bool":
        low = text.str.lower()
        ok = low.isin(_TRUE | _FALSE)
        bad((~blank & ~ok).to_numpy(), lambda v: f"{v!r} is not true/false")
        return low.isin(_TRUE)
    if col.kind == "category":
        ok = text.isin(col.choices)
        def suggest(v: str) -> str:
            close = difflib.get_close_matches(v.lower(), col.choices, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown value {v!r}{hint}; allowed: {', '.join(col.choices)}"
        bad((~blank & ~ok).to_numpy(), suggest)
        return text.where(~blank, None)
    if col.kind == "code":
        # Spreadsheets drop leading zeros: 4714 is unit 04714.
        digits = text.str.fullmatch(r"\d{1,5}")
        return text.where(~digits, text.str.zfill(5)).where(~blank, None)
    return text.where(~blank, None)


def _check_columns(raw: _RawTable, table: Table, problems: list[Problem]) -> bool:
    cols = [c for c in raw.frame.columns if c != "__geometry__"]
    expected = list(table.column_names)
    if table.has_point and raw.has_geometry:
        expected = [c for c in expected if c not in ("lon", "lat")]
        cols = [c for c in cols if c not in ("lon", "lat")]
    missing = [c for c in expected if c not in cols]
    extra = [c for c in cols if c not in table.column_names]
    for c in missing:
        problems.append(Problem(raw.file, 1, c, "missing column"))
    for c in extra:
        close = difflib.get_close_matches(c, expected, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(Problem(raw.file, 1, c, f"unknown column{hint}; expected "
                                f"{', '.join(table.column_names)}"))
    if raw.frame.empty:
        problems.append(Problem(raw.file, None, None, "the table has no rows"))
        return False
    return not missing


def _points_from_geometry(raw: _RawTable, problems: list[Problem]) -> None:
    """GeoPackage points to lon/lat columns in EPSG:4326."""
    import geopandas as gpd

    geoms = gpd.GeoSeries(raw.frame.pop("__geometry__").to_numpy(), crs=raw.crs)
    if raw.crs is None:  # reported; the points are still read so other checks can run
        problems.append(Problem(raw.file, None, "geometry", "the layer has no CRS; expected "
                                "WGS84 lon/lat (EPSG:4326)"))
    elif not geoms.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs("EPSG:4326")
    not_point = ~geoms.geom_type.isin(["Point"]) | geoms.is_empty
    for i in np.flatnonzero(not_point.to_numpy()):
        problems.append(Problem(raw.file, int(i + raw.row_offset), "geometry",
                                "must be a non-empty Point"))
    pts = geoms.where(~not_point)
    raw.frame["lon"] = pts.x.map(lambda v: "" if pd.isna(v) else repr(v)).to_numpy()
    raw.frame["lat"] = pts.y.map(lambda v: "" if pd.isna(v) else repr(v)).to_numpy()


def _in_vietnam(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(lon), dtype=bool)
    for x0, y0, x1, y1 in VIETNAM_BOXES:
        inside |= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    return inside


def _check_points(df: pd.DataFrame, raw: _RawTable, communes: pd.DataFrame,
                  problems: list[Problem]) -> None:
    lon = df["lon"].to_numpy(dtype=float)
    lat = df["lat"].to_numpy(dtype=float)
    rows = np.arange(len(df)) + raw.row_offset
    valid = np.isfinite(lon) & np.isfinite(lat)
    inside = _in_vietnam(lon, lat)
    projected = valid & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    swapped = valid & ~inside & _in_vietnam(lat, lon)
    for i in np.flatnonzero(valid & ~inside):
        if swapped[i]:
            rule = f"({lon[i]:g}, {lat[i]:g}) is outside Vietnam; lon and lat look swapped"
        elif projected[i]:
            rule = (f"({lon[i]:g}, {lat[i]:g}) looks like projected coordinates (e.g. VN-2000 "
                    "or UTM metres): wrong CRS, expected WGS84 lon/lat (EPSG:4326)")
        else:
            rule = (f"({lon[i]:g}, {lat[i]:g}) is outside Vietnam (mainland, Hoàng Sa and "
                    "Trường Sa)")
        problems.append(Problem(raw.file, int(rows[i]), "lon/lat", rule))
    # Far outside its own commune: distance to the unit's bounding box.
    out_km = geodata.km_outside_bbox(communes, df["commune_code"], lon, lat)
    names = communes.set_index("code")["name"].reindex(df["commune_code"]).to_numpy()
    far = valid & inside & (out_km > FAR_OUTSIDE_KM)
    for i in np.flatnonzero(far):
        problems.append(Problem(
            raw.file, int(rows[i]), "lon/lat",
            f"point is {out_km[i]:.1f} km outside unit {df['commune_code'].iloc[i]} "
            f"({names[i]}); more than {FAR_OUTSIDE_KM:g} km is not believed"))


def _code_suggestion(value: str, communes: pd.DataFrame, legacy: pd.DataFrame) -> str:
    hit = legacy[legacy["legacy_code"] == value]
    if len(hit):
        row = hit.iloc[0]
        succ = communes.set_index("code").loc[row["successor_code"], "name"]
        return (f"; {value} is the pre-2025 code of {row['name']} ({row['district_name']}), "
                f"now part of {row['successor_code']} {succ}")
    names = dict(zip(communes["name"], communes["code"], strict=False))
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.75)
    if close:
        return f"; did you mean {names[close[0]]} ({close[0]})?"
    return ""


def _check_codes(df: pd.DataFrame, column: str, raw: _RawTable, communes: pd.DataFrame,
                 problems: list[Problem]) -> None:
    known = set(communes["code"])
    codes = df[column]
    unknown = codes.notna() & ~codes.isin(known)
    if not unknown.any():
        return
    legacy = geodata.load_legacy_units()
    for i in np.flatnonzero(unknown.to_numpy()):
        value = str(codes.iloc[i])
        problems.append(Problem(
            raw.file, int(i + raw.row_offset), column,
            f"unknown unit code {value!r}{_code_suggestion(value, communes, legacy)}"))


def _validate_table(raw: _RawTable, table: Table, communes: pd.DataFrame,
                    problems: list[Problem]) -> pd.DataFrame | None:
    if "__geometry__" in raw.frame:
        _points_from_geometry(raw, problems)
    if not _check_columns(raw, table, problems):
        return None
    typed = pd.DataFrame({c.name: _coerce(raw.frame[c.name], c, raw, problems)
                          for c in table.columns})
    if table.id_column:
        ids = typed[table.id_column]
        dup = ids.notna() & ids.duplicated(keep=False)
        first_row: dict[str, int] = {}
        for i in np.flatnonzero(dup.to_numpy()):
            first_row.setdefault(ids.iloc[i], int(i + raw.row_offset))
        for i in np.flatnonzero((ids.notna() & ids.duplicated(keep="first")).to_numpy()):
            problems.append(Problem(raw.file, int(i + raw.row_offset), table.id_column,
                                    f"duplicate id {ids.iloc[i]!r} (first at row "
                                    f"{first_row[ids.iloc[i]]})"))
    for col in table.columns:
        if col.kind == "code":
            _check_codes(typed, col.name, raw, communes, problems)
    if table.has_point:
        _check_points(typed, raw, communes, problems)
    return typed


def validate_tables(raws: Mapping[str, _RawTable],
                    communes: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Validate raw tables; raise InventoryError with every problem, else return typed tables."""
    problems: list[Problem] = []
    communes = geodata.load_communes() if communes is None else communes
    typed: dict[str, pd.DataFrame] = {}
    for name, table in TABLES.items():
        if name not in raws:
            problems.append(Problem(f"{name}.csv", None, None,
                                    f"missing table '{name}' (a {name}.csv/.parquet file, or a "
                                    "sheet/layer of that name)"))
            continue
        out = _validate_table(raws[name], table, communes, problems)
        if out is not None:
            typed[name] = out
    if problems:
        raise InventoryError(problems)
    return typed


def load_dataset(path: str | Path, communes: pd.DataFrame | None = None) -> Dataset:
    """Load and validate a dataset folder, or one .xlsx / .gpkg file with a sheet per table.

    Raises :class:`InventoryError` listing every problem; nothing is returned on failure.
    """
    path = Path(path)
    problems: list[Problem] = []
    raws, meta = _read_raw(path, problems)
    try:
        tables = validate_tables(raws, communes)
    except InventoryError as err:
        raise InventoryError(problems + err.problems) from None
    if problems:
        raise InventoryError(problems)
    return Dataset(tables=tables, meta=meta, source=str(path))


def dataset_from_frames(frames: Mapping[str, pd.DataFrame], meta: Mapping[str, Any] | None = None,
                        communes: pd.DataFrame | None = None) -> Dataset:
    """Validate in-memory frames (e.g. from a notebook) exactly as files are validated."""
    raws = {name: _RawTable(_stringify(df.reset_index(drop=True)), f"<{name}>")
            for name, df in frames.items()}
    return Dataset(tables=validate_tables(raws, communes), meta=dict(meta or {}))


# ---------------------------------------------------------------------------------------------
# Writing


def write_dataset(dataset: Dataset, out: str | Path, fmt: str = "csv") -> Path:
    """Write ``dataset`` in a format the loader reads. csv/parquet: one file per table in the
    folder ``out``; xlsx/gpkg: ``out/dataset.xlsx`` or ``out/dataset.gpkg``. Written to a
    temporary name first, so a failure never leaves half a dataset."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    if fmt in ("csv", "parquet"):
        for name in TABLES:
            target = out / f"{name}.{fmt}"
            tmp = target.with_name(f".{target.name}.tmp")
            df = dataset.tables[name]
            if fmt == "csv":
                tmp.write_text(_canonical_csv(df), encoding="utf-8")
            else:
                df.to_parquet(tmp, index=False)
            written.append((tmp, target))
    elif fmt == "xlsx":
        target = out / "dataset.xlsx"
        tmp = out / ".dataset.xlsx.tmp"
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name in TABLES:
                dataset.tables[name].to_excel(xl, sheet_name=name, index=False)
        written.append((tmp, target))
    else:
        import geopandas as gpd
        import pyogrio

        target = out / "dataset.gpkg"
        tmp = out / ".dataset.tmp.gpkg"
        tmp.unlink(missing_ok=True)
        for name, table in TABLES.items():
            df = dataset.tables[name]
            if table.has_point:
                gdf = gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]),
                                       geometry=gpd.points_from_xy(df["lon"], df["lat"]),
                                       crs="EPSG:4326")
                pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG")
            else:  # an attribute table without geometry
                pyogrio.write_dataframe(df, tmp, layer=name, driver="GPKG")
        written.append((tmp, target))
    meta_tmp = out / f".{META_FILE}.tmp"
    meta_tmp.write_text(json.dumps(dict(dataset.meta), ensure_ascii=False, indent=2,
                                   sort_keys=True) + "\n", encoding="utf-8")
    written.append((meta_tmp, out / META_FILE))
    for tmp, target in written:
        tmp.replace(target)
    return out


def need_table(dataset: Dataset) -> pd.DataFrame:
    """Needs in long form: commune_code, use, need (m2, or points for service_point)."""
    c = dataset.communes
    long = c.melt(id_vars="commune_code", value_vars=list(NEED_COLUMNS.values()),
                  var_name="column", value_name="need")
    inverse = {v: k for k, v in NEED_COLUMNS.items()}
    long["use"] = long["column"].map(inverse)
    return long[["commune_code", "use", "need"]].astype({"need": float})

