"""Suites import only ``grader.authoring``: every other ``grader`` module is the grader's own, free to change."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT

SUITES = PROJECT_ROOT / "test_suites"
SUITE_FILES = sorted(SUITES.rglob("*.py"))


def grader_imports(source: str) -> list[str]:
    """Every ``grader`` module a file imports (``import grader.x`` or ``from grader.x import y``), at any depth."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "grader"]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "grader"
        ):
            found.append(node.module if node.module != "grader" else f"grader.{node.names[0].name}")
    return found


def test_the_four_suites_are_scanned() -> None:
    assert {p.relative_to(SUITES).parts[0] for p in SUITE_FILES} >= {"cs224n_a5", "csc413_a3", "gsds_a4", "minbert"}


@pytest.mark.parametrize("path", SUITE_FILES, ids=[str(p.relative_to(SUITES)) for p in SUITE_FILES])
def test_suite_imports_only_the_authoring_surface(path: Path) -> None:
    others = [m for m in grader_imports(path.read_text(encoding="utf-8")) if m != "grader.authoring"]
    assert not others, f"{path.relative_to(PROJECT_ROOT)} imports {others}: import them from grader.authoring"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from grader.authoring import check", ["grader.authoring"]),
        ("from grader.sandbox.client import Student", ["grader.sandbox.client"]),
        ("import grader.engine.notebooks as nb", ["grader.engine.notebooks"]),
        ("from grader import errors", ["grader.errors"]),
        ("def f():\n    from grader.engine.confined import run_confined", ["grader.engine.confined"]),
        ("from .bertlib import probes\nimport graderx", []),
    ],
)
def test_the_scan_sees_every_form_of_import(source: str, found: list[str]) -> None:
    assert grader_imports(source) == found
