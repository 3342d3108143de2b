"""Tests for grader.engine.messages: what a student reads when a check fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from grader.engine.messages import assertion_message, student_code_message
from grader.errors import SandboxDied, SandboxTimeout, StudentCodeError


def raised(action: object) -> AssertionError:
    try:
        action()  # type: ignore[operator]
    except AssertionError as exc:
        return exc
    raise RuntimeError("did not raise")


def test_assertion_message_is_the_message_when_there_is_one() -> None:
    def check() -> None:
        raise AssertionError("expected 4 heads, got 3")

    assert assertion_message(raised(check)) == "expected 4 heads, got 3"


def test_bare_assert_shows_the_failing_line_of_the_check(tmp_path: Path) -> None:
    # A suite module of its own: pytest rewrites asserts only in test modules, and suites are not rewritten.
    source = tmp_path / "checks_bare.py"
    source.write_text("def check():\n    heads = 3\n    assert heads == 4\n")
    spec = importlib.util.spec_from_file_location("checks_bare", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exc = raised(module.check)
    assert str(exc) == ""
    assert assertion_message(exc) == "Check failed: assert heads == 4"


def test_assertion_without_a_traceback_says_check_failed() -> None:
    assert assertion_message(AssertionError()) == "Check failed."


def test_student_code_error_shows_type_message_and_their_traceback() -> None:
    exc = StudentCodeError("ValueError", "bad shape", 'File "model.py", line 3\n  x.view(-1)\n\n')
    assert student_code_message(exc) == (
        'Your code raised ValueError: bad shape\n\nTraceback (your code):\nFile "model.py", line 3\n  x.view(-1)'
    )


def test_student_code_error_without_a_traceback_is_one_line() -> None:
    assert student_code_message(StudentCodeError("KeyError", "'x'", "  \n")) == "Your code raised KeyError: 'x'"


def test_other_sandbox_errors_show_their_student_message_only() -> None:
    assert student_code_message(SandboxDied("The sandbox ended.", "staff internals")) == "The sandbox ended."
    assert student_code_message(SandboxTimeout("Too slow.")) == "Too slow."
