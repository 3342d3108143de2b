"""A submission that imports the handout's packages at import time, as the minbert starter files do."""

import sys

from grader.authoring import check, fail
from grader.sandbox.client import Student
from grader.sandbox.launcher import INSIDE_ENVIRONMENT


@check(name="the handout's packages import, the grader's torch first", number="1", points=1, timeout=60)
def handout_packages(student: Student) -> None:
    origins = student.module("starter").origins()  # importing starter imports importlib_metadata, sklearn, pandas
    for name in ("importlib_metadata", "sklearn", "pandas"):
        if not str(origins[name]).startswith(INSIDE_ENVIRONMENT + "/"):
            fail(f"{name} was imported from {origins[name]}, not from the suite's environment")
    for name in ("torch", "numpy"):  # numpy is in the environment too (scikit-learn needs it): it must not win
        if not str(origins[name]).startswith(sys.prefix + "/"):
            fail(f"{name} was imported from {origins[name]}, not from the grader's own {sys.prefix}")


@check(name="the environment is read-only", number="2", points=1, timeout=30)
def read_only(student: Student) -> None:
    outcome = student.module("starter").try_write(INSIDE_ENVIRONMENT)
    if outcome == "written":
        fail("the submission could write into the suite's environment")
