"""Assignments: listing, per-assignment submissions, regrade-all and the grades CSV."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter
from fastapi.responses import Response

from grader.api.deps import CurrentUser, ManifestDep, Services, ServicesDep, StaffUser, now
from grader.api.course_rules import student_view_manifest
from grader.api.queueing import enqueue
from grader.api.schemas import AssignmentPublic, RegradeResult, SubmissionList, SubmissionSummary
from grader.api.views import student_report
from grader.engine.manifest import SuiteManifest
from grader.engine.report import GradeReport
from grader.store.records import Role, Submission

router = APIRouter(prefix="/assignments", tags=["assignments"])


def assignment_public(m: SuiteManifest) -> AssignmentPublic:
    closes = m.closes_at
    return AssignmentPublic(
        id=m.id, title=m.title, description=m.description, due_date=m.due_date, closes_at=closes,
        open=closes is None or now() < closes,
        points=m.total_points, queue=m.resources.queue, files_required=m.files.required, files_optional=m.files.optional,
    )  # fmt: skip


def summary(sub: Submission) -> SubmissionSummary:
    return SubmissionSummary.model_validate(sub.model_dump(include=set(SubmissionSummary.model_fields)))


def student_summary(sub: Submission, services: Services, manifest: SuiteManifest) -> SubmissionSummary:
    """A student's own submission with the score their report shows: withheld while any check is."""
    raw = services.store.report(sub.id)
    public = student_report(GradeReport.model_validate_json(raw), student_view_manifest(services, manifest), now()) if raw is not None else None
    shown = {"score": public.score, "max_score": public.max_score} if public else {"score": None, "max_score": None}
    return summary(sub).model_copy(update=shown)


@router.get("", response_model=list[AssignmentPublic])
def list_assignments(services: ServicesDep, user: CurrentUser) -> list[AssignmentPublic]:
    """Every installed assignment with its due date, points and expected files."""
    return [assignment_public(m) for m in services.manifests.values()]


@router.get("/{assignment_id}/submissions", response_model=SubmissionList)
def list_submissions(user: CurrentUser, manifest: ManifestDep, services: ServicesDep) -> SubmissionList:
    """TAs and CI: all submissions and each student's latest. Students: their own."""
    if user.role == Role.student:
        own = services.store.submissions(manifest.id, user.subject)
        return SubmissionList(submissions=[student_summary(s, services, manifest) for s in own])
    latest = services.store.latest_per_student(manifest.id)
    return SubmissionList(
        submissions=[summary(s) for s in services.store.submissions(manifest.id)],
        latest_per_student={student: sub.id for student, sub in latest.items()},
    )


@router.post("/{assignment_id}/regrade", response_model=RegradeResult, status_code=202)
def regrade_all(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> RegradeResult:
    """Re-queue every student's latest submission (TA)."""
    latest = services.store.latest_per_student(manifest.id)
    for sub in latest.values():
        enqueue(services, sub, manifest)
    return RegradeResult(queued=[s.id for s in latest.values()])


@router.get("/{assignment_id}/grades.csv", response_class=Response)
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
            writer.writerow([student, "" if sub.score is None else f"{sub.score:g}",
                             "" if sub.max_score is None else f"{sub.max_score:g}", sub.state.value,
                             str(sub.late).lower(), sub.received_at.isoformat(), sub.id])  # fmt: skip
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{manifest.id}-grades.csv"'})  # fmt: skip
