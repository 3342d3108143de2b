"""One submission's page: live progress while it is graded, then its report (filtered for students), the
student's grade with the TA's comments, and its student's regrade requests with the TA's answers (the form
posts to the API's own ``ask``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.api.deps import Services, ServicesDep
from grader.api.pages.session import check_csrf, csrf_for, session_token, signed_in
from grader.api.pages.student_grade import grade_view
from grader.api.pages.templating import SECURITY_HEADERS, html_errors, render, templates, when
from grader.api.routes.regrade_requests import RegradeRequestIn, ask
from grader.api.routes.submissions import get_submission
from grader.api.schemas import ReportPublic, SubmissionPublic
from grader.store.records import Role, SubmissionState, Token
from grader.store.regrades import RegradeRequest, RegradeRequests, RequestState

router = APIRouter(tags=["pages"], include_in_schema=False)

FINISHED = (SubmissionState.done, SubmissionState.error)


def progress_view(services: Services, public: SubmissionPublic, user: Token) -> dict[str, Any]:
    """Queue position, checks done/total and the current check (the API names a hidden one to students
    only as "a hidden check")."""
    return {
        "state": public.state.value,
        "done": public.progress.done,
        "total": public.progress.total,
        "current": public.progress.current,
        "queue_position": public.progress.queue_position,
    }


# What a student reads for each state of their request.
STATE_LABELS = {
    RequestState.open: "waiting for a TA's answer",
    RequestState.rerun: "graded again",
    RequestState.adjusted: "score adjusted",
    RequestState.declined: "declined",
}


def _request_view(req: RegradeRequest) -> dict[str, Any]:
    return {"req": req, "label": STATE_LABELS[req.state], "by": req.resolved_by.partition(":")[2] or req.resolved_by}


def regrade_view(
    services: Services, user: Token, public: SubmissionPublic, *, error: str = "", message: str = "", check: str = ""
) -> dict[str, Any]:
    """The submission's requests with their answers, and whether its student may ask now: their report is
    graded and no request of theirs is open (``ask`` enforces both again)."""
    requests = RegradeRequests(services.store).of_submission(public.id)
    is_open = any(q.state == RequestState.open for q in requests)
    can_ask = user.role == Role.student and isinstance(public.report, ReportPublic) and not is_open
    return {
        "requests": [_request_view(q) for q in requests],
        "can_ask": can_ask,
        "is_open": is_open,
        "shown": bool(requests or can_ask or error),
        "error": error,
        "message": message,
        "check": check,
    }


def _context(services: Services, user: Token, public: SubmissionPublic, **regrade: str) -> dict[str, Any]:
    staff = user.role != Role.student
    record = services.store.get(public.id) if staff else None
    finished = public.state in FINISHED
    return {
        "sub": public,
        "staff": staff,
        "submitter_role": record.role.value if record else "",
        "can_regrade": user.role == Role.ta,
        "report": public.report,
        "progress": progress_view(services, public, user),
        "finished": finished,
        "grade": grade_view(services, user, public.id) if finished else None,
        "regrade": regrade_view(services, user, public, **regrade),
    }


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
    body: dict[str, Any] = {
        "progress": context["progress"],
        "finished": context["finished"],
        "html": None,
        "timestamps": stamps,
    }
    if context["finished"]:
        body["html"] = templates.env.get_template("_result.html").render(
            request=request, user=user, csrf=csrf_for(session_token(request)), **context
        )
    return JSONResponse(body, headers=SECURITY_HEADERS)


@router.post("/submissions/{submission_id}/regrade-request")
@html_errors
def regrade_request_form(
    submission_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    check: Annotated[str, Form()] = "",
) -> Response:
    """The student asks for a regrade through the API's ``ask`` (their own graded submission, one open request,
    a check their report shows), then back to the page, which lists the request; a refusal is shown in the form."""
    user = signed_in(request, services)
    check_csrf(request, csrf)
    message, check = message.strip(), check.strip()
    try:
        if not message:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Write what you think was graded wrong, and why")
        try:
            body = RegradeRequestIn.model_validate({"message": message, "check": check})
        except ValidationError as exc:
            why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, why) from None
        ask(submission_id, body, services, user)
    except HTTPException as exc:
        if exc.status_code in (status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND):
            raise  # not theirs to ask about: the error page
        public = get_submission(submission_id, services, user)
        if public.state not in FINISHED:
            raise  # its page shows progress, not the form: the error page
        context = _context(services, user, public, error=str(exc.detail), message=message, check=check)
        return render(request, "submission.html", user, exc.status_code, **context)
    return RedirectResponse(f"/submissions/{submission_id}#regrade", status.HTTP_303_SEE_OTHER)
