from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints

from api.deps import ResultsDep, SessionDep
from api.errors import invalid, not_found, responses, rules_beyond_the_schema
from api.routers.results import finished
from api.schemas import NO_NUL, ComparePublic, CompareRow, CompareRun, DecisionChange
from api.security import Viewer
from planner.diff import diff_tables
from planner.i18n import _
from planner.safecells import csv_text

router = APIRouter(tags=["results"], responses=responses(401, 403, 404, 409, 422))
MAX_RUNS = 10
MAX_CHANGES = 1_000
RUN_IDS = r"^\s*[^,\s\x00]+(\s*,\s*[^,\s\x00]+)*\s*$"  # ids, commas between, none empty
# A KPI row is matched across runs by these; its names are the first run's (a national scope is
# named by the provinces planned, so runs of different provinces name it differently).
KEYS = ["scope", "scope_id", "kpi", "unit"]
NAMES = ["scope_name", "kpi_vi"]
COLUMNS = ["scope", "scope_id", "scope_name", "kpi", "kpi_vi", "unit"]


def _value(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)  # type: ignore[arg-type]


@router.get("/compare", response_model=ComparePublic, operation_id="compare_runs",
            summary="KPIs of several succeeded runs side by side (with two runs, the "
            "property decisions that changed and why)",
            openapi_extra=rules_beyond_the_schema(
                f"1 to {MAX_RUNS} distinct run ids in all, repeated or comma-separated"),
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def compare_runs(
    session: SessionDep, results: ResultsDep, viewer: Viewer,
    runs: Annotated[list[Annotated[str, StringConstraints(pattern=RUN_IDS)]], Query(
        min_length=1, max_length=MAX_RUNS, description="run ids, comma-separated or repeated")],
    scope: Annotated[str, Query(pattern="^(national|province|terrain|all)$")] = "national",
    scope_id: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> ComparePublic | Response:
    ids = list(dict.fromkeys(i.strip() for part in runs for i in part.split(",") if i.strip()))
    if not ids or len(ids) > MAX_RUNS:
        raise invalid("invalid_request", _("give 1 to {n} run ids", n=MAX_RUNS))
    rows = [finished(session, results, i, viewer) for i in ids]
    frames = []
    for row in rows:
        try:
            df = results.table(row.id, "kpis")
        except FileNotFoundError:
            raise not_found("output table", f"{row.id}/kpis") from None
        if scope != "all":
            df = df[df["scope"] == scope]
        if scope_id is not None:
            df = df[df["scope_id"].astype(str) == scope_id]
        frames.append(df)
    # One lookup per run: KPI key -> {"before": x, "after": y, names}; rows in first-seen order.
    lookups = []
    for df in frames:
        keyed = df.astype({"scope_id": str}).set_index(KEYS)[["before", "after", *NAMES]]
        lookups.append(keyed[~keyed.index.duplicated()].to_dict("index"))
    keys = list(dict.fromkeys(k for lookup in lookups for k in lookup))
    named: dict[Any, dict[str, str]] = {}  # key -> the columns naming its row, in order
    for k in keys:
        first = next(lookup[k] for lookup in lookups if k in lookup)
        cols = dict(zip(KEYS, k, strict=True)) | {n: first[n] for n in NAMES}
        named[k] = {c: str(cols[c]) for c in COLUMNS}
    if format == "csv":
        table = pd.DataFrame([named[k] | {
            f"{what}_{i}": lookup.get(k, {}).get(what)
            for i, lookup in zip(ids, lookups, strict=True) for what in ("before", "after")}
            for k in keys])
        return Response(csv_text(table), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="compare.csv"'})
    items = [CompareRow(
        **named[k],
        before={i: _value(lookup.get(k, {}).get("before"))
                for i, lookup in zip(ids, lookups, strict=True)},
        after={i: _value(lookup.get(k, {}).get("after"))
               for i, lookup in zip(ids, lookups, strict=True)})
        for k in keys]
    changed: list[DecisionChange] = []
    total = 0
    if len(rows) == 2:
        try:
            d = diff_tables(lambda name: results.table(rows[0].id, name),
                            lambda name: results.table(rows[1].id, name))
        except FileNotFoundError:
            raise not_found("output table", _("{a} or {b}", a=rows[0].id, b=rows[1].id)
                            ) from None
        total = len(d.properties)
        changed = [DecisionChange(**{k: str(v) for k, v in r.items()})
                   for r in d.properties.head(MAX_CHANGES).to_dict("records")]
    return ComparePublic(
        runs=[CompareRun(id=r.id, scenario_name=r.scenario_name, overrides=list(r.overrides),
                         synthetic=r.synthetic) for r in rows],
        items=items, decisions_changed=changed, decisions_changed_total=total)
