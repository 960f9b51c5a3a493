"""The one catalogue: every message of the code is translated, placeholders agree, the
language is chosen the documented ways, and numbers read the Vietnamese way."""

from __future__ import annotations

import ast
import math
import re
import string
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from planner import i18n
from planner.i18n import _, use_lang
from planner.labels import VALUES, column_label, label, labels, readable_frame

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {**DEFAULT_KEYWORDS, "NC_": ((1, "c"), 2)}
with (ROOT / "babel.cfg").open(encoding="utf-8") as _cfg:  # what `make catalogue` reads
    METHODS, _OPTIONS = parse_mapping_cfg(_cfg)


def _extracted() -> set[tuple[str | None, str]]:
    out: set[tuple[str | None, str]] = set()
    for pkg in ("geodata", "optimization", "planner", "api"):
        for _file, _line, message, _comments, context in extract_from_dir(
                ROOT / pkg, method_map=METHODS, keywords=KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            out.add((context, msgid))
    return out


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


def test_every_message_has_its_vietnamese_with_the_same_placeholders() -> None:
    found = _extracted()
    assert len(found) > 250  # the extraction saw the code
    vi = i18n.catalogue("vi")
    missing = sorted((c or "", m) for c, m in found if (c, m) not in vi)
    assert not missing, f"untranslated (run `make catalogue` and fill in the .po): {missing}"
    bad = [(m, vi[(c, m)]) for c, m in found if _fields(m) != _fields(vi[(c, m)])]
    assert not bad, f"placeholders differ: {bad}"


def test_catalogue_has_no_entry_the_code_does_not_use() -> None:
    stale = set(i18n.catalogue("vi")) - _extracted()
    assert not stale, f"obsolete entries (run `make catalogue`): {sorted(map(str, stale))}"


def test_language_from_argument_context_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    assert i18n.current_lang() == "vi"
    assert _("Dictionary") == "Từ điển"
    assert _("Dictionary", lang="en") == "Dictionary"
    with use_lang("en"):
        assert _("Dictionary") == "Dictionary"
        assert label("use", "health") == "Health"
    monkeypatch.setenv(i18n.ENV_VAR, "en_US")
    assert i18n.current_lang() == "en"
    with use_lang("vi-VN"):
        assert label("use", "health") == "Y tế"
    with pytest.raises(ValueError, match="fr"):
        i18n.check_lang("fr")


@pytest.mark.parametrize(("lang", "full", "short", "small"), [
    ("vi", "1.234.567 đ", "12,5 tỷ đồng", "850 triệu đồng"),
    ("en", "1,234,567 VND", "12.5 bn VND", "850 M VND"),
])
def test_money_and_numbers(lang: str, full: str, short: str, small: str) -> None:
    assert i18n.vnd(1_234_567, lang) == full
    assert i18n.vnd_short(12.5e9, lang) == short
    assert i18n.vnd_short(850e6, lang) == small
    assert i18n.vnd_short(3e9, lang).startswith("3 ")
    assert i18n.km(14.73, lang=lang) == ("14,7 km" if lang == "vi" else "14.7 km")
    assert i18n.percent(0.125, lang=lang) == ("12,5 %" if lang == "vi" else "12.5 %")
    assert i18n.number(0.2, None, lang) == ("0,2" if lang == "vi" else "0.2")
    assert i18n.number(1234.5, None, lang) == ("1.234,5" if lang == "vi" else "1,234.5")


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_numbers_are_written_as_cldr_writes_them(lang: str) -> None:
    """``number`` writes what Babel's CLDR patterns write, but a negative zero as zero."""
    import random

    from babel.numbers import format_decimal

    rng = random.Random(7)
    values = [0, -0.0, 0.5, 1.5, 2.5, 2.675, -0.04, 0.0005, 999.9995, 1e15, -123_456.789,
              float("nan"), float("inf")]
    values += [rng.uniform(-1e7, 1e7) for _ in range(500)]
    values += [rng.uniform(-2, 2) for _ in range(500)]
    values += [rng.randint(-10**13, 10**13) for _ in range(300)]
    values += [round(rng.uniform(0, 1000), rng.randint(0, 4)) for _ in range(500)]
    where = "vi" if lang == "vi" else "en_US"
    for v in values:
        for decimals in (None, 0, 1, 2, 3):
            if not math.isfinite(v):
                cldr = format_decimal(v, locale=where)
            elif decimals is None:
                cldr = format_decimal(float(v), format="#,##0.###", locale=where)
            else:  # rounded first, as number() always did
                cldr = format_decimal(round(float(v), decimals) if decimals else round(v),
                                      format="#,##0" + "." * bool(decimals) + "0" * decimals,
                                      locale=where)
            if cldr.startswith("-") and not cldr.strip("-0.,"):
                cldr = cldr[1:]
            assert i18n.number(v, decimals, lang) == cldr, (v, decimals)


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_labels_of_a_family_are_distinct_so_they_read_back(lang: str) -> None:
    for family in VALUES:
        shown = labels(family, lang)
        assert len(set(shown.values())) == len(shown), (family, shown)
        if lang == "vi":  # translated, not left in English
            assert shown != labels(family, "en") or family == "unit", family


def test_readable_frame_shows_labels_and_keeps_codes() -> None:
    df = pd.DataFrame({"property_id": ["P1", "P2"], "use": ["sale", "health"],
                       "shared_uses": ["", "health+service_point"],
                       "within_service_km": [True, False], "unit_type": ["Xã", "Phường"],
                       "floor_area_m2": [10.0, 20.0]})
    vi = readable_frame(df, "vi")
    assert list(vi.columns) == ["property_id", "use", "use_code", "shared_uses",
                                "shared_uses_code", "within_service_km", "unit_type",
                                "floor_area_m2"]
    assert vi["use"].tolist() == ["Bán, chuyển nhượng", "Y tế"]
    assert vi["use_code"].tolist() == ["sale", "health"]
    assert vi["shared_uses"].tolist() == ["", "Y tế + Điểm phục vụ hành chính công"]
    assert vi["within_service_km"].tolist() == ["Có", "Không"]
    assert column_label("use_code", "vi") == "Mục đích sử dụng (mã)"
    en = readable_frame(df, "en")
    assert en["unit_type"].tolist() == ["Commune", "Ward"]
    assert en["unit_type_code"].tolist() == ["Xã", "Phường"]


def _string_constants(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_vietnamese_text_outside_the_catalogue() -> None:
    """Words a user reads come from the catalogue: a Vietnamese string in the code must be
    data (a name, a word read from input, an example), marked ``# data`` on its line."""
    vietnamese = re.compile("[ăâđêôơưĂÂĐÊÔƠƯạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
    # Modules whose Vietnamese is all data: synthetic names, words read from input, number
    # formats, OpenAPI examples.
    data_modules = {"planner/demo.py", "planner/localformats.py", "planner/i18n.py",
                    "api/schemas.py"}
    offenders = []
    for pkg in ("planner", "api", "optimization"):  # geodata holds the sources' names
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in data_modules:
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in _string_constants(ast.parse("\n".join(lines))):
                if not vietnamese.search(node.value):
                    continue
                span = lines[node.lineno - 1:(node.end_lineno or node.lineno)]
                if not any("# data" in line for line in span):
                    offenders.append(f"{rel}:{node.lineno}: {node.value[:70]!r}")
    # The dashboard: no Vietnamese in its scripts' string literals (its words are msgids) nor in
    # its page (filled in from GET /i18n).
    token = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'"
                       r"|`(?:\\.|[^`\\])*`", re.S)
    static = ROOT / "api" / "static"
    scripts = sorted(static.glob("*.js"))
    assert scripts
    for path in scripts:
        js = path.read_text(encoding="utf-8")
        for m in token.finditer(js):
            if m.group()[0] in "\"'`" and vietnamese.search(m.group()):
                line = js.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{line}: {m.group()[:70]}")
    for path in sorted(static.glob("*.html")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if vietnamese.search(line):
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{n}: {line.strip()[:70]}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(("data", "vi_words", "en_words"), [
    ({"name": "x", "policy": {"service_radius_km": {"health": -3}}}, "phải lớn hơn 0",
     "greater than 0"),
    ({"name": "x", "budget": {"nationl_vnd": 1}}, "khóa không có trong lược đồ", "unknown key"),
    ({"name": "x", "policy": {"disposal_order": "cheapest"}}, "phải là một trong",
     "Input should be"),
    ({"name": "x", "policy": {"uses_allowed": ["health"]}}, "phải gồm 'hold'",
     "must include 'hold'"),
])
def test_scenario_problems_in_both_languages(data: dict, vi_words: str, en_words: str) -> None:
    from planner.scenario import ScenarioError, scenario_from_dict

    texts = {}
    for lang in i18n.LANGS:
        with use_lang(lang), pytest.raises(ScenarioError) as err:
            scenario_from_dict(data, source="s.yaml")
        texts[lang] = str(err.value)
    assert vi_words in texts["vi"] and en_words in texts["en"], texts
    assert texts["vi"].startswith("s.yaml: ") and texts["en"].startswith("s.yaml: ")


@pytest.mark.parametrize("as_of", ["2025-07-01", "2026-07-25"])
def test_every_repair_of_the_geography_has_its_words(as_of: str) -> None:
    import geodata
    from planner.labels import REPAIRS

    report = geodata.data_quality_report(as_of)
    assert set(report["issue"]) <= set(REPAIRS["repair_issue"])
    assert set(report["action"].str.split(":").str[0]) <= set(REPAIRS["repair_action"])
