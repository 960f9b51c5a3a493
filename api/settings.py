"""Settings of the HTTP service, read from the environment (prefix ``ASSETPLAN_``).

``DATABASE_URL`` (no prefix, the usual name) selects the store: unset means an SQLite file in
the data directory; ``postgresql://...`` means PostgreSQL through psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from planner.i18n import _, number

MIB = 2**20


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSETPLAN_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "ASSETPLAN_DATABASE_URL"),
        description="SQLAlchemy URL of the store; unset: SQLite file in data_dir")
    data_dir: Path = Field(Path("assetplan-data"), description="uploaded datasets, run outputs "
                           "and the default SQLite file live here")
    run_workers: int = Field(2, ge=0, le=64, description="solves running at once in the "
                             "whole store (every server on it counts), each in its own "
                             "process; 0: this server solves nothing (its runs stay queued "
                             "for the others)")
    server_workers: int | None = Field(None, ge=0, le=64, description="solves running at "
                                       "once on this server; unset: run_workers")
    worker_max_runs: int = Field(20, ge=1, description="a worker process does this many runs, "
                                 "then a fresh one takes over")
    write_maps: bool = Field(True, description="render PNG and HTML maps for every run")
    max_upload_bytes: int = Field(200 * MIB, ge=1, description="largest inventory upload")
    max_body_bytes: int = Field(2 * MIB, ge=1, description="largest body of any other request")
    upload_workers: int = Field(1, ge=1, le=16, description="uploads validated at once, each "
                                "in a worker process (the others wait)")
    upload_timeout_s: float = Field(300.0, gt=0, description="an upload still being validated "
                                    "after this is refused and its worker killed")
    upload_max_unpacked_bytes: int = Field(256 * MIB, ge=1, description="largest unpacked "
                                           "size of a workbook's or Parquet file's contents "
                                           "(the national demo workbook: about 30 MiB)")
    upload_max_rows: int = Field(1_000_000, ge=1, description="most rows in one table")
    upload_problems_per_rule: int = Field(20, ge=1, le=10_000, description="problems listed "
                                          "one by one per rule broken; the rest are counted")
    progress_interval_s: float = Field(0.5, ge=0, description="at most one progress write per "
                                       "run per interval (stage changes are always written)")
    cancel_grace_s: float = Field(3.0, ge=0, description="time a cancelled worker gets after "
                                  "SIGTERM before SIGKILL")
    lease_s: float = Field(30.0, gt=0, description="a run whose server has not renewed "
                           "its lease for this long is interrupted by any server on the store")
    lease_renew_s: float = Field(10.0, gt=0, description="a server renews the leases of its "
                                 "runs, and interrupts runs whose lease ran out, this often "
                                 "(less than lease_s; a third of it by default)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call "
                                    "the API from a browser (dashboards)")
    key_cache_s: float = Field(5.0, ge=0, description="a valid key is re-checked in the store "
                               "after this; a revocation made outside this server takes "
                               "effect within it (0: check every request)")
    results_cache_tables: int = Field(64, ge=0, description="plan tables kept in memory")
    executor: Literal["local", "ray"] = Field("local", description="where runs and sweep "
                                              "members are solved: this server's worker "
                                              "processes, or Ray tasks")
    ray_address: str | None = Field(None, description="with executor ray: the cluster's "
                                    "address (unset: RAY_ADDRESS, else a local Ray on this "
                                    "machine's cores)")
    ray_max_retries: int = Field(2, ge=0, le=10, description="with executor ray: times a run "
                                 "whose worker died is started again before it fails")

    @model_validator(mode="after")
    def _renew_within_the_lease(self) -> Settings:
        if self.lease_renew_s >= self.lease_s:
            raise ValueError(_("lease_renew_s ({renew} s) must be less than lease_s ({lease} "
                               "s): a lease would run out before it is renewed",
                               renew=number(self.lease_renew_s, None),
                               lease=number(self.lease_s, None)))
        return self

    def server_limit(self) -> int:
        """Solves this server runs at once (the store's limit holds as well)."""
        own = self.run_workers if self.server_workers is None else self.server_workers
        return min(own, self.run_workers)

    def store_url(self) -> str:
        """The SQLAlchemy URL, with the psycopg 3 driver for plain PostgreSQL URLs."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'assetplan.sqlite').resolve()}"
        url = self.database_url
        for plain in ("postgres://", "postgresql://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain):]
        return url
