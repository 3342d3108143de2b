"""``grader serve`` (everything on one machine), ``grader api`` and ``grader worker`` (the parts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from grader.cli import app
from grader.cli.grading import load_settings
from grader.config import Settings, child_environment
from grader.folders import BOTH, Part, prepare_folders
from grader.store.redis_server import EmbeddedRedis

console = Console(stderr=True)


@contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """``REDIS_URL`` if set; otherwise the embedded server (started, or joined if already running)."""
    if settings.redis_url:
        yield settings.redis_url
        return
    embedded = EmbeddedRedis(settings.data_dir / "redis")
    try:
        yield embedded.url
    finally:
        embedded.shutdown()


def _require_redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        console.print("[red]error:[/red] set REDIS_URL (or use `grader serve`, which starts an embedded Redis)")
        raise typer.Exit(2)
    return settings.redis_url


def _build_environments(settings: Settings) -> None:
    """Build the installed suites' students' environments that are missing (once; cached by their hash). A
    failure (no network) is said here and on every check of that suite, never as a student's failure."""
    from grader.cli.environments import build_all
    from grader.engine.suites import discover
    from grader.errors import GraderError
    from grader.models.manifest import load_manifest

    try:
        manifests = [load_manifest(path / "suite.toml") for path in discover(settings.suites_dir).values()]
    except GraderError as exc:
        console.print(f"[red]error:[/red] {exc.student_message}")
        return
    if build_all(settings, manifests, console):
        console.print("grader: those assignments' checks will not run on this worker until `grader env build` succeeds")


def _require_folders(settings: Settings, parts: tuple[Part, ...]) -> None:
    """Refuse to start (exit 2) when a part could not use its folders: a service that accepted uploads
    and then failed every grading would look healthy (grader/folders.py)."""
    problems = prepare_folders(settings, parts)
    for problem in problems:
        console.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)  # paths stay whole
    if problems:
        raise typer.Exit(2)


@app.command("api")
def api_command(
    host: Annotated[str | None, typer.Option(help="Listen address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from settings).")] = None,
) -> None:
    """Run the HTTP API under uvicorn against REDIS_URL (GRADER_API_PROCESSES processes on one port)."""
    import uvicorn

    from grader.api.app import create_app
    from grader.store.blobs import BlobStore

    settings = load_settings()
    url = _require_redis_url(settings)
    _require_folders(settings, ("api",))
    # A process killed mid-upload leaves a temp file behind (never a blob, never a record). Cleared here,
    # once, before any process takes uploads: uvicorn restarts a dead worker beside live ones.
    BlobStore(settings.blobs).remove_partial()
    host, port = host or settings.api_host, port or settings.api_port
    if settings.api_processes == 1:
        uvicorn.run(create_app(settings, url), host=host, port=port, log_level="info")
    else:
        # Each process builds its own app (connections must not cross a fork), from the same environment.
        uvicorn.run(
            "grader.api.app:app_from_environment",
            factory=True,
            workers=settings.api_processes,
            host=host,
            port=port,
            log_level="info",
        )


@app.command("worker")
def worker_command(
    queues: Annotated[str | None, typer.Option(help="Comma-separated queues, e.g. cpu,gpu.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Grading jobs at once.")] = None,
) -> None:
    """Run a Celery worker that grades submissions from REDIS_URL's queues."""
    from grader.sandbox.agent.autogroup import share_niceness_with_session
    from grader.store.redis_server import connect
    from grader.store.submissions import Store
    from grader.worker.celery_app import accept_root_knowingly, make_celery
    from grader.worker.janitor import start_janitor
    from grader.worker.tasks import register_tasks

    settings = load_settings()
    url = _require_redis_url(settings)
    _require_folders(settings, ("worker",))
    _build_environments(settings)
    # Grading is throughput work; uploads and status pages are latency work. On one machine the API must
    # not queue behind sandboxes for the CPU (bench/burst.py measures upload latency during a burst), so
    # grading yields to it; GRADER_WORKER_NICE=0 keeps the old behaviour.
    os.nice(settings.worker_nice)
    share_niceness_with_session()
    if os.geteuid() == 0:
        accept_root_knowingly()
        console.print("grader: the worker runs as root so that each sandbox gets a private uid (docs/DEPLOY.md)")
    celery = make_celery(settings, url)
    register_tasks(celery, settings, url)
    # In the main process only: the pool's children are forked from it and do not inherit threads.
    names = queues or settings.worker_queues
    start_janitor(settings, Store(connect(url)), celery, [q.strip() for q in names.split(",") if q.strip()])
    celery.worker_main(
        [
            "worker",
            "--queues",
            names,
            "--concurrency",
            str(concurrency or settings.worker_concurrency),
            "--hostname",
            f"grader-{names.replace(',', '-')}-{os.getpid()}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _stop(children: list[subprocess.Popen[bytes]], grace_seconds: float = 15) -> None:
    """SIGTERM every child's process group, then SIGKILL what is left after the grace period."""
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _warm_pool_default(settings: Settings, processes: int) -> dict[str, str]:
    """GRADER_WARM_POOL for the workers, sized from this machine, unless the operator set one (0 = off)."""
    import json

    from grader.worker.sizing import machine_warm_pool

    if "warm_pool" in settings.model_fields_set:
        return {}
    sizes = machine_warm_pool(settings.queues, processes)
    console.print(f"grader: warm pool per grading process {sizes} (sized from this machine; GRADER_WARM_POOL sets it)")
    return {"GRADER_WARM_POOL": json.dumps(sizes)}


@app.command("serve")
def serve_command(
    port: Annotated[int | None, typer.Option(help="API port (default from settings).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Grading jobs at once in the worker.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes to start (each with its own concurrency).")] = 1,
) -> None:
    """Run the whole service on this machine: Redis (embedded unless REDIS_URL), workers and the API."""
    settings = load_settings()
    _require_folders(settings, BOTH)  # before anything starts: the parts would each refuse on their own
    _build_environments(settings)  # once, before the workers start (each would otherwise build the same)
    with redis_url_for(settings) as url:
        env = child_environment(
            REDIS_URL=url, **_warm_pool_default(settings, workers * (concurrency or settings.worker_concurrency))
        )
        base = [sys.executable, "-m", "grader"]
        worker_args = ["worker", "--queues", settings.worker_queues]
        if concurrency:
            worker_args += ["--concurrency", str(concurrency)]
        # Own process groups, so one Ctrl-C reaches us once and we stop the parts in order.
        children = [subprocess.Popen(base + worker_args, env=env, start_new_session=True) for _ in range(workers)]
        children.append(
            subprocess.Popen(base + ["api", "--port", str(port or settings.api_port)], env=env, start_new_session=True)
        )
        stopping = False

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        console.print(
            f"grader: API on http://{settings.api_host}:{port or settings.api_port}  (Ctrl-C stops everything)"
        )
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.2)
        console.print("grader: stopping")
        _stop(children)
    if not stopping:
        raise typer.Exit(1)  # a part died on its own
