"""Tests for grader.engine.messages: what a student reads when a check fails."""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path

import pytest

from grader.engine.messages import (
    MESSAGE_CHARS,
    TRACEBACK_CHARS,
    HostPaths,
    assertion_message,
    redact_echoes,
    staff_code_detail,
    student_code_message,
)
from grader.errors import SandboxDied, SandboxTimeout, StudentCodeError
from grader.sandbox.launcher import INSIDE_WORKDIR, PACKAGE_ROOT


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


# ----------------------------------------------------------------------------- host paths


@pytest.fixture
def submitted(tmp_path: Path) -> Path:
    root = tmp_path / "scratch" / "job-1" / "submission"
    (root / "src").mkdir(parents=True)
    (root / "src" / "model.py").write_text("import torch\n\ndef forward(x):\n    return x.view(-1)\n")
    return root


def test_host_paths_become_submission_relative_or_named(submitted: Path) -> None:
    paths = HostPaths.of([submitted], {"<scratch>": submitted.parents[1]})
    site = sysconfig.get_paths()["purelib"]
    text = (
        f'File "{INSIDE_WORKDIR}/src/model.py", line 4 | {submitted}/src/model.py | {INSIDE_WORKDIR}/./src/a.py | '
        f"{site}/torch/nn/functional.py | /opt/grader/grader/sandbox/agent/server.py | {PACKAGE_ROOT}/grader/x.py | "
        f"{submitted.parents[1]}/job-2/other | {submitted.parents[1]}/job-1/work-0a1b2c3d/src/b.py | cwd {INSIDE_WORKDIR}"
    )
    assert paths.scrub(text) == (
        'File "src/model.py", line 4 | src/model.py | src/a.py | <python>/site-packages/torch/nn/functional.py | '
        "<grader>/grader/sandbox/agent/server.py | <grader>/grader/x.py | <scratch>/job-2/other | src/b.py | cwd ."
    )


def test_system_paths_and_lookalike_names_are_left_alone() -> None:
    text = f"/usr/lib/x86_64-linux-gnu/libc.so.6 /dev/null /proc/self/mountinfo {INSIDE_WORKDIR}-old/f.py"
    assert HostPaths.of().scrub(text) == text
    assert sys.prefix not in HostPaths.of().scrub(f"prefix {sys.prefix}/bin/python")


def test_a_crash_shows_submission_relative_paths_and_keeps_the_raw_text_for_staff() -> None:
    exc = StudentCodeError(
        "FileNotFoundError",
        f"[Errno 2] No such file: '{INSIDE_WORKDIR}/data/x.tsv'",
        f'  File "{INSIDE_WORKDIR}/src/model.py", line 4, in forward\n    open(p)\n',
    )
    text = student_code_message(exc)
    assert INSIDE_WORKDIR not in text and "'data/x.tsv'" in text and 'File "src/model.py", line 4' in text
    assert INSIDE_WORKDIR in staff_code_detail(exc)


def test_a_crash_is_capped_in_length() -> None:
    exc = StudentCodeError("ValueError", "x" * 4000, '  File "a.py", line 1, in f\n' * 400)
    text = student_code_message(exc)
    assert len(text) < MESSAGE_CHARS + TRACEBACK_CHARS + 100 and "…" in text
    assert len(staff_code_detail(exc)) > 4000


# ----------------------------------------------------------------------------- hidden inputs

HIDDEN = "HIDDEN-CASE-51f0c3"


def test_a_hidden_input_check_never_echoes_the_exception_message(submitted: Path) -> None:
    paths = HostPaths.of([submitted])
    tb = (
        f'Traceback (most recent call last):\n  File "{INSIDE_WORKDIR}/src/model.py", line 4, in forward\n'
        f"    raise ValueError({HIDDEN!r})\nValueError: {HIDDEN}\n"
    )
    text = student_code_message(StudentCodeError("ValueError", f"bad input {HIDDEN}", tb), paths, hidden_inputs=True)
    assert HIDDEN not in text
    assert text.startswith("Your code raised ValueError. Its message is not shown")
    # the frame is kept, with the source line as submitted (not as the running code may have rewritten it)
    assert '  File "src/model.py", line 4, in forward\n    return x.view(-1)' in text
    assert HIDDEN in staff_code_detail(StudentCodeError("ValueError", f"bad input {HIDDEN}", tb))


def test_hidden_input_frames_of_code_made_at_run_time_are_dropped(submitted: Path) -> None:
    # A file name the code made up (exec/compile), or a file it wrote while running, could spell the input.
    tb = (
        f'  File "{INSIDE_WORKDIR}/src/model.py", line 3, in forward\n    exec(code)\n'
        f'  File "{HIDDEN}", line 1, in <module>\n  File "{INSIDE_WORKDIR}/{HIDDEN}.py", line 1, in <module>\n'
        f'  File "{INSIDE_WORKDIR}/src/model.py", line 9, in {HIDDEN.replace("-", "_")}x\n'
    )
    text = student_code_message(StudentCodeError("ValueError", "", tb), HostPaths.of([submitted]), hidden_inputs=True)
    assert "HIDDEN" not in text and HIDDEN.replace("-", "_") in tb
    assert 'File "src/model.py", line 3, in forward\n    def forward(x):' in text


def test_a_hidden_input_check_hides_what_an_unsendable_result_says() -> None:
    exc = StudentCodeError("UnsendableResult", f"cannot send {HIDDEN}")
    assert HIDDEN not in student_code_message(exc, hidden_inputs=True)
    assert HIDDEN in student_code_message(exc)


def test_a_check_quoting_the_students_error_has_the_quote_redacted() -> None:
    def check() -> None:
        try:
            raise StudentCodeError("ValueError", f"echo {HIDDEN}", "")
        except StudentCodeError as exc:
            raise AssertionError(f"double() raised {exc.exc_type}: {exc.exc_message}") from None

    try:
        check()
    except AssertionError as exc:
        assert redact_echoes(str(exc), exc) == "double() raised ValueError: <not shown: this check's inputs are hidden>"
    else:
        raise RuntimeError("did not raise")
