"""The grade report: a superset of Gradescope's ``results.json`` plus our own fields.

A consumer that knows only Gradescope's format reads ``score``, ``max_score``, ``output``,
``tests[]`` and friends and ignores the rest. ``staff_*`` fields never reach a student: the public
views are built by ``grader.api.views.student_report`` (the API's public models, filtered by visibility).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.models.visibility import Visibility


class OutputFormat(StrEnum):
    text = "text"
    html = "html"
    simple_format = "simple_format"
    md = "md"
    ansi = "ansi"


class ReportStatus(StrEnum):
    """Who is at fault when points are missing: O4 of the style guide."""

    graded = "graded"  # checks ran; failures are the student's
    submission_error = "submission_error"  # nothing gradable: bad archive, nothing importable
    suite_error = "suite_error"  # a check of ours crashed: staff must look
    grader_error = "grader_error"  # the service failed: retry


class CheckResult(StrEnum):
    """Finer than Gradescope's passed/failed; ``status`` is derived from it."""

    passed = "passed"
    partial = "partial"
    failed = "failed"
    error = "error"  # the suite's check crashed (not the student's fault)
    timeout = "timeout"
    not_run = "not_run"  # missing files, or the global time limit


class TestReport(BaseModel):
    """One check's outcome (a Gradescope ``tests[]`` entry)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    number: str
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    status: str = Field(description='Gradescope\'s "passed" or "failed".')
    result: CheckResult
    output: str = ""
    output_format: OutputFormat = OutputFormat.text
    tags: list[str] = []
    visibility: Visibility = Visibility.visible
    extra_data: dict[str, Any] = {}
    execution_time: float = Field(0.0, ge=0, description="Seconds spent in this check.")
    staff_output: str = Field("", description="Tracebacks and internals; staff views only.")
    staff_flags: list[str] = Field(
        default_factory=list, description="Why a TA should look (Feedback.flag); staff views only."
    )
    hidden_labels: bool = Field(
        False,
        description="Scored against hidden labels: withheld from students until the manifest's policy releases it.",
    )
    pre_release_output: str = Field(
        "", description="What a student sees of a hidden-label check before its release (Feedback.well_formed)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TestReport:
        if self.score > self.max_score + 1e-9:
            raise ValueError(f"check {self.name!r} scored {self.score} of {self.max_score}")
        expected = "passed" if self.result == CheckResult.passed else "failed"
        if self.status != expected:
            raise ValueError(f"status {self.status!r} does not match result {self.result}")
        return self


class PhaseTimings(BaseModel):
    """Seconds per phase of one grading run."""

    unpack: float = 0.0
    notebooks: float = 0.0  # ingestion on the trusted side, before any sandbox starts
    sandbox_start: float = 0.0  # a cold start (interpreter, torch, the suite's preload) or a warm pool's hand-out
    checks: float = 0.0
    total: float = 0.0


class SandboxRecord(BaseModel):
    """One sandbox process that served this submission, and why it ended."""

    generation: int
    exit_reason: str
    notes: list[str] = []


class GradeReport(BaseModel):
    """The whole report for one submission; validated on construction and on write."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    execution_time: float = Field(ge=0, description="Seconds, wall clock, for the whole run.")
    output: str = ""
    output_format: OutputFormat = OutputFormat.text
    visibility: Visibility = Visibility.visible
    stdout_visibility: Visibility = Visibility.hidden
    tests: list[TestReport] = []
    leaderboard: list[dict[str, Any]] = []
    extra_data: dict[str, Any] = {}

    # Our fields.
    status: ReportStatus = ReportStatus.graded
    assignment: str
    grader_version: str
    created_at: datetime
    timings: PhaseTimings = PhaseTimings()
    limits: dict[str, Any] = Field(default_factory=dict, description="The SandboxLimits applied.")
    sandbox_secure: bool = True
    sandboxes: list[SandboxRecord] = []
    sandbox_exit_reason: str = ""
    files_missing: list[str] = []
    unpack_notes: list[str] = []
    staff_output: str = Field("", description="Captured sandbox output and internals; staff only.")
    staff_flags: list[str] = Field(
        default_factory=list, description="Every check's flags, as 'number name: reason'; staff only."
    )

    @property
    def flagged(self) -> bool:
        return bool(self.staff_flags)

    @model_validator(mode="after")
    def _totals(self) -> GradeReport:
        total = sum(t.score for t in self.tests)
        maximum = sum(t.max_score for t in self.tests)
        if self.tests and (abs(total - self.score) > 1e-6 or abs(maximum - self.max_score) > 1e-6):
            raise ValueError("report totals do not add up to the sum of its tests")
        return self

    def gradescope_json(self) -> dict[str, Any]:
        """Only Gradescope's own keys, for an autograder that must hand results.json over."""
        keys = ("score", "execution_time", "output", "output_format", "visibility", "stdout_visibility", "leaderboard")
        test_keys = (
            "name",
            "number",
            "score",
            "max_score",
            "status",
            "output",
            "output_format",
            "tags",
            "visibility",
            "extra_data",
        )
        data = self.model_dump(mode="json", include=set(keys))
        data["tests"] = [t.model_dump(mode="json", include=set(test_keys)) for t in self.tests]
        return data
