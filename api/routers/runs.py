from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.decisions import (
    RUN_BODY_DOC,
    RunRequestDep,
    checked_decisions,
    keep_decisions,
    kept_decisions,
    rows_table,
)
from api.deps import ManagerDep, Offset, SessionDep
from api.errors import (
    ApiError,
    conflict,
    invalid,
    not_found,
    responses,
    rules_beyond_the_schema,
)
from api.jobs import decisions_file, run_dir, start_file
from api.models import (
    ACTIVE_STATES,
    CANCELLED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUN_STATES,
    SUCCEEDED,
    DatasetRow,
    RunRow,
    ScenarioRow,
    utcnow,
)
from api.resolve import scope_of, validate
from api.routers.scenarios import find as find_scenario
from api.schemas import NO_NUL, DecisionRow, DecisionsPublic, Page, ReplanCreate, RunPublic
from api.security import Planner, Principal, Viewer, check_scope, must_see, new_id
from planner.diff import start_plan
from planner.i18n import _, current_lang

router = APIRouter(prefix="/runs", tags=["runs"], responses=responses(401, 422))
RERUNNABLE = (FAILED, CANCELLED, INTERRUPTED)

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=255,
    description="any unique string; a retried request with the same key (and the same body) "
    "returns the run the first one started instead of starting another")]
_ACCEPTED = {"description": "Accepted: the run is queued; follow it with GET /runs/{id}",
             "headers": {"Location": {"description": "URL of the run",
                                      "schema": {"type": "string"}}}}


def find(session: Session, run_id: str, principal: Principal) -> RunRow:
    """A run the key may see."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise not_found("run", run_id)
    must_see(principal, row.province_code, "run", run_id)
    return row


def _request_hash(kind: str, payload: Any) -> str:
    return hashlib.sha256(json.dumps([kind, payload], sort_keys=True).encode()).hexdigest()


def _replay(session: Session, principal: Principal, key: str, request_hash: str,
            response: Response) -> RunRow | None:
    row = session.scalars(select(RunRow).where(RunRow.created_by == principal.key_id,
                                               RunRow.idempotency_key == key)).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise invalid("idempotency_key_reused", _("this Idempotency-Key was used for a "
                                                  "different request; use a new key"))
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/runs/{row.id}"
    return row


def _queue(session: Session, manager: ManagerDep, principal: Principal, response: Response,
           row: RunRow, key: str | None) -> RunRow:
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # The same Idempotency-Key raced in from a retry: answer with the winner's run.
        session.rollback()
        if key is None or row.request_hash is None:
            raise
        winner = _replay(session, principal, key, row.request_hash, response)
        if winner is None:
            raise
        return winner
    manager.notify()
    response.headers["Location"] = f"/runs/{row.id}"
    return row


@router.post("", response_model=RunPublic, status_code=status.HTTP_202_ACCEPTED,
             operation_id="create_run", responses={**responses(403, 404, 409, 413, 415, 422),
                                                   202: _ACCEPTED},
             summary="Start a run of a scenario (planner); answers 202 at once",
             description="JSON (`RunCreate`, the planner's decisions as `decisions` rows), or "
             "multipart form data with the same fields and the decisions table as "
             "`decisions_file` (CSV, Excel or Parquet, read like an inventory upload). Every "
             "problem of the decisions comes back at once with its file, row and column.",
             openapi_extra={**RUN_BODY_DOC, **rules_beyond_the_schema(
                 "every override named is defined in the scenario, and the overrides stacked "
                 "set no key twice",
                 "the scenario with its overrides passes the scenario schema",
                 "the decisions pass `assetplan schema decisions` against the run's dataset, "
                 "and a scoped key's decisions name units of its province only")})
def create_run(req: RunRequestDep, session: SessionDep, manager: ManagerDep, planner: Planner,
               response: Response, idempotency_key: IdempotencyKey = None) -> RunRow:
    request_hash = _request_hash("create", req.digest)
    if idempotency_key is not None:
        replayed = _replay(session, planner, idempotency_key, request_hash, response)
        if replayed is not None:
            return replayed
    body = req.body
    sc = find_scenario(session, body.scenario_id, planner)
    overrides = [*sc.overrides, *body.overrides]
    scenario, dataset = validate(session, sc.spec, overrides, source=f"scenario {sc.name}")
    scope = scope_of(scenario)
    check_scope(planner, scope, "a run that does not plan exactly that province")
    table = None if req.decisions is None else checked_decisions(req.decisions, dataset,
                                                                 planner)
    row = new_run(sc.id, sc.name, overrides, scenario.model_dump(mode="json"), dataset.id,
                  list(scenario.data.provinces), scope, dataset.synthetic, planner,
                  idempotency_key, request_hash)
    if table is not None and len(table):
        keep_decisions(manager.data_dir, row.id, table)
    return _queue(session, manager, planner, response, row, idempotency_key)


def new_run(scenario_id: str | None, scenario_name: str, overrides: list[str],
            resolved: dict[str, Any], dataset_id: str, provinces: list[str],
            scope: str | None, synthetic: bool, planner: Principal, key: str | None,
            request_hash: str, **links: str) -> RunRow:
    return RunRow(id=new_id(), scenario_id=scenario_id, scenario_name=scenario_name,
                  overrides=overrides, resolved=resolved, dataset_id=dataset_id,
                  provinces=provinces, province_code=scope, synthetic=synthetic,
                  status=QUEUED, stage="queued", progress=0.0, message="waiting for a worker",
                  error=None, worker_pid=None, created_at=utcnow(), started_at=None,
                  finished_at=None, created_by=planner.key_id, idempotency_key=key,
                  request_hash=request_hash if key is not None else None,
                  retry_of=links.get("retry_of"), replan_of=links.get("replan_of"),
                  lang=current_lang())


@router.get("", response_model=Page[RunPublic], operation_id="list_runs",
            summary="List runs, newest first (those of the key's province for a scoped key)")
def list_runs(
    session: SessionDep, viewer: Viewer,
    status_: Annotated[str | None, Query(alias="status", pattern="^(" + "|".join(RUN_STATES)
                                         + ")$")] = None,
    scenario_id: Annotated[str | None, Query(
        max_length=200, pattern=NO_NUL, description="id or name of a scenario (runs keep the "
        "name after the scenario is deleted)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Page[RunPublic]:
    q = select(RunRow)
    if viewer.province_code is not None:
        q = q.where(RunRow.province_code == viewer.province_code)
    if status_ is not None:
        q = q.where(RunRow.status == status_)
    if scenario_id is not None:
        q = q.where(or_(RunRow.scenario_id == scenario_id,
                        RunRow.scenario_name == scenario_id))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(RunRow.created_at.desc(), RunRow.id)
                           .limit(limit).offset(offset)).all()
    return Page(total=total, limit=limit, offset=offset,
                items=[RunPublic.model_validate(r) for r in rows])


@router.get("/{run_id}", response_model=RunPublic, operation_id="get_run",
            responses=responses(403, 404), summary="Status, stage and progress of a run")
def get_run(run_id: str, session: SessionDep, viewer: Viewer) -> RunRow:
    return find(session, run_id, viewer)


@router.post("/{run_id}/cancel", response_model=RunPublic, operation_id="cancel_run",
             responses=responses(403, 404, 409),
             summary="Cancel a queued or running run (planner); its worker is terminated")
def cancel_run(run_id: str, session: SessionDep, manager: ManagerDep,
               planner: Planner) -> RunRow:
    row = find(session, run_id, planner)
    res = session.execute(update(RunRow).where(RunRow.id == run_id,
                                               RunRow.status.in_(ACTIVE_STATES)).values(
        status=CANCELLED, finished_at=utcnow(), worker_pid=None,
        message=f"cancelled by key {planner.key_id}"))
    session.commit()
    if getattr(res, "rowcount", 0) != 1:
        session.refresh(row)
        raise conflict(_("run {id!r} already finished ({status})", id=run_id,
                         status=row.status))
    manager.cancel(run_id)
    session.refresh(row)
    return row


@router.post("/{run_id}/rerun", response_model=RunPublic,
             status_code=status.HTTP_202_ACCEPTED, operation_id="rerun_run",
             responses={**responses(403, 404, 409, 422), 202: _ACCEPTED},
             summary="Run an interrupted, failed or cancelled run again (planner)",
             description="Starts a new run with the same scenario as run (`retry_of` points "
             "back); the old record stays.")
def rerun_run(run_id: str, session: SessionDep, manager: ManagerDep, planner: Planner,
              response: Response, idempotency_key: IdempotencyKey = None) -> RunRow:
    request_hash = _request_hash("rerun", run_id)
    if idempotency_key is not None:
        replayed = _replay(session, planner, idempotency_key, request_hash, response)
        if replayed is not None:
            return replayed
    old = find(session, run_id, planner)
    if old.status not in RERUNNABLE:
        raise conflict(_("run {id!r} is {status}; only {statuses} runs can be re-run",
                         id=run_id, status=old.status, statuses=", ".join(RERUNNABLE)))
    if old.scenario_id is not None and session.get(ScenarioRow, old.scenario_id) is None:
        old.scenario_id = None
    if old.dataset_id != "demo" and session.get(DatasetRow, old.dataset_id) is None:
        raise ApiError(409, "conflict", _("dataset {id!r} of this run was deleted",
                                          id=old.dataset_id))
    row = new_run(old.scenario_id, old.scenario_name, list(old.overrides), old.resolved,
                  old.dataset_id, list(old.provinces), old.province_code, old.synthetic,
                  planner, idempotency_key, request_hash, retry_of=old.id,
                  **({"replan_of": old.replan_of} if old.replan_of else {}))
    # A sweep's member stays its sweep's member: the sweep reads the newest run of each.
    row.sweep_id, row.sweep_member, row.sweep_params = (old.sweep_id, old.sweep_member,
                                                        old.sweep_params)
    row.draw, row.monte_carlo = old.draw, old.monte_carlo
    _copy_inputs(manager.data_dir, old.id, row.id)
    return _queue(session, manager, planner, response, row, idempotency_key)


def _copy_inputs(data_dir: Path, old_id: str, new_id_: str) -> None:
    """A re-run's decisions and start plan are those of the run it re-runs."""
    for where in (decisions_file, start_file):
        src = where(data_dir, old_id)
        if src.exists():
            dst = where(data_dir, new_id_)
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)


@router.get("/{run_id}/decisions", response_model=DecisionsPublic,
            operation_id="get_run_decisions", responses=responses(403, 404),
            summary="The planner's decisions a run was made with (none: an empty list)")
def get_run_decisions(run_id: str, session: SessionDep, manager: ManagerDep,
                      viewer: Viewer) -> DecisionsPublic:
    find(session, run_id, viewer)
    table = kept_decisions(manager.data_dir, run_id)
    items = [DecisionRow(row=i + 2, **{k: v for k, v in rec.items() if v != ""})
             for i, rec in enumerate(table.to_dict("records"))]
    return DecisionsPublic(run_id=run_id, total=len(items), items=items)


@router.post("/{run_id}/replan", response_model=RunPublic,
             status_code=status.HTTP_202_ACCEPTED, operation_id="replan_run",
             responses={**responses(403, 404, 409, 422), 202: _ACCEPTED},
             summary="Solve a succeeded run again with the planner's decisions, starting from "
             "its plan (planner)",
             description="A new run (`replan_of` points back) of the same scenario, overrides "
             "and provinces, with `decisions` as its whole decisions table and the old run's "
             "plan as the solvers' first solution, as `assetplan replan` does. The old run "
             "stays as it is; GET /compare?run_ids=OLD,NEW shows what changed and why.",
             openapi_extra=rules_beyond_the_schema(
                 "the decisions pass `assetplan schema decisions` against the run's dataset, "
                 "and a scoped key's decisions name units of its province only"))
def replan_run(run_id: str, body: ReplanCreate, session: SessionDep, manager: ManagerDep,
               planner: Planner, response: Response,
               idempotency_key: IdempotencyKey = None) -> RunRow:
    request_hash = _request_hash("replan", [run_id, body.model_dump(mode="json")])
    if idempotency_key is not None:
        replayed = _replay(session, planner, idempotency_key, request_hash, response)
        if replayed is not None:
            return replayed
    old = find(session, run_id, planner)
    tables = run_dir(manager.data_dir, old.id) / "tables"
    if old.status != SUCCEEDED or not (tables / "dispositions.parquet").exists():
        raise conflict(_("run {id!r} is {status}; only a succeeded run's plan can be "
                         "re-planned", id=run_id, status=old.status))
    dataset = session.get(DatasetRow, old.dataset_id)
    if dataset is None:
        raise ApiError(409, "conflict", _("dataset {id!r} of this run was deleted",
                                          id=old.dataset_id))
    raw = rows_table(body.decisions)
    table = None if raw is None else checked_decisions(raw, dataset, planner)
    resolved = dict(old.resolved)
    if body.time_limit_s is not None:
        resolved["solver"] = {**resolved.get("solver", {}), "time_limit_s": body.time_limit_s}
    if old.scenario_id is not None and session.get(ScenarioRow, old.scenario_id) is None:
        old.scenario_id = None
    row = new_run(old.scenario_id, old.scenario_name, list(old.overrides), resolved,
                  old.dataset_id, list(old.provinces), old.province_code, old.synthetic,
                  planner, idempotency_key, request_hash, replan_of=old.id)
    start = start_file(manager.data_dir, row.id)
    start.parent.mkdir(parents=True, exist_ok=True)
    start_plan(run_dir(manager.data_dir, old.id)).save(start)
    if table is not None:
        keep_decisions(manager.data_dir, row.id, table)
    return _queue(session, manager, planner, response, row, idempotency_key)
