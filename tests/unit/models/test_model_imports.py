"""Structure tests for the shared models: one home, a neutral zone, and every reader imports them from there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT

GRADER = PROJECT_ROOT / "grader"
MODELS = sorted((GRADER / "models").glob("*.py"))
SHARED = (
    *("GradeReport", "TestReport", "CheckResult", "ReportStatus", "OutputFormat", "PhaseTimings", "SandboxRecord"),
    *(
        "Visibility",
        "SuiteManifest",
        "Policy",
        "Resources",
        "FilesSpec",
        "Environment",
        "NotebookSpec",
        "NotebookAlias",
    ),
    *("SandboxLimits", "Timeouts"),
)
#: Where the models used to live; nothing imports a model from there any more.
OLD_HOMES = ("grader.engine.report", "grader.engine.manifest", "grader.engine.notebooks_spec", "grader.sandbox.limits")
#: The zones that read reports and manifests without running anything.
READERS = ("api", "export", "course", "store", "cli", "worker")


def grader_imports(path: Path) -> list[tuple[str, str]]:
    """Every ``(module, name)`` a file imports from ``grader`` (``name`` is '' for ``import grader.x``), at any depth."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.split(".")[0] == "grader"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "grader":
            found += [(node.module or "", a.name) for a in node.names]
    return found


def rel(path: Path) -> str:
    return path.relative_to(PROJECT_ROOT).as_posix()


def test_the_shared_models_live_in_grader_models() -> None:
    import grader.models.limits
    import grader.models.manifest
    import grader.models.notebooks
    import grader.models.report
    import grader.models.visibility

    modules = [grader.models.limits, grader.models.manifest, grader.models.notebooks, grader.models.report]
    defined = {
        name
        for m in [*modules, grader.models.visibility]
        for name, value in vars(m).items()
        if getattr(value, "__module__", "") == m.__name__
    }
    assert sorted(set(SHARED) - defined) == []


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_the_models_are_a_neutral_zone(path: Path) -> None:
    """They import only each other and grader.errors, so any zone may import them without pulling another in."""
    others = [m for m, _ in grader_imports(path) if not m.startswith("grader.models") and m != "grader.errors"]
    assert not others, f"{rel(path)} imports {others}"


def test_no_other_module_defines_a_shared_model() -> None:
    defined = [
        f"{rel(path)}: {node.name}"
        for path in GRADER.rglob("*.py")
        if "models" not in path.relative_to(GRADER).parts[:1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.name in SHARED
    ]
    assert not defined


@pytest.mark.parametrize("zone", READERS)
def test_readers_import_the_models_from_grader_models(zone: str) -> None:
    wrong = [
        f"{rel(path)}: from {module} import {name}"
        for path in sorted((GRADER / zone).rglob("*.py"))
        for module, name in grader_imports(path)
        if module in OLD_HOMES or (name in SHARED and not module.startswith("grader.models"))
    ]
    assert not wrong, "import these from grader.models: " + "; ".join(wrong)


def test_nothing_in_the_grader_imports_an_old_home() -> None:
    wrong = [
        f"{rel(path)}: {module}"
        for path in sorted(GRADER.rglob("*.py"))
        for module, _ in grader_imports(path)
        if module in OLD_HOMES
    ]
    assert not wrong


def test_the_scan_sees_what_a_reader_imports(tmp_path: Path) -> None:
    source = tmp_path / "reader.py"
    lines = [
        "import grader.engine.report",
        "from grader.authoring.checks import Visibility",
        "def f():",
        "    from grader.models.report import GradeReport",
    ]
    source.write_text("\n".join(lines) + "\n")
    assert grader_imports(source) == [
        ("grader.engine.report", ""),
        ("grader.authoring.checks", "Visibility"),
        ("grader.models.report", "GradeReport"),
    ]
