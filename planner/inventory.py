"""Load and validate an inventory dataset (CSV, Excel, GeoPackage or Parquet).

Validation reports every problem at once, each with file, row, column and the rule broken, and
loads nothing on failure. What is read otherwise than written, but safely (a withdrawn unit code
read as the official one, ``geodata.CODE_ALIASES``), is a note, not a problem: the dataset
carries its notes, and a run its provenance. Rows are numbered as a spreadsheet shows them: the
header is row 1, so the first record is row 2 (also for Parquet and GeoPackage, where it is
record 1 + 1).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geodata
from planner.i18n import _, km, number
from planner.labels import column_label, label
from planner.localformats import (
    FALSE_WORDS,
    TRUE_WORDS,
    canonical_columns,
    choice_label,
    coded_values,
    fold,
    to_number,
    year_of,
)
from planner.plaindata import CONTROL
from planner.readers import META_FILE, Problem, RawTable, ReadLimits, read_raw, stringify
from planner.schema import NEED_COLUMNS, TABLES, Column, Table
from planner.unitnames import codes_from_names

FORMATS = ("csv", "xlsx", "parquet", "gpkg")
__all__ = ["META_FILE", "Dataset", "InventoryError", "Problem", "ReadLimits", "load_dataset"]

# Where a point may lie: the mainland and near islands, Hoàng Sa, Trường Sa (lon/lat boxes).
VIETNAM_BOXES = (
    (102.1, 8.3, 109.6, 23.4),   # mainland, Phú Quốc, Côn Đảo, Bạch Long Vĩ, Lý Sơn
    (111.0, 15.6, 113.0, 17.3),  # Hoàng Sa
    (111.4, 6.0, 117.9, 12.2),   # Trường Sa
    (103.0, 8.3, 104.2, 10.5),   # Thổ Chu and the Gulf of Thailand islands
)
# A point further than this outside its unit's bounding box is "far outside its commune".
FAR_OUTSIDE_KM = 10.0


class InventoryError(ValueError):
    """The dataset breaks the schema; ``problems`` lists every broken rule."""

    def __init__(self, problems: list[Problem], what: str | None = None):
        self.problems = problems
        head = _("{count} problem(s) in {what}:", count=len(problems),
                 what=what or _("the inventory"))
        shown = "\n".join(f"- {p}" for p in problems[:200])
        more = ("\n" + _("... and {count} more", count=len(problems) - 200)
                if len(problems) > 200 else "")
        super().__init__(f"{head}\n{shown}{more}")


@dataclass(frozen=True)
class Dataset:
    """A validated inventory: one typed DataFrame per table, plus provenance.

    ``meta`` carries the dataset's own description (``dataset.json``: name, synthetic flag,
    seed, calibration notes); ``content_hash`` is a SHA-256 over the canonical tables;
    ``notes`` are the cells read otherwise than written, with file, row and column.
    """

    tables: Mapping[str, pd.DataFrame]
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    notes: tuple[Problem, ...] = ()

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
# Validation


_TRUE, _FALSE = TRUE_WORDS, FALSE_WORDS


def canonical_headers(raw: RawTable, table: Table) -> None:
    """Headers written in Vietnamese or English (as plan.xlsx and the template write them)
    name their columns; the header as written is kept for the problems."""
    columns = [str(c) for c in raw.frame.columns]
    codes = canonical_columns(columns, table)
    raw.headers.update({code: c for code, c in zip(codes, columns, strict=True) if code != c})
    raw.frame.columns = codes


def _coerce(values: pd.Series, col: Column, raw: RawTable, limits: ReadLimits,
            problems: list[Problem]) -> pd.Series:
    """Typed column from strings; every bad cell becomes a Problem (the first few of each
    rule one by one, the rest counted)."""
    text = values.astype(str).str.strip()
    blank = text.eq("") | text.str.lower().isin({"nan", "<na>", "null"})

    def bad(mask: np.ndarray, rule: Any) -> None:
        idx = np.flatnonzero(mask)
        raw.report(limits, problems, idx + raw.row_offset, col.name,
                   (lambda r: rule(text.iloc[r - raw.row_offset])) if callable(rule) else rule)

    if col.required:
        bad(blank.to_numpy(), _("a value is required"))
    if col.kind in ("int", "float"):  # a control character makes it no number
        numeric, undated = text, np.zeros(len(text), dtype=bool)
        if col.unit == "year":  # 2005, or a date whose year is taken
            numeric, undated = year_of(text)
            bad(~blank.to_numpy() & undated, lambda v: _(
                "{value!r} is no date (write the year, 2005, or a date dd/mm/yyyy)", value=v))
        num, ambiguous = to_number(numeric.where(~blank, ""))
        num = num.where(~blank)
        bad(~blank.to_numpy() & ambiguous, lambda v: _(
            "{value!r} is ambiguous (a thousand and more, or one and a fraction?): write the "
            "thousand without a separator (1234) and the fraction with a point (1.234)", value=v))
        bad((~blank & num.isna()).to_numpy() & ~ambiguous & ~undated,
            lambda v: _("{value!r} is not a number", value=v))
        bad((~blank & num.notna() & ~np.isfinite(num)).to_numpy(), _("must be finite"))
        if col.kind == "int":
            frac = num.notna() & np.isfinite(num) & (num != num.round())
            bad(frac.to_numpy(), lambda v: _("{value!r} is not a whole number", value=v))
        if col.min_value is not None:
            bad((num < col.min_value).to_numpy(), lambda v: _(
                "must not be negative (got {value})", value=v) if col.min_value == 0 else _(
                "must be at least {least} (got {value})", least=_plain(col.min_value), value=v))
        if col.max_value is not None:
            bad((num > col.max_value).to_numpy(), lambda v: _(
                "{value} is absurd: more than {most}", value=v, most=f"{_plain(col.max_value)} "
                f"{label('unit', col.unit) if col.unit != 'year' else ''}".rstrip()))
        if col.kind == "int":
            return num.round().astype("Int64")
        return num.astype(float)
    if col.kind == "bool":
        low = text.str.lower()
        ok = low.isin(_TRUE | _FALSE)
        words = "Có/Không, x"  # data: the words read as yes and no
        if not col.required:
            words = _("{words} or empty for no", words=words)
        bad((~blank & ~ok).to_numpy(), lambda v: _("{value!r} is not yes/no ({words})",
                                                   value=v, words=words))
        return low.isin(_TRUE)
    if col.kind == "category":  # a code, or its label in either language
        typed = coded_values(col.name, col.choices)
        codes = text.map({v: typed.get(fold(v)) for v in text.unique()})  # once per value
        allowed = [choice_label(col.name, c) for c in col.choices]

        def suggest(v: str) -> str:
            close = difflib.get_close_matches(fold(v), [fold(a) for a in allowed] + list(
                col.choices), n=1, cutoff=0.6)
            if not close:
                return _("unknown value {value!r}; allowed: {allowed}", value=v,
                         allowed="; ".join(allowed))
            meant = choice_label(col.name, typed[close[0]])
            return _("unknown value {value!r} (did you mean {meant!r}?); allowed: {allowed}",
                     value=v, meant=meant, allowed="; ".join(allowed))

        bad((~blank & codes.isna()).to_numpy(), suggest)
        return codes.where(codes.notna(), text).where(~blank, None)  # unknown: as typed
    # Text is kept as it is: no store keeps NUL, and Excel refuses the other control
    # characters.
    control = text.str.contains(CONTROL.pattern, regex=True).to_numpy(dtype=bool)
    bad(control, lambda v: _(
        "{value!r} holds a control character (U+{char}); text may hold none", value=v[:40],
        char=f"{ord(CONTROL.search(v).group()):04X}"))  # type: ignore[union-attr]
    if col.kind == "code":
        # Spreadsheets drop leading zeros: 4714 is unit 04714.
        digits = text.str.fullmatch(r"\d{1,5}")
        return text.where(~digits, text.str.zfill(5)).where(~blank & ~control, None)
    return text.where(~blank & ~control, None)


def _plain(x: float) -> str:
    """A bound as a rule states it: 1850 (a year) plain, a large number grouped."""
    return f"{x:g}" if abs(x) < 10_000 else number(x)


def _check_columns(raw: RawTable, table: Table, problems: list[Problem]) -> bool:
    cols = [c for c in raw.frame.columns if c != "__geometry__"]
    expected = list(table.column_names)
    if table.has_point and raw.has_geometry:
        expected = [c for c in expected if c not in ("lon", "lat")]
        cols = [c for c in cols if c not in ("lon", "lat")]
    missing = [c for c in expected if c not in cols]
    extra = [c for c in cols if c not in table.column_names]
    # A file headed in words is told its missing columns in words.
    worded = bool(raw.headers)
    for c in missing:
        problems.append(Problem(raw.file, 1, column_label(c) if worded else c,
                                _("missing column"), raw.sheet))
    known = [column_label(c) for c in expected] if worded else expected
    for c in extra:
        close = difflib.get_close_matches(c, known, n=1)
        hint = _(" (did you mean {meant!r}?)", meant=close[0]) if close else ""
        problems.append(Problem(raw.file, 1, c[:100], _(
            "unknown column{hint}; expected {expected}", hint=hint,
            expected=", ".join(known)), raw.sheet))
    if raw.frame.empty:
        problems.append(raw.problem(None, None, _("the table has no rows")))
        return False
    return not missing


def _points_from_geometry(raw: RawTable, limits: ReadLimits, problems: list[Problem]) -> None:
    """GeoPackage points to lon/lat columns in EPSG:4326."""
    import geopandas as gpd
    from pyproj.exceptions import CRSError, ProjError

    geoms = gpd.GeoSeries(raw.frame.pop("__geometry__").to_numpy(), crs=raw.crs)
    if raw.crs is None:  # reported; the points are still read so other checks can run
        problems.append(raw.problem(None, "geometry", _(
            "the layer has no CRS; expected WGS84 lon/lat (EPSG:4326)")))
    elif not geoms.crs.equals("EPSG:4326"):
        try:
            geoms = geoms.to_crs("EPSG:4326")
        except (CRSError, ProjError, ValueError) as err:  # an engineering CRS, say
            name = getattr(geoms.crs, "name", "unknown")
            problems.append(raw.problem(None, "geometry", _(
                "the layer's CRS ({crs}) cannot be turned into WGS84 lon/lat (EPSG:4326): "
                "{error}", crs=name, error=err)))
            geoms = gpd.GeoSeries([None] * len(geoms))
    not_point = ~geoms.geom_type.isin(["Point"]) | geoms.is_empty
    raw.report(limits, problems, np.flatnonzero(not_point.to_numpy()) + raw.row_offset,
               "geometry", _("must be a non-empty Point"))
    pts = geoms.where(~not_point)
    raw.frame["lon"] = pts.x.map(lambda v: "" if pd.isna(v) else repr(v)).to_numpy()
    raw.frame["lat"] = pts.y.map(lambda v: "" if pd.isna(v) else repr(v)).to_numpy()


def _in_vietnam(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(lon), dtype=bool)
    for x0, y0, x1, y1 in VIETNAM_BOXES:
        inside |= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    return inside


def _check_points(df: pd.DataFrame, raw: RawTable, communes: pd.DataFrame,
                  limits: ReadLimits, problems: list[Problem]) -> None:
    lon = df["lon"].to_numpy(dtype=float)
    lat = df["lat"].to_numpy(dtype=float)
    valid = np.isfinite(lon) & np.isfinite(lat)
    inside = _in_vietnam(lon, lat)
    projected = valid & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    swapped = valid & ~inside & _in_vietnam(lat, lon)
    where = "/".join(raw.header(c) for c in ("lon", "lat"))

    def outside(r: int) -> str:
        i = r - raw.row_offset
        point = {"lon": f"{lon[i]:g}", "lat": f"{lat[i]:g}"}
        if swapped[i]:
            return _("({lon}, {lat}) is outside Vietnam; lon and lat look swapped", **point)
        if projected[i]:
            return _("({lon}, {lat}) looks like projected coordinates (e.g. VN-2000 or UTM "
                     "metres): wrong CRS, expected WGS84 lon/lat (EPSG:4326)", **point)
        return _("({lon}, {lat}) is outside Vietnam (mainland, Hoang Sa and Truong Sa)", **point)

    limits.report(problems, raw.file, np.flatnonzero(valid & ~inside) + raw.row_offset,
                  where, outside, raw.sheet)
    # Far outside its own commune: distance to the unit's bounding box.
    out_km = geodata.km_outside_bbox(communes, df["commune_code"], lon, lat)
    names = communes.set_index("code")["name"].reindex(df["commune_code"]).to_numpy()

    def far_rule(r: int) -> str:
        i = r - raw.row_offset
        return _("point is {distance} outside unit {code} ({name}); more than {most} is not "
                 "believed", distance=km(out_km[i]), code=df["commune_code"].iloc[i],
                 name=names[i], most=km(FAR_OUTSIDE_KM, 0))

    far = valid & inside & (out_km > FAR_OUTSIDE_KM)
    limits.report(problems, raw.file, np.flatnonzero(far) + raw.row_offset, where, far_rule,
                  raw.sheet)


def _code_suggestion(value: str, communes: pd.DataFrame, legacy: pd.DataFrame) -> str:
    hit = legacy[legacy["legacy_code"] == value]
    if len(hit):
        row = hit.iloc[0]
        succ = communes.set_index("code").loc[row["successor_code"], "name"]
        return _("; {value} is the pre-2025 code of {name} ({district}), now part of {code} "
                 "{successor}", value=value, name=row["name"], district=row["district_name"],
                 code=row["successor_code"], successor=succ)
    names = dict(zip(communes["name"], communes["code"], strict=False))
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.75)
    if close:
        return _("; did you mean {code} ({name})?", code=names[close[0]], name=close[0])
    return ""


def _check_codes(df: pd.DataFrame, column: str, raw: RawTable, communes: pd.DataFrame,
                 limits: ReadLimits, problems: list[Problem], notes: list[Problem]) -> None:
    """Withdrawn codes read as the official one (a note each); unknown codes found in one
    vector pass, a suggestion (a fuzzy match over the unit names) worked out only for the rows
    listed."""
    codes = df[column]
    alias = codes.isin(geodata.CODE_ALIASES) & ~codes.isin(communes["code"])
    if alias.any():
        names = communes.set_index("code")["name"]

        def read_as(r: int) -> str:
            value = codes.iloc[r - raw.row_offset]
            official = geodata.CODE_ALIASES[value]
            return _("unit code {value!r} is read as {official!r} ({name}): {value} is a "
                     "withdrawn code of that unit", value=value, official=official,
                     name=names.get(official))

        limits.report(notes, raw.file, np.flatnonzero(alias.to_numpy()) + raw.row_offset,
                      column, read_as)
        df[column] = codes = codes.replace(geodata.CODE_ALIASES)
    unknown = codes.notna() & ~codes.isin(communes["code"])
    if not unknown.any():
        return
    legacy = geodata.load_legacy_units()

    def rule(r: int) -> str:
        value = str(codes.iloc[r - raw.row_offset])
        return _("unknown unit code {value!r}{hint}", value=value,
                 hint=_code_suggestion(value, communes, legacy))

    raw.report(limits, problems, np.flatnonzero(unknown.to_numpy()) + raw.row_offset, column,
               rule)


def _validate_table(raw: RawTable, table: Table, communes: pd.DataFrame, limits: ReadLimits,
                    problems: list[Problem], notes: list[Problem]) -> pd.DataFrame | None:
    canonical_headers(raw, table)
    if "__geometry__" in raw.frame:
        _points_from_geometry(raw, limits, problems)
    if not _check_columns(raw, table, problems):
        return None
    typed = pd.DataFrame({c.name: _coerce(raw.frame[c.name], c, raw, limits, problems)
                          for c in table.columns})
    if table.id_column:
        ids = typed[table.id_column]
        present = ids.notna().to_numpy()
        rows = np.arange(len(ids)) + raw.row_offset
        first_row = pd.Series(rows[present], index=ids[present].to_numpy()).groupby(level=0).min()
        again = np.flatnonzero(present & ids.duplicated(keep="first").to_numpy())

        def duplicate(r: int) -> str:
            value = ids.iloc[r - raw.row_offset]
            return _("duplicate id {value!r} (first at row {row})", value=value,
                     row=first_row[value])

        raw.report(limits, problems, again + raw.row_offset, table.id_column, duplicate)
    for col in table.columns:
        if col.kind == "code":
            codes_from_names(typed, col.name, raw, communes, limits, problems, notes)
            _check_codes(typed, col.name, raw, communes, limits, problems, notes)
    if table.has_point:
        _check_points(typed, raw, communes, limits, problems)
    return typed


def validate_tables(raws: Mapping[str, RawTable], communes: pd.DataFrame | None = None,
                    limits: ReadLimits | None = None,
                    notes: list[Problem] | None = None) -> dict[str, pd.DataFrame]:
    """Validate raw tables; raise InventoryError with every problem, else return typed tables.
    What was read other than as typed (a unit's name for its code, a withdrawn code) is added
    to ``notes``."""
    problems: list[Problem] = []
    notes = [] if notes is None else notes
    limits = limits or ReadLimits()
    communes = geodata.load_communes() if communes is None else communes
    typed: dict[str, pd.DataFrame] = {}
    for name, table in TABLES.items():
        if name not in raws:
            problems.append(Problem(f"{name}.csv", None, None, _(
                "missing table '{name}' (a {name}.csv/.parquet file, or a sheet/layer of that "
                "name)", name=name), kind="missing_table"))
            continue
        out = _validate_table(raws[name], table, communes, limits, problems, notes)
        if out is not None:
            typed[name] = out
    if problems:
        raise InventoryError(problems)
    return typed


def load_dataset(path: str | Path, communes: pd.DataFrame | None = None,
                 limits: ReadLimits | None = None) -> Dataset:
    """Load and validate a dataset folder, or one .xlsx / .gpkg file with a sheet per table.

    Raises :class:`InventoryError` listing every problem; nothing is returned on failure.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    problems: list[Problem] = []
    notes: list[Problem] = []
    raws, meta = read_raw(path, limits, problems)
    try:
        tables = validate_tables(raws, communes, limits, notes)
    except InventoryError as err:
        # A table whose file was found but could not be read is not also "missing".
        unread = {p.sheet or p.file.split(".")[0] for p in problems}
        later = [p for p in err.problems
                 if not (p.kind == "missing_table" and p.file.split(".")[0] in unread)]
        raise InventoryError(problems + later) from None
    if problems:
        raise InventoryError(problems)
    return Dataset(tables=tables, meta=meta, source=str(path), notes=tuple(notes))


def dataset_from_frames(frames: Mapping[str, pd.DataFrame], meta: Mapping[str, Any] | None = None,
                        communes: pd.DataFrame | None = None) -> Dataset:
    """Validate in-memory frames (e.g. from a notebook) exactly as files are validated."""
    raws = {name: RawTable(stringify(df.reset_index(drop=True)), f"<{name}>")
            for name, df in frames.items()}
    notes: list[Problem] = []
    tables = validate_tables(raws, communes, notes=notes)
    return Dataset(tables=tables, meta=dict(meta or {}), notes=tuple(notes))


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
    meta = dict(dataset.meta)
    meta_tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2,
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

