"""Server-rendered pages for students and TAs (Jinja2 templates, a little vanilla JavaScript).

The pages sit beside the JSON API and call the same route functions, so every rule (roster, rate limit,
visibility filtering, TA-only actions) is enforced once, on the server.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from grader.api.pages import account, course, manage, staff, student, submission
from grader.api.pages.templating import STATIC_DIR

router = APIRouter()
for _module in (account, student, submission, staff, course, manage):
    router.include_router(_module.router)


def static_files() -> StaticFiles:
    """The pages' CSS and JavaScript, mounted at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)
