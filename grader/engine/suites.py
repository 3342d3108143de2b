"""Find and load suites from ``test_suites/<id>/``: manifest, check modules and hidden data.

Suite modules are staff code and run in the trusted process; they never run inside a sandbox and the
sandbox never sees them.

A worker grades many submissions of the same few suites: :func:`cached_assignment` loads each suite once
per process and again only when one of its files (or a shared package's) changes, so a job does not
re-parse the manifest and re-import the check modules (and whatever they load once, e.g. a tokenizer).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from grader.authoring.checks import CheckSpec, collect_checks
from grader.engine.scoring import validate_points
from grader.errors import SuiteError
from grader.models.manifest import SuiteManifest, load_manifest


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its manifest, its checks in order, and its folder (hidden data under data/)."""

    manifest: SuiteManifest
    checks: tuple[CheckSpec, ...]
    path: Path

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def discover(suites_dir: Path) -> dict[str, Path]:
    """Assignment id -> suite folder, for every folder holding a ``suite.toml``."""
    found: dict[str, Path] = {}
    for manifest_path in sorted(suites_dir.glob("*/suite.toml")):
        manifest = load_manifest(manifest_path)
        if manifest.id in found:
            raise SuiteError(f"two suites declare the id {manifest.id!r}")
        found[manifest.id] = manifest_path.parent
    return found


def suite_package(assignment_id: str) -> str:
    """The package name a suite's folder is imported under."""
    return f"grader_suite_{assignment_id.replace('-', '_')}"


def _mount_shared(package: str, path: Path, shared: str) -> None:
    """Make another suite's helper package (``suite.toml`` ``shared``) a sub-package of this suite's package.

    It then runs under this suite's name, so its relative imports stay inside the mounted copy and the two
    suites never share module objects (a reload of one cannot change the other's state).
    """
    suites_dir = path.resolve().parent
    folder = (suites_dir / shared).resolve()
    name = shared.rsplit("/", 1)[-1]
    if not folder.is_relative_to(suites_dir) or not (folder / "__init__.py").is_file():
        raise SuiteError(f"suite {path.name!r}: shared package {shared!r} is not a package folder under {suites_dir}")
    if (path / name).exists() or (path / f"{name}.py").exists():
        raise SuiteError(f"suite {path.name!r}: shared package {shared!r} clashes with the suite's own {name!r}")
    spec = importlib.util.spec_from_file_location(
        f"{package}.{name}", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None  # a .py file always has a source loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # staff code, as the check modules
        raise SuiteError(f"cannot load shared package {shared!r}: {type(exc).__name__}: {exc}") from exc


def load_suite(path: Path) -> Suite:
    """Load one suite folder; the checks are sorted by their number."""
    manifest = load_manifest(path / "suite.toml")
    checks: list[CheckSpec] = []
    files = sorted({f for pattern in manifest.check_files for f in path.glob(pattern)})
    if not files:
        raise SuiteError(f"suite {manifest.id!r} has no check modules matching {manifest.check_files}")
    # The suite folder becomes a package of its own, so check modules can share helpers with
    # relative imports (``from .corpora import ...``) without clashing with another suite's names.
    package = suite_package(manifest.id)
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]  # a reload (or another folder with this id) must not reuse old modules
    module = types.ModuleType(package)
    module.__path__ = [str(path)]
    sys.modules[package] = module
    for shared in manifest.shared:
        _mount_shared(package, path, shared)
    for file in files:
        try:
            checks.extend(collect_checks(vars(importlib.import_module(f"{package}.{file.stem}"))))
        except Exception as exc:  # any error in staff code at import is the suite's, never the student's
            raise SuiteError(f"cannot load check module {file}: {type(exc).__name__}: {exc}") from exc
    checks.sort(key=lambda c: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in c.number.split(".")])
    validate_points(checks, manifest.total_points)
    unknown = sorted(set(manifest.policy.hidden_label_checks) - {c.number for c in checks})
    if unknown:  # a mistyped number would leave a label-derived figure visible to students
        raise SuiteError(
            f"suite {manifest.id!r}: [policy] hidden_label_checks names no check numbered {', '.join(unknown)}"
        )
    return Suite(manifest, tuple(checks), path)


def load_assignment(suites_dir: Path, assignment_id: str) -> Suite:
    """Load the suite for ``assignment_id`` or raise a ``SuiteError`` listing the known ids."""
    known = discover(suites_dir)
    if assignment_id not in known:
        raise SuiteError(f"unknown assignment {assignment_id!r}; installed: {', '.join(sorted(known)) or 'none'}")
    return load_suite(known[assignment_id])


#: A suite folder's files as (path, mtime_ns, size, inode): any edit, replacement or new file changes it.
Fingerprint = tuple[tuple[str, int, int, int], ...]

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[Fingerprint, types.ModuleType, Suite]] = {}  # suite folder -> what was loaded


def fingerprint(path: Path) -> Fingerprint:
    """Every file of the suite folder and of the shared packages its manifest names (bytecode caches aside)."""
    folders = [path]
    try:
        folders += [(path.parent / shared).resolve() for shared in load_manifest(path / "suite.toml").shared]
    except Exception:  # noqa: BLE001 - a broken manifest is reported by load_suite; it still has a fingerprint
        pass
    entries = []
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                try:
                    st = os.stat(os.path.join(root, name))
                except OSError:  # removed while walking: the next job sees the new state
                    continue
                entries.append((os.path.join(root, name), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(entries)


def cached_suite(path: Path) -> Suite:
    """:func:`load_suite`, loaded once per process and again when the folder's fingerprint changes."""
    key = path.resolve()
    with _cache_lock:  # one load at a time: loading replaces the package's modules in sys.modules
        current = fingerprint(key)
        hit = _cache.get(key)
        # The package must still be the one loaded here: a load of another folder with the same id
        # (tests do it) replaces the modules a check may import lazily.
        if hit is not None and hit[0] == current and sys.modules.get(suite_package(hit[2].manifest.id)) is hit[1]:
            return hit[2]
        suite = load_suite(path)
        _cache[key] = (current, sys.modules[suite_package(suite.manifest.id)], suite)
        return suite


def cached_assignment(suites_dir: Path, assignment_id: str) -> Suite:
    """:func:`load_assignment` through the per-process cache of :func:`cached_suite` (the worker's way)."""
    known = discover(suites_dir)
    if assignment_id not in known:
        raise SuiteError(f"unknown assignment {assignment_id!r}; installed: {', '.join(sorted(known)) or 'none'}")
    return cached_suite(known[assignment_id])
