"""One catalogue of interface text: gettext catalogues read through Babel.

Messages are written in English in the code (``_("...")``, or ``N_``/``NC_`` where the text
is stored and translated later) and translated from ``planner/locale/<lang>/LC_MESSAGES/
assetplan.po``. Vietnamese is the default; English is asked for with ``--lang en``,
``ASSETPLAN_LANG=en`` or an API request's ``lang``. ``make catalogue`` extracts new messages
into the template and merges them into the catalogues; a test fails while any message lacks
its Vietnamese.

Placeholders are named (``{count}``), so a translation may reorder them; numbers given to a
message are formatted by the caller with ``number``/``vnd``/``km`` in the same language.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import Any

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
SOURCE_LANG = "en"  # the language of the msgids
DOMAIN = "assetplan"
LOCALE_DIR = Path(__file__).with_name("locale")
ENV_VAR = "ASSETPLAN_LANG"

_lang: ContextVar[str | None] = ContextVar("assetplan_lang", default=None)


def check_lang(lang: str) -> str:
    """``lang`` if it is one of ours (case and region ignored: ``vi-VN`` is ``vi``)."""
    code = str(lang).strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGS:
        raise ValueError(f"ngôn ngữ {lang!r} không có; chọn một trong {', '.join(LANGS)} / "
                         f"language {lang!r} is not available; choose one of {', '.join(LANGS)}")
    return code


def current_lang() -> str:
    """The language of this context: ``use_lang``/``set_lang``, else ASSETPLAN_LANG, else vi."""
    lang = _lang.get()
    if lang is not None:
        return lang
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return check_lang(env)
        except ValueError:
            return DEFAULT_LANG
    return DEFAULT_LANG


def set_lang(lang: str | None) -> None:
    """Set the language of this context (``None``: back to ASSETPLAN_LANG or the default)."""
    _lang.set(None if lang is None else check_lang(lang))


@contextmanager
def use_lang(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` inside the block (``None`` keeps the current language)."""
    token = _lang.set(check_lang(lang) if lang is not None else _lang.get())
    try:
        yield current_lang()
    finally:
        _lang.reset(token)


@cache
def catalogue(lang: str) -> dict[tuple[str | None, str], str]:
    """{(context, msgid): text} of ``lang``; empty for the source language. Untranslated and
    fuzzy entries are left out, so they fall back to the English."""
    if lang == SOURCE_LANG:
        return {}
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=lang, domain=DOMAIN)
    out: dict[tuple[str | None, str], str] = {}
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        msgid = m.id[0] if isinstance(m.id, tuple | list) else m.id
        text = m.string[0] if isinstance(m.string, tuple | list) else m.string
        if text:
            out[(m.context, msgid)] = text
    return out


def _lookup(context: str | None, message: str, lang: str | None) -> str:
    return catalogue(lang or current_lang()).get((context, message), message)


def _(message: str, /, lang: str | None = None, **values: Any) -> str:
    """``message`` in the current language (or ``lang``), its ``{placeholders}`` filled."""
    text = _lookup(None, message, lang)
    return text.format(**values) if values else text


def pgettext(context: str, message: str, /, lang: str | None = None, **values: Any) -> str:
    """Like ``_`` for a message that needs a context to be told apart (a label family)."""
    text = _lookup(context, message, lang)
    return text.format(**values) if values else text


def N_(message: str) -> str:  # the gettext convention
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


def NC_(context: str, message: str) -> str:  # the gettext convention
    """Mark a message with its context for the catalogue (translated with ``pgettext``)."""
    return message


# Numbers: Vietnamese groups thousands with "." and writes decimals with ",".

def number(x: float, decimals: int | None = 0, lang: str | None = None) -> str:
    """``x`` with thousands grouped; ``decimals=None`` keeps up to three as needed (0,2).
    The digits are CLDR's (Babel's ``#,##0.00`` patterns for vi and en_US, which a test
    holds them to), written by Python's own formatting: a national plan's reasons format
    some 50,000 numbers."""
    lang = lang or current_lang()
    if not math.isfinite(float(x)):
        from babel.numbers import format_decimal

        return format_decimal(float(x), locale="vi" if lang == "vi" else "en_US")
    if decimals is None:  # Babel rounds the shortest decimal of the float, halves to even
        value = Decimal(repr(float(x))).quantize(_THOUSANDTH, ROUND_HALF_EVEN)
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    elif decimals > 0:
        text = f"{round(float(x), decimals):,.{decimals}f}"
    else:
        text = f"{round(float(x)):,}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # no "-0,0" (Babel writes one)
    return text.translate(_VI_DIGITS) if lang == "vi" else text


_THOUSANDTH = Decimal("0.001")
_VI_DIGITS = str.maketrans({",": ".", ".": ","})


def vnd(x: float, lang: str | None = None) -> str:
    """Money in full: ``1.234.567 đ`` / ``1,234,567 VND``."""
    lang = lang or current_lang()
    return number(x, 0, lang) + (" đ" if lang == "vi" else " VND")


def vnd_short(x: float, lang: str | None = None) -> str:
    """Money for a sentence: ``12,5 tỷ đồng``, ``850 triệu đồng`` / ``12.5 bn VND``."""
    lang = lang or current_lang()
    ax = abs(float(x))
    for size, vi_word, en_word in ((1e9, "tỷ đồng", "bn VND"), (1e6, "triệu đồng", "M VND")):
        if ax >= size:
            value = float(x) / size
            decimals = 0 if abs(value) >= 100 else 1
            text = number(value, decimals, lang)
            if decimals and text[-2:] in (",0", ".0"):
                text = text[:-2]
            return f"{text} {vi_word if lang == 'vi' else en_word}"
    return number(x, 0, lang) + (" đồng" if lang == "vi" else " VND")


def km(x: float, decimals: int = 1, lang: str | None = None) -> str:
    return number(x, decimals, lang) + " km"


def percent(share: float, decimals: int = 1, lang: str | None = None) -> str:
    return number(100 * float(share), decimals, lang) + " %"
