"""What each role may see of a report: the visibility rules, applied on the server (pure functions)."""

from __future__ import annotations

from datetime import datetime

from grader.api.schemas import ReportPublic, TestPublic
from grader.authoring.checks import Visibility
from grader.engine.manifest import SuiteManifest
from grader.engine.report import GradeReport, TestReport


def visible_to_students(test: TestReport, manifest: SuiteManifest, now: datetime) -> bool:
    """Gradescope's meanings: hidden and after_due_date wait for the due date, after_published for publishing."""
    if test.visibility == Visibility.visible:
        return True
    if test.visibility == Visibility.after_published:
        return manifest.published
    return manifest.due_date is not None and now >= manifest.due_date


def student_report(report: GradeReport, manifest: SuiteManifest, now: datetime) -> ReportPublic:
    """The report without staff fields and without checks not yet released; the total is withheld
    while any check is withheld (Gradescope's rule), so a student cannot infer hidden results."""
    shown = [t for t in report.tests if visible_to_students(t, manifest, now)]
    withheld = len(report.tests) - len(shown)
    return ReportPublic(
        score=None if withheld else report.score,
        max_score=None if withheld else report.max_score,
        withheld_checks=withheld,
        status=report.status,
        output=report.output,
        output_format=report.output_format,
        execution_time=report.execution_time,
        files_missing=report.files_missing,
        unpack_notes=report.unpack_notes,
        tests=[TestPublic.model_validate(t.model_dump(exclude={"staff_output"})) for t in shown],
    )
