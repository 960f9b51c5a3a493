"""Sweeps as a resource: a sweep of a stored scenario becomes one run per member, so members
are queued, leased, solved (by the server's executor: worker processes or Ray), cancelled and
read exactly as runs are; the sweep adds their progress and the summary."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.deps import ManagerDep, Offset, SessionDep
from api.errors import conflict, invalid, not_found, responses, rules_beyond_the_schema
from api.jobs import run_dir
from api.models import (
    ACTIVE_STATES,
    CANCELLED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    DatasetRow,
    RunRow,
    SweepRow,
    utcnow,
)
from api.resolve import SERVER_PATH_KEYS, scenario_problems, scope_of
from api.routers.runs import new_run
from api.routers.scenarios import find as find_scenario
from api.schemas import Page, RunPublic, SweepCreate, SweepPublic
from api.security import Planner, Principal, Viewer, check_scope, must_see, new_id
from planner.i18n import _, current_lang
from planner.scenario import ScenarioError, format_validation_error
from planner.sweep import SweepSpec, expand

router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=responses(401, 422))
MAX_MEMBERS = 500  # members one request may queue


def find(session: Session, sweep_id: str, principal: Principal) -> SweepRow:
    row = session.get(SweepRow, sweep_id)
    if row is None:
        raise not_found("sweep", sweep_id)
    must_see(principal, row.province_code, "sweep", sweep_id)
    return row


def _members_of(session: Session, sweep_ids: list[str]) -> dict[str, list[RunRow]]:
    """Per sweep, the newest run of each member (a re-run replaces the one it re-runs), in
    one query for all the sweeps."""
    runs = session.scalars(select(RunRow).where(RunRow.sweep_id.in_(sweep_ids))
                           .order_by(RunRow.sweep_member, RunRow.created_at.desc())).all()
    newest: dict[str, dict[str, RunRow]] = {i: {} for i in sweep_ids}
    for r in runs:
        newest[str(r.sweep_id)].setdefault(str(r.sweep_member), r)
    return {i: [m[k] for k in sorted(m)] for i, m in newest.items()}


def _members(session: Session, sweep_id: str) -> list[RunRow]:
    return _members_of(session, [sweep_id])[sweep_id]


def public(session: Session, row: SweepRow,
           members: list[RunRow] | None = None) -> SweepPublic:
    members = _members(session, row.id) if members is None else members
    counts: dict[str, int] = {}
    for r in members:
        counts[r.status] = counts.get(r.status, 0) + 1
    if counts.get(RUNNING):
        state = RUNNING
    elif counts.get(QUEUED):
        state = RUNNING if len(counts) > 1 else QUEUED
    elif counts.get(FAILED):
        state = FAILED
    elif counts.get(INTERRUPTED):
        state = INTERRUPTED
    elif counts.get(CANCELLED):
        state = CANCELLED
    else:
        state = SUCCEEDED
    progress = sum(1.0 if r.status == SUCCEEDED else r.progress for r in members)
    return SweepPublic(id=row.id, name=row.name, description=row.description,
                       scenario_id=row.scenario_id, scenario_name=row.scenario_name,
                       provinces=list(row.provinces), members=row.members, status=state,
                       members_by_status=counts,
                       progress=round(progress / max(len(members), 1), 4), lang=row.lang,
                       created_at=row.created_at)


@router.post("", response_model=SweepPublic, status_code=status.HTTP_202_ACCEPTED,
             operation_id="create_sweep", responses=responses(403, 404, 422),
             summary="Start a sweep of a stored scenario (planner): one run per member",
             description="Every member's scenario is validated first; all problems come back "
             "at once, each naming the member, its settings, the key path and the rule.",
             openapi_extra=rules_beyond_the_schema(
                 "the axes, sampling and Monte Carlo draws pass the sweep schema "
                 "(docs/SWEEPS.md: an axis has a key with values or a range, or override "
                 "sets; distributions take their own parameters)",
                 "every member's scenario (the stored scenario, its overrides and the "
                 "member's settings) passes the scenario schema",
                 "at most 500 members; no server file paths, and the scenario's dataset",
                 "text carries no control character"))
def create_sweep(body: SweepCreate, session: SessionDep, manager: ManagerDep,
                 planner: Planner, response: Response) -> SweepPublic:
    sc = find_scenario(session, body.scenario_id, planner)
    fields = body.model_dump(exclude={"scenario_id"}, exclude_none=True)
    try:
        spec = SweepSpec.model_validate({**fields, "name": body.name or sc.name,
                                         "base": sc.name,
                                         "overrides": [*sc.overrides, *body.overrides]})
    except ValidationError as err:
        raise invalid("invalid_sweep", _("the sweep breaks the schema"), scenario_problems(
            ScenarioError(format_validation_error(err, "body")))) from None
    try:
        members = expand(spec, sc.spec, "")  # each problem names its member as its place
    except ScenarioError as err:
        raise invalid("invalid_sweep", _("a member of the sweep breaks the scenario schema"),
                      scenario_problems(err)) from None
    if len(members) > MAX_MEMBERS:
        raise invalid("invalid_sweep", _("{n} members; at most {max} in one sweep",
                                         n=len(members), max=MAX_MEMBERS))
    dataset = session.get(DatasetRow, members[0].scenario.data.dataset)
    bad = [f"data.{key}" for m in members for key in SERVER_PATH_KEYS
           if getattr(m.scenario.data, key) is not None]
    if dataset is None or any(m.scenario.data.dataset != dataset.id for m in members) or bad:
        raise invalid("invalid_sweep", _("a sweep keeps its scenario's dataset and takes no "
                                         "server file paths ({keys})",
                                         keys=", ".join(sorted(set(bad))) or "data.dataset"))
    scopes = {scope_of(m.scenario) for m in members}
    scope = scopes.pop() if len(scopes) == 1 else None
    check_scope(planner, scope, "a sweep whose members do not all plan exactly that province")
    provinces = sorted({p for m in members for p in m.scenario.data.provinces})
    row = SweepRow(id=new_id(), name=spec.name, description=spec.description,
                   scenario_id=sc.id, scenario_name=sc.name,
                   spec=body.model_dump(mode="json"), members=len(members),
                   provinces=provinces, province_code=scope, lang=current_lang(),
                   created_at=utcnow(), created_by=planner.key_id)
    session.add(row)
    session.flush()  # the sweep before its members (their foreign key)
    mc = spec.monte_carlo.model_dump(mode="json") if spec.monte_carlo else None
    for m in members:
        run = new_run(sc.id, sc.name, list(m.scenario.applied_overrides),
                      m.scenario.model_dump(mode="json"), dataset.id,
                      list(m.scenario.data.provinces), scope_of(m.scenario), dataset.synthetic,
                      planner, None, "")
        run.sweep_id, run.sweep_member, run.draw = row.id, m.name, m.draw
        run.sweep_params = {k: list(v) if isinstance(v, tuple) else v
                            for k, v in m.params.items()}
        run.monte_carlo = mc if m.draw is not None else None
        session.add(run)
    session.commit()
    manager.notify()
    response.headers["Location"] = f"/sweeps/{row.id}"
    return public(session, row)


@router.get("", response_model=Page[SweepPublic], operation_id="list_sweeps",
            summary="List sweeps, newest first (those of the key's province for a scoped key)")
def list_sweeps(session: SessionDep, viewer: Viewer,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Offset = 0) -> Page[SweepPublic]:
    q = select(SweepRow)
    if viewer.province_code is not None:
        q = q.where(SweepRow.province_code == viewer.province_code)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(SweepRow.created_at.desc(), SweepRow.id)
                           .limit(limit).offset(offset)).all()
    return Page(total=total, limit=limit, offset=offset,
                items=[public(session, r, m) for r, m in zip(
                    rows, _members_of(session, [r.id for r in rows]).values(), strict=True)])


@router.get("/{sweep_id}", response_model=SweepPublic, operation_id="get_sweep",
            responses=responses(403, 404), summary="A sweep and its members' progress")
def get_sweep(sweep_id: str, session: SessionDep, viewer: Viewer) -> SweepPublic:
    return public(session, find(session, sweep_id, viewer))


@router.get("/{sweep_id}/members", response_model=list[RunPublic],
            operation_id="list_sweep_members", responses=responses(403, 404),
            summary="The member runs of a sweep (the newest run of each member)")
def sweep_members(sweep_id: str, session: SessionDep, viewer: Viewer) -> list[RunRow]:
    find(session, sweep_id, viewer)
    return _members(session, sweep_id)


@router.post("/{sweep_id}/cancel", response_model=SweepPublic, operation_id="cancel_sweep",
             responses=responses(403, 404, 409),
             summary="Cancel a sweep's queued and running members (planner); finished "
             "members are kept")
def cancel_sweep(sweep_id: str, session: SessionDep, manager: ManagerDep,
                 planner: Planner) -> SweepPublic:
    row = find(session, sweep_id, planner)
    active = [r.id for r in _members(session, sweep_id) if r.status in ACTIVE_STATES]
    if not active:
        raise conflict(_("sweep {id!r} has no member left to cancel", id=sweep_id))
    session.execute(update(RunRow).where(RunRow.id.in_(active),
                                         RunRow.status.in_(ACTIVE_STATES)).values(
        status=CANCELLED, finished_at=utcnow(), worker_pid=None,
        message=f"cancelled by key {planner.key_id} with its sweep"))
    session.commit()
    for run_id in active:
        manager.cancel(run_id)
    session.expire_all()
    return public(session, row)


def _summary(session: Session, manager: ManagerDep, row: SweepRow) -> dict[str, Any]:
    from planner.sweep_summary import summarise_members

    metas = [{"name": r.sweep_member, "params": r.sweep_params or {}, "draw": r.draw,
              "status": r.status, "error": r.error or "", "attempts": None,
              "wall_s": (r.finished_at - r.started_at).total_seconds()
              if r.finished_at and r.started_at else None, "run_id": r.id}
             for r in _members(session, row.id)]
    by_name = {str(m["name"]): str(m["run_id"]) for m in metas}
    tables = summarise_members(metas, lambda m: run_dir(manager.data_dir,
                                                        by_name[str(m["name"])]))
    tables["members"].insert(1, "run_id", [m["run_id"] for m in metas])
    return tables


@router.get("/{sweep_id}/summary", operation_id="get_sweep_summary",
            responses={**responses(403, 404), 200: {"content": {
                "application/json": {}, "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
            summary="The sweep's summary: members, frontier (points) or stability of uses",
            description="Recomputed from the finished members' plans. `format=xlsx` gives "
            "the three tables in one workbook, headers in the request's language.")
def sweep_summary(sweep_id: str, session: SessionDep, manager: ManagerDep, viewer: Viewer,
                  table: Literal["members", "points", "uses"] = "members",
                  format_: Annotated[Literal["json", "csv", "xlsx"],
                                     Query(alias="format")] = "json") -> Response:
    from planner.safecells import csv_text, xlsx_bytes
    from planner.sweep_summary import shown

    row = find(session, sweep_id, viewer)
    tables = _summary(session, manager, row)
    if format_ == "xlsx":
        from planner.sweep_summary import sheet_names

        data = xlsx_bytes({name: shown(tables[t]) for t, name in sheet_names().items()})
        return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                        "spreadsheetml.sheet", headers={
                            "Content-Disposition": f'attachment; filename="{row.name}.xlsx"'})
    df = tables[table]
    if format_ == "csv":
        return Response(csv_text(df), media_type="text/csv; charset=utf-8")
    buf = io.StringIO()
    df.to_json(buf, orient="records", force_ascii=False)
    return Response(buf.getvalue(), media_type="application/json")
