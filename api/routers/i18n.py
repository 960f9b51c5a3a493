"""``GET /i18n``: the dashboard's words from the one catalogue (no key needed).

The dashboard's own sentences are English msgids in ``api/static/*.js`` (``_("...")``,
``N_("...")``), extracted here the way ``make catalogue`` extracts them, so the page and the
catalogue cannot drift apart; labels of coded values, columns and KPIs come from
``planner.labels``.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from fastapi import APIRouter, Query

from api.dashboard import STATIC_DIR
from api.errors import responses
from api.schemas import I18nPublic, Lang
from planner.i18n import _
from planner.labels import COLUMNS, KPIS, VALUES, column_label, kpi_label, labels

router = APIRouter(tags=["i18n"], responses=responses(422))


@cache
def page_messages() -> tuple[str, ...]:
    """The msgids of the dashboard's scripts, in the order they are written."""
    found: dict[str, None] = {}
    for path in sorted(STATIC_DIR.glob("*.js")):
        for _line, message, _comments, _context in extract_from_file(
                "javascript", path, keywords=DEFAULT_KEYWORDS):
            found[message[0] if isinstance(message, tuple) else message] = None
    return tuple(found)


def kpi_names() -> list[str]:
    """Every KPI a run writes, those worded from a category or a use included."""
    return [*KPIS, *(f"properties_{c}" for c in VALUES["report_category"]),
            *(f"need_{u}" for u in VALUES["use"])]


@cache
def words(lang: str) -> I18nPublic:
    return I18nPublic(
        lang=lang,
        messages={m: _(m, lang=lang) for m in page_messages()},
        labels={family: labels(family, lang) for family in VALUES},
        columns={col: column_label(col, lang) for col in COLUMNS},
        kpis={kpi: kpi_label(kpi, lang) for kpi in kpi_names()})


@router.get("/i18n", response_model=I18nPublic, operation_id="get_i18n",
            summary="The dashboard's words in one language (no key needed)")
def get_i18n(lang: Annotated[Lang, Query(description="vi (the default) or en")] = "vi"
             ) -> I18nPublic:
    return words(lang)
