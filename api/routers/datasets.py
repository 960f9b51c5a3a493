from __future__ import annotations

import re
import shutil
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep, ValidatorDep
from api.errors import (
    ApiError,
    Problem,
    conflict,
    invalid,
    not_found,
    responses,
    rules_beyond_the_schema,
)
from api.models import DatasetRow, ScenarioRow, utcnow
from api.schemas import NO_NUL, CleanStr, DatasetPublic
from api.security import Admin, Viewer, new_id
from planner.i18n import _
from planner.inventory import META_FILE
from planner.schema import TABLES

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=responses(401, 422))
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,120}$")
SINGLE_FILE_SUFFIXES = (".xlsx", ".gpkg")


@lru_cache(maxsize=1)
def _demo_summary() -> tuple[str, bool, dict[str, int]]:
    from planner.demo import load_demo

    demo = load_demo()
    return demo.content_hash, demo.synthetic, {k: len(v) for k, v in demo.tables.items()}


def ensure_demo(session: Session) -> None:
    """The shipped SYNTHETIC demo is always dataset 'demo'."""
    if session.get(DatasetRow, "demo") is not None:
        return
    content_hash, synthetic, tables = _demo_summary()
    session.add(DatasetRow(id="demo", name="demo", source="demo", path=None,
                           content_hash=content_hash, synthetic=synthetic, tables=tables,
                           files=[], created_at=utcnow(), created_by=None))
    try:
        session.commit()
    except IntegrityError:  # another process on the same store added it first
        session.rollback()


@router.get("", response_model=list[DatasetPublic], operation_id="list_datasets",
            summary="List datasets (the shipped synthetic demo and uploads)")
def list_datasets(session: SessionDep, _principal: Viewer) -> list[DatasetRow]:
    return list(session.scalars(select(DatasetRow).order_by(DatasetRow.created_at,
                                                            DatasetRow.id)))


@router.get("/{dataset_id}", response_model=DatasetPublic, operation_id="get_dataset",
            responses=responses(404), summary="Read a dataset's description")
def get_dataset(dataset_id: str, session: SessionDep, _principal: Viewer) -> DatasetRow:
    row = session.get(DatasetRow, dataset_id)
    if row is None:
        raise not_found("dataset", dataset_id)
    return row


def _target_name(filename: str) -> tuple[str | None, str | None]:
    """The name the upload is stored under, or a reason to refuse it."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    lower = base.lower()
    stem, _, suffix = lower.rpartition(".")
    if lower == META_FILE:
        return META_FILE, None
    if suffix in ("csv", "parquet"):
        if stem in (*TABLES, "od"):
            return f"{stem}.{suffix}", None
        return None, (f"a {suffix} file must be named after its table: "
                      + ", ".join(f"{t}.{suffix}" for t in (*TABLES, "od")))
    if f".{suffix}" in SINGLE_FILE_SUFFIXES:
        return (base if SAFE_NAME.match(base) else f"dataset.{suffix}"), None
    return None, ("not an inventory file: send <table>.csv or <table>.parquet per table, or "
                  "one .xlsx workbook / .gpkg GeoPackage with a sheet or layer per table")


@router.post(
    "", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED,
    operation_id="create_dataset", responses={**responses(403, 413, 422), 200: {
        "model": DatasetPublic, "description": "The same content was uploaded before: the "
        "stored dataset"}},
    summary="Upload and validate an inventory (admin)",
    description="Multipart upload: one file per table (`properties.csv`, `vehicles.csv`, "
    "`equipment.csv`, `communes.csv`, `norms.csv`; or `.parquet`), or a single `.xlsx` "
    "workbook / `.gpkg` GeoPackage with a sheet or layer per table (see `assetplan schema "
    "inventory`); optionally the dataset's travel table `od.csv` or `od.parquet` (`assetplan "
    "schema od`), checked against the inventory and used by every run on the dataset in "
    "place of the computed distances of the pairs it covers. Every problem is returned at "
    "once as a 422 with file, row, column and rule, and nothing is stored on failure.",
    openapi_extra=rules_beyond_the_schema(
        "the files are an inventory that passes `assetplan schema inventory`, within the "
        "server's limits on unpacked size, rows and validation time"))
def create_dataset(
    files: Annotated[list[UploadFile], File(description="the inventory file(s)")],
    session: SessionDep, settings: SettingsDep, validator: ValidatorDep, admin: Admin,
    response: Response,
    name: Annotated[CleanStr, Form(max_length=200, pattern=NO_NUL,
                              description="a name for the dataset")] = "",
) -> DatasetRow:
    problems: list[Problem] = []
    targets: dict[str, UploadFile] = {}
    for f in files:
        target, reason = _target_name(f.filename or "")
        if reason is not None or target is None:
            problems.append(Problem(file=f.filename or _("(no name)"),
                                    rule=reason or _("refused")))
        elif target in targets:
            problems.append(Problem(file=f.filename, rule=_("sent twice")))
        else:
            targets[target] = f
    singles = [t for t in targets if t.endswith(SINGLE_FILE_SUFFIXES)]
    if len(singles) > 1:
        problems.append(Problem(file=", ".join(singles),
                                rule=_("send one workbook or GeoPackage, not several")))
    if not targets and not problems:
        problems.append(Problem(file="files", rule=_("no file sent")))
    if problems:
        raise invalid("invalid_inventory", _("the upload is not an inventory"), problems)

    root = settings.data_dir / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".upload-{new_id()}"
    staging.mkdir()
    try:
        for target, f in targets.items():
            with (staging / target).open("wb") as out:
                shutil.copyfileobj(f.file, out, length=1 << 20)
        summary = validator.validate(staging)  # in a worker process, within its limits
        same = _same_content(session, summary["content_hash"])
        if same is not None:
            response.status_code = status.HTTP_200_OK
            return same
        dataset_id = new_id()
        final = root / dataset_id
        staging.rename(final)
        row = DatasetRow(id=dataset_id, name=name or dataset_id, source="upload",
                         path=str(final.resolve()), content_hash=summary["content_hash"],
                         synthetic=summary["synthetic"], tables=summary["tables"],
                         files=sorted(targets), created_at=utcnow(), created_by=admin.key_id)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # the same content uploaded at the same moment: one dataset
            session.rollback()
            shutil.rmtree(final, ignore_errors=True)
            same = _same_content(session, summary["content_hash"])
            if same is None:
                raise
            response.status_code = status.HTTP_200_OK
            return same
        except Exception:
            shutil.rmtree(final, ignore_errors=True)
            raise
        return row
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _same_content(session: Session, content_hash: str) -> DatasetRow | None:
    return session.scalars(select(DatasetRow).where(
        DatasetRow.content_hash == content_hash)).first()


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT,
               operation_id="delete_dataset", responses=responses(403, 404, 409),
               summary="Delete an uploaded dataset no scenario uses (admin)")
def delete_dataset(dataset_id: str, session: SessionDep, settings: SettingsDep,
                   _principal: Admin) -> Response:
    row = session.get(DatasetRow, dataset_id)
    if row is None:
        raise not_found("dataset", dataset_id)
    if row.source == "demo":
        raise conflict(_("the shipped demo dataset cannot be deleted"))
    users = session.scalars(select(ScenarioRow.name).where(
        ScenarioRow.dataset_id == dataset_id).limit(5)).all()
    if users:
        raise ApiError(409, "conflict", _("scenario(s) {names} use this dataset; delete them "
                                          "first", names=", ".join(users)))
    path = Path(row.path) if row.path else None
    session.delete(row)
    session.commit()
    if path is not None and path.resolve().is_relative_to((settings.data_dir /
                                                           "datasets").resolve()):
        shutil.rmtree(path, ignore_errors=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
