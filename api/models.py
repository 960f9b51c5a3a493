"""Tables of the store (SQLAlchemy 2 typed ORM). Migrations in ``api/migrations`` mirror them;
``tests/test_api_store.py`` checks that the two never drift apart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LEN = 16  # secrets.token_hex(8)
LEASE_OWNER_LEN = 255

# Run states. Active: queued, running. Final: the rest.
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted")
RUN_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)
ACTIVE_STATES = (QUEUED, RUNNING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None,
                           dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use api.models.utcnow()")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None,
                             dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(),
                           list[Any]: JSON()}


class ApiKey(Base):
    """An API key; only the SHA-256 of the secret is stored (keys are 256-bit random)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    province_code: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class DatasetRow(Base):
    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # demo | upload
    path: Mapped[str | None] = mapped_column(Text)  # folder under data_dir; None for the demo
    # Unique: identical uploads at the same moment make one dataset.
    content_hash: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    synthetic: Mapped[bool] = mapped_column(Boolean)
    tables: Mapped[dict[str, Any]]  # table -> row count
    files: Mapped[list[Any]]  # uploaded file names
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(ID_LEN))


class ScenarioRow(Base):
    __tablename__ = "scenarios"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]]  # the mapping as sent, named overrides included
    overrides: Mapped[list[Any]]  # named overrides applied at creation
    resolved: Mapped[dict[str, Any]]  # the validated scenario (planner.scenario.Scenario)
    dataset_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("datasets.id", ondelete="RESTRICT"), index=True)
    provinces: Mapped[list[Any]]
    # The one province a scoped key must have to see it; None for multi-province scenarios.
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(ID_LEN))


class SweepRow(Base):
    """A sweep: its request and scope; its members are runs (``RunRow.sweep_id``)."""

    __tablename__ = "sweeps"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    scenario_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), ForeignKey("scenarios.id", ondelete="SET NULL"), index=True)
    scenario_name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]]  # the request, as validated
    members: Mapped[int] = mapped_column(Integer)
    provinces: Mapped[list[Any]]
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    lang: Mapped[str] = mapped_column(String(2), default="vi")
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_by: Mapped[str | None] = mapped_column(String(ID_LEN))


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    scenario_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), ForeignKey("scenarios.id", ondelete="SET NULL"), index=True)
    scenario_name: Mapped[str] = mapped_column(String(200))
    overrides: Mapped[list[Any]]
    resolved: Mapped[dict[str, Any]]  # the scenario as run (a copy: scenarios may be deleted)
    dataset_id: Mapped[str] = mapped_column(String(ID_LEN))
    provinces: Mapped[list[Any]]
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    # The server solving it (api/leases.py): its instance id, then hostname:pid for humans.
    # The lease is renewed while the run is running; None once released.
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LEN))
    lease_expires_at: Mapped[dt.datetime | None]
    retry_of: Mapped[str | None] = mapped_column(String(ID_LEN))
    replan_of: Mapped[str | None] = mapped_column(String(ID_LEN))  # the plan it started from
    lang: Mapped[str] = mapped_column(String(2), default="vi", server_default="vi")
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(ID_LEN))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # A sweep's member: its sweep, name (m0001), the axes' settings and its draw.
    sweep_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), ForeignKey("sweeps.id", ondelete="CASCADE"), index=True)
    sweep_member: Mapped[str | None] = mapped_column(String(16))
    sweep_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draw: Mapped[int | None] = mapped_column(Integer)
    monte_carlo: Mapped[dict[str, Any] | None] = mapped_column(JSON)
