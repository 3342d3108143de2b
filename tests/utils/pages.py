"""The page tests' harness: the real app on a real Redis, and clients signed in as the pages sign people in."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi.testclient import TestClient

from grader.api.app import create_app
from grader.api.deps import Services
from grader.store.sessions import open_session
from grader.store.tokens import digest
from tests.utils.builders import settings_for, traversable_dir
from tests.utils.service import RedisServer, suites_dir


@dataclass
class PageApp:
    """The app under test, its services, the tokens a test issued (by name) and the clients it opened."""

    services: Services
    app: object
    tokens: dict[str, str] = field(default_factory=dict)
    opened: list[TestClient] = field(default_factory=list)

    def client(self, who: str | None = None, bearer: bool = False) -> TestClient:
        """A client of the app; signed in as ``who`` by a server-side session (as signing in opens one), or by
        their token in the Authorization header when ``bearer``."""
        client = TestClient(self.app, base_url="http://testserver", follow_redirects=False)  # type: ignore[arg-type]
        # Entered, as a server runs the app: its start-up and shutdown run, and its requests share one event loop.
        client.__enter__()
        self.opened.append(client)
        if who and bearer:
            client.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        elif who:
            client.cookies.set("grader_session", open_session(self.services.store, digest(self.tokens[who]), 3600))
        return client


P = TypeVar("P", bound=PageApp)


@contextmanager
def page_app(prefix: str, kind: type[P], **settings: object) -> Iterator[P]:
    """``kind`` (a PageApp) over the app with the test suites, on a fresh Redis; everything closed afterwards."""
    root = traversable_dir(prefix)
    redis = RedisServer(root).start()
    try:
        app = create_app(settings_for(root / "data", suites_dir=suites_dir(root), **settings), redis.url)
        pages = kind(app.state.services, app)
        try:
            yield pages
        finally:
            for client in pages.opened:
                client.__exit__(None, None, None)
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)


def csrf_of(html: str) -> str:
    """The CSRF token of the page's forms."""
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)
