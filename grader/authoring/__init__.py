"""What suite authors import: the ``@check`` decorator, self-explaining assertions, trusted weights."""

from grader.authoring.asserts import assert_close, assert_dtype, assert_equal, assert_shape, fail
from grader.authoring.checks import Credit, Feedback, NotGradable, Visibility, check
from grader.authoring.weights import load_trusted_weights, load_weights, trusted_weights
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
    "load_trusted_weights",
    "load_weights",
    "trusted_weights",
]
