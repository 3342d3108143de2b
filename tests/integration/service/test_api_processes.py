"""``grader api`` as one process or several on one port (GRADER_API_PROCESSES): it takes uploads either
way, several at once, and every process stops with it."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.utils.builders import visibility_zip
from tests.utils.service import RedisServer, service_parts

pytestmark = [pytest.mark.service, pytest.mark.bwrap]


def _group(pgid: int) -> list[str]:
    """Command lines of the live processes (not zombies waiting to be reaped) in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
                if os.getpgid(int(entry.name)) == pgid and state != "Z":
                    found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, ProcessLookupError, IndexError):
                continue
    return found


@pytest.mark.parametrize("processes", [1, 3])
def test_the_api_serves_uploads_from_every_configuration_and_stops_whole(workspace: Path, processes: int) -> None:
    redis = RedisServer(workspace).start()
    try:
        with service_parts(workspace, redis.url, GRADER_API_PROCESSES=str(processes)) as parts:
            servers = [c for c in _group(parts.api.pid) if "multiprocessing.spawn" in c]
            assert len(servers) == (processes if processes > 1 else 0)  # one process serves in place

            def send(_: int) -> int:
                with parts.client() as c:  # a connection each, as different students' browsers
                    files = {"file": ("s.zip", visibility_zip(), "application/zip")}
                    return c.post("/api/v1/assignments/visibility/submissions", files=files).status_code

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(send, range(24))) == [202] * 24
            with parts.client() as c:
                listed = c.get("/api/v1/assignments/visibility/submissions").json()["submissions"]
            assert len({s["id"] for s in listed}) == 24
            group = parts.api.pid
        assert _group(group) == []  # SIGTERM to `grader api` stopped every server process
    finally:
        redis.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{parts.url}/healthz", timeout=5)
