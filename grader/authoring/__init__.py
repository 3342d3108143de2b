"""What suite authors import: the ``@check`` decorator and self-explaining assertions."""

from grader.authoring.asserts import assert_close, assert_dtype, assert_equal, assert_shape, fail
from grader.authoring.checks import Credit, Feedback, NotGradable, Visibility, check
from grader.errors import SandboxError, StudentCodeError

__all__ = [
    "Credit",
    "Feedback",
    "NotGradable",
    "SandboxError",
    "StudentCodeError",
    "Visibility",
    "assert_close",
    "assert_dtype",
    "assert_equal",
    "assert_shape",
    "check",
    "fail",
]
