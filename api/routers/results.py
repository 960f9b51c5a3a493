"""What a succeeded run produced: KPIs, plan tables (JSON, GeoJSON, CSV, Excel), report,
provenance. Everything is read from the run's output folder, never recomputed."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.deps import Offset, ResultsDep, SessionDep
from api.errors import conflict, invalid, not_found, responses, rules_beyond_the_schema
from api.models import SUCCEEDED
from api.results import (
    PLAN_TABLES,
    FinishedRun,
    ResultCache,
    feature_collection,
    geometry,
    province_mask,
    records_json,
)
from api.routers.runs import find as find_run
from api.schemas import NO_NUL, KpisPublic, PlanPage
from api.security import Principal, Viewer, must_see
from planner.i18n import _
from planner.outputs import readable_sheets
from planner.safecells import csv_text, xlsx_bytes

router = APIRouter(prefix="/runs/{run_id}", tags=["results"],
                   responses=responses(401, 403, 404, 409, 422))

PlanTable = StrEnum("PlanTable", {t: t for t in PLAN_TABLES})  # type: ignore[misc]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_PAGE = 100
MAX_PAGE = 100_000
INLINE_ROWS = 1_000  # larger answers are built in a worker thread


class PlanFormat(StrEnum):
    json = "json"
    geojson = "geojson"
    csv = "csv"
    xlsx = "xlsx"


class KpiFormat(StrEnum):
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    html = "html"
    md = "md"


Province = Annotated[str | None, Query(pattern=r"^\d{2}$", description="2-digit province "
                                       "code: only rows of that province")]


def finished(session: Session, results: ResultCache, run_id: str,
             principal: Principal) -> FinishedRun:
    """A succeeded run the key may see (from memory after the first time: it never changes)."""
    run = results.finished_run(run_id)
    if run is None:
        row = find_run(session, run_id, principal)
        if row.status != SUCCEEDED:
            raise conflict(_("run {id!r} is {status}; results exist only for succeeded runs",
                             id=run_id, status=row.status))
        run = FinishedRun(row.id, row.scenario_name, tuple(row.overrides), row.province_code,
                          row.synthetic)
        results.remember_run(run)
    must_see(principal, run.province_code, "run", run_id)
    return run


async def _finished(session: Session, results: ResultCache, run_id: str,
                    principal: Principal) -> FinishedRun:
    run = results.finished_run(run_id)
    if run is None:  # the first time: one query, in a thread
        return await run_in_threadpool(finished, session, results, run_id, principal)
    must_see(principal, run.province_code, "run", run_id)
    return run


def _table(results: ResultCache, run_id: str, name: str) -> pd.DataFrame:
    try:
        return results.table(run_id, name)
    except FileNotFoundError:
        raise not_found("output table", f"{run_id}/{name}") from None


def _filter(results: ResultCache, run_id: str, table: str, df: pd.DataFrame,
            province: str | None) -> pd.DataFrame:
    if province is None:
        return df
    mask = province_mask(df, province, _table(results, run_id, "units"))
    if mask is None:
        raise invalid("invalid_request", _("table {table!r} has no province or unit column to "
                                           "filter by", table=table))
    return df[mask.to_numpy()]


def _download(content: bytes | str, media: str, filename: str) -> Response:
    return Response(content=content, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/kpis", response_model=KpisPublic, operation_id="get_run_kpis",
            summary="KPIs before and after the plan",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def get_run_kpis(
    run_id: str, session: SessionDep, results: ResultsDep, viewer: Viewer,
    scope: Annotated[str | None, Query(pattern="^(national|province|terrain)$",
                                       description="national, province or terrain")] = None,
    scope_id: Annotated[str | None, Query(max_length=50, pattern=NO_NUL,
                                          description="e.g. a province code "
                                          "with scope=province")] = None,
    format: Annotated[KpiFormat, Query()] = KpiFormat.json,
) -> Response:
    run = await _finished(session, results, run_id, viewer)
    key = ("kpis", run_id, format.value, scope or "", scope_id or "")
    body = results.answer(key)  # KPIs of a succeeded run never change: kept serialised
    if body is None:
        body = await run_in_threadpool(_kpis_body, results, run, scope, scope_id, format)
        results.keep_answer(key, body)
    if format == KpiFormat.csv:
        return _download(body, "text/csv", f"{run_id}-kpis.csv")
    return Response(body, media_type="application/json")


def _kpis_body(results: ResultCache, run: FinishedRun, scope: str | None,
               scope_id: str | None, format: KpiFormat) -> str:
    df = _table(results, run.id, "kpis")
    if scope is not None:
        df = df[df["scope"] == scope]
    if scope_id is not None:
        df = df[df["scope_id"].astype(str) == scope_id]
    if format == KpiFormat.csv:
        return csv_text(df)
    return (f'{{"run_id":{json.dumps(run.id)},"synthetic":{json.dumps(run.synthetic)},'
            f'"items":{records_json(df)}}}')


@router.get(
    "/plan", response_model=PlanPage, operation_id="get_run_plan",
    openapi_extra=rules_beyond_the_schema(
        "province filters only tables with a province or unit column",
        "format=geojson only for tables with a place to draw"),
    summary="A plan table: JSON page, GeoJSON, CSV or Excel",
    description="`format=json` (default) and `geojson` answer one page (`limit` default "
    f"{DEFAULT_PAGE}); `csv` and `xlsx` answer every matching row unless `limit` is given. "
    "`format=xlsx` without `table` and without filters is the run's full workbook "
    "(`plan.xlsx`, every table, in the language it was run in, with a dictionary sheet); with "
    "`province` it is every table filtered to that province, headers and coded values in the "
    "request's language. GeoJSON geometry: the row's point, a line for "
    "flows (transfers, service), else the HQ of the row's unit (WGS84 lon/lat).",
    responses={422: responses(422)[422], 200: {"content": {
        "application/geo+json": {"schema": {"$ref":
                                            "#/components/schemas/GeoJSONFeatureCollection"}},
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def get_run_plan(
    run_id: str, session: SessionDep, results: ResultsDep, viewer: Viewer,
    table: Annotated[PlanTable | None, Query(
        description="plan table; default dispositions (for xlsx: every table)")] = None,
    format: Annotated[PlanFormat, Query()] = PlanFormat.json,
    province: Province = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    offset: Offset = 0,
) -> Response:
    run = await _finished(session, results, run_id, viewer)
    name = str(table.value) if table is not None else "dispositions"
    # A page from tables in memory is answered on the event loop (no thread hop, no GIL
    # contention between threads); reading files or writing a download goes to a thread.
    needs = [name]
    if province is not None or format == PlanFormat.geojson:
        needs.append("units")
    if format == PlanFormat.geojson and name == "service":
        needs.append("dispositions")
    small = (format in (PlanFormat.json, PlanFormat.geojson)
             and (limit or DEFAULT_PAGE) <= INLINE_ROWS
             and results.has(run_id, *needs,
                             rows_of=name if format == PlanFormat.json else None))
    args = (results, run, table, format, province, limit, offset)
    return _plan(*args) if small else await run_in_threadpool(_plan, *args)


def _plan(results: ResultCache, run: FinishedRun, table: Any, format: PlanFormat,
          province: str | None, limit: int | None, offset: int) -> Response:
    run_id = run.id
    if format == PlanFormat.xlsx and table is None:
        if province is None and limit is None and offset == 0:
            path = results.path(run_id, "plan.xlsx")
            if not path.exists():
                raise not_found("output file", f"{run_id}/plan.xlsx")
            return FileResponse(path, media_type=XLSX, filename=f"{run_id}-plan.xlsx")
        sheets = {}
        for name in PLAN_TABLES:
            df = _table(results, run_id, name)
            if province is not None and province_mask(df, province,
                                                      _table(results, run_id, "units")) is None:
                continue
            sheets[name] = _page(_filter(results, run_id, name, df, province), offset, limit)
        return _download(xlsx_bytes(readable_sheets(sheets)), XLSX,
                         f"{run_id}-plan-{province or 'all'}.xlsx")
    name = str(table.value) if table is not None else "dispositions"
    if format in (PlanFormat.json, PlanFormat.geojson):
        limit = DEFAULT_PAGE if limit is None else limit
    if format == PlanFormat.json:
        return _json_page(results, run, name, province, limit or DEFAULT_PAGE, offset)
    df = _filter(results, run_id, name, _table(results, run_id, name), province)
    total = len(df)
    page = _page(df, offset, limit)
    if format == PlanFormat.csv:
        return _download(csv_text(page), "text/csv",
                         f"{run_id}-{name}.csv")
    if format == PlanFormat.xlsx:
        return _download(xlsx_bytes(readable_sheets({name: page})), XLSX,
                         f"{run_id}-{name}.xlsx")
    meta: dict[str, Any] = {"run_id": run_id, "table": name, "synthetic": run.synthetic,
                            "total": total, "limit": limit, "offset": offset}
    if format == PlanFormat.geojson:
        disp = _table(results, run_id, "dispositions") if name == "service" else None
        geoms = geometry(name, page, _table(results, run_id, "units"), disp)
        if geoms is None:
            raise invalid("invalid_request", _("table {table!r} has no place to draw; use "
                                               "format=json", table=name))
        return Response(feature_collection(page, geoms, meta),
                        media_type="application/geo+json")
    raise AssertionError(f"unhandled format {format}")  # the enum has no other member


def _json_page(results: ResultCache, run: FinishedRun, name: str, province: str | None,
               limit: int, offset: int) -> Response:
    rows = results.rows_json(run.id, name)
    if province is not None:
        df = _table(results, run.id, name)
        mask = province_mask(df, province, _table(results, run.id, "units"))
        if mask is None:
            raise invalid("invalid_request", _("table {table!r} has no province or unit "
                                               "column to filter by", table=name))
        rows = rows[mask.to_numpy()]
    meta = {"run_id": run.id, "table": name, "synthetic": run.synthetic, "total": len(rows),
            "limit": limit, "offset": offset}
    head = json.dumps(meta, ensure_ascii=False)[:-1]
    items = ",".join(rows[offset:offset + limit])
    return Response(f'{head},"items":[{items}]}}', media_type="application/json")


def _page(df: pd.DataFrame, offset: int, limit: int | None) -> pd.DataFrame:
    return df.iloc[offset:] if limit is None else df.iloc[offset:offset + limit]


@router.get("/report", operation_id="get_run_report", response_class=Response,
            summary="The run's short report (HTML or Markdown)",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}},
                                         "text/markdown": {"schema": {"type": "string"}}}}})
def get_run_report(run_id: str, session: SessionDep, results: ResultsDep, viewer: Viewer,
                   format: Annotated[ReportFormat, Query()] = ReportFormat.html) -> Response:
    finished(session, results, run_id, viewer)
    path = results.path(run_id, f"report.{format.value}")
    if not path.exists():
        raise not_found("report", run_id)
    media = "text/html" if format == ReportFormat.html else "text/markdown"
    # The report shows scenario texts that clients wrote: no scripts, whatever they contain.
    return Response(path.read_text(encoding="utf-8"), media_type=f"{media}; charset=utf-8",
                    headers={"Content-Security-Policy": "default-src 'none'; img-src 'self' "
                             "data:; style-src 'unsafe-inline'"})


@router.get("/provenance", operation_id="get_run_provenance", response_model=dict[str, Any],
            summary="Provenance: scenario, dataset hash, solver results, versions")
def get_run_provenance(run_id: str, session: SessionDep, results: ResultsDep,
                       viewer: Viewer) -> dict[str, Any]:
    finished(session, results, run_id, viewer)
    path = results.path(run_id, "provenance.json")
    if not path.exists():
        raise not_found("provenance", run_id)
    return json.loads(path.read_text(encoding="utf-8"))
