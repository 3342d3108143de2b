"""``create_app(settings, redis_url)``: the FastAPI application (A1: a list of routers)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
import redis
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

import grader
from grader.api import pages
from grader.api.deps import Services
from grader.api.docs import add_docs, redact_access_log
from grader.api.routes import assignments, audit, course, grading, health, regrade_requests, reports, submissions
from grader.config import Settings, get_settings
from grader.engine.manifest import load_manifest
from grader.store.blobs import BlobStore
from grader.store.redis_server import connect, connect_async
from grader.store.submissions import Store
from grader.store.uploads import UploadStore
from grader.worker.celery_app import make_celery

log = logging.getLogger(__name__)


def _lifespan(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up tuning of each API process for a deadline's uploads (bench/burst.py: upload p99)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The pool that runs sync routes and dependencies. A Python process works on one request at a
        # time anyway (the GIL); many threads only take it from each other, so a few requests finish
        # sooner while the rest wait in order.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # What start-up built (routes, schemas, manifests, imported modules) lives as long as the process;
        # frozen, it is no longer rescanned by every full collection, which otherwise stopped the process
        # for ~85 ms about once per 450 uploads.
        gc.freeze()
        try:
            await asyncio.wait_for(app.state.services.uploads.warm(connections=16), timeout=5)
        except (redis.RedisError, TimeoutError):
            log.warning("Redis did not answer at start-up; uploads will connect when it does")
        yield
        await app.state.services.uploads.close()

    return lifespan


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    """Build the API on ``redis_url``; manifests are read once (the API never loads check code)."""
    manifests = {}
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        manifest = load_manifest(path)
        manifests[manifest.id] = manifest
    app = FastAPI(title="grader", version=grader.__version__, description="Autograder for ML course assignments.",
                  lifespan=_lifespan(settings.api_threads), docs_url=None, redoc_url=None)  # fmt: skip
    add_docs(app)
    redact_access_log()
    uploads = UploadStore(lambda: connect_async(redis_url))
    app.state.services = Services(settings, Store(connect(redis_url)), make_celery(settings, redis_url), manifests, uploads,
                                  BlobStore(settings.blobs))  # fmt: skip
    app.add_exception_handler(redis.RedisError, _redis_unavailable)
    app.include_router(health.router)
    app.include_router(health.router, prefix="/api/v1")
    app.include_router(assignments.router, prefix="/api/v1")
    app.include_router(submissions.router, prefix="/api/v1")
    # a course's term: settings, manual grading, report versions, regrade requests, audit
    for router in (course.router, grading.router, reports.router, regrade_requests.router, audit.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app


_REDIS_DOWN = "The grading service's database is unavailable; nothing was recorded. Please try again in a minute."


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Every record, and the queue, is in Redis: a request it could not answer changed nothing there
    # (an upload is recorded and queued in one transaction), so the caller can simply try again.
    log.warning("Redis unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": _REDIS_DOWN}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})


def app_from_environment() -> FastAPI:
    """``create_app`` on the environment's settings: the factory each of several API processes imports."""
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")  # `grader api` checked it before starting its processes
    return create_app(settings, settings.redis_url)
