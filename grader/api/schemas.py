"""Request and response bodies (A3: separate models per direction; public ones cannot carry staff data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from grader.models.report import CheckResult, GradeReport, OutputFormat, ReportStatus
from grader.store.records import Role, SubmissionState


class TestPublic(BaseModel):
    """One check as a student sees it: no staff output."""

    model_config = ConfigDict(extra="ignore")

    name: str
    number: str
    score: float
    max_score: float
    status: str
    result: CheckResult
    output: str
    output_format: OutputFormat
    tags: list[str]
    visibility: str
    execution_time: float


class TestPending(BaseModel):
    """A check scored against hidden labels, before its release: no score, no result, no label-derived text."""

    name: str
    number: str
    max_score: float
    output: str = Field(description="What the check's author marked as well formed, and when the result is shown.")


class ReportPublic(BaseModel):
    """The report as a student sees it; ``score`` is null while any check is withheld."""

    score: float | None
    max_score: float | None
    shown_score: float = Field(
        0.0, description="The sum of the scores of the checks in `tests` only (not a total while checks are withheld)."
    )
    shown_max_score: float = Field(0.0, description="The sum of the points of the checks in `tests` only.")
    withheld_checks: int = Field(
        description="Checks not shown yet (hidden until the due date or publishing), `pending` included."
    )
    status: ReportStatus
    output: str
    output_format: OutputFormat
    execution_time: float
    files_missing: list[str]
    unpack_notes: list[str]
    tests: list[TestPublic]
    pending: list[TestPending] = Field(
        default_factory=list, description="Checks scored against hidden labels, shown after their release."
    )


class Progress(BaseModel):
    done: int
    total: int
    current: str
    queue_position: int | None = Field(None, description="1 = next to be graded; null once grading started.")


class Timestamps(BaseModel):
    received: datetime
    queued: datetime | None
    started: datetime | None
    finished: datetime | None


# Only the OpenAPI document uses this model: the upload route reads its form itself
# (``grader.api.routes.submissions.upload`` says why).
class SubmissionAccepted(BaseModel):
    id: str
    state: SubmissionState
    status_url: str
    late: bool


class SubmissionPublic(BaseModel):
    """A submission's state, progress and (filtered) report."""

    id: str
    assignment: str
    student: str
    state: SubmissionState
    late: bool
    filename: str
    size_bytes: int
    timestamps: Timestamps
    progress: Progress
    error: str
    attempts: int
    report: ReportPublic | GradeReport | None = Field(
        None, description="Filtered for students; complete for TAs and CI."
    )


class SubmissionSummary(BaseModel):
    id: str
    student: str
    role: Role
    state: SubmissionState
    received_at: datetime
    late: bool
    score: float | None
    max_score: float | None


class SubmissionList(BaseModel):
    submissions: list[SubmissionSummary] = Field(description="One page, newest first.")
    total: int = Field(0, description="Submissions in the whole listing, not only this page.")
    offset: int = 0
    limit: int = 100
    latest_per_student: dict[str, str] = Field(
        default_factory=dict, description="Student -> id of their latest submission (TA view)."
    )


class AssignmentPublic(BaseModel):
    id: str
    title: str
    description: str
    due_date: datetime | None
    closes_at: datetime | None
    open: bool
    points: float | None
    queue: str
    files_required: list[str]
    files_optional: list[str]


class RegradeResult(BaseModel):
    queued: list[str] = Field(description="The submissions queued (empty for a dry run).")
    would_queue: int = Field(0, description="How many submissions this regrade queues (or queued).")
    dry_run: bool = Field(False, description="True: only counted, nothing queued.")


class Health(BaseModel):
    status: str
    redis: bool
    assignments: int
    details: dict[str, Any] = {}
