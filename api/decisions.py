"""The planner's decisions in the API: read from a request (JSON rows or an uploaded file),
validated against the run's dataset and the key's province, kept beside the run for its worker
and for re-runs, and read back."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

import geodata
from api.deps import SettingsDep, ValidatorDep
from api.errors import ApiError, Problem, invalid, shown_file
from api.jobs import decisions_file
from api.models import DatasetRow
from api.schemas import NO_NUL, DecisionIn, RunCreate
from api.security import Principal, new_id
from planner.decisions import DECISIONS, DecisionError, validate_decisions
from planner.demo import load_demo
from planner.i18n import _
from planner.inventory import load_dataset
from planner.readers import RawTable, stringify

DECISION_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
_SAFE_NAME = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class RunRequest:
    """A ``POST /runs`` body: the fields, and the decisions as a raw table (rows sent as JSON
    or the uploaded file as read) with the digest of what was sent."""

    body: RunCreate
    decisions: RawTable | None
    digest: str


_MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["scenario_id", "decisions_file"],
    "properties": {
        "scenario_id": {"type": "string", "minLength": 1, "maxLength": 200,
                        "pattern": NO_NUL, "description": "id or name of a stored scenario"},
        "overrides": {"type": "array", "maxItems": 20,
                      "items": {"type": "string", "pattern": NO_NUL},
                      "description": "named overrides of the scenario (repeat the field)"},
        "decisions_file": {"type": "string", "format": "binary", "description":
                           "the decisions table (`assetplan schema decisions`) as CSV, an "
                           "Excel workbook (sheet `decisions` or its only sheet) or Parquet"}}}
RUN_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/RunCreate"}},
    "multipart/form-data": {"schema": _MULTIPART_SCHEMA}}}}


def rows_table(rows: Sequence[DecisionIn]) -> RawTable | None:
    """Decision rows sent as JSON, as the table a file would give (the first row is 2)."""
    if not rows:
        return None
    return RawTable(stringify(pd.DataFrame([d.model_dump() for d in rows])), "decisions")


def _body_errors(err: ValidationError) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in err.errors()])


async def run_request(request: Request, validator: ValidatorDep,
                      settings: SettingsDep) -> RunRequest:
    """JSON (``RunCreate``, decisions as rows) or multipart form data (the same fields and a
    ``decisions_file``, read in a validator worker like an inventory upload)."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media.lower() == "application/json":
        raw = await request.body()
        try:
            body = RunCreate.model_validate_json(raw)
        except ValidationError as err:
            raise _body_errors(err) from None
        return RunRequest(body, rows_table(body.decisions), hashlib.sha256(raw).hexdigest())
    if media.lower() != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", _(
            "send the run as application/json, or as multipart/form-data with a "
            "decisions_file"))
    form = await request.form(max_files=1, max_fields=40)
    try:
        fields = {"scenario_id": form.get("scenario_id"),
                  "overrides": [str(v) for v in form.getlist("overrides")]}
        try:
            body = RunCreate.model_validate(fields)
        except ValidationError as err:
            raise _body_errors(err) from None
        upload = form.get("decisions_file")
        if upload is None or isinstance(upload, str):
            raise invalid("invalid_decisions", _("no decisions_file in the form"),
                          [Problem(file="body", column="decisions_file",
                                   rule=_("send the decisions table as a file"))])
        name = _SAFE_NAME.sub("_", Path(upload.filename or "decisions.csv").name)[-100:]
        if not name.lower().endswith(DECISION_SUFFIXES):
            raise invalid("invalid_decisions", _("the decisions file is not a table"),
                          [Problem(file=name, rule=_("send CSV, Excel (.xlsx) or Parquet"))])
        staging = settings.data_dir / "uploads" / f".decisions-{new_id()}"
        staging.mkdir(parents=True)
        try:
            path = staging / name
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, length=1 << 20)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            table = validator.read_decisions(path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        await form.close()
    return RunRequest(body, table, hashlib.sha256(
        (body.model_dump_json() + digest).encode()).hexdigest())


RunRequestDep = Annotated[RunRequest, Depends(run_request)]


def checked_decisions(raw: RawTable, dataset: DatasetRow, principal: Principal) -> pd.DataFrame:
    """The decisions as a table, validated against the run's dataset (422 with every problem
    and its row) and, for a scoped key, inside its province (403)."""
    data = load_demo() if dataset.id == "demo" else load_dataset(str(dataset.path))
    try:
        decided = validate_decisions(raw, data, None, "")
    except DecisionError as err:
        problems = [Problem(**{**p.to_dict(), "file": shown_file(p.file, p.sheet)})
                    for p in err.problems]
        raise invalid("invalid_decisions", _("{n} problem(s) in the decisions; nothing was "
                                             "started", n=len(err.problems)), problems) from None
    if principal.province_code is not None:
        prov = pd.concat([
            data.properties.set_index("property_id")["commune_code"].reindex(
                decided.properties["property_id"]).set_axis(decided.properties["row"]),
            decided.lots.set_index("row")["holder_code"],
            decided.lots.set_index("row")["commune_code"].dropna(),
            decided.properties.set_index("row")["commune_code"].dropna(),
            decided.units.set_index("row")["commune_code"]])
        codes = geodata.load_communes().set_index("code")["province_code"]
        outside = sorted({int(r) for r, c in prov.items()
                          if codes.get(c) != principal.province_code})
        if outside:
            raise ApiError(403, "out_of_scope", _(
                "this key is scoped to province {code}; decision row(s) {rows} name units "
                "outside it", code=principal.province_code, rows=", ".join(map(str, outside))),
                [Problem(file=shown_file(raw.file, raw.sheet), row=r, column=None,
                         rule=_("outside the key's province")) for r in outside])
    frame = raw.frame.reindex(columns=DECISIONS.column_names)
    return frame.astype(object).where(frame.notna(), "")


def keep_decisions(data_dir: Path, run_id: str, table: pd.DataFrame) -> None:
    path = decisions_file(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)


def kept_decisions(data_dir: Path, run_id: str) -> pd.DataFrame:
    """A run's decisions as kept (every column of the table; none: no rows)."""
    path = decisions_file(data_dir, run_id)
    if not path.exists():
        return pd.DataFrame(columns=DECISIONS.column_names)
    return pd.read_csv(path, dtype=str, keep_default_na=False).reindex(
        columns=DECISIONS.column_names, fill_value="")
