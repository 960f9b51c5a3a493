"""Uploads are validated in worker processes, never in the API process: a workbook that
unpacks to gigabytes, or a table that takes minutes to check, costs a worker that is killed at
the time limit, not the server's memory or its event loop.

A worker (spawned, like the run workers) imports the validator once and validates one upload
after another; at most ``upload_workers`` run at once and the other uploads wait. A worker
that passes the time limit or dies is replaced by a fresh one on the next upload.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.errors import ApiError, Problem, invalid, shown_file
from api.settings import Settings
from api.worker import exit_with_parent, without_paths
from planner.i18n import N_, _, current_lang, number

if TYPE_CHECKING:
    from planner.readers import RawTable


def validate_one(folder: str, limits: dict[str, Any]) -> tuple[str, Any]:
    """In the worker: ("ok", summary), or ("invalid", problems as dicts)."""
    import hashlib

    import pandas as pd

    import geodata
    from api import geo
    from planner.inventory import InventoryError, ReadLimits, load_dataset
    from planner.travel import load_travel, travel_file

    communes = geo.full_communes()
    try:
        dataset = load_dataset(folder, communes, ReadLimits(**limits))
        od = travel_file(folder)  # the dataset's own OD table, checked against it
        travel = None if od is None else load_travel(
            od, pd.Index(dataset.properties["property_id"]), pd.Index(communes["code"]),
            pd.Index(geodata.load_legacy_units()["legacy_code"]), ReadLimits(**limits))
    except InventoryError as err:
        shown_as = {folder: "the upload"}  # a library's message may name the staging folder
        return "invalid", [_body(p, shown_as) for p in err.problems]
    tables = {k: len(v) for k, v in dataset.tables.items()}
    content_hash = dataset.content_hash
    if travel is not None:  # the same inventory with other distances is another dataset
        tables["od"] = len(travel.pairs)
        content_hash = hashlib.sha256(f"{content_hash}+{travel.content_hash}".encode()
                                      ).hexdigest()
    return "ok", {"content_hash": content_hash, "synthetic": dataset.synthetic,
                  "tables": tables}


def _body(p: Any, shown_as: dict[str, str]) -> dict[str, Any]:
    """A problem as the API returns it: the sheet of a workbook after its file,
    ``plan.xlsx[properties]``; no path of the staging folder."""
    return {"file": shown_file(without_paths(p.file, shown_as), p.sheet), "row": p.row,
            "column": p.column, "rule": without_paths(p.rule, shown_as)}


def read_decisions_one(file: str, limits: dict[str, Any]) -> tuple[str, Any]:
    """In the worker: ("ok", the decisions table as read), or ("invalid", problems)."""
    from planner.decisions import read_raw_decisions
    from planner.inventory import InventoryError, ReadLimits

    try:
        raw = read_raw_decisions(file, ReadLimits(**limits))
    except InventoryError as err:
        shown_as = {str(Path(file).parent): "the upload"}
        return "invalid", [_body(p, shown_as) for p in err.problems]
    return "ok", raw


def validator_main(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides, not the keyboard
    exit_with_parent()
    from api import geo
    from planner.i18n import set_lang

    geo.full_communes()  # once, before the first upload
    try:
        while True:
            job = conn.recv()
            if job is None:
                return
            try:
                set_lang(job.get("lang"))  # the language of the request that sent it
                if job.get("kind") == "decisions":
                    conn.send(read_decisions_one(job["file"], job["limits"]))
                else:
                    conn.send(validate_one(job["folder"], job["limits"]))
            except Exception as err:  # a bug, not the upload's fault: no trace to the client
                conn.send(("failed", type(err).__name__))
    except (EOFError, OSError):
        return


class UploadValidator:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[tuple[BaseProcess, Connection]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(settings.upload_workers, 1))

    def _take(self) -> tuple[BaseProcess, Connection]:
        with self._lock:
            while self._idle:
                process, conn = self._idle.pop()
                if process.is_alive():
                    return process, conn
                conn.close()
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=validator_main, args=(child_conn,),
                                    name="assetplan-upload-validator", daemon=True)
        process.start()
        child_conn.close()
        return process, parent_conn

    @staticmethod
    def _kill(process: BaseProcess, conn: Connection) -> None:
        process.kill()
        process.join(10)
        conn.close()

    def validate(self, folder: Path) -> dict[str, Any]:
        """The summary of a valid upload (content_hash, synthetic, tables); else an ApiError
        (422) with its problems, the first few of each rule one by one and the rest counted."""
        return self._ask({"folder": str(folder.resolve())}, "invalid_inventory",
                         N_("inventory"))

    def read_decisions(self, file: Path) -> RawTable:
        """An uploaded decisions file as read (not yet checked against a dataset); else an
        ApiError (422) with its problems."""
        return self._ask({"kind": "decisions", "file": str(file.resolve())},
                         "invalid_decisions", N_("decisions"))

    def _ask(self, job: dict[str, Any], code: str, what: str) -> Any:
        s = self.settings
        limits = {"max_unpacked_bytes": s.upload_max_unpacked_bytes,
                  "max_rows": s.upload_max_rows,
                  "max_problems_per_rule": s.upload_problems_per_rule}
        with self._slots:
            process, conn = self._take()
            try:
                conn.send({**job, "limits": limits, "lang": current_lang()})
                # Start-up (imports) counts against the limit too: it is seconds, not minutes.
                if not conn.poll(s.upload_timeout_s):
                    self._kill(process, conn)
                    raise invalid(code, _("the upload took longer than {seconds} s to "
                                          "validate; nothing was stored",
                                          seconds=number(s.upload_timeout_s, None)),
                                  [Problem(file="files", rule=_(
                                      "validation stopped at the time limit of {seconds} s: "
                                      "split the {what} or remove unused sheets and rows",
                                      seconds=number(s.upload_timeout_s, None), what=_(what)))])
                kind, payload = conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                code_ = process.exitcode
                self._kill(process, conn)
                raise invalid(code, _("the upload could not be validated; nothing was "
                                      "stored"),
                              [Problem(file="files", rule=_(
                                  "the validator stopped while reading it (exit code {code})",
                                  code=code_))]) from None
            with self._lock:
                self._idle.append((process, conn))
        if kind == "ok":
            return payload
        if kind == "invalid":
            problems = [Problem(**p) for p in payload]
            listed = sum(not p.rule.startswith("... ") for p in problems)  # "... and 5 more"
            more = _(" (and more, counted)") if listed < len(problems) else ""
            raise invalid(code, _("{n} problem(s) in the {what}{more}; nothing was stored",
                                  n=listed, what=_(what), more=more), problems)
        raise ApiError(500, "internal_error", _(
            "the validator failed with an internal error ({error}); the details are in the "
            "server log", error=payload))

    def stop(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for process, conn in idle:
            try:
                conn.send(None)
            except OSError:
                pass
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()

