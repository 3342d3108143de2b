"""The Jinja2 environment of the pages, and one ``render`` that adds the security headers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from grader.api.pages.ansi import ansi_to_html
from grader.api.pages.rendering import output_html
from grader.api.pages.session import csrf_for, session_token
from grader.store.records import Token

P = ParamSpec("P")

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Scripts, styles and images from our own origin only: no inline script or style can run, so even a
# sanitiser bug in rendered output could not execute code. Plots are same-origin SVG <img>s.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send "Origin: null" on our own form posts, which the CSRF check refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(value: datetime | None) -> str:
    """A timestamp as the pages show it (UTC, to the minute)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _ansi(text: str) -> Markup:
    return Markup(ansi_to_html(text))  # the converter escapes every piece of text it emits


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters.update(when=when, points=_points, size=_size, output=output_html, ansi=_ansi)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def render(request: Request, name: str, user: Token | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``name`` with the signed-in user and their CSRF token, and the pages' security headers."""
    token = session_token(request) if user else ""
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf": csrf_for(token) if token else "", **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def html_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Render a page route's HTTP errors (403, 404, 409...) as an HTML page instead of the API's JSON.

    Redirects (the 303 to the sign-in page) pass through. The route must take ``request`` by keyword.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except HTTPException as exc:
            request = kwargs.get("request")
            if exc.status_code < 400 or not isinstance(request, Request):
                raise
            return render(request, "error.html", None, exc.status_code, message=str(exc.detail))

    return wrapper
