"""``create_app(settings, redis_url)``: the FastAPI application (A1: a list of routers)."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import grader
from grader.api import pages
from grader.api.deps import Services
from grader.api.docs import add_docs, redact_access_log
from grader.api.routes import assignments, audit, course, grading, health, regrade_requests, reports, submissions
from grader.config import Settings, get_settings
from grader.models.manifest import load_manifest
from grader.store.blobs import BlobStore
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery

log = logging.getLogger(__name__)


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    """Build the API on ``redis_url``; manifests are read once (the API never loads check code)."""
    manifests = {}
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        manifest = load_manifest(path)
        manifests[manifest.id] = manifest
    app = FastAPI(
        title="grader",
        version=grader.__version__,
        description="Autograder for ML course assignments.",
        docs_url=None,
        redoc_url=None,
    )
    add_docs(app)
    redact_access_log()
    app.state.services = Services(
        settings, Store(connect(redis_url)), make_celery(settings, redis_url), manifests, BlobStore(settings.blobs)
    )
    app.add_exception_handler(redis.RedisError, _redis_unavailable)
    app.add_exception_handler(RequestValidationError, _no_file_or_invalid)
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
    # (an upload's record is one transaction, written before its task is sent), so the caller can simply try again.
    log.warning("Redis unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": _REDIS_DOWN}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})


async def _no_file_or_invalid(request: Request, exc: Exception) -> JSONResponse:
    # An upload form without its file is the one validation error people make by hand (curl -F, a script):
    # it is told how to send the file; every other validation error keeps FastAPI's own answer.
    assert isinstance(exc, RequestValidationError)
    if any(tuple(error["loc"]) == ("body", "file") for error in exc.errors()):
        return JSONResponse({"detail": submissions.NO_FILE}, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return await request_validation_exception_handler(request, exc)


def app_from_environment() -> FastAPI:
    """``create_app`` on the environment's settings: the factory each of several API processes imports."""
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")  # `grader api` checked it before starting its processes
    return create_app(settings, settings.redis_url)
