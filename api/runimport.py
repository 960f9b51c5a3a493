"""Register a run made with the CLI (``assetplan run``) in the store, so the API and the
dashboard show it: ``assetplan runs import DIR``.

A run folder holds ``tables/*.parquet``, ``provenance.json``, ``plan.xlsx`` and
``report.html`` (``planner.outputs.write_plan``); its copy goes to the store's data directory
under a new run id, recorded as a succeeded run with the scenario, overrides, provinces and
dataset its provenance names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.jobs import run_dir
from api.models import SUCCEEDED, DatasetRow, RunRow, utcnow
from api.security import new_id
from planner.i18n import _

# What the API reads of a run: the tables it draws and the provenance it shows.
REQUIRED = ("provenance.json", "tables/kpis.parquet", "tables/units.parquet",
            "tables/dispositions.parquet")


class NotARunError(ValueError):
    pass


def read_provenance(folder: Path) -> dict[str, Any]:
    """The provenance of a run folder; NotARunError says what makes it none."""
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise NotARunError(_("{folder} is not a run folder of assetplan: {missing} missing (a "
                             "run folder holds tables/, provenance.json, plan.xlsx and "
                             "report.html)", folder=folder, missing=", ".join(missing)))
    try:
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        ok = (isinstance(prov["scenario"]["name"], str)
              and isinstance(prov["scenario"]["data"]["provinces"], list)
              and isinstance(prov["dataset"]["synthetic"], bool))
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise NotARunError(_("{folder}/provenance.json is not the provenance of an assetplan "
                             "run (no scenario name, provinces or dataset)", folder=folder))
    return dict(prov)


def import_run(session: Session, data_dir: Path, folder: Path) -> RunRow:
    """Copy ``folder`` into the store's data directory and record it as a succeeded run; a
    folder imported before (the same provenance) is that run again, not a second one."""
    folder = folder.resolve()
    prov = read_provenance(folder)
    digest = hashlib.sha256((folder / "provenance.json").read_bytes()).hexdigest()
    key = f"import-{digest[:48]}"
    before = session.scalars(select(RunRow).where(RunRow.idempotency_key == key,
                                                  RunRow.created_by.is_(None))).first()
    if before is not None:
        return before
    scenario, dataset = prov["scenario"], prov["dataset"]
    provinces = sorted(str(c) for c in scenario["data"]["provinces"])
    # The dataset as the store knows it: the demo, an upload with the same content, or none.
    dataset_id = "demo" if dataset.get("source") == "demo" else session.scalars(
        select(DatasetRow.id).where(DatasetRow.content_hash == dataset.get("content_hash"))
    ).first() or "imported"
    run_id = new_id()
    target = run_dir(data_dir, run_id)
    tmp = target.with_name(f".{run_id}.import")  # left-overs are removed at server start
    shutil.copytree(folder, tmp)
    finished = dt.datetime.fromtimestamp((folder / "provenance.json").stat().st_mtime, dt.UTC)
    row = RunRow(id=run_id, scenario_id=None, scenario_name=str(scenario["name"]),
                 overrides=list(scenario.get("applied_overrides") or []), resolved=scenario,
                 dataset_id=dataset_id, provinces=provinces,
                 province_code=provinces[0] if len(provinces) == 1 else None,
                 synthetic=bool(dataset["synthetic"]), status=SUCCEEDED, stage="done",
                 progress=1.0, message=_("imported from {folder}", folder=folder.name),
                 error=None, worker_pid=None, created_at=utcnow(), started_at=finished,
                 finished_at=finished, created_by=None, idempotency_key=key,
                 request_hash=digest, retry_of=None, replan_of=None,
                 lang=str(prov.get("lang", "vi")))
    try:
        tmp.rename(target)
        session.add(row)
        session.commit()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        raise
    return row
