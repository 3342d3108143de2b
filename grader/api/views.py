"""What each role may see of a report: the visibility rules, applied on the server (pure functions).

Two rules withhold a check from a student: its own visibility (Gradescope's meanings), and the suite's
hidden-label policy (``[policy] hidden_label_checks`` in ``suite.toml``): a check scored against labels
students must not learn is listed, with only what its author marked as well formed, until the policy
releases it. Staff views are the whole report.
"""

from __future__ import annotations

from datetime import datetime

from grader.api.schemas import ReportPublic, TestPending, TestPublic
from grader.models.manifest import SuiteManifest
from grader.models.report import GradeReport, TestReport
from grader.models.visibility import Visibility


def released(visibility: Visibility, manifest: SuiteManifest, now: datetime) -> bool:
    """Gradescope's meanings: hidden and after_due_date wait for the due date, after_published for publishing."""
    if visibility == Visibility.visible:
        return True
    if visibility == Visibility.after_published:
        return manifest.published
    return manifest.due_date is not None and now >= manifest.due_date


def label_withheld(test: TestReport, manifest: SuiteManifest, now: datetime) -> bool:
    """Whether the hidden-label policy still withholds this check's result from students."""
    policy = manifest.policy
    return policy.withholds(test.number, test.hidden_labels) and not released(policy.release, manifest, now)


def visible_to_students(test: TestReport, manifest: SuiteManifest, now: datetime) -> bool:
    """Released by its own visibility and, for a check scored against hidden labels, by the policy."""
    return released(test.visibility, manifest, now) and not label_withheld(test, manifest, now)


def pending_view(test: TestReport, manifest: SuiteManifest) -> TestPending:
    """A hidden-label check before its release: that it was received, and nothing label-derived."""
    said = [test.pre_release_output, manifest.policy.pending_note]
    return TestPending(
        name=test.name, number=test.number, max_score=test.max_score, output="\n".join(s for s in said if s)
    )


def student_report(report: GradeReport, manifest: SuiteManifest, now: datetime) -> ReportPublic:
    """The report without staff fields and without checks not yet released; the total is withheld
    while any check is withheld (Gradescope's rule), so a student cannot infer hidden results.
    Hidden-label checks awaiting release are listed apart, with no score and no result."""
    shown = [t for t in report.tests if visible_to_students(t, manifest, now)]
    pending = [t for t in report.tests if released(t.visibility, manifest, now) and label_withheld(t, manifest, now)]
    withheld = len(report.tests) - len(shown)
    return ReportPublic(
        score=None if withheld else report.score,
        max_score=None if withheld else report.max_score,
        shown_score=round(sum(t.score for t in shown), 2),
        shown_max_score=sum(t.max_score for t in shown),
        withheld_checks=withheld,
        status=report.status,
        output=report.output,
        output_format=report.output_format,
        execution_time=report.execution_time,
        files_missing=report.files_missing,
        unpack_notes=report.unpack_notes,
        tests=[TestPublic.model_validate(t.model_dump(include=set(TestPublic.model_fields))) for t in shown],
        pending=[pending_view(t, manifest) for t in pending],
    )
