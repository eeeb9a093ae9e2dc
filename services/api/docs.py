"""``/docs`` (Swagger UI) and ``/redoc`` served from files installed with the API, not from a CDN:
the interactive docs work on a machine without internet access (the ``fastapi-offline`` package
carries the JavaScript and CSS). ReDoc's script names one remote image, its logo on Redocly's CDN;
the copy served here points it at a local image instead, and both pages carry a Content Security
Policy that allows nothing but the API's own origin."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
REDOC_REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
    "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; connect-src 'self'"
)
"""The pages may load only what the API serves (ReDoc would fetch its logo from its CDN otherwise)."""


def install(app: FastAPI, title: str) -> None:
    """Mount the assets and the two pages (the app is built with ``docs_url=None, redoc_url=None``)."""
    assets = files("fastapi_offline") / "static"
    redoc_script = (assets / "redoc.standalone.js").read_text(encoding="utf-8")
    redoc_script = redoc_script.replace(REDOC_REMOTE_LOGO, f"{ASSETS_PATH}/favicon.png")

    @app.get(f"{ASSETS_PATH}/redoc-local.js", include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(redoc_script, media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})

    app.mount(ASSETS_PATH, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=f"{title}: API docs",
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url="/openapi.json",
                title=f"{title}: API reference",
                redoc_js_url=f"{ASSETS_PATH}/redoc-local.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page
