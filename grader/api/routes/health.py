"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from grader.api.deps import ServicesDep
from grader.api.schemas import Health
from grader.folders import Part, folder_problems

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(services: ServicesDep, response: Response) -> Health:
    """200 when Redis answers and the folders can be used; 503 otherwise (``details.folders`` says why)."""
    try:
        ok = services.store.ping()
    except Exception:  # noqa: BLE001 - any failure to reach Redis means "not ready"
        ok = False
    settings = services.settings
    # The worker's folders too when its scratch space is on this machine (``grader serve``, a shared data
    # volume): uploads are accepted here, so a worker that cannot grade them is this service's problem.
    parts: tuple[Part, ...] = ("api", "worker") if settings.scratch_dir.is_dir() else ("api",)
    problems = folder_problems(settings, parts)
    if not ok or problems:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if ok and not problems else "unavailable",
        redis=ok,
        assignments=len(services.manifests),
        details={"folders": problems} if problems else {},
    )
