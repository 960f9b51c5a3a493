"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from api.jobs import RunManager
from api.results import ResultCache
from api.settings import Settings
from api.store import Store
from api.uploads import UploadValidator


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Async, so FastAPI does not hop to a worker thread to open and close it: opening touches
    # no connection; the queries run in the (sync) endpoints' threads.
    with get_store(request).session() as session:
        yield session


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager


def get_results(request: Request) -> ResultCache:
    return request.app.state.results


def get_validator(request: Request) -> UploadValidator:
    return request.app.state.validator


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SessionDep = Annotated[Session, Depends(get_session)]
ManagerDep = Annotated[RunManager, Depends(get_manager)]
ResultsDep = Annotated[ResultCache, Depends(get_results)]
ValidatorDep = Annotated[UploadValidator, Depends(get_validator)]
# Far beyond any table's rows, and within the 64-bit integers every store keeps.
MAX_OFFSET = 10**9
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
