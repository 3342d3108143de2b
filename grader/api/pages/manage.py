"""A TA's page for one submission's grade: its parts, adjustments and comments, its report versions (each
openable, any two compared) and its regrade requests. Forms call the API's own functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.api.course_schemas import AdjustmentIn, CommentIn
from grader.api.deps import ServicesDep
from grader.api.pages.session import check_csrf, staff_only
from grader.api.pages.templating import html_errors, render
from grader.api.routes.grading import add_adjustment, add_comment, delete_adjustment, submission_grade
from grader.api.routes.reports import compare_versions, get_version, list_versions
from grader.store.regrades import RegradeRequests

router = APIRouter(prefix="/staff/submissions/{submission_id}", tags=["pages"], include_in_schema=False)


def _invalid(exc: ValidationError) -> HTTPException:
    why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, why)


def _back(submission_id: str) -> RedirectResponse:
    return RedirectResponse(f"/staff/submissions/{submission_id}", status.HTTP_303_SEE_OTHER)


@router.get("", response_class=HTMLResponse)
@html_errors
def grading_page(submission_id: str, request: Request, services: ServicesDep) -> Response:
    """Grade parts, adjustments, comments, report versions and regrade requests of one submission."""
    user = staff_only(request, services)
    grade = submission_grade(services, submission_id, user)
    sub = services.store.get(submission_id)
    versions = list_versions(submission_id, services, user)
    return render(
        request,
        "grading.html",
        user,
        sub=sub,
        grade=grade,
        versions=versions,
        requests=RegradeRequests(services.store).of_submission(submission_id),
    )


@router.get("/versions/{version}", response_class=HTMLResponse)
@html_errors
def version_page(submission_id: str, version: int, request: Request, services: ServicesDep) -> Response:
    """One earlier report, check by check."""
    user = staff_only(request, services)
    return render(
        request,
        "report_version.html",
        user,
        submission_id=submission_id,
        version=version,
        report=get_version(submission_id, version, services, user),
    )


@router.get("/compare", response_class=HTMLResponse)
@html_errors
def compare_page(
    submission_id: str,
    request: Request,
    services: ServicesDep,
    before: Annotated[int, Query(ge=1)] = 1,
    after: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Two report versions side by side; the changed checks first."""
    user = staff_only(request, services)
    diff = compare_versions(submission_id, services, user, before, after)
    rows = sorted(diff.checks, key=lambda c: not c.changed)
    return render(request, "report_compare.html", user, submission_id=submission_id, diff=diff, rows=rows)


@router.post("/adjustments")
@html_errors
def adjustment_form(
    submission_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    check: Annotated[str, Form()] = "",
    points: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    user = staff_only(request, services)
    check_csrf(request, csrf)
    try:
        body = AdjustmentIn.model_validate(
            {"check": check.strip(), "points": points.strip() or None, "reason": reason.strip()}
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    add_adjustment(submission_id, body, services, user)
    return _back(submission_id)


@router.post("/adjustments/{adjustment_id}/delete")
@html_errors
def withdraw_form(
    submission_id: str, adjustment_id: str, request: Request, services: ServicesDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    user = staff_only(request, services)
    check_csrf(request, csrf)
    delete_adjustment(submission_id, adjustment_id, services, user)
    return _back(submission_id)


@router.post("/comments")
@html_errors
def comment_form(
    submission_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    user = staff_only(request, services)
    check_csrf(request, csrf)
    try:
        body = CommentIn.model_validate({"text": text.strip()})
    except ValidationError as exc:
        raise _invalid(exc) from None
    add_comment(submission_id, body, services, user)
    return _back(submission_id)
