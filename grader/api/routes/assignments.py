"""Assignments: listing, per-assignment submissions, regrade-all and the grades CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from grader.api.course_rules import student_view_manifest
from grader.api.deps import CurrentUser, ManifestDep, Services, ServicesDep, StaffUser, now
from grader.api.errors import responses
from grader.api.queueing import enqueue
from grader.api.schemas import AssignmentPublic, RegradeResult, SubmissionList, SubmissionSummary
from grader.api.views import student_report
from grader.models.manifest import SuiteManifest
from grader.models.report import GradeReport
from grader.store import audit
from grader.store.audit import actor_of
from grader.store.records import Role, Submission, Token

router = APIRouter(prefix="/assignments", tags=["assignments"])

# Listings are paged: ``offset`` items skipped, at most ``limit`` returned (the whole count in ``total``
# or the ``X-Total-Count`` header).
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most items to return.")]


def assignment_public(m: SuiteManifest) -> AssignmentPublic:
    closes = m.closes_at
    return AssignmentPublic(
        id=m.id,
        title=m.title,
        description=m.description,
        due_date=m.due_date,
        closes_at=closes,
        open=closes is None or now() < closes,
        points=m.total_points,
        queue=m.resources.queue,
        files_required=m.files.required,
        files_optional=m.files.optional,
    )


def summary(sub: Submission) -> SubmissionSummary:
    return SubmissionSummary.model_validate(sub.model_dump(include=set(SubmissionSummary.model_fields)))


def student_summary(sub: Submission, services: Services, manifest: SuiteManifest) -> SubmissionSummary:
    """A student's own submission with the score their report shows: withheld while any check is."""
    raw = services.store.report(sub.id)
    public = (
        student_report(GradeReport.model_validate_json(raw), student_view_manifest(services, manifest), now())
        if raw is not None
        else None
    )
    shown = {"score": public.score, "max_score": public.max_score} if public else {"score": None, "max_score": None}
    return summary(sub).model_copy(update=shown)


def visible_manifests(services: Services, user: Token) -> list[SuiteManifest]:
    """The assignments a caller may see: staff all of them, a student those whose roster they are on."""
    if user.role != Role.student:
        return list(services.manifests.values())
    return [m for m in services.manifests.values() if services.store.on_roster(m.id, user.subject)]


def visible_manifest(user: Token, manifest: SuiteManifest, services: Services) -> SuiteManifest:
    """``manifest`` if the caller may see it; a student not on its roster gets the unknown assignment's 404."""
    if user.role == Role.student and not services.store.on_roster(manifest.id, user.subject):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown assignment '{manifest.id}'")
    return manifest


@router.get("", response_model=list[AssignmentPublic], responses=responses(401, 503))
def list_assignments(
    services: ServicesDep, user: CurrentUser, response: Response, offset: Offset = 0, limit: Limit = 100
) -> list[AssignmentPublic]:
    """The installed assignments the caller may see (a student: those they are on), with due dates,
    points and expected files; paged, with the whole count in ``X-Total-Count``."""
    shown = visible_manifests(services, user)
    response.headers["X-Total-Count"] = str(len(shown))
    return [assignment_public(m) for m in shown[offset : offset + limit]]


@router.get("/{assignment_id}", response_model=AssignmentPublic, responses=responses(401, 404, 503))
def get_assignment(user: CurrentUser, manifest: ManifestDep, services: ServicesDep) -> AssignmentPublic:
    """One assignment (404 for a student not on its roster, as for one that does not exist)."""
    return assignment_public(visible_manifest(user, manifest, services))


@router.get("/{assignment_id}/submissions", response_model=SubmissionList, responses=responses(401, 404, 503))
def list_submissions(
    user: CurrentUser, manifest: ManifestDep, services: ServicesDep, offset: Offset = 0, limit: Limit = 100
) -> SubmissionList:
    """TAs and CI: all submissions, newest first, and each student's latest. Students: their own. Paged."""
    if user.role == Role.student:
        own = services.store.submissions(manifest.id, user.subject)
        page = own[offset : offset + limit]
        return SubmissionList(
            submissions=[student_summary(s, services, manifest) for s in page],
            total=len(own),
            offset=offset,
            limit=limit,
        )
    latest = services.store.latest_per_student(manifest.id)
    every = services.store.submissions(manifest.id)
    return SubmissionList(
        submissions=[summary(s) for s in every[offset : offset + limit]],
        total=len(every),
        offset=offset,
        limit=limit,
        latest_per_student={student: sub.id for student, sub in latest.items()},
    )


@router.post(
    "/{assignment_id}/regrade",
    response_model=RegradeResult,
    status_code=202,
    responses={
        200: {"model": RegradeResult, "description": "A dry run: the count, nothing queued."},
        **responses(401, 403, 404, 428, 503),
    },
)
def regrade_all(
    user: StaffUser,
    manifest: ManifestDep,
    services: ServicesDep,
    response: Response,
    confirm: Annotated[bool, Query(description="Queue them (without it: 428 with the count).")] = False,
    dry_run: Annotated[bool, Query(description="Only count what would be queued (200).")] = False,
) -> RegradeResult:
    """Re-queue every submitter's latest submission (TA): ``dry_run=true`` counts them, ``confirm=true`` queues them."""
    latest = services.store.latest_per_student(manifest.id)
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return RegradeResult(queued=[], would_queue=len(latest), dry_run=True)
    if not confirm:
        raise HTTPException(status.HTTP_428_PRECONDITION_REQUIRED, regrade_all_question(manifest.id, len(latest)))
    return regrade_all_confirmed(user, manifest, services)


def regrade_all_question(assignment_id: str, count: int) -> str:
    return (
        f"Regrading everyone on '{assignment_id}' queues {count} submission{'s' if count != 1 else ''} "
        "(each submitter's latest); repeat with confirm=true to queue them"
    )


def regrade_all_confirmed(user: Token, manifest: SuiteManifest, services: Services) -> RegradeResult:
    """Queue every submitter's latest submission and record it in the audit log (the API's and the page's)."""
    latest = services.store.latest_per_student(manifest.id)
    runs = {sub.id: enqueue(services, sub, manifest) for sub in latest.values()}
    audit.record(
        services.store,
        actor_of(user),
        "regrade.all",
        manifest.id,
        None,
        {"queued": len(runs), "runs": runs},
        assignment=manifest.id,
    )
    return RegradeResult(queued=list(runs), would_queue=len(runs))


@router.get("/{assignment_id}/grades.csv", response_class=Response, responses=responses(401, 403, 404, 503))
def grades_csv(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> Response:
    """One row per student (roster and submitters), their latest submission's score (TA)."""
    latest = services.store.latest_per_student(manifest.id)
    students = sorted(services.store.roster(manifest.id) | {s for s, sub in latest.items() if sub.role == Role.student})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student_id", "score", "max_score", "state", "late", "submitted_at", "submission_id"])
    for student in students:
        sub = latest.get(student)
        if sub is None:
            writer.writerow([student, "", manifest.total_points or "", "missing", "", "", ""])
        else:
            writer.writerow(
                [
                    student,
                    "" if sub.score is None else f"{sub.score:g}",
                    "" if sub.max_score is None else f"{sub.max_score:g}",
                    sub.state.value,
                    str(sub.late).lower(),
                    sub.received_at.isoformat(),
                    sub.id,
                ]
            )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{manifest.id}-grades.csv"'},
    )
