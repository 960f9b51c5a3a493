"""The FastAPI application: ``create_app(settings)``.

Start-up runs the migrations, makes sure the shipped demo dataset is there, marks interrupted
the runs whose server died (their lease ran out; see api/jobs.py) and starts the run
supervisor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors, geo
from api.dashboard import mount_dashboard
from api.docs import mount_docs
from api.jobs import RunManager
from api.language import Language
from api.results import ResultCache
from api.routers import (
    compare,
    datasets,
    geography,
    health,
    i18n,
    keys,
    results,
    runs,
    scenarios,
    sweeps,
)
from api.schemas import GeoJSONFeatureCollection, RunCreate, ScenarioSpec
from api.security import KeyCache
from api.settings import Settings
from api.store import Store
from api.uploads import UploadValidator
from planner.i18n import _, number

DESCRIPTION = """HTTP API of **assetplan**, the planner for Vietnam's public assets after the
2025 merger of administrative units: upload an inventory, create scenarios, run them (as jobs,
in worker processes), follow their progress, read and download the plans (JSON, GeoJSON, CSV,
Excel) and compare them.

Every route but `/health` and `/i18n` needs an API key (`X-API-Key: ap_...` or `Authorization:
Bearer ap_...`). Roles: **viewer** reads; **planner** also creates scenarios and runs; **admin**
also manages keys and datasets. A key scoped to a province sees and runs only that province.

The shipped inventory (`dataset: demo`) is **SYNTHETIC**, calibrated to published totals;
every run and plan says so in its `synthetic` field.

Geography: tranngocminhhieu/vietnamadminunits (MIT), source sapnhap.bando.com.vn /
NQ-UBTVQH15 resolutions of 16/06/2025; thanglequoc/vietnamese-provinces-database (MIT).
"""
UPLOAD_PATHS = ("/datasets",)


class BodyLimit:
    """413 for bodies over the limit: uploads get ``max_upload_bytes``, everything else
    ``max_body_bytes``. Checks Content-Length up front and counts streamed bytes too. Also
    422 for a NUL character in the path or query."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No store keeps NUL in text (PostgreSQL refuses it): refuse it at the door.
            await _send_json(send, 422, "invalid_request", _(
                "NUL characters are not allowed in the path or the query"))
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") in UPLOAD_PATHS
        limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException, which FastAPI passes through while it parses a body
                    # (anything else there becomes "error parsing the body").
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        await _send_json(send, 413, "too_large", _too_large(limit), close=True)


async def _send_json(send: Send, status: int, code: str, message: str,
                     close: bool = False) -> None:
    body = json.dumps({"code": code, "message": message, "problems": []}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:  # the rest of an oversized body is not read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return _("the request body is larger than the limit of {limit} bytes", limit=number(limit))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.store_url())
        store.migrate()
        with store.session() as s:
            datasets.ensure_demo(s)
        geo.province_codes()  # loaded now, not on the first request that validates a scenario
        manager = RunManager(store, settings)
        manager.start()
        app.state.settings = settings
        app.state.store = store
        app.state.manager = manager
        app.state.results = ResultCache(settings.data_dir, settings.results_cache_tables)
        app.state.validator = UploadValidator(settings)
        try:
            yield
        finally:
            app.state.validator.stop()
            manager.stop()
            store.dispose()

    try:
        version = metadata.version("assetplan")
    except metadata.PackageNotFoundError:
        version = "0"
    app = FastAPI(title="assetplan API", version=version, description=DESCRIPTION,
                  lifespan=lifespan, separate_input_output_schemas=False, docs_url=None,
                  redoc_url=None)
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.key_cache_s)
    errors.install(app)
    for router in (health.router, i18n.router, keys.router, datasets.router, scenarios.router,
                   runs.router, sweeps.router, results.router, compare.router,
                   geography.communes_router, geography.provinces_router):
        app.include_router(router)
    mount_docs(app)  # /docs and /redoc with local assets (offline)
    mount_dashboard(app)  # the page at / and its assets under /static, after the API routes
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type",
                                          "Idempotency-Key"])
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(Language)  # outermost: even a refused body is answered in it

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version,
                              description=app.description, routes=app.routes)
            # Schemas that routes reference by hand (scenario and run bodies, GeoJSON answers).
            _, extra = models_json_schema(
                [(ScenarioSpec, "validation"), (GeoJSONFeatureCollection, "validation"),
                 (RunCreate, "validation")],
                ref_template="#/components/schemas/{model}")
            doc.setdefault("components", {}).setdefault("schemas", {}).update(
                extra.get("$defs", {}))
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
