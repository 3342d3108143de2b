"""Tests for grader.models.report: consistency checks and the Gradescope-only view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from grader.models.report import (
    CheckResult,
    GradeReport,
    OutputFormat,
    PhaseTimings,
    ReportStatus,
    SandboxRecord,
)
from grader.models.report import TestReport as CheckReport  # a name pytest does not try to collect
from grader.models.visibility import Visibility

STAFF_SECRET = "Traceback (most recent call last): hidden_check.py line 12"

GRADESCOPE_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "visibility",
    "stdout_visibility",
    "leaderboard",
    "tests",
}
GRADESCOPE_TEST_KEYS = {
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
}


def make_test(**overrides: Any) -> CheckReport:
    fields: dict[str, Any] = {
        "name": "Shapes",
        "number": "1.1",
        "score": 2.0,
        "max_score": 2.0,
        "status": "passed",
        "result": CheckResult.passed,
        "output": "ok",
        "tags": ["part e"],
        "staff_output": STAFF_SECRET,
    }
    return CheckReport(**(fields | overrides))


def two_tests() -> list[CheckReport]:
    return [
        make_test(),
        make_test(
            name="Values",
            number="1.2",
            score=0.5,
            max_score=1.5,
            status="failed",
            result=CheckResult.partial,
            visibility=Visibility.after_due_date,
            extra_data={"k": 1},
        ),
    ]


def make_report(**overrides: Any) -> GradeReport:
    fields: dict[str, Any] = {
        "score": 2.5,
        "max_score": 3.5,
        "execution_time": 12.25,
        "output": "Graded.",
        "tests": two_tests(),
        "assignment": "cs224n-a5",
        "grader_version": "0.1.0",
        "created_at": datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        "timings": PhaseTimings(unpack=0.1, sandbox_start=2.0, checks=10.0, total=12.25),
        "limits": {"memory_bytes": 4 * 2**30},
        "sandboxes": [SandboxRecord(generation=1, exit_reason="finished")],
        "staff_output": STAFF_SECRET,
        "leaderboard": [{"name": "accuracy", "value": 0.9}],
    }
    return GradeReport(**(fields | overrides))


# ----------------------------------------------------------------------------- validation


def test_report_with_two_tests_validates() -> None:
    report = make_report()
    assert report.score == 2.5 and report.max_score == 3.5
    assert [t.number for t in report.tests] == ["1.1", "1.2"]
    assert report.status is ReportStatus.graded


def test_report_defaults_follow_gradescope() -> None:
    report = make_report()
    assert report.visibility is Visibility.visible
    assert report.stdout_visibility is Visibility.hidden
    assert report.output_format is OutputFormat.text
    assert report.sandbox_secure is True


def test_report_score_that_differs_from_the_sum_of_its_tests_is_rejected() -> None:
    with pytest.raises(ValidationError, match="do not add up"):
        make_report(score=3.0)


def test_report_max_score_that_differs_from_the_sum_of_its_tests_is_rejected() -> None:
    with pytest.raises(ValidationError, match="do not add up"):
        make_report(max_score=10.0)


def test_report_totals_tolerate_float_rounding() -> None:
    tests = [make_test(number=str(i), name=str(i), score=0.1, max_score=0.1) for i in range(3)]
    assert make_report(tests=tests, score=0.3, max_score=0.3).score == 0.3


def test_report_without_tests_may_carry_any_totals() -> None:
    report = make_report(tests=[], score=0, max_score=10, status=ReportStatus.submission_error)
    assert report.max_score == 10


def test_negative_report_score_is_rejected() -> None:
    with pytest.raises(ValidationError):
        make_report(tests=[], score=-1)


def test_unknown_report_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        make_report(grade="A")


def test_test_scoring_above_its_max_is_rejected() -> None:
    with pytest.raises(ValidationError, match="scored 3.0 of 2.0"):
        make_test(score=3.0)


def test_test_score_at_its_max_plus_rounding_noise_is_accepted() -> None:
    assert make_test(score=2.0 + 1e-12).max_score == 2.0


def test_negative_test_score_is_rejected() -> None:
    with pytest.raises(ValidationError):
        make_test(score=-0.5, status="failed", result=CheckResult.failed)


@pytest.mark.parametrize(
    "status, result",
    [
        ("failed", CheckResult.passed),
        ("passed", CheckResult.partial),
        ("passed", CheckResult.failed),
        ("passed", CheckResult.error),
        ("passed", CheckResult.timeout),
        ("passed", CheckResult.not_run),
        ("ok", CheckResult.passed),
    ],
)
def test_status_that_does_not_match_the_result_is_rejected(status: str, result: CheckResult) -> None:
    with pytest.raises(ValidationError, match="does not match result"):
        make_test(status=status, result=result, score=0)


@pytest.mark.parametrize("result", [r for r in CheckResult if r is not CheckResult.passed])
def test_every_result_but_passed_has_status_failed(result: CheckResult) -> None:
    assert make_test(status="failed", result=result, score=0).status == "failed"


def test_unknown_test_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        make_test(hint="x")


# ----------------------------------------------------------------------------- Gradescope view


def test_gradescope_json_has_only_gradescope_top_level_keys() -> None:
    assert set(make_report().gradescope_json()) == GRADESCOPE_KEYS


def test_gradescope_json_tests_have_only_gradescope_keys() -> None:
    data = make_report().gradescope_json()
    assert len(data["tests"]) == 2
    for test in data["tests"]:
        assert set(test) == GRADESCOPE_TEST_KEYS


def test_gradescope_json_never_contains_staff_output() -> None:
    data = make_report().gradescope_json()
    text = json.dumps(data)
    assert "staff_output" not in text
    assert STAFF_SECRET not in text


def test_gradescope_json_leaves_out_our_own_fields() -> None:
    text = json.dumps(make_report().gradescope_json())
    for ours in (
        "assignment",
        "grader_version",
        "created_at",
        "timings",
        "limits",
        "sandbox",
        "result",
        "files_missing",
        "unpack_notes",
    ):
        assert f'"{ours}' not in text, ours


def test_gradescope_json_is_plain_json_with_string_enums() -> None:
    data = make_report().gradescope_json()
    assert json.loads(json.dumps(data)) == data
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert data["tests"][1]["visibility"] == "after_due_date"
    assert data["tests"][1]["output_format"] == "text"


def test_gradescope_json_keeps_the_values() -> None:
    data = make_report().gradescope_json()
    assert data["score"] == 2.5 and data["execution_time"] == 12.25 and data["output"] == "Graded."
    assert data["leaderboard"] == [{"name": "accuracy", "value": 0.9}]
    assert data["tests"][0] == {
        "name": "Shapes",
        "number": "1.1",
        "score": 2.0,
        "max_score": 2.0,
        "status": "passed",
        "output": "ok",
        "output_format": "text",
        "tags": ["part e"],
        "visibility": "visible",
        "extra_data": {},
    }
    assert data["tests"][1]["extra_data"] == {"k": 1}


# ----------------------------------------------------------------------------- serialisation


def test_report_survives_a_json_round_trip() -> None:
    report = make_report()
    assert GradeReport.model_validate_json(report.model_dump_json()) == report


def test_full_json_keeps_staff_output_for_staff_views() -> None:
    data = json.loads(make_report().model_dump_json())
    assert data["staff_output"] == STAFF_SECRET
    assert data["tests"][0]["staff_output"] == STAFF_SECRET


def test_json_with_inconsistent_totals_is_rejected_on_read() -> None:
    data = json.loads(make_report().model_dump_json())
    data["score"] = 3.5
    with pytest.raises(ValidationError, match="do not add up"):
        GradeReport.model_validate_json(json.dumps(data))


# ----------------------------------------------------------------------------- staff flags, hidden labels


def test_flags_and_pre_release_text_stay_out_of_gradescopes_keys() -> None:
    tests = [make_test(staff_flags=["copied?"], hidden_labels=True, pre_release_output="8 lines"), two_tests()[1]]
    report = make_report(tests=tests, staff_flags=["1.1 Shapes: copied?"])
    assert report.flagged and report.tests[0].staff_flags == ["copied?"]
    dumped = json.dumps(report.gradescope_json())
    assert "copied?" not in dumped and "8 lines" not in dumped and "hidden_labels" not in dumped


def test_a_report_stored_before_flags_existed_still_loads_unflagged() -> None:
    data = make_report().model_dump(mode="json")
    for key in ("staff_flags",):
        del data[key]
    for test in data["tests"]:
        for key in ("staff_flags", "hidden_labels", "pre_release_output"):
            del test[key]
    report = GradeReport.model_validate(data)
    assert not report.flagged and not report.tests[0].hidden_labels and report.tests[0].pre_release_output == ""
