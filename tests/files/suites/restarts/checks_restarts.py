"""Checks that pass or fail with and without sending the sandbox anything."""

from grader.authoring import check, fail
from grader.sandbox.client import Student


@check(name="marks the sandbox", number="1", points=1, timeout=30)
def marks(student: Student) -> None:
    student.module("probe").leave_mark()


@check(name="fails before asking the sandbox anything", number="2", points=1, timeout=30)
def fails_untouched(student: Student) -> None:
    fail("no predictions file (this check never reached the sandbox)")


@check(name="still the first sandbox", number="3", points=1, timeout=30)
def same_sandbox(student: Student) -> None:
    if not student.module("probe").marked():
        fail("the sandbox was replaced after a check that sent it nothing")


@check(name="fails after running student code", number="4", points=1, timeout=30)
def fails_touched(student: Student) -> None:
    student.module("probe").leave_mark()
    fail("failed after running the student's code")


@check(name="a fresh sandbox", number="5", points=1, timeout=30)
def fresh_sandbox(student: Student) -> None:
    if student.module("probe").marked():
        fail("the sandbox a failed check ran student code in was kept")
