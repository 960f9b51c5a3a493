"""The dashboard page (api/static/, mounted by api.dashboard.mount_dashboard).

Fast checks with TestClient: the page and its assets are served, no API route is shadowed,
every asset is local (vendored Leaflet, pinned in package.json).

Browser test: a live uvicorn server on 127.0.0.1 (a subprocess) with two finished runs of two
small provinces, and headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
Selenium; no browser is downloaded at run time). The page asks for the API key, draws the map
and the KPIs, filters by province and switches runs; the numbers on the page are checked against
the runs' own tables. A screenshot is written to tests/artifacts/dashboard.png (git-ignored).

Without Chromium the browser test fails when CI is set (install it with
.ci/install-chromium.sh) and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from api_fixtures import make_settings
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient

from api.app import create_app
from api.dashboard import STATIC_DIR, mount_dashboard
from planner.labels import column_label, kpi_label
from planner.maps import VENDOR_DIR

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1440,1000", "--lang=vi-VN")
PROVINCES = ("04", "68")  # Cao Bằng (56 units) and Lâm Đồng (124 units)
SERVER = """
import sys

import uvicorn

from api.app import create_app
from api.dashboard import mount_dashboard

app = create_app()
mount_dashboard(app)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", workers=1)
"""

# --------------------------------------------------------------------------- served files


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path / "data"))
    mount_dashboard(app)
    mount_dashboard(app)  # a second call changes nothing
    with TestClient(app) as c:
        yield c


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'id="map"' in page.text and 'id="kpi-panel"' in page.text
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        if ref.startswith("data:"):
            continue
        assert not re.match(r"^[a-z]+:|^//", ref), f"{ref} loads from outside the server"
        asset = client.get("/" + ref)
        assert asset.status_code == 200, ref
    js = client.get("/static/app.js")
    assert "javascript" in js.headers["content-type"]
    assert client.get("/static/vendor/leaflet/images/layers.png").status_code == 200


def test_api_docs_load_nothing_from_outside(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        refs = re.findall(r'(?:src|href|url)\s*[=:]\s*[\'"]([^\'"]+)[\'"]', page.text)
        assert refs, path
        for ref in refs:
            assert not re.match(r"^[a-z]+:|^//", ref), f"{path}: {ref} loads from outside"
            assert client.get(ref).status_code == 200, ref
        assert "fonts.googleapis" not in page.text
    # Nor do their scripts: ReDoc's bundle draws its maker's logo from a CDN otherwise.
    redoc_js = client.get("/docs-redoc.js")
    assert redoc_js.status_code == 200 and "javascript" in redoc_js.headers["content-type"]
    assert "cdn.redoc.ly" not in redoc_js.text and "/docs-assets/favicon.png" in redoc_js.text


def test_i18n_gives_the_pages_own_words_and_the_catalogues_labels(client):
    vi = client.get("/i18n").json()  # no key needed; Vietnamese by default
    en = client.get("/i18n", params={"lang": "en"}).json()
    assert (vi["lang"], en["lang"]) == ("vi", "en")
    extracted = {message for path in STATIC_DIR.glob("*.js")
                 for _line, message, _comments, _context in extract_from_file("javascript", path)}
    assert len(extracted) > 100
    assert set(vi["messages"]) == set(en["messages"]) == extracted
    assert all(en["messages"][m] == m for m in extracted)
    assert vi["messages"]["Start a run"] == "Chạy kế hoạch"
    assert vi["labels"]["use"]["health"] == "Y tế" and en["labels"]["use"]["health"] == "Health"
    assert vi["kpis"]["units_without_car"] == kpi_label("units_without_car", "vi")
    assert en["kpis"]["need_health"].startswith("Need: health")
    assert vi["columns"]["population"] == column_label("population", "vi") != "Population"
    assert client.get("/i18n", params={"lang": "fr"}).status_code == 422
    # Every word of the page is one of the script's msgids.
    page = client.get("/").text
    js = (STATIC_DIR / "app.js").read_text()
    for name in set(re.findall(r'data-i18n="([^"]+)"', page)):
        assert re.search(rf"\b{name}: N_\(", js), name


def test_api_routes_are_not_shadowed(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert client.get("/runs").status_code == 401  # the API's own answer, not a static 404
    for missing in ("/no-such-route", "/static/no-such-file.js", "/static/", "/static/../app.py"):
        r = client.get(missing)
        assert r.status_code == 404, missing
        assert r.json()["code"] == "not_found"  # the API's JSON error, even for static paths
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


def test_vendored_leaflet_matches_the_pinned_version():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["leaflet"]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/leaflet"]["version"] == pinned
    vendor = VENDOR_DIR
    assert (vendor / "VERSION").read_text().strip() == pinned
    assert f"Leaflet {pinned}," in (vendor / "leaflet.js").read_text()[:200]
    assert "BSD" in (vendor / "LICENSE").read_text() or "Redistribution" in (
        vendor / "LICENSE").read_text()
    for name in ("leaflet.css", "images/layers.png", "images/marker-icon.png"):
        assert (vendor / name).is_file(), name


def test_page_uses_only_the_api_endpoints():
    # fetch() gets relative URLs only; no absolute http(s) URL outside comments.
    code = "".join(re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.S)
                   for path in sorted(STATIC_DIR.glob("*.js")))
    assert not re.search(r"https?://", code)
    for endpoint in ('"runs"', '"/kpis"', '"/plan"', '"provinces"', '"communes"', '"health"',
                     '"i18n"', '"keys/me"', '"compare"', '"scenarios"', '"keys"'):
        assert endpoint in code, endpoint
    assert '"X-API-Key"' in code


# -------------------------------------------------------------------------- browser test


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("ASSETPLAN_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None)
    driver = os.environ.get("ASSETPLAN_CHROMEDRIVER") or shutil.which("chromedriver")
    problems = []
    if not chromium:
        problems.append("no Chromium (chromium, chromium-browser or google-chrome on PATH)")
    if not driver:
        problems.append("no chromedriver on PATH")
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("the selenium package is not installed (pip install -e '.[dev]')")
    if problems:
        msg = ("dashboard browser test needs " + "; ".join(problems) + ". Install with: "
               "bash .ci/install-chromium.sh (Debian: apt-get install chromium chromium-driver)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    assert chromium and driver
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Live:
    def __init__(self, url: str, data_dir: Path, keys: dict[str, str], runs: list[str]):
        self.url = url
        self.data_dir = data_dir
        self.keys = keys
        self.runs = runs

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.data_dir / "runs" / run_id / "tables" / f"{name}.parquet")

    def kpi(self, run_id: str, kpi: str, scope: str = "national", scope_id: str = "VN") -> float:
        k = self.table(run_id, "kpis")
        row = k[(k["scope"] == scope) & (k["scope_id"] == scope_id) & (k["kpi"] == kpi)]
        return float(row["after"].iloc[0])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"API server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"API server not up after {timeout_s} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """uvicorn on a free local port, a fresh SQLite store, one worker, and two finished runs
    (Cao Bằng + Lâm Đồng: baseline, then a tight-budget override)."""
    _browser_paths()
    from api.security import create_key
    from api.settings import Settings
    from api.store import Store

    tmp = tmp_path_factory.mktemp("dashboard")
    data_dir = tmp / "data"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ASSETPLAN_") and k != "DATABASE_URL"}
    env |= {"ASSETPLAN_DATA_DIR": str(data_dir), "ASSETPLAN_RUN_WORKERS": "1",
            "ASSETPLAN_WRITE_MAPS": "false"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(url, proc, log, 90)
        store = Store(Settings(database_url=None, data_dir=data_dir).store_url())
        with store.session() as s:
            keys = {role: create_key(s, role, None, f"dashboard-{role}")[1]
                    for role in ("planner", "viewer", "admin")}
        store.dispose()
        h = {"X-API-Key": keys["planner"]}
        spec = {"name": "dashboard-test", "description": "Cao Bằng và Lâm Đồng, quick",
                "data": {"dataset": "demo", "provinces": list(PROVINCES)},
                "policy": {"seats": {"max_service_km": 15}},
                "budget": {"national_vnd": 3_000_000_000_000},
                "solver": {"time_limit_s": 5, "mip_gap": 0.01},
                "overrides": {"tight": {"budget": {"default_province_vnd": 30_000_000_000}}}}
        with httpx.Client(base_url=url, headers=h, timeout=30) as c:
            r = c.post("/scenarios", json=spec)
            assert r.status_code == 201, r.text
            runs = []
            for overrides in ([], ["tight"]):
                r = c.post("/runs", json={"scenario_id": "dashboard-test",
                                          "overrides": overrides})
                assert r.status_code == 202, r.text
                runs.append(r.json()["id"])
            deadline = time.monotonic() + 240
            for run_id in runs:
                while True:
                    run = c.get(f"/runs/{run_id}").json()
                    if run["status"] == "succeeded":
                        break
                    assert run["status"] in ("queued", "running"), run
                    assert time.monotonic() < deadline, f"run still {run['status']}: {run}"
                    time.sleep(0.25)
        yield Live(url, data_dir, keys, runs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(live, tmp_path_factory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_paths()
    tmp = tmp_path_factory.mktemp("chromium")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={tmp / 'profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver_path, log_output=str(tmp / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _state(driver: Any, expr: str) -> Any:
    return driver.execute_script(f"const s = window.assetplanDashboard; return {expr};")


def _wait_ready(driver: Any, run_id: str, province: str = "", timeout_s: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: Any) -> bool:
        m = d.find_element("id", "map")
        return bool(m.get_attribute("data-state") == "ready"
                    and m.get_attribute("data-run") == run_id
                    and (m.get_attribute("data-province") or "") == province)

    try:
        WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(ready)
    except Exception:
        msg = driver.find_element("id", "message").text
        raise AssertionError(f"dashboard not ready for run {run_id} {province}: {msg!r}; "
                             f"console: {driver.get_log('browser')}") from None


def _kpi_on_page(driver: Any, kpi: str) -> float:
    row = driver.find_element("css selector", f'#kpi-table tr[data-kpi="{kpi}"]')
    return float(row.get_attribute("data-after"))


def test_dashboard_in_a_browser(live, browser):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    run_a, run_b = live.runs  # run_b (newest) is listed first
    d.get(live.url + "/")
    # No key yet: the API answers 401 and the page asks for one.
    WebDriverWait(d, 30).until(lambda d: d.find_element("id", "key-dialog").get_attribute("open")
                               is not None)
    d.find_element("id", "key-input").send_keys(live.keys["viewer"])
    d.find_element("id", "key-save").click()
    _wait_ready(d, run_b)
    assert d.execute_script("return localStorage.getItem('assetplan.apiKey')") == \
        live.keys["viewer"]
    d.get_log("browser")  # drop the console lines of the 401 answered before the key

    # The map: one marker per unit, per surplus property, per line; KPIs from the run's table.
    units = live.table(run_b, "units")
    assert sorted(units["province_code"].unique()) == list(PROVINCES)
    assert _state(d, "s.layers.units.getLayers().length") == len(units)
    assert _state(d, "s.layers.properties.getLayers().length") == len(
        live.table(run_b, "dispositions"))
    assert _state(d, "s.layers.transfers.getLayers().length") == len(
        live.table(run_b, "transfers"))
    assert _state(d, "s.layers.conversions.getLayers().length") == len(
        live.table(run_b, "service"))
    assert _state(d, "s.backdrop.getLayers().length") == 3321  # every unit, faint, as context
    needs = live.table(run_b, "needs")
    eq = live.table(run_b, "equipment")
    unmet = set(needs.loc[needs["unmet"] > 1e-6, "commune_code"]) | set(
        eq.loc[eq["shortfall_after"] > 0, "commune_code"])
    assert _state(d, "s.counts.unmet") == len(unmet)
    legend = d.find_element("css selector", '#legend-units [data-key="units-unmet"]')
    assert int(legend.get_attribute("data-count")) == len(unmet)
    for kpi in ("units_without_car", "renovation_spend_vnd", "surplus_properties",
                "priority_units_with_unmet_need"):
        assert _kpi_on_page(d, kpi) == pytest.approx(live.kpi(run_b, kpi)), kpi
    card = d.find_element("css selector", '#kpi-cards [data-kpi="units_without_car"]')
    assert float(card.get_attribute("data-after")) == live.kpi(run_b, "units_without_car")
    assert d.find_element("id", "synthetic-banner").is_displayed()  # the demo is synthetic
    # A viewer neither starts runs nor manages keys: those panels are not there for it.
    assert not d.find_element("id", "start-panel").is_displayed()
    assert not d.find_element("id", "keys-panel").is_displayed()
    ARTIFACTS.mkdir(exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # Province filter: Cao Bằng only.
    Select(d.find_element("id", "province-select")).select_by_value("04")
    _wait_ready(d, run_b, "04")
    assert _state(d, "s.layers.units.getLayers().length") == int(
        (units["province_code"] == "04").sum())
    assert _kpi_on_page(d, "renovation_spend_vnd") == pytest.approx(
        live.kpi(run_b, "renovation_spend_vnd", "province", "04"))
    d.save_screenshot(str(ARTIFACTS / "dashboard-province.png"))

    # The other run, whole plan: its own KPIs (a bigger budget than the tight override).
    Select(d.find_element("id", "run-select")).select_by_value(run_a)
    _wait_ready(d, run_a, "04")  # the province filter stays
    Select(d.find_element("id", "province-select")).select_by_value("")
    _wait_ready(d, run_a)
    assert _kpi_on_page(d, "renovation_spend_vnd") == pytest.approx(
        live.kpi(run_a, "renovation_spend_vnd"))
    assert live.kpi(run_a, "renovation_spend_vnd") > live.kpi(run_b, "renovation_spend_vnd")

    # Nothing came from anywhere but this server, and the page logged no error.
    origins = d.execute_script("return performance.getEntriesByType('resource')"
                               ".map(e => new URL(e.name).origin)")
    assert set(origins) <= {live.url}, origins
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_dashboard_pins_a_use_forbids_a_sale_and_replans(live, browser):
    """From the properties' popups a planner forbids one sale and pins another property to
    hold, re-plans, and the page moves to the new run: both decisions are the planner's in its
    tables, marked on the map and listed again from the new run."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    run_b = live.runs[1]
    d.get(live.url + "/")
    d.execute_script("localStorage.setItem('assetplan.apiKey', arguments[0])",
                     live.keys["planner"])
    d.get(live.url + f"/#run={run_b}")
    d.refresh()
    _wait_ready(d, run_b)
    d.get_log("browser")
    disp = live.table(run_b, "dispositions").sort_values("property_id")
    sold = disp.loc[disp["use"] == "sale", "property_id"].tolist()
    assert len(sold) >= 2, "the tight run sells at least two properties"
    kept_from_sale, held = sold[0], sold[1]

    def popup(pid: str) -> Any:
        """The open popup of a property (its marker clicked)."""
        assert _state(d, f"(s.propertyMarkers[{json.dumps(pid)}].fire('click'), true)")
        where = f'.leaflet-popup .decide[data-property="{pid}"]'
        WebDriverWait(d, 10).until(lambda d: d.find_elements("css selector", where))
        return d.find_element("css selector", where)

    box = popup(kept_from_sale)
    box.find_element("css selector", ".decide-note").send_keys("giữ cho trạm y tế")
    box.find_element("css selector", ".decide-forbid-sale").click()
    box = popup(held)
    Select(box.find_element("css selector", ".decide-use")).select_by_value("hold")
    box.find_element("css selector", ".decide-require").click()
    rows = d.find_elements("css selector", "#decision-list li")
    assert [(r.get_attribute("data-property"), r.get_attribute("data-rule"),
             r.get_attribute("data-use")) for r in rows] == [
        (kept_from_sale, "forbid", "sale"), (held, "require", "hold")]

    d.find_element("id", "replan-button").click()
    WebDriverWait(d, 300, poll_frequency=0.25).until(lambda d: d.find_element(
        "id", "replan-status").get_attribute("data-state") in ("done", "error"))
    status = d.find_element("id", "replan-status")
    assert status.get_attribute("data-state") == "done", status.text
    new_run = status.get_attribute("data-run")
    _wait_ready(d, new_run)
    run = httpx.get(f"{live.url}/runs/{new_run}", headers={"X-API-Key": live.keys["viewer"]})
    assert run.json()["replan_of"] == run_b
    after = live.table(new_run, "dispositions").set_index("property_id")
    assert after.at[kept_from_sale, "use"] != "sale"
    assert after.at[held, "use"] == "hold"
    assert (after.loc[[kept_from_sale, held], "decided_by"] == "planner").all()
    assert "giữ cho trạm y tế" in after.at[kept_from_sale, "reason"]
    planned = int((after["decided_by"] == "planner").sum())
    legend = d.find_element("css selector", '#legend-uses [data-key="use-planner"]')
    assert int(legend.get_attribute("data-count")) == planned == 2
    assert len(d.find_elements("css selector", "#decision-list li")) == 2  # the new run's own
    d.save_screenshot(str(ARTIFACTS / "dashboard-replan.png"))
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_api_docs_render_in_a_browser(live, browser):
    # The machine has no network: a page that needed a CDN would stay blank.
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(live.url + "/docs")
    WebDriverWait(d, 30).until(lambda x: "assetplan API" in x.execute_script(
        "const t = document.querySelector('.swagger-ui .info .title');"
        "return t ? t.textContent : '';"))
    assert d.find_elements("css selector", ".swagger-ui .opblock")  # the operations listed
    d.get(live.url + "/redoc")
    WebDriverWait(d, 30).until(lambda x: "assetplan API" in x.execute_script(
        "const h = document.querySelector('redoc h1, .api-info h1, h1');"
        "return h ? h.textContent : '';"))
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # nothing it asked for failed (no CDN, no font)


def _open_panels(d: Any) -> None:
    d.execute_script("document.querySelectorAll('aside details').forEach(e => e.open = true)")


def _use_key(d: Any, live: Live, role: str, lang: str = "vi") -> None:
    d.get(live.url + "/")
    d.execute_script("localStorage.setItem('assetplan.apiKey', arguments[0]);"
                     "localStorage.setItem('assetplan.lang', arguments[1])", live.keys[role], lang)
    d.get(live.url + f"/#run={live.runs[1]}")
    d.refresh()
    _wait_ready(d, live.runs[1])
    d.get_log("browser")  # what earlier pages logged


def _wait_for(d: Any, check: Any, timeout_s: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, timeout_s, poll_frequency=0.2).until(check)


def _english_fragments(vi: dict[str, str]) -> set[str]:
    """The words of each English msgid whose Vietnamese differs (placeholders cut out)."""
    out = set()
    for msgid, text in vi.items():
        if text == msgid:
            continue
        for part in re.split(r"\{\w+\}", msgid):
            part = part.strip(" ·:;,.()…−-")
            if len(part) >= 4 and re.search("[A-Za-z]{3}", part):
                out.add(part)
    return out


def test_dashboard_in_vietnamese_by_default_and_english_by_its_switch(live, browser):
    """With an admin key every panel is open: no English word of the page's catalogue shows;
    the switch gives the English ones (the KPI labels from the catalogue too), and back."""
    d = browser
    _use_key(d, live, "admin")
    d.execute_script("localStorage.removeItem('assetplan.lang')")
    d.refresh()
    _wait_ready(d, live.runs[1])
    _wait_for(d, lambda d: d.find_elements("css selector", "#keys-table tbody tr"))
    _open_panels(d)
    vi = httpx.get(live.url + "/i18n", params={"lang": "vi"}).json()
    text = d.execute_script("return document.body.innerText")
    shown = [f for f in _english_fragments(vi["messages"])
             if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)]
    assert shown == [], shown
    assert d.execute_script("return document.documentElement.lang") == "vi"
    assert d.find_element("css selector", "[data-i18n=subtitle]").text == vi["messages"][
        "Public-asset dashboard"]
    card = '#kpi-cards [data-kpi="units_without_car"] .label'
    assert d.find_element("css selector", card).text.startswith(vi["kpis"]["units_without_car"])

    d.find_element("css selector", '#lang-switch [data-lang="en"]').click()
    _wait_for(d, lambda d: d.execute_script("return document.documentElement.lang") == "en")
    _wait_ready(d, live.runs[1])
    en = httpx.get(live.url + "/i18n", params={"lang": "en"}).json()
    assert d.find_element("css selector", "[data-i18n=subtitle]").text == "Public-asset dashboard"
    assert d.find_element("css selector", card).text.startswith(en["kpis"]["units_without_car"])
    assert d.find_element("css selector", "#start-panel summary").text == "Start a run"
    assert d.execute_script("return localStorage.getItem('assetplan.lang')") == "en"
    d.refresh()  # the choice is kept
    _wait_ready(d, live.runs[1])
    assert d.find_element("css selector", "[data-i18n=kpis]").text == "KPIs"
    d.save_screenshot(str(ARTIFACTS / "dashboard-en.png"))
    d.find_element("css selector", '#lang-switch [data-lang="vi"]').click()
    _wait_for(d, lambda d: d.find_element("css selector", "[data-i18n=kpis]").text
              == vi["messages"]["KPIs"])
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_dashboard_finds_a_unit_by_name_without_diacritics(live, browser):
    d = browser
    _use_key(d, live, "viewer")
    _open_panels(d)
    d.find_element("id", "find-input").send_keys("lam vien")  # Phường Lâm Viên - Đà Lạt
    d.find_element("id", "find-button").click()
    _wait_for(d, lambda d: d.find_elements("css selector", "#find-results li"))
    hits = d.find_elements("css selector", "#find-results li")
    assert any("Lâm Viên" in h.text for h in hits), [h.text for h in hits]
    hit = next(h for h in hits if "Lâm Viên" in h.text)
    hit.find_element("css selector", ".find-go").click()
    _wait_for(d, lambda d: d.find_elements("css selector", ".leaflet-popup .find-popup"))
    assert "Lâm Viên" in d.find_element("css selector", ".leaflet-popup .find-popup").text


def test_dashboard_starts_a_run_and_compares_two_runs(live, browser):
    """A planner starts a run of a one-province scenario from the page and sees it finish and
    drawn; comparing it with a two-province run shows the difference and the warning; two runs
    of the same provinces show no warning and the decisions that changed."""
    from selenium.webdriver.support.ui import Select

    d = browser
    h = {"X-API-Key": live.keys["planner"]}
    spec = {"name": "dashboard-cao-bang", "data": {"dataset": "demo", "provinces": ["04"]},
            "solver": {"time_limit_s": 5, "mip_gap": 0.01},
            "overrides": {"tight": {"budget": {"default_province_vnd": 30_000_000_000}}}}
    assert httpx.post(live.url + "/scenarios", json=spec, headers=h).status_code == 201
    _use_key(d, live, "planner")
    _open_panels(d)
    _wait_for(d, lambda d: "dashboard-cao-bang" in d.find_element("id", "start-scenario").text)
    Select(d.find_element("id", "start-scenario")).select_by_visible_text("dashboard-cao-bang")
    d.find_element("css selector", '#start-overrides input[value="tight"]').click()
    d.find_element("id", "start-button").click()
    _wait_for(d, lambda d: d.find_element("id", "start-status").get_attribute("data-state")
              in ("done", "error"), 300)
    status = d.find_element("id", "start-status")
    assert status.get_attribute("data-state") == "done", status.text
    new_run = status.get_attribute("data-run")
    _wait_ready(d, new_run)
    run = httpx.get(f"{live.url}/runs/{new_run}", headers=h).json()
    assert (run["status"], run["provinces"], run["overrides"]) == ("succeeded", ["04"], ["tight"])
    assert _state(d, "s.layers.units.getLayers().length") == len(live.table(new_run, "units"))

    two = live.runs[1]
    Select(d.find_element("id", "compare-a")).select_by_value(two)
    Select(d.find_element("id", "compare-b")).select_by_value(new_run)
    d.find_element("id", "compare-button").click()
    _wait_for(d, lambda d: d.find_element("id", "compare-result").get_attribute("data-state")
              == "ready")
    assert d.find_element("id", "compare-warning").is_displayed()
    row = d.find_element("css selector", '#compare-table tr[data-kpi="units"]')
    cells = row.find_elements("css selector", "td")
    difference = live.kpi(new_run, "units") - live.kpi(two, "units")
    assert float(row.get_attribute("data-difference")) == difference < 0
    assert cells[4].text == "−" + f"{-difference:.0f}"
    assert cells[0].text == httpx.get(live.url + "/i18n").json()["kpis"]["units"]

    Select(d.find_element("id", "compare-a")).select_by_value(live.runs[0])
    Select(d.find_element("id", "compare-b")).select_by_value(two)
    d.find_element("id", "compare-button").click()
    _wait_for(d, lambda d: d.find_element("id", "compare-result").get_attribute("data-state")
              == "ready" and not d.find_element("id", "compare-warning").is_displayed())
    body = httpx.get(live.url + "/compare", params={"runs": f"{live.runs[0]},{two}"},
                     headers=h).json()
    assert body["decisions_changed_total"] > 0
    _wait_for(d, lambda d: len(d.find_elements("css selector", "#compare-changes li"))
              == len(body["decisions_changed"]))
    spend = d.find_element("css selector", '#compare-table tr[data-kpi="renovation_spend_vnd"]')
    assert float(spend.get_attribute("data-difference")) == pytest.approx(
        live.kpi(two, "renovation_spend_vnd") - live.kpi(live.runs[0], "renovation_spend_vnd"))
    d.save_screenshot(str(ARTIFACTS / "dashboard-compare.png"))
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_dashboard_admin_creates_and_revokes_a_key(live, browser):
    from selenium.webdriver.support.ui import Select

    d = browser
    _use_key(d, live, "admin")
    _open_panels(d)
    _wait_for(d, lambda d: d.find_elements("css selector", "#keys-table tbody tr"))
    Select(d.find_element("id", "keys-role")).select_by_value("viewer")
    Select(d.find_element("id", "keys-province")).select_by_value("68")
    d.find_element("id", "keys-name").send_keys("phong-tai-chinh")
    d.find_element("id", "keys-create").click()
    _wait_for(d, lambda d: d.find_element("id", "keys-secret").is_displayed())
    secret = d.find_element("id", "keys-secret-value").text
    key_id = d.find_element("id", "keys-secret").get_attribute("data-key")
    assert secret.startswith("ap_")
    h = {"X-API-Key": secret}
    assert httpx.get(live.url + "/keys/me", headers=h).json()["province_code"] == "68"
    row = f'#keys-table tr[data-key="{key_id}"]'
    _wait_for(d, lambda d: d.find_elements("css selector", row))
    assert secret not in d.execute_script(  # only its prefix is listed
        "return document.querySelector(arguments[0]).innerText", row)
    d.execute_script("document.querySelector(arguments[0]).click()", row + " .key-revoke")
    # Read in one script: the list is drawn again after each change.
    _wait_for(d, lambda d: d.execute_script(
        "const r = document.querySelector(arguments[0]); return r && r.dataset.revoked;",
        row) == "true")
    assert not d.find_element("id", "keys-secret").is_displayed()
    assert httpx.get(live.url + "/runs", headers=h).status_code == 401
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
