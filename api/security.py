"""API keys with a role and an optional province scope.

A key is ``ap_`` + 43 URL-safe characters (256 random bits); the store keeps only its SHA-256
(a slow password hash adds nothing for secrets this long) and the first characters, to tell
keys apart in listings. Roles are ordered: viewer < planner < admin.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.errors import ApiError, not_found
from api.models import ApiKey, utcnow
from planner.i18n import _

Role = Literal["viewer", "planner", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "planner", "admin")
KEY_PREFIX = "ap_"
SHOWN_PREFIX_LEN = 10

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="API key (or send it as `Authorization: Bearer`)")
bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and province scope (None: the whole country)."""

    key_id: str
    role: Role
    province_code: str | None

    def has(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, province_code: str | None) -> bool:
        """A scoped key sees only resources of exactly its province."""
        return self.province_code is None or province_code == self.province_code


def create_key(session: Session, role: Role, province_code: str | None = None,
               name: str = "") -> tuple[ApiKey, str]:
    """Store a new key and return it with its secret (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "admin" and province_code is not None:
        raise ValueError("an admin key manages keys and datasets for the whole country and "
                         "cannot be scoped to a province")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id(), name=name, prefix=secret[:SHOWN_PREFIX_LEN],
                 key_hash=hash_key(secret), role=role, province_code=province_code,
                 created_at=utcnow(), revoked_at=None)
    session.add(row)
    session.commit()
    return row, secret


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


class KeyCache:
    """Recently seen valid keys, so a burst of reads does not query the store per request.
    Revoking through the API clears it at once; a revocation made elsewhere (the ``keys``
    command, another server) takes effect within ``ttl_s``."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._hits: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        with self._lock:
            hit = self._hits.get(key_hash)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._hits) > 10_000:  # many distinct keys: start again
                self._hits.clear()
            self._hits[key_hash] = (principal, time.monotonic() + self.ttl_s)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


async def get_key_cache(request: Request) -> KeyCache:
    return request.app.state.key_cache


async def authenticate(
    session: SessionDep,
    cache: Annotated[KeyCache, Depends(get_key_cache)],
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
    auth: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Principal:
    secret = x_api_key or (auth.credentials if auth is not None else None)
    if not secret:
        raise _unauthenticated("an API key is required (header X-API-Key or "
                               "Authorization: Bearer)")
    digest = hash_key(secret)
    principal = cache.get(digest)
    if principal is not None:
        return principal
    # A cache miss: one indexed lookup, in a worker thread to keep the event loop free.
    row = await run_in_threadpool(
        lambda: session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first())
    if row is None or row.revoked_at is not None:
        raise _unauthenticated("unknown or revoked API key")
    principal = Principal(row.id, row.role, row.province_code)  # type: ignore[arg-type]
    cache.put(digest, principal)
    return principal


def require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.has(role):
            raise ApiError(403, "forbidden", _("this needs the {role} role; the key is a "
                                               "{key_role} key", role=role,
                                               key_role=principal.role))
        return principal

    check.__name__ = f"require_{role}"
    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Planner = Annotated[Principal, Depends(require("planner"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def must_see(principal: Principal, province_code: str | None, kind: str, ident: str) -> None:
    """A stored resource of another province answers as an unknown one does (404), so ids and
    names cannot be probed."""
    if not principal.sees(province_code):
        raise not_found(kind, ident)


def check_scope(principal: Principal, province_code: str | None, what: str) -> None:
    if not principal.sees(province_code):
        raise ApiError(403, "out_of_scope", _("this key is scoped to province {code}; {what} "
                                              "is not", code=principal.province_code,
                                              what=what))
