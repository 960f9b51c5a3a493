from __future__ import annotations

from importlib import metadata

from fastapi import APIRouter
from sqlalchemy import func, select

from api.deps import ManagerDep, SessionDep, SettingsDep, StoreDep
from api.leases import running_count
from api.models import QUEUED, RunRow
from api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, operation_id="get_health",
            summary="Liveness and readiness (no key needed)")
def get_health(session: SessionDep, store: StoreDep, manager: ManagerDep,
               settings: SettingsDep) -> HealthPublic:
    queued = session.scalar(select(func.count()).select_from(RunRow)
                            .where(RunRow.status == QUEUED)) or 0
    try:
        version = metadata.version("assetplan")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return HealthPublic(status="ok", version=version, store=store.backend,
                        workers_busy=manager.active_count(),
                        workers_max=settings.server_limit(), runs_queued=queued,
                        runs_running=running_count(session))
