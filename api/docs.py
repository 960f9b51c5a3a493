"""``/docs`` (Swagger UI) and ``/redoc`` served with their scripts and styles from the app
itself: they work offline and behind a firewall. The assets come from the ``fastapi-offline``
package (MIT), a registry package, not a CDN."""
from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
REDOC_JS_PATH = "/docs-redoc.js"
# ReDoc's bundle draws its maker's logo from their CDN; offline it comes from here.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets under :data:`ASSETS_PATH`."""
    assets = resources.files("fastapi_offline") / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redoc_js = (assets / "redoc.standalone.js").read_bytes().replace(
        REDOC_CDN_LOGO, f"{ASSETS_PATH}/favicon.png".encode())

    @app.get(REDOC_JS_PATH, include_in_schema=False)
    def redoc_script() -> Response:
        return Response(redoc_js, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title}: Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{app.title}: ReDoc",
                              redoc_js_url=REDOC_JS_PATH,
                              redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
                              with_google_fonts=False)
