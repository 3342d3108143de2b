"""``create_app(settings, redis_url)``: the FastAPI application (A1: a list of routers)."""

from __future__ import annotations

from fastapi import FastAPI

import grader
from grader.api import pages
from grader.api.deps import Services
from grader.api.routes import assignments, health, submissions
from grader.config import Settings
from grader.engine.manifest import load_manifest
from grader.store.blobs import BlobStore
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    """Build the API on ``redis_url``; manifests are read once (the API never loads check code)."""
    manifests = {}
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        manifest = load_manifest(path)
        manifests[manifest.id] = manifest
    # An API process killed mid-upload leaves a temp file behind (never a blob, never a record).
    BlobStore(settings.blobs).remove_partial()
    app = FastAPI(title="grader", version=grader.__version__, description="Autograder for ML course assignments.")
    app.state.services = Services(settings, Store(connect(redis_url)), make_celery(settings, redis_url), manifests)
    app.include_router(health.router)
    app.include_router(health.router, prefix="/api/v1")
    app.include_router(assignments.router, prefix="/api/v1")
    app.include_router(submissions.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
