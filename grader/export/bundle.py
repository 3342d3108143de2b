"""Build a Gradescope autograder zip for one assignment.

Layout of the zip (Gradescope unpacks it into ``/autograder/source``)::

    setup.sh               apt: bubblewrap, util-linux, python3-venv; venv; torch (CPU); project/
    run_autograder         grades /autograder/submission, writes /autograder/results/results.json
    export.json            what was exported: assignment, suite folder, grader version, torch pin
    suites/<folder>/       the suite as installed: suite.toml, checks, hidden data/ (staff only!)
    project/               this grader's source: pyproject.toml, README.md, grader/

Only regular files are copied; caches, virtual environments and service state never are.
"""

from __future__ import annotations

import json
import re
import stat
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grader
from grader.config import PROJECT_ROOT
from grader.engine.suites import Suite, discover, load_suite, suite_package
from grader.errors import GraderError
from grader.export.scripts import RUN_AUTOGRADER, SETUP_SH, render

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Path parts never bundled: caches, environments, VCS data, the service's state.
JUNK = frozenset(
    {"__pycache__", ".venv", "venv", "var", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".DS_Store"}
)
PROJECT_FILES = ("pyproject.toml", "README.md")


@dataclass(frozen=True)
class Bundle:
    """What was written: the zip, its member names and the suite it carries."""

    path: Path
    names: tuple[str, ...]
    assignment: str
    suite_folder: str
    max_score: float
    models: tuple[str, ...] = ()  # Hugging Face models the suite's checks need: not in Gradescope's image


def _bundled(root: Path) -> list[tuple[Path, str]]:
    """Regular files under ``root`` as (path, relative name), junk left out; links are refused."""
    found: list[tuple[Path, str]] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if JUNK & set(rel.parts) or path.suffix in (".pyc", ".pyo"):
            continue
        if path.is_symlink():
            raise GraderError(f"cannot export {path}: symbolic links are not bundled; copy the file in instead")
        if path.is_file():
            found.append((path, rel.as_posix()))
    return found


def _imported_from_siblings(suite: Suite, suites_dir: Path) -> list[tuple[Path, str]]:
    """Files the loaded suite imported from another suite's folder (a helper package two assignments
    share), as (path, name relative to the suites folder), so the bundle keeps the same layout."""
    suites_root, own = suites_dir.resolve(), suite.path.resolve()
    package = suite_package(suite.manifest.id)
    found: set[tuple[Path, str]] = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) if name.startswith(package + ".") else None
        if not file:
            continue
        path = Path(file).resolve()
        if path.is_relative_to(suites_root) and not path.is_relative_to(own) and path.suffix == ".py":
            found.add((path, path.relative_to(suites_root).as_posix()))
    return sorted(found)


def torch_requirement(pyproject: Path) -> str:
    """The project's exact torch pin (``torch==X``), so the bundle installs what the tests ran with."""
    deps: list[str] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = [d.replace(" ", "") for d in deps if re.match(r"torch\s*==", d)]
    if len(pins) != 1:
        raise GraderError(f"{pyproject} must pin torch exactly once (torch==X), found {pins or 'none'}")
    return pins[0]


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_autograder_zip(suites_dir: Path, assignment: str, out: Path, project_root: Path = PROJECT_ROOT) -> Bundle:
    """Write the autograder zip for ``assignment`` (its suite must load) to ``out``."""
    known = discover(suites_dir)
    if assignment not in known:
        raise GraderError(f"unknown assignment {assignment!r}; installed: {', '.join(sorted(known)) or 'none'}")
    suite_path = known[assignment]
    suite = load_suite(suite_path)  # refuse to ship a suite that does not load
    torch = torch_requirement(project_root / "pyproject.toml")
    fields = {"assignment": assignment, "version": grader.__version__, "torch": torch, "torch_index": TORCH_CPU_INDEX}
    members: list[tuple[str, bytes, int]] = [
        ("setup.sh", render(SETUP_SH, **fields).encode(), 0o755),
        ("run_autograder", render(RUN_AUTOGRADER, **fields).encode(), 0o755),
    ]
    meta = {
        **fields,
        "suite_folder": suite_path.name,
        "max_score": suite.max_score,
        "exported_at": datetime.now(UTC).isoformat(),
    }
    members.append(("export.json", (json.dumps(meta, indent=2) + "\n").encode(), 0o644))
    files = [(p, f"suites/{suite_path.name}/{rel}") for p, rel in _bundled(suite_path)]
    files += [(p, f"suites/{rel}") for p, rel in _imported_from_siblings(suite, suites_dir)]
    files += [(project_root / name, f"project/{name}") for name in PROJECT_FILES]
    files += [(p, f"project/grader/{rel}") for p, rel in _bundled(project_root / "grader")]
    members += [(name, path.read_bytes(), stat.S_IMODE(path.stat().st_mode) | 0o400) for path, name in files]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, data, mode in members:
            _add(zf, name, data, mode)
    tmp.replace(out)
    models = tuple(sorted({m for c in suite.checks for m in c.models}))
    return Bundle(out, tuple(m[0] for m in members), assignment, suite_path.name, suite.max_score, models)
