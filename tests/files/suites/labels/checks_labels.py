"""A dev file scored in the open, a test file scored against hidden labels, and two checks with hidden inputs."""

from pathlib import Path

from grader.authoring import Credit, Feedback, StudentCodeError, check, fail
from grader.sandbox.client import Student


def _lines(files: Path, name: str, expected: int) -> list[str]:
    path = files / name
    if not path.is_file():
        fail(f"Not graded: needs the file {name}.")
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != expected:
        fail(f"{name} has {len(lines)} lines; expected {expected}, one per question.")
    return lines


@check(name="Dev predictions: accuracy", number="1", points=1)
def dev(files: Path, data: Path, feedback: Feedback) -> Credit:
    gold = (data / "dev_labels.txt").read_text().splitlines()
    lines = _lines(files, "dev.predictions", len(gold))
    if len(set(lines)) == 1:
        feedback.flag("constant dev predictions")
    correct = sum(p == g for p, g in zip(lines, gold, strict=True))
    return Credit(correct / len(gold), f"Dev accuracy: {correct}/{len(gold)}")


@check(name="Test predictions: accuracy on the hidden labels", number="2", points=2)
def test(files: Path, data: Path, feedback: Feedback) -> Credit:
    gold = (data / "test_labels.txt").read_text().splitlines()
    lines = _lines(files, "test.predictions", len(gold))
    feedback.well_formed(f"test.predictions: {len(lines)} lines, well formed.")
    correct = sum(p == g for p, g in zip(lines, gold, strict=True))
    feedback.note(f"Per-line results: {''.join('+' if p == g else '-' for p, g in zip(lines, gold, strict=True))}")
    return Credit(correct / len(gold), f"Test accuracy: {correct}/{len(gold)}")


@check(name="Hidden cases: double", number="3", points=1, timeout=240, hidden_inputs=True)
def hidden(student: Student, data: Path) -> None:
    case = (data / "hidden_case.txt").read_text().strip()
    if student.module("solution").double(case) != case + case:
        fail("double() is wrong on a hidden case.")


@check(name="Hidden cases: double, the error quoted", number="4", points=1, timeout=240, hidden_inputs=True)
def hidden_quoted(student: Student, data: Path) -> None:
    case = (data / "hidden_case.txt").read_text().strip()
    try:
        result = student.module("solution").double(case)
    except StudentCodeError as exc:  # a check that quotes the student's error, as many do
        fail(f"double() raised {exc.exc_type}: {exc.exc_message}")
    if result != case + case:
        fail("double() is wrong on a hidden case.")


@check(name="Public case: double", number="5", points=1, timeout=240)
def public(student: Student) -> None:
    if student.module("solution").double("ab") != "abab":
        fail("double('ab') should be 'abab'.")
