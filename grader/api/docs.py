"""``/docs`` and ``/redoc`` from the installed ``fastapi-offline`` package's copy of their assets (no CDN),
and an access-log filter that keeps tokens out of the log."""

from __future__ import annotations

import logging
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def assets_dir() -> Path:
    """Swagger UI's and ReDoc's JavaScript and CSS as the ``fastapi-offline`` wheel ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def add_docs(app: FastAPI) -> None:
    """Serve the OpenAPI pages (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
        )


# ``?token=`` (and any other secret-looking query field) in a request line is replaced before uvicorn
# writes it: the API still accepts a token in the URL, and the log must not become a list of them.
_SECRET_FIELD = re.compile(r"((?:^|[?&;])(?:token|link|session|csrf)=)[^&;\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_FIELD.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """uvicorn's access-log records carry the path with its query as an argument; redact it there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_access_log() -> None:
    """Install ``RedactTokens`` on uvicorn's access logger once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
