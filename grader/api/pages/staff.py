"""TA pages: an assignment's overview (plots, latest per student), CSV export and regrades."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from grader.api.deps import ServicesDep, find_manifest
from grader.api.pages import charts
from grader.api.pages.overview import build_overview
from grader.api.pages.session import check_csrf, staff_only
from grader.api.pages.templating import html_errors, render
from grader.api.routes.assignments import assignment_public, grades_csv, regrade_all_confirmed
from grader.api.routes.submissions import regrade

router = APIRouter(prefix="/staff", tags=["pages"], include_in_schema=False)


def _data_uri(svg: bytes) -> str:
    # As an <img> the SVG is its own document: the page's CSP (no inline styles) does not apply to it.
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
@html_errors
def overview_page(
    assignment_id: str, request: Request, services: ServicesDep, regraded: int | None = None, flagged: bool = False
) -> Response:
    """Submissions over time, score histogram, pass rate per check and the latest submission per student
    (``?flagged=1``: only those whose report a check flagged for review)."""
    user = staff_only(request, services)
    manifest = find_manifest(assignment_id, services)
    view = build_overview(services.store, manifest)
    plots = {
        "timeline": _data_uri(charts.submissions_over_time(view.upload_times)),
        "histogram": _data_uri(charts.score_histogram(view.scores, manifest.total_points)),
        "checks": _data_uri(charts.pass_rate_per_check(view.rates)),
    }
    rates = sorted(view.rates, key=lambda r: (r.rate, r.label))
    rows = view.flagged_only() if flagged else view.latest
    return render(
        request,
        "overview.html",
        user,
        assignment=assignment_public(manifest),
        view=view,
        plots=plots,
        rates=rates,
        regraded=regraded,
        rows=rows,
        flagged=flagged,
    )


@router.get("/assignments/{assignment_id}/grades.csv")
@html_errors
def grades_page(assignment_id: str, request: Request, services: ServicesDep) -> Response:
    """The API's grades CSV (one row per student, latest submission), for a signed-in TA."""
    return grades_csv(staff_only(request, services), find_manifest(assignment_id, services), services)


@router.get("/assignments/{assignment_id}/regrade", response_class=HTMLResponse)
@html_errors
def regrade_all_confirm_page(assignment_id: str, request: Request, services: ServicesDep) -> Response:
    """The confirmation step of "regrade everyone": how many submissions it will queue, and the button."""
    user = staff_only(request, services)
    manifest = find_manifest(assignment_id, services)
    count = len(services.store.latest_per_student(manifest.id))
    return render(request, "regrade_all.html", user, assignment=assignment_public(manifest), count=count)


@router.post("/assignments/{assignment_id}/regrade")
@html_errors
def regrade_all_page(
    assignment_id: str,
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Re-queue every submitter's latest submission once confirmed (else to the confirmation step), then
    back to the overview."""
    user = staff_only(request, services)
    check_csrf(request, csrf)
    if confirm != "yes":
        return RedirectResponse(f"/staff/assignments/{assignment_id}/regrade", status.HTTP_303_SEE_OTHER)
    result = regrade_all_confirmed(user, find_manifest(assignment_id, services), services)
    return RedirectResponse(
        f"/staff/assignments/{assignment_id}?regraded={len(result.queued)}", status.HTTP_303_SEE_OTHER
    )


@router.post("/submissions/{submission_id}/regrade")
@html_errors
def regrade_page(
    submission_id: str, request: Request, services: ServicesDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Grade one submission again, then show it (its page follows the new run live)."""
    user = staff_only(request, services)
    check_csrf(request, csrf)
    regrade(submission_id, services, user)
    return RedirectResponse(f"/submissions/{submission_id}", status.HTTP_303_SEE_OTHER)
