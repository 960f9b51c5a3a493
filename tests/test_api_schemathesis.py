"""Property-based tests of the whole API against its own OpenAPI document (schemathesis), with
every check on: no server errors, answers that match the documented status codes, media types
and schemas, schema-valid requests accepted and schema-invalid ones refused, on SQLite and
PostgreSQL. The admin key is sent, so every operation is reachable.

An operation that refuses some schema-valid requests by a rule JSON Schema cannot say (an
unknown dataset id, a cross-field rule) lists the rule under ``x-rules-beyond-schema`` in the
document; for those operations, and only those, a 422 counts as an accepted answer."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import auth, make_keys
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.settings import Settings

MAX_EXAMPLES = int(os.environ.get("ASSETPLAN_SCHEMATHESIS_EXAMPLES", "10"))


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


def _config(doc: dict[str, Any]) -> SchemathesisConfig:
    """422 among the accepted answers of the operations that document rules beyond the
    schema."""
    ruled = sorted(op["operationId"] for path in doc["paths"].values() for op in path.values()
                   if isinstance(op, dict) and op.get("x-rules-beyond-schema"))
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
    return SchemathesisConfig.from_dict({"operations": [
        {"include-operation-id": op_id,
         "checks": {"positive_data_acceptance": {"expected-statuses": accepted}}}
        for op_id in ruled]})


TARGET = CurrentApp()
DOC = create_app(Settings()).openapi()
RULED = {op["operationId"] for path in DOC["paths"].values() for op in path.values()
         if isinstance(op, dict) and op.get("x-rules-beyond-schema")}
schema = schemathesis.openapi.from_dict(DOC, config=_config(DOC))
schema.app = TARGET


def test_rules_beyond_the_schema_are_declared_where_expected():
    assert RULED == {"create_key", "create_dataset", "create_scenario", "create_run",
                     "compare_runs", "get_run_plan", "replan_run", "create_sweep"}


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
    case.call_and_validate(headers=admin_headers)
