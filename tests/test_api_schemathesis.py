"""Property-based tests of the whole API against its own OpenAPI document (schemathesis): no
server errors, answers that match the documented status codes, media types and schemas, on
SQLite and PostgreSQL. The admin key is sent, so every operation is reachable."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import auth, make_keys
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from api.app import create_app
from api.settings import Settings

MAX_EXAMPLES = 10


class CurrentApp:
    """The app under test, swapped per test; its lifespan is run by the test's TestClient
    (with cleanup), so the one schemathesis starts is a no-op."""

    app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


TARGET = CurrentApp()
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
schema.app = TARGET


@pytest.fixture
def admin_headers(settings):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    with TestClient(app) as client:
        TARGET.app = app
        yield auth(make_keys(client.app.state.store)["admin"])
        TARGET.app = None


@schema.parametrize()
@hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, admin_headers):  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=admin_headers, excluded_checks=[
        # Business rules beyond the schema (unknown dataset ids or province codes, a scoped
        # admin key, a scenario that breaks a planner rule) answer 422 by design.
        positive_data_acceptance,
        # FastAPI reads the last of a repeated query parameter, and a valid X-API-Key wins
        # over a malformed Authorization header: lenient by design, not an error.
        negative_data_rejection])
