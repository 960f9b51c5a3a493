"""``assetplan serve``, ``assetplan keys ...`` and ``assetplan runs import``.

``main`` is the planner's CLI with these commands added (``register``); planner itself never
imports api. They also run alone as ``python -m api``. Heavy
imports (FastAPI, uvicorn, SQLAlchemy) happen inside the commands, so the rest of the CLI
stays quick to start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from planner.i18n import _

if TYPE_CHECKING:
    from api.store import Store

class RoleName(StrEnum):
    viewer = "viewer"
    planner = "planner"
    admin = "admin"


# The commands' help texts are worded when ``register`` adds them (the option helps, in the
# postponed annotations, when Typer reads them): after ``main`` has read --lang.


def serve(
    host: Annotated[str, typer.Option(help=_("address to listen on"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("port to listen on"))] = 8000,
    log_level: Annotated[str, typer.Option(help=_("uvicorn log level"))] = "info",
) -> None:
    """Start the HTTP API (uvicorn)."""
    import uvicorn

    from api.app import create_app

    # One process per server: its run supervisor lives in it. Several servers may share a
    # store; each is its own lease owner (see api/jobs.py).
    uvicorn.run(create_app(), host=host, port=port, log_level=log_level, workers=1)


@contextmanager
def _store() -> Iterator[Store]:
    from api.settings import Settings
    from api.store import Store

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url())
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()


def keys_create(
    role: Annotated[RoleName, typer.Option(help=_(
        "viewer reads; planner also creates scenarios and runs; admin also manages keys and "
        "datasets"))],
    province: Annotated[str | None, typer.Option(help=_(
        "scope the key to one province (2-digit code)"))] = None,
    name: Annotated[str, typer.Option(help=_("who or what uses the key"))] = "",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from api import geo
    from api.security import create_key

    if province is not None and province not in geo.province_codes():
        raise typer.BadParameter(_("unknown province code {code!r}", code=province),
                                 param_hint="--province")
    with _store() as store, store.session() as s:
        try:
            row, secret = create_key(s, role.value, province, name)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from None
        typer.echo(secret)
        scope = (_("province {code}", code=row.province_code) if row.province_code
                 else _("the whole country"))
        typer.echo(_("key {id}: role {role}, {scope}. Store the key now: it is not shown "
                     "again.", id=row.id, role=row.role, scope=scope), err=True)


def keys_list() -> None:
    """List keys: id, prefix, role, scope, name, created, revoked."""
    from sqlalchemy import select

    from api.models import ApiKey

    with _store() as store, store.session() as s:
        rows = s.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()
        typer.echo("\t".join((_("id"), _("prefix"), _("role"), _("province"), _("name"),
                              _("created"), _("revoked"))))
        for r in rows:
            typer.echo("\t".join([r.id, r.prefix, r.role, r.province_code or "-", r.name or "-",
                                  r.created_at.isoformat(timespec="seconds"),
                                  r.revoked_at.isoformat(timespec="seconds")
                                  if r.revoked_at else "-"]))


def keys_revoke(key_id: Annotated[str, typer.Argument(help=_("the key's id (keys list)"))]
                ) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    from api.security import revoke_key

    with _store() as store, store.session() as s:
        row = revoke_key(s, key_id)
    if row is None:
        typer.echo(_("no key {id!r}", id=key_id), err=True)
        raise typer.Exit(1)
    typer.echo(_("revoked {id}", id=key_id))


def runs_import(folder: Annotated[Path, typer.Argument(
        help=_("a run folder written by `assetplan run` (tables/, provenance.json, plan.xlsx, "
               "report.html)"), exists=True, file_okay=False, dir_okay=True)]) -> None:
    """Copy a run made with the CLI into the store, as a succeeded run the API and the
    dashboard show; prints its id."""
    from api.runimport import NotARunError, import_run
    from api.settings import Settings

    with _store() as store, store.session() as s:
        try:
            row = import_run(s, Settings().data_dir, folder)
        except NotARunError as err:
            typer.echo(str(err), err=True)
            raise typer.Exit(1) from None
    typer.echo(row.id)
    typer.echo(_("run {id}: {scenario}, provinces {provinces}, dataset {dataset}", id=row.id,
                 scenario=row.scenario_name, provinces=", ".join(row.provinces) or _("all"),
                 dataset=row.dataset_id), err=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` and ``runs`` groups to a Typer app (once; a second call
    does nothing)."""
    if any(c.name == "serve" for c in app.registered_commands):
        return
    store = _("(the store named by DATABASE_URL / ASSETPLAN_DATA_DIR)")
    app.command("serve", help=_("Start the HTTP API (uvicorn). Settings come from the "
                                "environment: DATABASE_URL, ASSETPLAN_DATA_DIR, "
                                "ASSETPLAN_RUN_WORKERS, ... (see api/README.md)."))(serve)
    keys = typer.Typer(name="keys", help=_("Create, list and revoke API keys") + " " + store,
                       no_args_is_help=True)
    keys.command("create", help=_("Create a key and print it once (only its hash is "
                                  "stored)."))(keys_create)
    keys.command("list", help=_("List keys: id, prefix, role, scope, name, created, "
                                "revoked."))(keys_list)
    keys.command("revoke", help=_("Revoke a key; requests with it get 401 from then on."))(
        keys_revoke)
    runs = typer.Typer(name="runs", help=_("Runs in the store the API serves") + " " + store,
                       no_args_is_help=True)
    runs.command("import", help=_("Copy a run made with the CLI into the store, as a "
                                  "succeeded run the API and the dashboard show; prints its "
                                  "id."))(runs_import)
    app.add_typer(keys, name="keys")
    app.add_typer(runs, name="runs")


def full_app() -> typer.Typer:
    """The planner's CLI with the API commands: ``assetplan`` as a whole. Composed here, since
    planner must not import api (imports point one way)."""
    from planner.cli import app as planner_app

    register(planner_app)
    return planner_app


def lang_in_argv(argv: list[str]) -> str | None:
    """The ``--lang`` given before the command, read ahead of the CLI itself: the help texts
    are worded when the commands are defined."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return None  # the command's own options follow
    return None


def main() -> None:
    """Entry point for ``[project.scripts] assetplan = "api.cli:main"``."""
    lang = lang_in_argv(sys.argv[1:])
    if lang:
        os.environ["ASSETPLAN_LANG"] = lang  # a wrong one is refused by --lang itself
    full_app()()


app = typer.Typer(name="assetplan-api", help=_("The assetplan HTTP API."), no_args_is_help=True,
                  add_completion=False)
register(app)
