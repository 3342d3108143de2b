"""One submission's page: live progress while it is graded, then its report (filtered for students)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from grader.api.deps import Services, ServicesDep
from grader.api.pages.session import csrf_for, session_token, signed_in
from grader.api.pages.templating import SECURITY_HEADERS, render, templates, when
from grader.api.routes.submissions import get_submission
from grader.api.schemas import SubmissionPublic
from grader.store.records import Role, SubmissionState, Token

router = APIRouter(tags=["pages"], include_in_schema=False)

FINISHED = (SubmissionState.done, SubmissionState.error)


def progress_view(services: Services, public: SubmissionPublic, user: Token) -> dict[str, Any]:
    """Queue position, checks done/total and the current check (the API names a hidden one to students
    only as "a hidden check")."""
    return {"state": public.state.value, "done": public.progress.done, "total": public.progress.total,
            "current": public.progress.current, "queue_position": public.progress.queue_position}  # fmt: skip


def _context(services: Services, user: Token, public: SubmissionPublic) -> dict[str, Any]:
    staff = user.role != Role.student
    record = services.store.get(public.id) if staff else None
    return {"sub": public, "staff": staff, "submitter_role": record.role.value if record else "",
            "can_regrade": user.role == Role.ta, "report": public.report,
            "progress": progress_view(services, public, user), "finished": public.state in FINISHED}  # fmt: skip


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(submission_id: str, request: Request, services: ServicesDep) -> Response:
    """State and progress, then the report: every check for staff, the released ones for its student.

    Another student's submission answers 404, like a missing one (the API's rule, reused).
    """
    user = signed_in(request, services)
    try:
        public = get_submission(submission_id, services, user)
    except HTTPException as exc:
        return render(request, "error.html", user, exc.status_code, message=str(exc.detail))
    return render(request, "submission.html", user, **_context(services, user, public))


@router.get("/submissions/{submission_id}/status")
def submission_status(submission_id: str, request: Request, services: ServicesDep) -> Response:
    """What the page polls: progress, and once grading has finished the rendered result to show."""
    user = signed_in(request, services)
    public = get_submission(submission_id, services, user)
    context = _context(services, user, public)
    stamps = {"started": when(public.timestamps.started), "finished": when(public.timestamps.finished)}
    body: dict[str, Any] = {"progress": context["progress"], "finished": context["finished"], "html": None,
                            "timestamps": stamps}  # fmt: skip
    if context["finished"]:
        body["html"] = templates.env.get_template("_result.html").render(
            request=request, user=user, csrf=csrf_for(session_token(request)), **context
        )
    return JSONResponse(body, headers=SECURITY_HEADERS)
