"""The CLI speaks the chosen language: --lang before the command, or ASSETPLAN_LANG, for its
help texts, messages and tables; Vietnamese by default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _assetplan(*args: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ASSETPLAN_LANG"}
    if lang is not None:
        env["ASSETPLAN_LANG"] = lang
    return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=300,
                          check=False)


def test_vietnamese_by_default_english_on_request() -> None:
    vi = _assetplan("summary")
    assert vi.returncode == 0, vi.stderr
    assert "tỉnh, thành phố" in vi.stdout and "Địa hình" in vi.stdout
    assert "3.321" in vi.stdout  # Vietnamese thousands
    en = _assetplan("--lang", "en", "summary")
    assert en.returncode == 0, en.stderr
    assert "provinces" in en.stdout and "Terrain" in en.stdout and "3,321" in en.stdout
    assert _assetplan("summary", lang="en").stdout == en.stdout


def test_help_is_worded_in_the_chosen_language() -> None:
    vi = _assetplan("--lang", "vi", "run", "--help")
    assert vi.returncode == 0, vi.stderr
    assert "Chạy một kịch bản" in vi.stdout and "Run a scenario" not in vi.stdout
    en = _assetplan("--lang=en", "run", "--help")
    assert "Run a scenario" in en.stdout


@pytest.mark.parametrize("args", [("--lang", "fr", "summary"), ("--lang=xx", "summary")])
def test_an_unknown_language_is_refused_in_both_languages(args: tuple[str, ...]) -> None:
    res = _assetplan(*args)
    assert res.returncode == 2
    assert "language" in res.stderr and "ngôn ngữ" in res.stderr


def test_a_cli_called_in_process_leaves_the_callers_language() -> None:
    from typer.testing import CliRunner

    from planner.cli import app
    from planner.i18n import current_lang, use_lang

    with use_lang("vi"):
        res = CliRunner().invoke(app, ["--lang", "en", "schema", "od"])
        assert res.exit_code == 0, res.output
        assert current_lang() == "vi"
