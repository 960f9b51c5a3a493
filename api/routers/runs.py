from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import geodata
from api.deps import ManagerDep, Offset, SessionDep
from api.errors import (
    ApiError,
    Problem,
    conflict,
    invalid,
    not_found,
    responses,
    rules_beyond_the_schema,
)
from api.jobs import decisions_file
from api.models import (
    ACTIVE_STATES,
    CANCELLED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUN_STATES,
    DatasetRow,
    RunRow,
    ScenarioRow,
    utcnow,
)
from api.resolve import scope_of, validate
from api.routers.scenarios import find as find_scenario
from api.schemas import NO_NUL, Page, RunCreate, RunPublic
from api.security import Planner, Principal, Viewer, check_scope, must_see, new_id
from planner.demo import load_demo
from planner.inventory import load_dataset

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
        raise invalid("idempotency_key_reused", "this Idempotency-Key was used for a different "
                      "request; use a new key")
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
             operation_id="create_run", responses={**responses(403, 404, 409, 413, 422),
                                                   202: _ACCEPTED},
             summary="Start a run of a scenario (planner); answers 202 at once",
             openapi_extra=rules_beyond_the_schema(
                 "every override named is defined in the scenario, and the overrides stacked "
                 "set no key twice",
                 "the scenario with its overrides passes the scenario schema"))
def create_run(body: RunCreate, session: SessionDep, manager: ManagerDep, planner: Planner,
               response: Response, idempotency_key: IdempotencyKey = None) -> RunRow:
    request_hash = _request_hash("create", body.model_dump(mode="json"))
    if idempotency_key is not None:
        replayed = _replay(session, planner, idempotency_key, request_hash, response)
        if replayed is not None:
            return replayed
    sc = find_scenario(session, body.scenario_id, planner)
    overrides = [*sc.overrides, *body.overrides]
    scenario, dataset = validate(session, sc.spec, overrides, source=f"scenario {sc.name}")
    scope = scope_of(scenario)
    check_scope(planner, scope, "a run that does not plan exactly that province")
    table = _decisions_table(session, body, dataset, planner)
    row = RunRow(id=new_id(), scenario_id=sc.id, scenario_name=sc.name, overrides=overrides,
                 resolved=scenario.model_dump(mode="json"), dataset_id=dataset.id,
                 provinces=list(scenario.data.provinces), province_code=scope,
                 synthetic=dataset.synthetic, status=QUEUED, stage="queued", progress=0.0,
                 message="waiting for a worker", error=None, worker_pid=None, retry_of=None,
                 created_at=utcnow(), started_at=None, finished_at=None,
                 created_by=planner.key_id, idempotency_key=idempotency_key,
                 request_hash=request_hash if idempotency_key is not None else None)
    if table is not None:
        _keep_decisions(manager.data_dir, row.id, table)
    return _queue(session, manager, planner, response, row, idempotency_key)


def _decisions_table(session: Session, body: RunCreate, dataset: DatasetRow,
                     planner: Principal) -> pd.DataFrame | None:
    """The body's decisions as a table, validated against the run's dataset (422 with every
    problem and its row) and, for a scoped key, inside its province (403)."""
    if not body.decisions:
        return None
    from planner.decisions import DecisionError, decisions_from_frame

    table = pd.DataFrame([d.model_dump() for d in body.decisions])
    data = load_demo() if dataset.id == "demo" else load_dataset(str(dataset.path))
    try:
        decided = decisions_from_frame(table, data, name="decisions")
    except DecisionError as err:
        raise invalid("invalid_decisions", f"{len(err.problems)} problem(s) in the decisions; "
                      "nothing was started", [Problem(**p.to_dict()) for p in err.problems]
                      ) from None
    if planner.province_code is not None:
        prov = pd.concat([
            data.properties.set_index("property_id")["commune_code"].reindex(
                decided.properties["property_id"]).set_axis(decided.properties["row"]),
            decided.lots.set_index("row")["holder_code"],
            decided.lots.set_index("row")["commune_code"].dropna(),
            decided.properties.set_index("row")["commune_code"].dropna(),
            decided.units.set_index("row")["commune_code"]])
        codes = geodata.load_communes().set_index("code")["province_code"]
        outside = sorted({int(r) for r, c in prov.items()
                          if codes.get(c) != planner.province_code})
        if outside:
            raise ApiError(403, "out_of_scope", f"this key is scoped to province "
                           f"{planner.province_code}; decision row(s) "
                           f"{', '.join(map(str, outside))} name units outside it",
                           [Problem(file="decisions", row=r, column=None,
                                    rule="outside the key's province") for r in outside])
    return table


def _keep_decisions(data_dir: Path, run_id: str, table: pd.DataFrame) -> None:
    path = decisions_file(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)


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
        raise conflict(f"run {run_id!r} already finished ({row.status})")
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
        raise conflict(f"run {run_id!r} is {old.status}; only {', '.join(RERUNNABLE)} runs "
                       "can be re-run")
    if old.scenario_id is not None and session.get(ScenarioRow, old.scenario_id) is None:
        old.scenario_id = None
    if old.dataset_id != "demo" and session.get(DatasetRow, old.dataset_id) is None:
        raise ApiError(409, "conflict", f"dataset {old.dataset_id!r} of this run was deleted")
    row = RunRow(id=new_id(), scenario_id=old.scenario_id, scenario_name=old.scenario_name,
                 overrides=list(old.overrides), resolved=old.resolved,
                 dataset_id=old.dataset_id, provinces=list(old.provinces),
                 province_code=old.province_code, synthetic=old.synthetic, status=QUEUED,
                 stage="queued", progress=0.0, message="waiting for a worker", error=None,
                 worker_pid=None, retry_of=old.id, created_at=utcnow(), started_at=None,
                 finished_at=None, created_by=planner.key_id, idempotency_key=idempotency_key,
                 request_hash=request_hash if idempotency_key is not None else None)
    kept = decisions_file(manager.data_dir, old.id)
    if kept.exists():
        _keep_decisions(manager.data_dir, row.id, pd.read_csv(kept, dtype=str,
                                                             keep_default_na=False))
    return _queue(session, manager, planner, response, row, idempotency_key)
