"""The units on each date the geography is known for (``AS_OF``), as differences from the list of
1 July 2025 that ``vietnamadminunits`` 1.0.4 ships.

- Source errors are corrected on every date, 1 July 2025 included: they are errors of the
  source, not changes of law. A unit typed against its own name (``Phường Việt Hòa`` typed Xã)
  takes the type its name gives; a wrong code another source uses is read through
  ``sources.CODE_ALIASES`` (Xã Ba Chẽ is 06970, see SOURCE-thanglequoc-vpd.md).
- Changes of law are the unit types the list of 2026-07-25 (``units_2026-07-25.csv``, thanglequoc)
  gives differently from the corrected 2025 list, from the date of the resolution that made them
  (``CHANGES``); the name takes the new type ("Xã Lộc Ninh" becomes "Phường Lộc Ninh"). A
  difference that no resolution explains, or a unit in one list only, is an error: a new snapshot
  cannot change the units silently.

A change of type or name changes neither population nor terrain: both are worked out once, on the
corrected 2025 list.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from geodata import sources

UNIT_TYPES = ("Xã", "Phường", "Đặc khu")
AS_OF = ("2025-07-01", "2026-07-25")
LATEST = AS_OF[-1]
SOURCE_ERROR = "source error"
# Province of the units a resolution changed -> (in force from, resolution, every act).
CHANGES = {
    "75": ("2026-04-30", "NQ 30/2026/QH16", "Resolution 30/2026/QH16 and 237/NQ-UBTVQH16"),
}
COLUMNS = ["code", "field", "issue", "action", "before", "after"]


def check_as_of(as_of: str) -> str:
    if as_of not in AS_OF:
        raise ValueError(f"as_of: the geography is known as of {' or '.join(AS_OF)}, "
                         f"not {as_of!r}")
    return as_of


def type_in_name(names: pd.Series) -> pd.Series:
    """The unit type each name starts with; None when it starts with none."""
    out = pd.Series(None, index=names.index, dtype=object)
    for t in UNIT_TYPES:
        out[names.str.startswith(t + " ")] = t
    return out


def _source_units() -> pd.DataFrame:
    vau = sources.vau_admin_units()
    return pd.DataFrame({"code": vau["wardCode"], "name": vau["ward"],
                         "unit_type": vau["wardType"], "province_code": vau["provinceCode"]})


@cache
def source_errors() -> pd.DataFrame:
    """Every error of the sources that is corrected on every date (COLUMNS)."""
    units = _source_units()
    named = type_in_name(units["name"])
    wrong = units[named.notna() & named.ne(units["unit_type"])]
    rows = [(c, "unit_type", SOURCE_ERROR, f"corrected: its own name is {n} (vietnamadminunits "
             f"1.0.4 types it {t})", t, named[i]) for i, c, n, t in
            zip(wrong.index, wrong["code"], wrong["name"], wrong["unit_type"], strict=True)]
    rows += [(official, "code", SOURCE_ERROR, f"kept: {official} is the code of the official "
              f"register and vietnamadminunits; thanglequoc's files write {alias}, which their "
              f"maintainer withdrew; an inventory's {alias} is read as {official}", alias,
              official) for alias, official in sources.CODE_ALIASES.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def apply(units: pd.DataFrame, differences: pd.DataFrame) -> pd.DataFrame:
    """``units`` (code, name, unit_type, ...) with the unit_type and name rows of
    ``differences`` applied."""
    out = units.copy()
    for field in ("unit_type", "name"):
        new = differences[differences["field"] == field].set_index("code")["after"]
        hit = out["code"].isin(new.index)
        out.loc[hit, field] = out.loc[hit, "code"].map(new)
    return out


@cache
def changes() -> pd.DataFrame:
    """The changes of law after 1 July 2025 (COLUMNS and ``from``, the date in force)."""
    units = apply(_source_units(), source_errors())
    later = sources.units_2026().set_index("code")
    only = set(units["code"]) ^ set(later.index)
    if only:
        raise ValueError(f"{sources.UNITS_2026_CSV.name}: unit(s) {sorted(only)} are in one list "
                         "only; a code change needs a resolution in geodata.editions.CHANGES")
    new_type = later["unit_type"].reindex(units["code"]).to_numpy()
    rows = []
    for row, t in zip(units.itertuples(), new_type, strict=True):
        if t == row.unit_type:
            continue
        if row.province_code not in CHANGES:
            raise ValueError(f"{sources.UNITS_2026_CSV.name}: unit {row.code} {row.name} is "
                             f"{t} there; no resolution in geodata.editions.CHANGES explains it")
        date, short, acts = CHANGES[row.province_code]
        issue = f"changed {date} ({short})"
        name = t + row.name[len(row.unit_type):]
        rows += [(row.code, "unit_type", issue, f"now a {t}: {acts}", row.unit_type, t, date),
                 (row.code, "name", issue, f"renamed with its new type: {acts}", row.name, name,
                  date)]
    return pd.DataFrame(rows, columns=[*COLUMNS, "from"])


def changes_until(as_of: str) -> pd.DataFrame:
    """The changes of law in force on ``as_of`` (COLUMNS)."""
    ch = changes()
    return ch.loc[ch["from"] <= check_as_of(as_of), COLUMNS].reset_index(drop=True)
