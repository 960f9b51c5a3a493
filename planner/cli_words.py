"""The words Typer prints around ours (help panels, errors), from the one catalogue: Typer
looks them up through the standard ``gettext`` when it prints them (a few once, on import),
so ``install`` points those lookups at the catalogue in the current language."""

from __future__ import annotations

from planner.i18n import N_, _

# The words of typer.core and typer.rich_utils that go through gettext (the Click that Typer
# vendors writes its own in English: "Usage:", "Missing argument", "Show this message ...").
FRAMEWORK_MESSAGES = (
    N_("(deprecated) "), N_("(dynamic)"), N_("Aborted!"), N_("Aborted."), N_("Arguments"),
    N_("Commands"), N_("Error"), N_("Missing command."), N_("No such command {name!r}."),
    N_("Options"), N_("Try [blue]'{command_path} {help_option}'[/] for help."),
    N_("[default: {}]"), N_("[env var: {}]"), N_("[required]"), N_("default: {default}"),
    N_("env var: {var}"), N_("required"),
)


def _gettext(message: str) -> str:
    return _(message)  # no values: the template itself, which Click fills


def install() -> None:
    """Word Typer's messages from the catalogue in the current language."""
    import typer.core
    import typer.rich_utils as rich

    for module in (typer.core, rich):
        module._ = _gettext  # type: ignore[attr-defined]
    # Typer reads these once, when it is imported.
    rich.DEFAULT_STRING = _gettext("[default: {}]")
    rich.ENVVAR_STRING = _gettext("[env var: {}]")
    rich.REQUIRED_LONG_STRING = _gettext("[required]")
    rich.ARGUMENTS_PANEL_TITLE = _gettext("Arguments")
    rich.OPTIONS_PANEL_TITLE = _gettext("Options")
    rich.COMMANDS_PANEL_TITLE = _gettext("Commands")
    rich.ERRORS_PANEL_TITLE = _gettext("Error")
    rich.ABORTED_TEXT = _gettext("Aborted.")
    rich.RICH_HELP = _gettext("Try [blue]'{command_path} {help_option}'[/] for help.")

