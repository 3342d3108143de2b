"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from grader.api.deps import ServicesDep
from grader.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(services: ServicesDep, response: Response) -> Health:
    """200 when Redis answers; 503 otherwise."""
    try:
        ok = services.store.ping()
    except Exception:  # noqa: BLE001 - any failure to reach Redis means "not ready"
        ok = False
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if ok else "unavailable", redis=ok, assignments=len(services.manifests))
