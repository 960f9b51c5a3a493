"""The dashboard page: static files in ``api/static/`` served by the API itself.

``mount_dashboard(app)`` serves ``index.html`` at ``/`` and the other files under ``/static/``
(``StaticFiles``), so no API route is shadowed: the page is one route and one mount, both left
out of the OpenAPI document. The page draws from the API's own endpoints only (``/i18n`` for
every word, ``/runs``, ``/runs/{id}/kpis``, ``/runs/{id}/plan``, ``/provinces``, ``/communes``,
``/scenarios``, ``/compare``, ``/keys``, ``/health``); its JavaScript library
(Leaflet, from the npm registry, see ``package.json`` and ``make vendor``) ships once, in
``planner/vendor/leaflet`` (the run map inlines the same copy), and is served under
``/static/vendor/leaflet``, so nothing loads from the internet at run time. Map tiles are optional:
without a tile server the map is drawn from GeoJSON alone.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from planner.maps import VENDOR_DIR

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
ROUTE_NAME = "dashboard"

# Scripts and styles only from the server itself; data only from the API itself. Images may
# come from a tile server the user configures (any https/http origin), never scripts.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data: blob: https: http:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'self'; form-action 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def mount_dashboard(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the dashboard: ``GET /`` answers ``index.html``; ``/static/...`` the assets.

    Call it once the API routes are in place (calling it again does nothing).
    """
    if any(getattr(r, "name", None) == ROUTE_NAME for r in app.router.routes):
        return
    index = static_dir / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"dashboard page missing: {index}")

    def dashboard() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=HEADERS)

    app.add_api_route("/", dashboard, methods=["GET"], include_in_schema=False,
                      name=ROUTE_NAME, response_class=FileResponse)
    # Mounted before /static, which would otherwise answer for it.
    app.mount(f"{STATIC_PATH}/vendor/leaflet", StaticFiles(directory=VENDOR_DIR, html=False),
              name=f"{ROUTE_NAME}-leaflet")
    # html=False: /static/ is no second copy of the page (its relative links would break there).
    app.mount(STATIC_PATH, StaticFiles(directory=static_dir, html=False),
              name=f"{ROUTE_NAME}-static")
