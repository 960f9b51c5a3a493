"""Serving a finished run from its output folder (written by ``planner.outputs.write_plan``).

Tables are read from Parquet once and kept in a small in-memory LRU (outputs of a succeeded run
never change: a re-run gets a new id), so a page of a national plan costs a filter and a slice,
never a solve.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from api.jobs import run_dir

PLAN_TABLES = ("units", "seats", "areas", "dispositions", "service", "needs", "transfers",
               "equipment", "solves")


@dataclass(frozen=True)
class FinishedRun:
    """What the result routes need of a succeeded run (which never changes again)."""

    id: str
    scenario_name: str
    overrides: tuple[str, ...]
    province_code: str | None
    synthetic: bool


class ResultCache:
    def __init__(self, data_dir: Path, max_tables: int = 64):
        self.data_dir = data_dir
        self.max_tables = max_tables
        self._tables: OrderedDict[tuple[str, str], pd.DataFrame] = OrderedDict()
        self._rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._runs: dict[str, FinishedRun] = {}
        self._answers: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def finished_run(self, run_id: str) -> FinishedRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def remember_run(self, run: FinishedRun) -> None:
        with self._lock:
            if len(self._runs) > 10_000:
                self._runs.clear()
            self._runs[run.id] = run

    def answer(self, key: tuple[str, ...]) -> str | None:
        """A serialised answer kept for a succeeded run (e.g. its KPIs as JSON)."""
        with self._lock:
            return self._answers.get(key)

    def keep_answer(self, key: tuple[str, ...], body: str) -> None:
        with self._lock:
            self._answers[key] = body
            while len(self._answers) > 256:
                self._answers.popitem(last=False)

    def path(self, run_id: str, *parts: str) -> Path:
        return run_dir(self.data_dir, run_id).joinpath(*parts)

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        """A plan table (or ``kpis``); FileNotFoundError when the run has none."""
        key = (run_id, name)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        df = pd.read_parquet(self.path(run_id, "tables", f"{name}.parquet"))
        with self._lock:
            self._tables[key] = df
            while len(self._tables) > self.max_tables:
                self._tables.popitem(last=False)
        return df

    def rows_json(self, run_id: str, name: str) -> np.ndarray:
        """Every row of a table as its JSON text (built once per table in one vectorised
        call), so a page is a slice and a join, not a serialisation."""
        key = (run_id, f"{name}#json")
        with self._lock:
            if key in self._rows:
                self._rows.move_to_end(key)
                return self._rows[key]
        df = self.table(run_id, name)
        text = df.to_json(orient="records", lines=True, force_ascii=False,
                          double_precision=10, date_format="iso")
        rows = np.array(text.splitlines() if len(df) else [], dtype=object)
        with self._lock:
            self._rows[key] = rows
            while len(self._rows) > self.max_tables:
                self._rows.popitem(last=False)
        return rows

    def has(self, run_id: str, *names: str, rows_of: str | None = None) -> bool:
        """All these tables (and the row texts of ``rows_of``) are in memory: answering needs
        no disk read and no serialisation of a whole table."""
        with self._lock:
            return (all((run_id, n) in self._tables for n in names)
                    and (rows_of is None or (run_id, f"{rows_of}#json") in self._rows))

    def forget(self, run_id: str) -> None:
        with self._lock:
            for key in [k for k in self._tables if k[0] == run_id]:
                del self._tables[key]
            for key in [k for k in self._rows if k[0] == run_id]:
                del self._rows[key]


def province_mask(df: pd.DataFrame, province: str, units: pd.DataFrame) -> pd.Series | None:
    """Rows of ``province``: by province_code, else by the unit (commune_code; the receiving
    unit for transfers). None when the table has neither column."""
    if "province_code" in df.columns:
        return df["province_code"] == province
    if "commune_code" in df.columns:
        codes = units.loc[units["province_code"] == province, "commune_code"]
        return df["commune_code"].isin(codes)
    return None


def records_json(df: pd.DataFrame) -> str:
    """Rows as a JSON array; NaN and NaT become null."""
    return df.to_json(orient="records", force_ascii=False, double_precision=10,
                      date_format="iso")


def geometry(table: str, df: pd.DataFrame, units: pd.DataFrame,
             dispositions: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """GeoJSON geometries of the rows: the row's own point, a line for flows (transfers: holder
    to receiver; service: property to the unit served), else the unit's HQ point."""
    at = units.set_index("commune_code")[["lon", "lat"]]

    def points(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, Any]]:
        return [{"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]}
                for x, y in zip(lon, lat, strict=True)]

    def lines(a: pd.DataFrame, b: pd.DataFrame) -> list[dict[str, Any]]:
        return [{"type": "LineString",
                 "coordinates": [[round(float(x0), 6), round(float(y0), 6)],
                                 [round(float(x1), 6), round(float(y1), 6)]]}
                for x0, y0, x1, y1 in zip(a["lon"], a["lat"], b["lon"], b["lat"], strict=True)]

    if table == "transfers" and {"holder_code", "commune_code"} <= set(df.columns):
        return lines(at.reindex(df["holder_code"]), at.reindex(df["commune_code"]))
    if (table == "service" and dispositions is not None
            and {"property_id", "commune_code"} <= set(df.columns)):
        src = dispositions.drop_duplicates("property_id").set_index("property_id")
        return lines(src.reindex(df["property_id"])[["lon", "lat"]],
                     at.reindex(df["commune_code"]))
    if {"lon", "lat"} <= set(df.columns):
        return points(df["lon"].to_numpy(), df["lat"].to_numpy())
    if "commune_code" in df.columns:
        hq = at.reindex(df["commune_code"])
        return points(hq["lon"].to_numpy(), hq["lat"].to_numpy())
    return None


def feature_collection(df: pd.DataFrame, geoms: list[dict[str, Any]],
                       extra: dict[str, Any]) -> str:
    props = json.loads(records_json(df))
    features = []
    for p, g in zip(props, geoms, strict=True):
        # A row whose place is unknown (NaN coordinates) gets no geometry, as GeoJSON allows.
        ok = not any(v != v for v in np.ravel(g["coordinates"]))
        features.append({"type": "Feature", "geometry": g if ok else None, "properties": p})
    return json.dumps({"type": "FeatureCollection", **extra, "features": features},
                      ensure_ascii=False, allow_nan=False)
