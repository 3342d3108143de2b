"""Everything a suite author imports, and the only ``grader`` module suites may import.

``@check`` and its credit types, self-explaining assertions, trusted weights, the handles on the student's
code (``Student``, ``RemoteObject``, ``ScriptRun``), and the trusted-side notebook reading and confined
parsing that static checks of a notebook use. The structure test ``tests/unit/authoring/test_suite_imports.py`` keeps
every suite under ``test_suites/`` on this module alone.
"""

from grader.authoring.asserts import (
    assert_changed,
    assert_close,
    assert_dtype,
    assert_equal,
    assert_finite,
    assert_shape,
    fail,
    max_abs_diff,
)
from grader.authoring.checks import Credit, Feedback, NotGradable, check
from grader.authoring.results import expect_object, expect_tensor, fail_raised, raised
from grader.authoring.weights import load_trusted_weights, load_weights, trusted_weights
from grader.engine.confined import CapExceeded, ConfinedCrash, run_confined
from grader.engine.notebooks import NOTEBOOK_CAPS, NotebookError, read_notebook
from grader.engine.notebooks_cells import plan_cell
from grader.errors import SandboxError, StudentCodeError
from grader.models.notebooks import NotebookSpec
from grader.models.visibility import Visibility
from grader.sandbox.client import RemoteObject, Student
from grader.sandbox.script_runs import ScriptRun

__all__ = [
    "CapExceeded",
    "ConfinedCrash",
    "Credit",
    "Feedback",
    "NOTEBOOK_CAPS",
    "NotGradable",
    "NotebookError",
    "NotebookSpec",
    "RemoteObject",
    "SandboxError",
    "ScriptRun",
    "Student",
    "StudentCodeError",
    "Visibility",
    "assert_changed",
    "assert_close",
    "assert_dtype",
    "assert_equal",
    "assert_finite",
    "assert_shape",
    "check",
    "expect_object",
    "expect_tensor",
    "fail",
    "fail_raised",
    "load_trusted_weights",
    "load_weights",
    "max_abs_diff",
    "plan_cell",
    "raised",
    "read_notebook",
    "run_confined",
    "trusted_weights",
]
