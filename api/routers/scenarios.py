from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import StringConstraints
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import Offset, SessionDep
from api.errors import conflict, not_found, responses, rules_beyond_the_schema
from api.models import RunRow, ScenarioRow, utcnow
from api.resolve import YAML_TYPES, flatten_extends, parse_body, scope_of, validate_spec
from api.schemas import NO_NUL, Page, ScenarioPublic
from api.security import Planner, Principal, Viewer, check_scope, must_see, new_id
from planner.i18n import _
from planner.scenario import json_schema

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=responses(401, 422))

_SPEC = {"schema": {"$ref": "#/components/schemas/ScenarioSpec"}}
_YAML_EXAMPLE = """name: lam-dong-quick
description: Lâm Đồng only, short solver limit
data:
  dataset: demo
  provinces: ["68"]
solver:
  time_limit_s: 10
overrides:
  wide-radius:
    policy:
      service_radius_km: {health: 25}
"""  # data
BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": _SPEC,
    **{t: {**_SPEC, "example": _YAML_EXAMPLE} for t in YAML_TYPES[:1]},
}}, **rules_beyond_the_schema(
    "data.dataset is 'demo' or the id of an uploaded dataset (GET /datasets)",
    "data.provinces are province codes (GET /provinces); no server file paths in data",
    "extends names a stored scenario the key may see",
    "every named override passes the schema on its own, and ?override names one of them",
    "the scenario is at most 64 KiB as JSON once YAML aliases are expanded")}


async def scenario_body(request: Request) -> dict[str, Any]:
    return parse_body(await request.body(), request.headers.get("content-type", ""))


ScenarioBody = Annotated[dict[str, Any], Depends(scenario_body)]
Overrides = Annotated[list[Annotated[str, StringConstraints(pattern=NO_NUL)]], Query(
    max_length=20, description="named override to apply (repeat for several, applied in "
    "order)")]


def public(row: ScenarioRow) -> ScenarioPublic:
    return ScenarioPublic(
        id=row.id, name=row.name, description=row.description, dataset_id=row.dataset_id,
        provinces=list(row.provinces), overrides=list(row.overrides),
        overrides_available=sorted((row.spec.get("overrides") or {}).keys()),
        scenario=row.resolved, spec=row.spec, created_at=row.created_at)


def find(session: Session, ident: str, principal: Principal) -> ScenarioRow:
    """A scenario by id or by name, if the key may see it."""
    row = session.get(ScenarioRow, ident) or session.scalars(
        select(ScenarioRow).where(ScenarioRow.name == ident)).first()
    if row is None:
        raise not_found("scenario", ident)
    must_see(principal, row.province_code, "scenario", ident)
    return row


@router.get("/schema", operation_id="get_scenario_schema",
            response_model=dict[str, Any], summary="JSON Schema of a scenario (the planner's)")
def get_scenario_schema(_principal: Viewer) -> dict[str, Any]:
    return json_schema()


@router.post(
    "", response_model=ScenarioPublic, status_code=status.HTTP_201_CREATED,
    operation_id="create_scenario", openapi_extra=BODY_DOC,
    responses=responses(403, 409, 413, 415, 422),
    summary="Create a scenario from JSON or YAML (planner)",
    description="The body is a scenario as in `scenarios/*.yaml` (Content-Type "
    "application/json or application/yaml), validated against the planner's schema. "
    "`extends: NAME` starts from a stored scenario; `?override=NAME` applies named overrides. "
    "A province-scoped key may only create scenarios of exactly its province.")
def create_scenario(body: ScenarioBody, session: SessionDep, planner: Planner,
                    override: Overrides = []) -> ScenarioPublic:  # noqa: B006 (FastAPI query)
    spec = flatten_extends(session, body, planner)
    scenario, dataset = validate_spec(session, spec, override)
    scope = scope_of(scenario)
    check_scope(planner, scope, "a scenario that does not plan exactly that province")
    if session.scalars(select(ScenarioRow.id).where(ScenarioRow.name == scenario.name)).first():
        raise conflict(_("a scenario named {name!r} exists; choose another name or delete it "
                         "first", name=scenario.name))
    row = ScenarioRow(id=new_id(), name=scenario.name, description=scenario.description,
                      spec=spec, overrides=list(override),
                      resolved=scenario.model_dump(mode="json"), dataset_id=dataset.id,
                      provinces=list(scenario.data.provinces), province_code=scope,
                      created_at=utcnow(), created_by=planner.key_id)
    answer = public(row)  # built before the row is stored: nothing stored fails to answer
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same name created at the same moment
        session.rollback()
        raise conflict(_("a scenario named {name!r} exists", name=scenario.name)) from None
    return answer


@router.get("", response_model=Page[ScenarioPublic], operation_id="list_scenarios",
            summary="List scenarios (those of the key's province for a scoped key)")
def list_scenarios(session: SessionDep, viewer: Viewer,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Offset = 0) -> Page[ScenarioPublic]:
    q = select(ScenarioRow)
    if viewer.province_code is not None:
        q = q.where(ScenarioRow.province_code == viewer.province_code)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(ScenarioRow.created_at, ScenarioRow.id)
                           .limit(limit).offset(offset))
    return Page(total=total, limit=limit, offset=offset, items=[public(r) for r in rows])


@router.get("/{scenario_id}", response_model=ScenarioPublic, operation_id="get_scenario",
            responses=responses(403, 404), summary="Read a scenario (by id or name)")
def get_scenario(scenario_id: str, session: SessionDep, viewer: Viewer) -> ScenarioPublic:
    return public(find(session, scenario_id, viewer))


@router.delete("/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT,
               operation_id="delete_scenario", responses=responses(403, 404),
               summary="Delete a scenario (planner); its runs keep their own copy")
def delete_scenario(scenario_id: str, session: SessionDep, planner: Planner) -> Response:
    row = find(session, scenario_id, planner)
    session.execute(update(RunRow).where(RunRow.scenario_id == row.id).values(scenario_id=None))
    session.delete(row)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
