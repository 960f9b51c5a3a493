"""The ``assetplan`` application: the Typer app, its console and its language option; the
commands are in ``planner.cli`` (data) and ``planner.cli_plans`` (plans)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console

from planner import cli_words
from planner.i18n import _, use_lang
from planner.readers import Problem

app = typer.Typer(
    name="assetplan",
    help=_("Plan Vietnam's public assets after the 2025 merger of administrative units: which "
           "old buildings each new commune keeps, a use for every surplus house or plot, and "
           "where surplus cars and equipment go."),
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
cli_words.install()


@app.callback()
def _language(
    ctx: typer.Context,
    lang: Annotated[str | None, typer.Option(
        "--lang", envvar="ASSETPLAN_LANG", show_envvar=True,
        help=_("Language of every message and output: vi (default) or en."))] = None,
) -> None:
    if lang is not None:
        try:
            # For this command only: a CLI called in-process leaves the caller's language.
            ctx.with_resource(use_lang(lang))
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--lang") from None
        cli_words.install()


def print_notes(notes: Sequence[Problem]) -> None:
    """What was read other than as typed (not errors)."""
    for n in notes:
        console.print(f"[cyan]{_('note')}[/cyan]: {n}")
