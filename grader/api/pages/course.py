"""TA pages for a course's term: an assignment's settings (with their history), extensions, the regrade
requests to answer, and the audit log. Each form calls the same store functions as the API, so every
change is validated and audited once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.api.course_schemas import SettingsPatch
from grader.api.deps import ServicesDep, find_manifest
from grader.api.pages.session import check_csrf, staff_only
from grader.api.pages.templating import html_errors, render
from grader.api.routes.assignments import assignment_public
from grader.api.routes.audit import audit_csv_text
from grader.api.routes.regrade_requests import RegradeAnswer, answer_request
from grader.course.policy import StudentException
from grader.store import audit
from grader.store.audit import actor_of
from grader.store.course import CourseStore, SettingsChange
from grader.store.regrades import RegradeRequests, RequestState

router = APIRouter(prefix="/staff", tags=["pages"], include_in_schema=False)

_DATES = ("release_at", "due", "late_due")
AUDIT_PAGE = 50


def local_input(value: datetime | None) -> str:
    """A UTC instant as a ``datetime-local`` input's value (the pages show and read dates in UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if value else ""


def _date(text: str) -> datetime | None:
    """A ``datetime-local`` value (UTC, as the page says), or None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"'{text}' is not a date and time") from None


def _invalid(exc: ValidationError) -> HTTPException:
    why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, why)


def _changes(change: SettingsChange) -> dict[str, Any]:
    """One history entry as the page lists it: when, who, and each field that changed (before, after)."""
    before, after = change.before.model_dump(mode="json"), change.after.model_dump(mode="json")
    return {"at": change.at, "by": change.by, "fields": [(k, before[k], v) for k, v in after.items() if v != before[k]]}


def _back(assignment_id: str, note: str) -> RedirectResponse:
    return RedirectResponse(f"/staff/assignments/{assignment_id}/course?done={note}", status.HTTP_303_SEE_OTHER)


@router.get("/assignments/{assignment_id}/course", response_class=HTMLResponse)
@html_errors
def course_page(assignment_id: str, request: Request, services: ServicesDep, done: str = "") -> Response:
    """Settings (with their history), extensions and open regrade requests of one assignment."""
    user = staff_only(request, services)
    manifest = find_manifest(assignment_id, services)
    course = CourseStore(services.store)
    requests = RegradeRequests(services.store).of_assignment(manifest.id)
    return render(
        request,
        "course.html",
        user,
        assignment=assignment_public(manifest),
        settings=course.settings(manifest),
        history=[_changes(h) for h in reversed(course.settings_history(manifest))],
        extensions=course.exceptions(manifest.id),
        open_requests=[q for q in requests if q.state == RequestState.open],
        answered=[q for q in reversed(requests) if q.state != RequestState.open][:20],
        local=local_input,
        done=done,
    )


@router.post("/assignments/{assignment_id}/settings")
@html_errors
def settings_form(
    assignment_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    release_at: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    late_due: Annotated[str, Form()] = "",
    late_policy: Annotated[str, Form()] = "none",
    late_percent: Annotated[str, Form()] = "0",
    counting: Annotated[str, Form()] = "latest",
    max_submissions: Annotated[str, Form()] = "",
    published: Annotated[str, Form()] = "",
) -> Response:
    """Save the settings form: only the fields that changed are applied (one history entry, one audit entry)."""
    user = staff_only(request, services)
    check_csrf(request, csrf)
    manifest = find_manifest(assignment_id, services)
    course = CourseStore(services.store)
    form: dict[str, Any] = {
        "release_at": _date(release_at),
        "due": _date(due),
        "late_due": _date(late_due),
        "late_policy": late_policy,
        "late_percent": late_percent or "0",
        "counting": counting,
        "max_submissions": max_submissions.strip() or None,
        "published": published == "on",
    }
    try:
        wanted = SettingsPatch.model_validate(form).model_dump()
    except ValidationError as exc:
        raise _invalid(exc) from None
    current = course.settings(manifest).model_dump()
    changes = {
        k: v for k, v in wanted.items() if v != current[k] and (v is not None or k in _DATES or k == "max_submissions")
    }
    if changes:
        try:
            course.update_settings(manifest, changes, actor_of(user))
        except ValidationError as exc:
            raise _invalid(exc) from None
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _back(assignment_id, "settings")


@router.post("/assignments/{assignment_id}/extensions")
@html_errors
def extension_form(
    assignment_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    student: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    late_due: Annotated[str, Form()] = "",
    max_submissions: Annotated[str, Form()] = "",
    waive_penalty: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    withdraw: Annotated[str, Form()] = "",
) -> Response:
    """Grant or replace a student's extension, or (``withdraw``) take it back."""
    user = staff_only(request, services)
    check_csrf(request, csrf)
    manifest = find_manifest(assignment_id, services)
    course = CourseStore(services.store)
    student = student.strip()
    if not student:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Name the student")
    if withdraw:
        if course.exception(manifest.id, student) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"'{student}' has no extension")
        course.set_exception(manifest.id, student, None, actor_of(user))
        return _back(assignment_id, "extension")
    try:
        exc = StudentException.model_validate(
            {
                "due": _date(due),
                "late_due": _date(late_due),
                "note": note,
                "max_submissions": max_submissions.strip() or None,
                "waive_penalty": waive_penalty == "on",
            }
        )
    except ValidationError as error:
        raise _invalid(error) from None
    course.set_exception(manifest.id, student, exc, actor_of(user))
    return _back(assignment_id, "extension")


@router.post("/regrade-requests/{request_id}/resolve")
@html_errors
def resolve_form(
    request_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    check: Annotated[str, Form()] = "",
    points: Annotated[str, Form()] = "",
) -> Response:
    """Answer a regrade request (re-run, adjust or decline), then back to the assignment's course page."""
    user = staff_only(request, services)
    check_csrf(request, csrf)
    try:
        body = RegradeAnswer.model_validate(
            {"action": action, "answer": answer, "check": check.strip(), "points": points.strip() or None}
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    done = answer_request(services, user, request_id, body)
    return _back(done.assignment, "request")


@router.get("/audit", response_class=HTMLResponse)
@html_errors
def audit_page(
    request: Request, services: ServicesDep, assignment: str | None = None, offset: Annotated[int, Query(ge=0)] = 0
) -> Response:
    """The audit log, newest first, a page at a time, optionally of one assignment."""
    user = staff_only(request, services)
    entries = audit.entries(services.store, assignment=assignment or None, offset=offset, limit=AUDIT_PAGE + 1)
    return render(
        request,
        "audit.html",
        user,
        entries=entries[:AUDIT_PAGE],
        more=len(entries) > AUDIT_PAGE,
        offset=offset,
        page=AUDIT_PAGE,
        assignment=assignment or "",
    )


@router.get("/audit.csv")
@html_errors
def audit_csv_page(request: Request, services: ServicesDep, assignment: str | None = None) -> Response:
    """The API's audit CSV, for a signed-in TA."""
    staff_only(request, services)
    return Response(
        audit_csv_text(audit.entries(services.store, assignment=assignment or None)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
