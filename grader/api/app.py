"""``create_app(settings, redis_url)``: the FastAPI application (A1: a list of routers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

import grader
from grader.api import pages
from grader.api.deps import Services
from grader.api.routes import assignments, health, submissions
from grader.config import Settings, get_settings
from grader.engine.manifest import load_manifest
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery


def _thread_pool(size: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Size the pool that runs the sync routes and dependencies. A Python process works on one request
    at a time anyway (the GIL); many threads only take it from each other, so a few requests finish
    sooner while the rest wait in order (bench/burst.py: upload p99)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = size
        yield

    return lifespan


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    """Build the API on ``redis_url``; manifests are read once (the API never loads check code)."""
    manifests = {}
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        manifest = load_manifest(path)
        manifests[manifest.id] = manifest
    app = FastAPI(title="grader", version=grader.__version__, description="Autograder for ML course assignments.",
                  lifespan=_thread_pool(settings.api_threads))  # fmt: skip
    app.state.services = Services(settings, Store(connect(redis_url)), make_celery(settings, redis_url), manifests)
    app.include_router(health.router)
    app.include_router(health.router, prefix="/api/v1")
    app.include_router(assignments.router, prefix="/api/v1")
    app.include_router(submissions.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app


def app_from_environment() -> FastAPI:
    """``create_app`` on the environment's settings: the factory each of several API processes imports."""
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")  # `grader api` checked it before starting its processes
    return create_app(settings, settings.redis_url)
