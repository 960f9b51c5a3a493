"""A unit typed by its name where its code belongs (``Ba Đình`` or ``Phường Ba Đình`` for
00004): read as the code when one unit of the row's province has that name, with a note; a
name several units share is a problem that lists them with their codes and provinces."""
from __future__ import annotations

import numpy as np
import pandas as pd

import geodata
from planner.i18n import _
from planner.localformats import fold, search_key
from planner.readers import Problem, RawTable, ReadLimits

NameKeys = dict[str, tuple[pd.Series, pd.Series]]


def unit_name_keys(communes: pd.DataFrame) -> NameKeys:
    """The names of the units as typed names are compared, in full (``Phường Ba Đình``) and
    without the unit type (``Ba Đình``): by :func:`fold` (with their diacritics) and by
    :func:`search_key` (without)."""
    out: NameKeys = {}
    for how, key in (("fold", fold), ("search", search_key)):
        full = communes["name"].map(key)
        kind = communes["unit_type"].map(key)
        short = pd.Series([f[len(k):].strip() if f.startswith(k + " ") else f
                           for f, k in zip(full, kind, strict=True)], index=communes.index)
        out[how] = (full, short)
    return out


def units_named(name: str, communes: pd.DataFrame, keys: NameKeys,
                province: str | None = None) -> pd.DataFrame:
    """The units ``name`` may mean (in ``province`` when given): those spelt so with their
    diacritics, else those spelt so without (``Ba Dinh`` is also Ba Đình)."""
    where = communes["province_code"].eq(province) if province is not None else True
    for how, key in (("fold", fold), ("search", search_key)):
        full, short = keys[how]
        hit = (full.eq(key(name)) | short.eq(key(name))) & where
        if hit.any():
            break
    return communes[hit.to_numpy()]


def row_provinces(df: pd.DataFrame, column: str, communes: pd.DataFrame) -> pd.Series:
    """The province each row lies in, as its other columns tell: a ``province_code``, else
    the unit of another code column (a pre-2025 code by its successor), else the one
    province of the table's coded rows; None where none does: matched nationally."""
    out = pd.Series(None, index=df.index, dtype=object)
    if "province_code" in df:
        out = df["province_code"].astype(object).where(df["province_code"].notna(), None)
    province_of = communes.set_index("code")["province_code"]
    others = [c for c in df.columns if c.endswith("_code") and c not in (column,
                                                                          "province_code")]
    for other in others:
        values = df[other].astype(object)
        found = values.map(province_of)
        if other == "legacy_code":
            legacy = geodata.load_legacy_units().set_index("legacy_code")["successor_code"]
            found = values.map(legacy).map(province_of)
        out = out.where(out.notna(), found.where(found.notna(), None))
    # Else the one province the table's coded rows lie in (a province's own inventory).
    known = df[column][df[column].isin(province_of.index)].map(province_of).unique()
    if len(known) == 1:
        out = out.where(out.notna(), known[0])
    return out


def codes_from_names(df: pd.DataFrame, column: str, raw: RawTable, communes: pd.DataFrame,
                     limits: ReadLimits, problems: list[Problem], notes: list[Problem]) -> None:
    """A unit's name typed for its code (``Ba Đình``, ``Phường Ba Đình``) is read as the
    code when one unit of the row's province has that name, with a note; several are a
    problem that lists them."""
    values = df[column]
    named = values.notna() & ~values.astype(str).str.fullmatch(r"\d{5}")
    if not named.any():
        return
    keys = unit_name_keys(communes)
    provinces = row_provinces(df, column, communes)
    found: dict[tuple[str, str | None], pd.DataFrame] = {}  # a name is typed many times
    read: list[Problem] = []
    many: dict[int, str] = {}
    for i in np.flatnonzero(named.to_numpy()):
        typed, row = str(values.iloc[i]), int(i) + raw.row_offset
        key = (typed, provinces.iloc[i])
        if key not in found:
            found[key] = units_named(typed, communes, keys, key[1])
        units = found[key]
        if len(units) == 1:
            unit = units.iloc[0]
            df.iloc[i, df.columns.get_loc(column)] = unit["code"]
            read.append(raw.problem(row, column, _(
                "{value!r} read as unit {code} {name} ({province})", value=typed,
                code=unit["code"], name=unit["name"], province=unit["province_name"]),
                kind="note"))
        elif len(units) > 1:
            many[row] = "; ".join(f"{u.code} {u.name} ({u.province_name})"
                                  for u in units.itertuples())
    shown = limits.max_problems_per_rule
    notes.extend(read[:shown])
    if len(read) > shown:
        notes.append(raw.problem(None, column, _("... and {count} more names read as codes",
                                                 count=len(read) - shown), kind="note"))
    raw.report(limits, problems, np.array(sorted(many), dtype=np.int64), column,
               lambda r: _("{value!r} names several units; write the code of one: "
                           "{candidates}", value=values.iloc[r - raw.row_offset],
                           candidates=many[r]))
