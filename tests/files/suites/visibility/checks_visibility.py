"""One check per Gradescope visibility; each passes for an honest submission."""

import time

from grader.authoring import check, fail
from grader.sandbox.client import Student


def _add(student: Student) -> None:
    if student.module("good").add(2, 3) != 5:
        fail("add(2, 3) should be 5")


@check(name="visible check", number="1", points=1)
def visible(student: Student) -> None:
    _add(student)


@check(name="hidden check", number="2", points=1, visibility="hidden")
def hidden(student: Student) -> None:
    _add(student)


@check(name="after due date check", number="3", points=1, visibility="after_due_date")
def after_due(student: Student) -> None:
    _add(student)


@check(name="slow visible check", number="4", points=1, timeout=60)
def slow(student: Student) -> None:
    """Takes as long as the submission's ``pause()`` says (used to catch a grading run in flight)."""
    good = student.module("good")
    started = time.monotonic()
    good.pause()
    if time.monotonic() - started > 55:
        fail("pause() took too long")
