"""Manual grading of one submission: TA adjustments and comments, the grade's parts, the student's active mark."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from grader.api.course_schemas import AdjustmentIn, CommentIn, SubmissionGradePublic, submission_grade_public
from grader.api.deps import CurrentUser, Services, ServicesDep, StaffUser, now
from grader.api.views import student_report
from grader.course.grades import grade_of, student_grade, visibility_manifest
from grader.course.policy import Counting
from grader.models.manifest import SuiteManifest
from grader.models.report import GradeReport
from grader.store.audit import actor_of
from grader.store.course import Adjustment, Comment, CourseStore
from grader.store.records import Role, Submission, Token

router = APIRouter(prefix="/submissions/{submission_id}", tags=["grading"])


def _submission(services: Services, submission_id: str, user: Token) -> tuple[Submission, SuiteManifest]:
    sub = services.store.get(submission_id)
    # Another student's submission answers like a missing one.
    if sub is None or (user.role == Role.student and sub.student != user.subject):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Submission not found")
    manifest = services.manifests.get(sub.assignment)
    if manifest is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Assignment '{sub.assignment}' is no longer installed")
    return sub, manifest


def _shown_to_student(services: Services, sub: Submission, manifest: SuiteManifest, course: CourseStore) -> bool:
    """Whether the student's report shows its total: while it withholds a check, so do the grade's figures."""
    raw = services.store.report(sub.id)
    if raw is None:
        return False
    view = visibility_manifest(manifest, course.settings(manifest), list(course.exceptions(manifest.id).values()))
    return student_report(GradeReport.model_validate_json(raw), view, now()).score is not None


def submission_grade(services: Services, submission_id: str, user: Token) -> SubmissionGradePublic:
    sub, manifest = _submission(services, submission_id, user)
    course = CourseStore(services.store)
    settings = course.settings(manifest)
    mine = grade_of(course, settings, course.exception(manifest.id, sub.student), sub)
    subs = [s for s in services.store.submissions(manifest.id, sub.student) if s.role == sub.role]
    chosen = student_grade(course, manifest, settings, sub.student, subs).counted
    counts = chosen is not None and chosen.submission.id == sub.id
    shown = user.role != Role.student or _shown_to_student(services, sub, manifest, course)
    # Under "best" the counting submission is the higher final grade, hidden checks included: withheld with them.
    told = counts if shown or settings.counting != Counting.best else None
    return submission_grade_public(mine, told, shown)


@router.get("/grade", response_model=SubmissionGradePublic)
def get_grade(submission_id: str, services: ServicesDep, user: CurrentUser) -> SubmissionGradePublic:
    """Raw score, TA adjustments, late penalty and final grade, the TA's comments, and whether it counts.
    A student sees their own; its figures only once their report shows its total."""
    return submission_grade(services, submission_id, user)


@router.post("/adjustments", response_model=Adjustment, status_code=201)
def add_adjustment(submission_id: str, body: AdjustmentIn, services: ServicesDep, user: StaffUser) -> Adjustment:
    """Add or take points, on one check (its number) or on the total, with a reason (TA)."""
    sub, manifest = _submission(services, submission_id, user)
    return CourseStore(services.store).add_adjustment(
        manifest.id, sub.id, body.check, body.points, body.reason, actor_of(user)
    )


@router.delete("/adjustments/{adjustment_id}", status_code=204)
def delete_adjustment(submission_id: str, adjustment_id: str, services: ServicesDep, user: StaffUser) -> Response:
    """Withdraw an adjustment (TA); the audit log keeps it."""
    sub, manifest = _submission(services, submission_id, user)
    if not CourseStore(services.store).remove_adjustment(manifest.id, sub.id, adjustment_id, actor_of(user)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Adjustment not found")
    return Response(status_code=204)


@router.post("/comments", response_model=Comment, status_code=201)
def add_comment(submission_id: str, body: CommentIn, services: ServicesDep, user: StaffUser) -> Comment:
    """A comment its student sees beside the report (TA)."""
    sub, manifest = _submission(services, submission_id, user)
    return CourseStore(services.store).add_comment(manifest.id, sub.id, body.text, actor_of(user))


@router.post("/active", response_model=SubmissionGradePublic)
def mark_active(submission_id: str, services: ServicesDep, user: CurrentUser) -> SubmissionGradePublic:
    """The student marks this submission as the one to grade (used when the assignment counts the active one)."""
    if user.role != Role.student:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only the student who submitted it may mark it active")
    sub, manifest = _submission(services, submission_id, user)
    CourseStore(services.store).set_active(manifest.id, sub.student, sub.id)
    return submission_grade(services, submission_id, user)
