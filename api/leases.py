"""Leases: which server is solving which run, so that several servers can share one store.

Claiming a run (``queued -> running``) writes a lease on it: the claiming server's instance id
(``lease_owner``, random per process start) and ``lease_expires_at``. The holder renews the
leases of its runs every ``lease_renew_s``; a run still ``running`` whose lease ran out (its
server was killed, or lost the store) is marked ``interrupted`` by whichever server looks first.
A server only ever records the outcome of runs it holds, and it gives up a run (terminates the
worker) as soon as the run is no longer ``running`` under its lease in the store: a cancel
sent to any server reaches the worker that way.

Lease times come from the database's clock on PostgreSQL (servers on several hosts need not
agree on the time) and from the local clock on SQLite (one host).

The claim also enforces ``run_workers`` for the whole store: it counts the runs ``running`` in
the same statement that claims. SQLite runs one writer at a time. On PostgreSQL that count is
read from the statement's snapshot, which need not include a claim another server is making
at the same moment; an advisory lock held for the claim's transaction makes claims take turns,
so each counts the one before and two servers racing cannot both take the last free place.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from api.models import INTERRUPTED, LEASE_OWNER_LEN, QUEUED, RUNNING, RunRow, utcnow
from api.store import Store

# Any fixed 64-bit key: every server on the store takes this lock to claim ("assetpln").
CLAIM_LOCK_KEY = 0x6173736574706C6E
RELEASE_POLL_S = 0.1
EXPIRED_MESSAGE = ("the server running this run stopped renewing its lease (it stopped, or lost "
                   "the store); start it again with POST /runs/{id}/rerun")
_SYNC = {"synchronize_session": False}  # the statements below touch no loaded objects


def new_owner() -> str:
    """An id for this server process: random (a restarted server is a new owner), then
    hostname and pid so that people can tell which server holds a run."""
    return f"{secrets.token_hex(8)} {socket.gethostname()}:{os.getpid()}"[:LEASE_OWNER_LEN]


def running_count(s: Session) -> int:
    """Runs being solved now in the whole store."""
    return s.scalar(select(func.count()).select_from(RunRow)
                    .where(RunRow.status == RUNNING)) or 0


@dataclass
class Leases:
    """The lease operations of one server (``owner``) on ``store``."""

    store: Store
    lease_s: float
    owner: str = field(default_factory=new_owner)

    def now(self, s: Session) -> dt.datetime:
        """The store's time: PostgreSQL's clock (shared by every server), or the local one."""
        if self.store.backend == "postgresql":
            return s.scalars(select(func.now())).one().astimezone(dt.UTC)
        return utcnow()

    def _expiry(self, s: Session) -> dt.datetime:
        return self.now(s) + dt.timedelta(seconds=self.lease_s)

    def claim(self, store_limit: int) -> str | None:
        """Claim the oldest queued run while fewer than ``store_limit`` runs are running in the
        whole store; its id, or None (nothing queued, the store is full, or another server
        took the run first)."""
        with self.store.session() as s:
            queued = s.scalars(select(RunRow.id).where(RunRow.status == QUEUED).limit(1)).first()
            if queued is None or running_count(s) >= store_limit:  # no write, no lock
                return None
            if self.store.backend == "postgresql":
                s.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
            expires = self._expiry(s)
            busy, oldest = aliased(RunRow, name="busy"), aliased(RunRow, name="oldest")
            running = (select(func.count()).select_from(busy).where(busy.status == RUNNING)
                       .scalar_subquery())
            first = (select(oldest.id).where(oldest.status == QUEUED)
                     .order_by(oldest.created_at, oldest.id).limit(1).scalar_subquery())
            claimed = s.scalars(
                update(RunRow).where(RunRow.id == first, RunRow.status == QUEUED,
                                     running < store_limit)
                .values(status=RUNNING, started_at=utcnow(), stage="start", progress=0.0,
                        message="handing the run to a worker process", lease_owner=self.owner,
                        lease_expires_at=expires)
                .returning(RunRow.id).execution_options(**_SYNC)).first()
            s.commit()
            return claimed

    def renew(self, run_ids: list[str]) -> None:
        """Push back the expiry of the runs this server is solving (a claimed run it never
        handed to a worker is left to run out)."""
        if not run_ids:
            return
        with self.store.session() as s:
            s.execute(update(RunRow).where(RunRow.id.in_(run_ids), RunRow.status == RUNNING,
                                           RunRow.lease_owner == self.owner)
                      .values(lease_expires_at=self._expiry(s)).execution_options(**_SYNC))
            s.commit()

    def lost(self, run_ids: list[str]) -> set[str]:
        """Those of ``run_ids`` that are no longer running under this server's lease
        (cancelled through any server, or interrupted once the lease ran out)."""
        if not run_ids:
            return set()
        with self.store.session() as s:
            held = s.scalars(select(RunRow.id).where(RunRow.id.in_(run_ids),
                                                     RunRow.status == RUNNING,
                                                     RunRow.lease_owner == self.owner)).all()
        return set(run_ids) - set(held)

    def expire(self) -> list[str]:
        """Mark interrupted the runs whose lease ran out while they were running (whoever
        held them; runs left by a server older than leases have none); their ids."""
        with self.store.session() as s:
            now = self.now(s)
            ids = s.scalars(
                update(RunRow).where(RunRow.status == RUNNING,
                                     or_(RunRow.lease_expires_at.is_(None),
                                         RunRow.lease_expires_at < now))
                .values(status=INTERRUPTED, finished_at=utcnow(), worker_pid=None,
                        message=EXPIRED_MESSAGE, lease_expires_at=None)
                .returning(RunRow.id).execution_options(**_SYNC)).all()
            s.commit()
        return list(ids)

    def release(self, run_id: str) -> None:
        """This server is done with ``run_id`` (its worker is gone); the owner stays, to tell
        who ran it."""
        with self.store.session() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id, RunRow.lease_owner == self.owner)
                      .values(lease_expires_at=None).execution_options(**_SYNC))
            s.commit()

    def wait_released(self, run_id: str, timeout_s: float) -> bool:
        """Wait until no live server holds ``run_id`` (released, never claimed, or its lease
        ran out); False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.store.session() as s:
                expires = s.scalars(select(RunRow.lease_expires_at)
                                    .where(RunRow.id == run_id)).first()
                if expires is None or expires < self.now(s):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(RELEASE_POLL_S)
