"""One error shape for every failure, and the handlers that make sure no stack trace reaches a
client: ``{"code": ..., "message": ..., "problems": [{file, row, column, rule}, ...]}``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from planner.i18n import NC_, _, pgettext

log = logging.getLogger("api")


class Problem(BaseModel):
    """One broken rule: where (file, row, column) and which rule."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"file": "properties.csv", "row": 7, "column": "commune_code",
         "rule": "unknown unit code '99999'"}]})

    file: str | None = Field(None, description="uploaded file (and sheet), or 'body', 'query', "
                             "'path', 'header' for the request itself")
    row: int | None = Field(None, description="spreadsheet row: the header is row 1")
    column: str | None = Field(None, description="column, or the key path in a JSON/YAML body")
    rule: str = Field(description="the rule broken, in words")


def shown_file(file: str, sheet: str | None) -> str:
    """A planner problem's file as the API names it: a workbook's sheet after it,
    ``plan.xlsx[properties]``."""
    return f"{file}[{sheet}]" if sheet else file


class ErrorPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "not_found", "message": "no run 'ab12cd34ef56ab78'", "problems": []}]})

    code: str = Field(description="machine-readable error code, e.g. not_found, "
                      "invalid_inventory, invalid_scenario, forbidden")
    message: str
    problems: list[Problem] = Field(default_factory=list)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 problems: Iterable[Problem] = (), headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems)
        self.headers = dict(headers or {})


# What a 404 may name (translated where it is raised).
KINDS = {"run": NC_("resource", "run"), "dataset": NC_("resource", "dataset"),
         "scenario": NC_("resource", "scenario"), "key": NC_("resource", "key"),
         "output table": NC_("resource", "output table"),
         "output file": NC_("resource", "output file"), "report": NC_("resource", "report"),
         "provenance": NC_("resource", "provenance"), "commune": NC_("resource", "commune"),
         "province": NC_("resource", "province"), "unit": NC_("resource", "unit")}


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", _("no {kind} {ident!r}",
                                        kind=pgettext("resource", KINDS[kind])
                                        if kind in KINDS else kind,
                                        ident=ident))


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def invalid(code: str, message: str, problems: Iterable[Problem] = ()) -> ApiError:
    return ApiError(422, code, message, problems)


_DESCRIPTIONS = {
    400: "Bad request", 401: "Missing, unknown or revoked API key",
    403: "The key's role or province scope does not allow this", 404: "Not found",
    409: "Conflicts with the resource's state", 413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation failed: every problem with file, row, column and rule",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses of a route."""
    return {c: {"model": ErrorPublic, "description": _DESCRIPTIONS[c]} for c in codes}


def rules_beyond_the_schema(*rules: str) -> dict[str, Any]:
    """``openapi_extra`` of an operation that answers 422 to some requests its schema allows:
    the rules, in words, under ``x-rules-beyond-schema`` (clients and the API's own
    conformance test read them there)."""
    return {"x-rules-beyond-schema": list(rules)}


_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden",
                 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
                 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                 422: "invalid_request"}


def _json(status: int, code: str, message: str, problems: Sequence[Problem] = (),
          headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = ErrorPublic(code=code, message=message, problems=list(problems))
    return JSONResponse(body.model_dump(mode="json"), status_code=status,
                        headers=dict(headers or {}))


def _request_problems(err: RequestValidationError) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where = loc[0] if loc else "request"
        out.append(Problem(file=where, column=".".join(loc[1:]) or None,
                           rule=str(e.get("msg", "invalid"))))
    return out


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on the path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _params = route.matches({**request.scope, "method": "GET"}) \
            if isinstance(route, Route) else (Match.NONE, {})
        if match != Match.NONE and route.methods:
            methods |= set(route.methods)
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, err: ApiError) -> JSONResponse:
        return _json(err.status, err.code, err.message, err.problems, err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(err.status_code, "error")
        message = err.detail if isinstance(err.detail, str) else code.replace("_", " ")
        headers = dict(err.headers or {})
        if err.status_code == 400:  # FastAPI's "error parsing the body": one code for bad input
            return _json(422, "invalid_request", _("the request body could not be parsed"),
                         [Problem(file="body", rule=_("not valid UTF-8 JSON or form data"))])
        if err.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _json(err.status_code, code, message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, err: RequestValidationError) -> JSONResponse:
        return _json(422, "invalid_request", _("the request is not valid"),
                     _request_problems(err))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        # The trace goes to the server log, never to the client.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=err)
        return _json(500, "internal_error", _("internal server error; the details are in "
                                              "the server log"))
