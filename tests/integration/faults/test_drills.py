"""Fault drills with real processes: Redis restarted, the API killed mid-upload, the blob disk full,
a job delivered twice. Each ends with nothing lost and nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grader.config import Settings
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import TASK_GRADE, make_celery
from tests.utils.builders import visibility_zip, zip_of
from tests.utils.service import (
    GRADER,
    RedisServer,
    free_port,
    service_env,
    service_parts,
    spawn,
    stop,
    wait_healthy,
    wait_state,
)

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]


def upload(c: httpx.Client, data: bytes) -> httpx.Response:
    return c.post("/api/v1/assignments/visibility/submissions", files={"file": ("s.zip", data, "application/zip")})


def test_redis_restart_keeps_everything(workspace: Path) -> None:
    redis = RedisServer(workspace).start()
    try:
        with service_parts(workspace, redis.url) as parts, parts.client() as c:
            first = wait_state(c, upload(c, visibility_zip()).json()["id"])
            redis.stop()
            assert c.get("/healthz").status_code == 503  # says so, and does not crash
            refused = upload(c, visibility_zip())  # an upload meanwhile is refused clearly, and leaves nothing
            assert refused.status_code == 503 and "nothing was recorded" in refused.json()["detail"], refused.text
            redis.start()
            wait_healthy(parts.url, parts.api)
            assert c.get(f"/api/v1/submissions/{first['id']}").json() == first  # kept by the append-only file
            second = wait_state(c, upload(c, visibility_zip()).json()["id"], timeout=180)  # the worker reconnected
            listed = c.get("/api/v1/assignments/visibility/submissions").json()["submissions"]
            assert sorted(s["id"] for s in listed) == sorted([first["id"], second["id"]])
        assert second["state"] == "done" and second["report"]["score"] == 4
    finally:
        redis.stop()


def test_api_killed_during_an_upload_leaves_nothing_half_written(workspace: Path) -> None:
    redis = RedisServer(workspace).start()
    blobs = workspace / "var" / "blobs"
    try:
        with service_parts(workspace, redis.url) as parts:

            def body() -> Iterator[bytes]:
                yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\nContent-Type: application/zip\r\n\r\n'
                for i in range(40):
                    yield b"\0" * 256 * 1024
                    time.sleep(0.05)
                    if i == 10:
                        stop(parts.api, signal.SIGKILL)  # mid-upload
                yield b"\r\n--xyz--\r\n"

            headers = {"Authorization": f"Bearer {parts.token}", "Content-Type": "multipart/form-data; boundary=xyz"}
            with pytest.raises(httpx.HTTPError):
                httpx.post(
                    f"{parts.url}/api/v1/assignments/visibility/submissions",
                    content=body(),
                    headers=headers,
                    timeout=30,
                )
            # The request body is spooled to an unlinked temp file, so the kill left nothing behind; a kill
            # while the blob itself is being written leaves a '.upload-*' file, which start-up removes.
            assert not blobs.exists() or [p for p in blobs.rglob("*")] == []
            blobs.mkdir(parents=True, exist_ok=True)
            (blobs / ".upload-interrupted").write_bytes(b"half")
            parts.api = spawn(["api", "--port", str(parts.port)], parts.env, workspace / "api-2.log")
            wait_healthy(parts.url, parts.api)
            assert not list(blobs.glob(".upload-*"))  # the interrupted temp file was cleaned at start-up
            assert [p for p in blobs.rglob("*") if p.is_file()] == []  # no blob, so no record can point at one
            with parts.client() as c:
                assert c.get("/api/v1/assignments/visibility/submissions").json()["submissions"] == []
                assert wait_state(c, upload(c, visibility_zip()).json()["id"])["report"]["score"] == 4  # retry works
    finally:
        redis.stop()


def test_full_blob_disk_gives_a_clear_error_and_keeps_earlier_work(workspace: Path) -> None:
    # The whole service runs in a mount namespace whose blob folder is a 1 MiB tmpfs: a real ENOSPC.
    blob_dir = workspace / "smallblobs"
    blob_dir.mkdir()
    env = service_env(workspace, GRADER_BLOB_DIR=str(blob_dir))
    port = free_port()
    with (workspace / "serve.log").open("ab") as log:
        serve = subprocess.Popen(
            [
                "bwrap",
                "--dev-bind",
                "/",
                "/",
                "--size",
                str(2**20),
                "--tmpfs",
                str(blob_dir),
                "--",
                GRADER,
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, serve)
        out = subprocess.run(
            [GRADER, "token", "create", "--role", "ta"], env=env, capture_output=True, text=True, timeout=120
        )
        token = out.stdout.strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            first = wait_state(c, upload(c, visibility_zip()).json()["id"])
            # A sound zip (it is checked before it is stored) that cannot fit: 3 MiB deflate cannot shrink.
            big = zip_of({"good.py": "def add(a, b):\n    return a + b\n", "data.bin": os.urandom(3 * 2**20)})
            r = c.post(
                "/api/v1/assignments/visibility/submissions", files={"file": ("big.zip", big, "application/zip")}
            )
            assert r.status_code == 507, r.text
            assert (
                r.json()["detail"] == "The server's storage is full; your upload was not saved. Please try again later."
            )
            inside = Path(f"/proc/{serve.pid}/root") / str(blob_dir).lstrip("/")
            assert not list(inside.glob(".upload-*"))  # nothing half-written
            listing = c.get("/api/v1/assignments/visibility/submissions").json()["submissions"]
            assert [s["id"] for s in listing] == [first["id"]]  # nothing lost, nothing half-recorded
            assert c.get(f"/api/v1/submissions/{first['id']}").json()["report"]["score"] == 4
    finally:
        stop(serve, signal.SIGINT)


def test_duplicate_delivery_grades_once(workspace: Path) -> None:
    redis = RedisServer(workspace).start()
    try:
        with service_parts(workspace, redis.url, GRADER_WORKER_CONCURRENCY="2") as parts, parts.client() as c:
            store = Store(connect(redis.url))
            sub_id = upload(c, visibility_zip(pause_seconds=4)).json()["id"]
            run_id = store.get(sub_id).run_id  # type: ignore[union-attr]
            # The broker hands the same job out a second time while the first is being graded.
            make_celery(Settings(env="test"), redis.url).send_task(TASK_GRADE, args=[sub_id, run_id], queue="cpu")
            body = wait_state(c, sub_id, timeout=180)
            assert body["state"] == "done" and body["report"]["score"] == 4
            assert body["attempts"] == 1  # graded once; the duplicate found the run locked, then finished
            # one report, and one version of it (a duplicate run would have added a second)
            assert sorted(store.r.keys(f"grader:report:{sub_id}*")) == [
                f"grader:report:{sub_id}",
                f"grader:report:{sub_id}:versions",
            ]
            assert store.r.llen(f"grader:report:{sub_id}:versions") == 1
            deadline = time.monotonic() + 60
            while "already finished" not in (workspace / "worker.log").read_text():
                assert time.monotonic() < deadline, "the duplicate delivery was never seen to be a no-op"
                time.sleep(0.5)
    finally:
        redis.stop()
