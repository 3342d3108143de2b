"""Gradescope's results.json built from a report: the hidden-label policy applied (Gradescope enforces the visibility)."""

from __future__ import annotations

from datetime import UTC, datetime

from grader.export.results import from_report
from grader.models.manifest import SuiteManifest
from grader.models.report import CheckResult, GradeReport
from grader.models.report import TestReport as CheckReport

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _report(visibility: str = "visible") -> GradeReport:
    tests = [
        CheckReport(
            name="dev", number="1", score=1, max_score=1, status="passed", result=CheckResult.passed, output="Dev 4/4"
        ),
        CheckReport(
            name="test",
            number="2",
            score=1,
            max_score=2,
            status="failed",
            result=CheckResult.partial,
            output="Test 4/8",
            pre_release_output="8 lines, well formed.",
            visibility=visibility,
            staff_flags=["copied?"],
        ),
    ]
    return GradeReport(
        score=2, max_score=3, execution_time=1, tests=tests, assignment="a", grader_version="0", created_at=NOW
    )


def _manifest(**policy: object) -> SuiteManifest:
    return SuiteManifest.model_validate({"id": "a", "title": "A", "policy": {"hidden_label_checks": ["2"], **policy}})


def test_a_hidden_label_check_is_released_after_the_due_date_with_a_visible_entry_saying_so() -> None:
    results = from_report(_report(), 1.0, _manifest())
    entries = [(t.name, t.number, t.score, t.max_score, t.visibility.value) for t in results.tests]
    assert entries == [
        ("dev", "1", 1, 1, "visible"),
        ("test (before the release)", "2", 0, 0, "visible"),
        ("test", "2", 1, 2, "after_due_date"),
    ]
    received = results.tests[1]
    assert "4/8" not in received.output and received.status == "passed"
    assert (
        received.output
        == "8 lines, well formed.\nThe result of this check on the hidden test labels is shown after the due date."
    )
    assert results.score == 2 and "copied?" not in results.model_dump_json()


def test_released_at_publishing_or_hidden_by_its_own_visibility() -> None:
    published = from_report(_report(), 1.0, _manifest(withhold_until="published"))
    assert published.tests[-1].visibility.value == "after_published"
    hidden = from_report(_report("hidden"), 1.0, _manifest())
    assert [t.visibility.value for t in hidden.tests] == ["visible", "hidden"]  # no "received" entry for a hidden check
    clash = from_report(_report("after_published"), 1.0, _manifest())
    assert clash.tests[-1].visibility.value == "hidden"  # both rules cannot be said in one value: the stricter


def test_without_a_manifest_the_report_is_exported_as_is() -> None:
    assert [t.visibility.value for t in from_report(_report(), 1.0).tests] == ["visible", "visible"]


def test_the_entry_before_the_release_fails_when_the_check_did_not_say_the_file_was_well_formed() -> None:
    report = _report()
    report.tests[1].pre_release_output = ""  # e.g. the file is missing: the check failed before saying anything
    entry = from_report(report, 1.0, _manifest()).tests[1]
    assert entry.status == "failed" and entry.output.startswith("The result of this check on the hidden test labels")
