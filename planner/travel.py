"""Travel between candidate pairs: the planner's OD table where it has a pair, the computed
great-circle distance where it has not.

An OD table (CSV or Parquet; `assetplan schema od`) has one row per pair: ``origin`` a property
id or a unit code (the holder of cars and equipment), ``destination`` a unit code (its
headquarters) or, with ``destination_type`` ``former_commune``, a former commune's code (the
point the seats stage measures a former commune's people from), ``distance_km`` and optionally
``minutes``. A dataset folder may hold its own (``od.csv`` or ``od.parquet``: how the API
ties an uploaded table to a dataset); ``data.od_table`` takes precedence. Candidate pairs are
still found by great-circle radius (a road is never shorter); the table replaces the distance
of every pair it covers, and a pair whose table distance is beyond the radius drops out. Every
plan row that carries a distance says where it came from (``distance_source``: ``od_table`` or
``computed``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner.i18n import _
from planner.inventory import InventoryError, _check_columns, _coerce
from planner.readers import Problem, RawTable, ReadLimits, _read_csv, _read_parquet
from planner.scenario import Policy
from planner.schema import Column, Table

OD_TABLE = "od_table"
COMPUTED = "computed"
UNIT, FORMER = "unit", "former_commune"
MAX_DISTANCE_KM = 3_000.0  # farther than Hà Giang to Cà Mau by road
MAX_MINUTES = 7 * 24 * 60.0

OD = Table(
    "od",
    "Travel between candidate pairs, replacing the computed great-circle distance of every "
    "pair it covers (seats, disposition and transfer).",
    (
        Column("origin", "id", "a property id (a building or plot), or a unit code (a holder "
               "of cars and equipment)"),
        Column("destination", "code", "a unit code (its headquarters), or a former commune's "
               "code with destination_type former_commune"),
        Column("destination_type", "category", "unit (default) or former_commune (the seats "
               "stage: how far a former commune's people travel to a kept building)",
               required=False, choices=(UNIT, FORMER)),
        Column("distance_km", "float", "distance on the road and ferry network", "km",
               min_value=0, max_value=MAX_DISTANCE_KM),
        Column("minutes", "float", "travel time", "min", required=False, min_value=0,
               max_value=MAX_MINUTES),
    ),
)


class TravelError(InventoryError):
    """The OD table breaks a rule; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems, _("the OD table"))


@dataclass(frozen=True)
class TravelTable:
    """A validated OD table: ``pairs`` (origin, destination, destination_type, distance_km,
    minutes) and where it came from."""

    pairs: pd.DataFrame
    file: str = ""
    content_hash: str = ""

    @classmethod
    def empty(cls) -> TravelTable:
        return cls(pd.DataFrame({"origin": pd.Series(dtype=object),
                                 "destination": pd.Series(dtype=object),
                                 "destination_type": pd.Series(dtype=object),
                                 "distance_km": pd.Series(dtype=float),
                                 "minutes": pd.Series(dtype=float)}))

    def __bool__(self) -> bool:
        return not self.pairs.empty

    def apply(self, pairs: pd.DataFrame, origin: str, destination: str,
              destination_type: str = UNIT) -> pd.DataFrame:
        """``pairs`` with ``distance_km`` replaced where the table has the pair (``origin``,
        ``destination`` columns), and ``distance_source`` and ``minutes`` (the table's travel
        time, NaN where it has none) added."""
        t = self.pairs[self.pairs["destination_type"] == destination_type]
        key = pd.MultiIndex.from_arrays([pairs[origin].astype(str).to_numpy(),
                                         pairs[destination].astype(str).to_numpy()])
        pos = pd.MultiIndex.from_frame(t[["origin", "destination"]]).get_indexer(key) \
            if len(t) else np.full(len(pairs), -1)
        hit = pos >= 0
        km = pairs["distance_km"].to_numpy(dtype=float).copy()
        km[hit] = t["distance_km"].to_numpy(dtype=float)[pos[hit]]
        minutes = np.full(len(pairs), np.nan)
        minutes[hit] = t["minutes"].to_numpy(dtype=float)[pos[hit]]
        return pairs.assign(distance_km=km, distance_source=np.where(hit, OD_TABLE, COMPUTED),
                            minutes=minutes)

    @property
    def has_minutes(self) -> bool:
        """Whether the table gives travel times (the ``minutes`` column, on some row)."""
        return bool(self.pairs["minutes"].notna().any())

    def coverage(self, sources: dict[str, pd.Series]) -> dict[str, object]:
        """What provenance records: the table's file name, hash and rows, and per plan table
        (its ``*_source`` column) how many of its distances came from the table."""
        if not self:
            return {"source": COMPUTED}
        return {"source": OD_TABLE, "file": Path(self.file).name,
                "content_hash": self.content_hash, "rows": len(self.pairs),
                "plan_rows": {name: {"rows": len(s), "from_table": int((s == OD_TABLE).sum())}
                              for name, s in sources.items()}}


def require_minutes(policy: Policy, travel: TravelTable) -> None:
    """Radii in minutes need a table that gives them."""
    timed = [k for k, v in (("policy.service_radius_min", policy.service_radius_min),
                            ("policy.seats.max_service_min", policy.seats.max_service_min))
             if v]
    if timed and not travel.has_minutes:
        raise ValueError(_("{keys}: travel times need an OD table with minutes (data.od_table, "
                           "run --od, or the dataset's od file; `assetplan travel-times` makes "
                           "one)", keys=", ".join(timed)))


def travel_file(dataset: str | Path | None) -> Path | None:
    """A dataset folder's own OD table (``od.csv`` or ``od.parquet``), if it has one."""
    if dataset is None or not Path(dataset).is_dir():
        return None
    found = [Path(dataset) / f"od{ext}" for ext in (".csv", ".parquet")]
    return next((f for f in found if f.is_file()), None)


def load_travel(path: str | Path, property_ids: pd.Index, unit_codes: pd.Index,
                former_codes: pd.Index, limits: ReadLimits | None = None) -> TravelTable:
    """Read and validate an OD table (CSV or Parquet); raise :class:`TravelError` with every
    problem."""
    path = Path(path)
    limits = limits or ReadLimits()
    problems: list[Problem] = []
    raw: RawTable | None = None
    if not path.is_file():
        problems.append(Problem(str(path), None, None, "no such file"))
    elif path.suffix.lower() == ".parquet":
        raw = _read_parquet(path, limits, problems)
    elif path.suffix.lower() in (".csv", ".txt"):
        raw = _read_csv(path, limits, problems)
    else:
        problems.append(Problem(path.name, None, None, "an OD table is a .csv or .parquet "
                                "file"))
    if problems or raw is None:
        raise TravelError(problems or [Problem(path.name, None, None, "cannot be read")])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return validate_travel(raw, property_ids, unit_codes, former_codes, limits, digest)


def validate_travel(raw: RawTable, property_ids: pd.Index, unit_codes: pd.Index,
                    former_codes: pd.Index, limits: ReadLimits, digest: str) -> TravelTable:
    problems: list[Problem] = []
    frame = raw.frame.copy()
    for col in ("destination_type", "minutes"):
        if col not in frame:
            frame[col] = ""
    raw = replace(raw, frame=frame)
    if not _check_columns(raw, OD, problems):
        raise TravelError(problems)
    t = pd.DataFrame({c.name: _coerce(frame[c.name], c, raw, limits, problems)
                      for c in OD.columns})
    rows = np.arange(len(t)) + raw.row_offset
    t["destination_type"] = t["destination_type"].fillna(UNIT)
    origin = t["origin"].astype(object)
    # A spreadsheet drops a unit code's leading zeros: 4714 is unit 04714.
    digits = origin.notna() & origin.astype(str).str.fullmatch(r"\d{1,5}") \
        & ~origin.isin(property_ids)
    t["origin"] = origin.where(~digits, origin.astype(str).str.zfill(5))

    def bad(mask: np.ndarray, column: str, rule: object) -> None:
        idx = np.flatnonzero(mask)
        limits.report(problems, raw.file, rows[idx], column,
                      (lambda r: rule(r - raw.row_offset)) if callable(rule) else str(rule))

    given = t["origin"].notna().to_numpy()
    known = t["origin"].isin(property_ids) | t["origin"].isin(unit_codes)
    bad(given & ~known.to_numpy(), "origin",
        lambda i: f"unknown origin {t['origin'].iloc[i]!r}: neither a property id nor a unit "
        "code")
    unit = (t["destination_type"] == UNIT).to_numpy()
    dest_known = np.where(unit, t["destination"].isin(unit_codes),
                          t["destination"].isin(former_codes))
    bad(t["destination"].notna().to_numpy() & ~dest_known, "destination",
        lambda i: f"unknown {'unit' if unit[i] else 'former commune'} "
        f"{t['destination'].iloc[i]!r}")
    key = t[["origin", "destination", "destination_type"]].astype(str)
    dup = key.duplicated(keep="first").to_numpy()
    first = pd.Series(rows, index=pd.MultiIndex.from_frame(key)).groupby(level=[0, 1, 2]).min()
    firsts = first.reindex(pd.MultiIndex.from_frame(key)).to_numpy()
    bad(dup, "origin", lambda i: f"repeats the pair of row {int(firsts[i])}")
    if problems:
        raise TravelError(problems)
    return TravelTable(t.reset_index(drop=True), raw.file, digest)
