from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from api import geo
from api.deps import SessionDep
from api.errors import ApiError, invalid, not_found, responses, rules_beyond_the_schema
from api.models import ApiKey
from api.schemas import KeyCreate, KeyCreated, KeyPublic
from api.security import Admin, KeyCache, Viewer, create_key, get_key_cache, revoke_key
from planner.i18n import _

router = APIRouter(prefix="/keys", tags=["keys"], responses=responses(401, 403, 422))


@router.get("", response_model=list[KeyPublic], operation_id="list_keys",
            summary="List API keys (admin)")
def list_keys(session: SessionDep, _principal: Admin) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


@router.get("/me", response_model=KeyPublic, operation_id="get_own_key",
            summary="The calling key: its role and province scope (any role)")
def get_own_key(session: SessionDep, viewer: Viewer) -> ApiKey:
    row = session.get(ApiKey, viewer.key_id)
    if row is None:  # revoked and deleted since it was cached
        raise not_found("key", viewer.key_id)
    return row


@router.post("", response_model=KeyCreated, status_code=status.HTTP_201_CREATED,
             operation_id="create_key", responses=responses(422),
             openapi_extra=rules_beyond_the_schema(
                 "province_code is one of the 34 province codes (GET /provinces)",
                 "an admin key is not scoped to a province"),
             summary="Create an API key (admin); the secret is in this response only")
def create_api_key(body: KeyCreate, session: SessionDep, _principal: Admin) -> KeyCreated:
    if body.province_code is not None and body.province_code not in geo.province_codes():
        raise invalid("invalid_request", _("unknown province code {code!r}",
                                           code=body.province_code))
    try:
        row, secret = create_key(session, body.role, body.province_code, body.name)
    except ValueError as err:
        raise invalid("invalid_request", str(err)) from None
    return KeyCreated(**KeyPublic.model_validate(row).model_dump(), key=secret)


@router.delete("/{key_id}", response_model=KeyPublic, operation_id="revoke_key",
               responses=responses(404, 409), summary="Revoke an API key (admin)")
def revoke_api_key(key_id: str, session: SessionDep, admin: Admin,
                   cache: Annotated[KeyCache, Depends(get_key_cache)]) -> ApiKey:
    if key_id == admin.key_id:
        raise ApiError(409, "conflict", _("a key cannot revoke itself; use another admin key"))
    row = revoke_key(session, key_id)
    if row is None:
        raise not_found("key", key_id)
    cache.clear()
    return row
