"""Guard on the public surface suite authors import: ``grader.authoring.__all__`` changes only on purpose."""

from __future__ import annotations

import importlib
import types

import grader.authoring

EXPECTED = [
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


def test_all_is_the_expected_list() -> None:
    assert grader.authoring.__all__ == EXPECTED


def test_all_is_sorted_and_without_duplicates() -> None:
    assert grader.authoring.__all__ == sorted(set(grader.authoring.__all__))


def test_every_exported_name_is_importable() -> None:
    module = importlib.import_module("grader.authoring")
    for name in grader.authoring.__all__:
        assert getattr(module, name, None) is not None, name


def test_star_import_gives_exactly_the_exported_names() -> None:
    namespace: dict[str, object] = {}
    exec("from grader.authoring import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPECTED


def test_every_public_member_is_exported() -> None:
    public = {
        name
        for name, value in vars(grader.authoring).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(EXPECTED)
