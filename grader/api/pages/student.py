"""An assignment's page (what to submit, the upload form, one's own history) and the page upload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from grader.api.deps import ServicesDep, find_manifest
from grader.api.pages.session import check_csrf, signed_in
from grader.api.pages.templating import html_errors, render
from grader.api.routes.assignments import assignment_public
from grader.api.routes.submissions import accept_upload
from grader.store.records import Role, Token

router = APIRouter(tags=["pages"], include_in_schema=False)


def _assignment_page(
    request: Request, services: ServicesDep, user: Token, assignment_id: str, *, error: str = "", status_code: int = 200
) -> Response:
    manifest = find_manifest(assignment_id, services)
    info = assignment_public(manifest)
    on_roster = user.role != Role.student or services.store.on_roster(manifest.id, user.subject)
    history = services.store.submissions(manifest.id, user.subject)
    return render(
        request,
        "assignment.html",
        user,
        status_code,
        assignment=info,
        on_roster=on_roster,
        history=history,
        max_bytes=services.settings.upload_max_bytes,
        error=error,
    )


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
@html_errors
def assignment_page(assignment_id: str, request: Request, services: ServicesDep) -> Response:
    """Title, due date, points and expected files; the upload form; the caller's own submissions."""
    return _assignment_page(request, services, signed_in(request, services), assignment_id)


@router.post("/assignments/{assignment_id}/upload")
async def upload_page(
    assignment_id: str,
    request: Request,
    services: ServicesDep,
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The API's upload (same checks: roster, open, rate limit, size, zip sanity) for a signed-in page.

    Answers JSON to the page's script (``Accept: application/json``) and redirects a plain form post.
    The session lookup, the upload itself and the page with an error use the blocking store, so they run
    in the thread pool.
    """
    user = await run_in_threadpool(signed_in, request, services)
    check_csrf(request, csrf or request.headers.get("x-csrf-token"))
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        accepted = await run_in_threadpool(accept_upload, services, find_manifest(assignment_id, services), user, file)
    except HTTPException as exc:
        if wants_json or exc.status_code == status.HTTP_404_NOT_FOUND:
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        error, code = str(exc.detail), exc.status_code
        return await run_in_threadpool(
            lambda: _assignment_page(request, services, user, assignment_id, error=error, status_code=code)
        )
    url = f"/submissions/{accepted.id}"
    if wants_json:
        return JSONResponse({"id": accepted.id, "url": url, "late": accepted.late}, status.HTTP_202_ACCEPTED)
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)
