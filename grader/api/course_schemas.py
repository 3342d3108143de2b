"""Request and response bodies of the course endpoints (settings, extensions, manual grading, export, audit)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from grader.course.grades import StudentGrade, SubmissionGrade
from grader.course.policy import Counting, LatePolicy, StudentException
from grader.store.course import Adjustment, Comment


class SettingsPatch(BaseModel):
    """The settings to change; fields left out keep their value, ``null`` clears a date or the limit."""

    model_config = {"extra": "forbid"}

    release_at: datetime | None = None
    due: datetime | None = None
    late_due: datetime | None = None
    late_policy: LatePolicy | None = None
    late_percent: float | None = Field(None, ge=0, le=100)
    counting: Counting | None = None
    max_submissions: int | None = Field(None, ge=1)
    published: bool | None = None


class AdjustmentIn(BaseModel):
    check: str = Field("", max_length=100, description="A check's number (e.g. '1.2'); empty: on the total.")
    points: float = Field(ge=-1000, le=1000, description="Points added (negative: taken).")
    reason: str = Field(min_length=1, max_length=2000)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=10000)


class GradeParts(BaseModel):
    """final = max(0, raw + adjustments) - penalty; null parts: not graded yet, or withheld from the student."""

    raw: float | None
    adjustments: float
    penalty: float
    penalty_percent: float
    final: float | None
    max_score: float | None


class SubmissionGradePublic(BaseModel):
    submission_id: str
    late: bool
    grade: GradeParts | None = Field(description="Null for a student while their report withholds checks.")
    adjustments: list[Adjustment]
    comments: list[Comment]
    counts: bool | None = Field(
        None,
        description="Whether this is the submission that counts for the student; null while "
        "its figures are withheld and the rule is 'best' (it would tell which upload scored higher).",
    )


class StudentGradePublic(BaseModel):
    student: str
    submissions: int
    counted: SubmissionGradePublic | None
    exception: StudentException | None


def grade_parts(g: SubmissionGrade) -> GradeParts:
    return GradeParts(
        raw=g.grade.raw,
        adjustments=g.grade.adjustments,
        penalty=g.grade.penalty,
        penalty_percent=g.grade.penalty_percent,
        final=g.grade.final,
        max_score=g.grade.max_score,
    )


def submission_grade_public(g: SubmissionGrade, counts: bool | None, shown: bool = True) -> SubmissionGradePublic:
    """``shown`` False (a student whose report withholds checks): no figures and no adjustments (their check
    numbers or points could tell a hidden check's result)."""
    return SubmissionGradePublic(
        submission_id=g.submission.id,
        late=g.submission.late,
        counts=counts,
        grade=grade_parts(g) if shown else None,
        adjustments=g.adjustments if shown else [],
        comments=g.comments,
    )


def student_grade_public(s: StudentGrade) -> StudentGradePublic:
    counted = submission_grade_public(s.counted, True) if s.counted else None
    return StudentGradePublic(student=s.student, submissions=s.submissions, counted=counted, exception=s.exception)
