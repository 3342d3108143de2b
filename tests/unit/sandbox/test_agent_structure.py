"""Structure tests for the code that runs inside the sandbox: what it imports and what the launcher mounts."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from grader.sandbox import launcher

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GRADER_DIR = PROJECT_ROOT / "grader"
AGENT_DIR = GRADER_DIR / "sandbox" / "agent"
ENTRY_POINT = "grader/sandbox/agent/__main__.py"

INSIDE_MODULES = sorted(
    [p.relative_to(PROJECT_ROOT).as_posix() for p in AGENT_DIR.glob("*.py")]
    + ["grader/sandbox/protocol.py", "grader/sandbox/__init__.py", "grader/__init__.py"]
)
THIRD_PARTY_ALLOWED = {"torch", "numpy"}


def module_name(rel: str) -> str:
    """'grader/sandbox/agent/__init__.py' -> 'grader.sandbox.agent'."""
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str) -> str | None:
    """The repository file that defines module ``name`` under grader/, or None."""
    base = PROJECT_ROOT / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(PROJECT_ROOT).as_posix()
    return None


def imports_of(rel: str) -> set[str]:
    """Absolute names of every module ``rel`` imports, anywhere in the file (lazy imports included).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module of ours, else ``pkg``.
    """
    path = PROJECT_ROOT / rel
    package = module_name(rel) if rel.endswith("__init__.py") else module_name(rel).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if module_file(sub) else module)
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            fname = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if fname in ("__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
    return found


def is_allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top == "grader":
        return (
            name == "grader.sandbox.protocol"
            or name == "grader.sandbox.agent"
            or name.startswith("grader.sandbox.agent.")
        )
    return top in sys.stdlib_module_names or top in THIRD_PARTY_ALLOWED


def closure(entry: str) -> set[str]:
    """Every grader file loaded when ``entry`` runs: the modules it imports and their packages' __init__s."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            init = "/".join(parts[:i]) + "/__init__.py"
            if (PROJECT_ROOT / init).is_file():
                todo.append(init)
        for name in imports_of(rel):
            if name.split(".")[0] == "grader":
                target = module_file(name)
                assert target is not None, f"{rel} imports {name}, which does not exist"
                todo.append(target)
    return seen


# ----------------------------------------------------------------------------- imports


def test_the_inside_modules_are_found() -> None:
    assert set(INSIDE_MODULES) >= {
        "grader/__init__.py",
        "grader/sandbox/__init__.py",
        "grader/sandbox/protocol.py",
        "grader/sandbox/agent/__init__.py",
        "grader/sandbox/agent/__main__.py",
        "grader/sandbox/agent/server.py",
    }


@pytest.mark.parametrize("rel", INSIDE_MODULES)
def test_code_inside_the_sandbox_imports_only_stdlib_torch_numpy_and_the_protocol(rel: str) -> None:
    forbidden = sorted(name for name in imports_of(rel) if not is_allowed(name))
    assert forbidden == []


def test_the_protocol_imports_nothing_from_grader() -> None:
    assert not [n for n in imports_of("grader/sandbox/protocol.py") if n.startswith("grader")]


@pytest.mark.parametrize("rel", ["grader/__init__.py", "grader/sandbox/__init__.py"])
def test_the_shared_package_inits_import_nothing_from_grader(rel: str) -> None:
    assert not [n for n in imports_of(rel) if n.startswith("grader")]


def test_the_import_rule_rejects_other_grader_modules_and_third_party_packages() -> None:
    assert not is_allowed("grader.errors")
    assert not is_allowed("grader.sandbox.client")
    assert not is_allowed("grader.sandbox")  # `from grader.sandbox import protocol` resolves to the module
    assert not is_allowed("pydantic")
    assert is_allowed("grader.sandbox.agent.server") and is_allowed("json") and is_allowed("torch.nn")


def test_the_import_scan_resolves_from_imports_to_modules() -> None:
    assert "grader.sandbox.protocol" in imports_of("grader/sandbox/agent/server.py")
    assert "grader.sandbox.agent.server" in imports_of(ENTRY_POINT)


# ----------------------------------------------------------------------------- what the launcher mounts


def test_agent_files_exist_and_are_unique() -> None:
    assert len(set(launcher.AGENT_FILES)) == len(launcher.AGENT_FILES)
    for rel in launcher.AGENT_FILES:
        assert (launcher.PACKAGE_ROOT / rel).is_file(), rel


def test_agent_files_are_exactly_what_the_entry_point_loads() -> None:
    assert set(launcher.AGENT_FILES) == closure(ENTRY_POINT)


def test_agent_files_include_the_entry_point_the_launcher_runs() -> None:
    cmd = launcher._agent_command("python", "/opt/grader", "/src", "/work", launcher.SandboxSpec(Path("/s")))
    assert cmd[3] == f"/opt/grader/{ENTRY_POINT}"
    assert ENTRY_POINT in launcher.AGENT_FILES


def test_agent_files_hold_nothing_of_the_trusted_side() -> None:
    trusted = {"grader/config.py", "grader/errors.py", "grader/sandbox/client.py", "grader/sandbox/launcher.py"}
    assert not trusted & set(launcher.AGENT_FILES)
    assert not [rel for rel in launcher.AGENT_FILES if rel.startswith(("grader/engine", "grader/authoring"))]


def test_package_root_is_the_repository_root() -> None:
    assert launcher.PACKAGE_ROOT == PROJECT_ROOT
