"""The numbers behind a TA's assignment overview, computed from the store (no HTTP, no drawing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from grader.models.manifest import SuiteManifest
from grader.models.report import CheckResult, GradeReport
from grader.store.records import Role, Submission, SubmissionState
from grader.store.submissions import Store


@dataclass(frozen=True)
class CheckRate:
    """How many students' latest graded submissions pass one check."""

    label: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class Overview:
    """Statistics count students only; reference/CI and TA uploads are listed but marked, not counted."""

    latest: list[Submission] = field(default_factory=list)
    upload_times: list[datetime] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    rates: list[CheckRate] = field(default_factory=list)
    roster_size: int = 0
    submitted: int = 0
    flags: dict[str, list[str]] = field(default_factory=dict)  # submission id -> its report's staff flags

    def flagged_only(self) -> list[Submission]:
        return [s for s in self.latest if s.id in self.flags]


def build_overview(store: Store, manifest: SuiteManifest) -> Overview:
    """Latest submission per submitter, upload times, latest scores, pass rate per check and flags.

    Reads one report per student (their latest); fine for a course's few hundred students.
    """
    every = store.submissions(manifest.id)
    latest = store.latest_per_student(manifest.id)
    students = [s for s in latest.values() if s.role == Role.student]
    view = Overview(
        latest=sorted(latest.values(), key=lambda s: s.student),
        upload_times=[s.received_at for s in every if s.role == Role.student],
        scores=[s.score for s in students if s.state == SubmissionState.done and s.score is not None],
        roster_size=len(store.roster(manifest.id)),
        submitted=len(students),
    )
    passed: dict[str, int] = {}
    seen: dict[str, int] = {}
    for sub in view.latest:
        raw = store.report(sub.id) if sub.state == SubmissionState.done else None
        if raw is None:
            continue
        report = GradeReport.model_validate_json(raw)
        if report.staff_flags:
            view.flags[sub.id] = report.staff_flags
        if sub.role != Role.student:
            continue
        for test in report.tests:
            label = f"{test.number} {test.name}".strip()
            seen[label] = seen.get(label, 0) + 1
            passed[label] = passed.get(label, 0) + (test.result == CheckResult.passed)
    view.rates = [CheckRate(label, passed[label], seen[label]) for label in seen]
    return view
