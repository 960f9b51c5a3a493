"""The report and maps a person reads: report.html from its template in the chosen language,
printable on A4; map.html in that language; palettes in which no colour means two things;
approximate province areas; Hoàng Sa and Trường Sa on a national map."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import shapely

import geodata
from planner.i18n import _, use_lang
from planner.labels import VALUES, kpi_label, label
from planner.maps import (
    ARCHIPELAGO_CODES,
    CATEGORY_COLOURS,
    MARK_COLOURS,
    USE_COLOURS,
    by_province,
    map_captions,
    national_extent,
    province_areas,
)
from planner.outputs import write_plan
from planner.pipeline import run_scenario
from tests.test_pipeline import province_scenario

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(HTMLParser):
    """The visible text of a page (outside ``translate="no"``, the user's own words), its
    ``lang`` and whether every element it opens is closed in order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.words: list[str] = []
        self.lang = ""
        self.errors: list[str] = []
        self.feed(text)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag, _ in self.stack]

    def hidden(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang") or ""
        if tag == "img" and not self.hidden():
            self.words.append(a.get("alt") or "")
        if tag not in VOID:
            self.stack.append((tag, tag in ("style", "script", "title")
                               or a.get("translate") == "no"))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else None}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden() and data.strip():
            self.words.append(data.strip())

    @property
    def text(self) -> str:
        return "\n".join(self.words)


@pytest.fixture(scope="module")
def plan():
    plan = run_scenario(province_scenario())
    plan.scenario = plan.scenario.model_copy(update={
        "description": "<script>alert(1)</script> A & B"})
    return plan


@pytest.fixture(scope="module")
def runs(tmp_path_factory, plan) -> dict[str, Path]:
    out = {}
    for lang in ("vi", "en"):
        with use_lang(lang):
            out[lang] = write_plan(plan, tmp_path_factory.mktemp("run") / lang)
    return out


def test_the_report_is_html_from_the_template(runs):
    text = (runs["vi"] / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert not page.errors and page.lang == "vi"
    assert text.startswith("<!doctype html>")
    # Autoescaped: the scenario's words are shown, never run.
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; A &amp; B" in text
    for src in re.findall(r'<img src="([^"]+)"', text):
        assert (runs["vi"] / src).is_file()
    assert len(re.findall(r"<img ", text)) == 3
    md = (runs["vi"] / "report.md").read_text(encoding="utf-8")
    assert f"## {_('Solves', lang='vi')}" in md and "<html" not in md


def test_the_vietnamese_report_shows_no_code(runs, plan):
    page = Page((runs["vi"] / "report.html").read_text(encoding="utf-8"))
    codes = (set(plan.kpis["kpi"]) | set(VALUES["use"]) | set(VALUES["terrain"])
             | set(VALUES["status"]) | set(VALUES["stage"]) | set(VALUES["unit"])
             | {"national", "provinces"})
    shown = {c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", page.text)}
    assert not shown, shown
    assert kpi_label("units_without_car", "vi") in page.text
    assert label("status", plan.solves[0]["status"], "vi") in page.text
    assert "574.684" in page.text  # the population of Cao Bằng, in the Vietnamese format
    assert re.search(r"\d{1,3}(\.\d{3})+ đ", page.text)  # money in đồng


def test_the_report_prints_on_a4(runs):
    text = (runs["vi"] / "report.html").read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", text, re.S)
    assert style is not None
    css = style.group(1)
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css)
    printing = css[css.index("@media print"):]
    assert "break-inside: avoid" in printing and "break-before: page" in printing
    assert "max-width: 100%" in css


def test_the_english_report_has_english_labels(runs, plan):
    page = Page((runs["en"] / "report.html").read_text(encoding="utf-8"))
    assert not page.errors and page.lang == "en"
    for text in ("Key figures", "Before the plan", kpi_label("units_without_car", "en"),
                 label("stage", "disposition", "en"), "approximate"):
        assert text in page.text
    assert "574,684" in page.text
    assert _("Key figures: {coverage}", lang="vi", coverage="") not in page.text


def test_the_map_page_speaks_the_chosen_language(runs):
    for lang in ("vi", "en"):
        text = (runs[lang] / "map.html").read_text(encoding="utf-8")
        page = Page(text)
        assert not page.errors and page.lang == lang
        names = json.loads(re.search(r"const NAMES = (.*?);\n", text).group(1))
        assert set(names.values()) == {_(m, lang=lang) for m in (
            "Approximate areas (from the units' points)", "Units (ringed: unmet need)",
            "Surplus houses and land", "Transfers", "Conversions to public use")}
        assert len(json.loads(re.search(r"const DATA = (.*?);\n", text).group(1))["areas"]) == 56
        assert label("use", "sale", lang) in page.text  # the legend
        assert "L.map(" in text and "<script src" not in text  # Leaflet inlined
    assert _("Transfers", lang="vi") != "Transfers"


def test_no_colour_means_two_things():
    palettes = {"use": USE_COLOURS, "category": CATEGORY_COLOURS, "mark": MARK_COLOURS}
    meaning: dict[str, str] = {}
    for name, palette in palettes.items():
        for what, colour in palette.items():
            key = colour.upper()
            assert key not in meaning, f"{colour} is both {meaning[key]} and {name} {what}"
            meaning[key] = f"{name} {what}"
    assert set(USE_COLOURS) == set(VALUES["use"])
    assert set(CATEGORY_COLOURS) == set(VALUES["category"])


def test_the_province_areas_cover_every_province():
    areas = province_areas()
    communes = geodata.load_communes()
    assert len(areas) == 34 and set(areas.index) == set(communes["province_code"])
    assert areas.geometry.is_valid.all() and not areas.geometry.is_empty.any()
    # Every unit's point lies in its own province's area.
    shapes = areas.geometry.loc[communes["province_code"]].to_numpy()
    inside = shapely.covers(shapes, shapely.points(communes[["lon", "lat"]].to_numpy()))
    assert inside.all(), communes.loc[~inside, "name"].tolist()
    # Neighbouring provinces do not overlap: the areas are cut from one Voronoi diagram.
    shapes = areas.geometry.to_numpy()
    total = float(shapely.area(shapes).sum())
    assert shapely.area(shapely.union_all(shapes)) == pytest.approx(total, rel=1e-6)


def test_the_maps_say_their_areas_are_approximate(runs):
    for national in (True, False):
        assert all("approximate" in t for t in map_captions(national).values())
    maps = sorted(p.name for p in (runs["en"] / "maps").iterdir())
    assert maps == ["dispositions.png", "needs.png", "transfers.png"]


def test_a_national_map_shows_hoang_sa_and_truong_sa():
    c = geodata.load_communes().set_index("code").loc[list(ARCHIPELAGO_CODES)]
    assert c["name"].str.contains("Hoàng Sa|Trường Sa").all()
    assert set(c["province_name"].str.split().str[-1]) == {"Nẵng", "Hòa"}
    west, east, south, north = national_extent()
    assert (c["lon"].between(west, east) & c["lat"].between(south, north)).all()
    assert north - south < 16 and east - west < 14  # the country, not the whole sea
    communes = geodata.load_communes().rename(columns={"code": "commune_code"})
    assert by_province(communes)
    assert not by_province(communes[communes["province_code"] == "04"])


def test_the_report_and_map_in_a_browser_print_on_a4(runs, tmp_path):
    """Headless Chromium opens the Vietnamese report and map page; the report prints to A4
    pages (the PDF's page boxes) and nothing it asks for fails; screenshots for the record."""
    import base64

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.print_page_options import PrintOptions

    from tests.test_dashboard import ARTIFACTS, CHROMIUM_ARGS, _browser_paths

    chromium, driver_path = _browser_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        driver.get((runs["vi"] / "report.html").as_uri())
        assert driver.execute_script("return document.documentElement.lang") == "vi"
        assert kpi_label("units_without_car", "vi") in driver.find_element(
            "tag name", "body").text
        driver.save_screenshot(str(ARTIFACTS / "report-vi.png"))
        options = PrintOptions()
        options.page_width, options.page_height = 21.0, 29.7  # cm: what @page asks for
        pdf = base64.b64decode(driver.print_page(options))
        boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
        assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2
                             for w, h in boxes), boxes[:3]
        (ARTIFACTS / "report-vi.pdf").write_bytes(pdf)
        driver.get((runs["vi"] / "map.html").as_uri())
        driver.save_screenshot(str(ARTIFACTS / "map-vi.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
