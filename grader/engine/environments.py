"""The students' environments: what each handout's set-up installs, built once per worker and cached.

A suite declares its packages in ``suite.toml`` (``[environment] packages``). Each package list is
installed once, with ``uv pip install --target`` (pip when uv is absent), into
``<envs_dir>/<key>/site``, where ``key`` hashes the list and the Python that will import it: suites that
declare the same list share one folder, and a changed list is a new folder, never an edit of one in use.
A build goes to a temporary folder renamed into place, so concurrent builders (two workers starting
together) cannot leave a half-built environment where a sandbox would find it.

The sandbox mounts ``site`` read-only and appends it to ``sys.path`` after the grader's own packages,
so nothing in it shadows the grader's torch or numpy. The build resolves against the grader's installed
versions (a constraints file of them), so a package needing another numpy fails here, in words, instead
of importing against the wrong one in a sandbox; a package needing torch fails the same way (the
grader's CPU build is not on PyPI under its version), which is the point: only the grader's torch exists.

No student code runs here: installing is trusted work, done at worker start-up, by ``grader env build``
and by ``scripts/bootstrap``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.config import child_environment
from grader.errors import ConfigurationError
from grader.models.manifest import Environment

SITE = "site"
RECORD = "environment.json"
#: Seconds one build may take (scikit-learn, scipy and pandas from a cold cache take well under a minute with uv).
BUILD_TIMEOUT_SECONDS = 1200


class EnvironmentBuildError(ConfigurationError):
    """An environment could not be installed on this worker (no network, a package that does not resolve)."""


@dataclass(frozen=True)
class EnvironmentStatus:
    """One declared environment on this worker: where it lives, whether it is built, what a sandbox lacks."""

    packages: tuple[str, ...]
    key: str
    folder: Path
    built: bool
    lacking: tuple[str, ...]  # declared requirements a sandbox would not find (neither built nor the grader's)

    @property
    def site(self) -> Path:
        """The folder the sandbox mounts and appends to ``sys.path``."""
        return self.folder / SITE

    @property
    def mount(self) -> Path | None:
        """What a sandbox should mount: the built site, or None (nothing declared, or not built)."""
        return self.site if self.built else None

    def lacking_message(self) -> str:
        """The staff-facing sentence a check shows when this worker cannot provide the environment."""
        return (
            f"the grader's environment for this assignment lacks {', '.join(self.lacking)}; "
            "staff: run `grader env build`"
        )


def environment_key(packages: Iterable[str]) -> str:
    """A short hash of the package list (order and spelling of names aside) and the Python that imports it."""
    normalized = sorted(_normalize(p) for p in packages)
    identity = {
        "packages": normalized,
        "python": [platform.python_implementation(), platform.python_version()],
        "platform": sysconfig.get_platform(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _normalize(text: str) -> str:
    requirement = Requirement(text)
    requirement.name = canonicalize_name(requirement.name)
    return str(requirement)


@lru_cache(maxsize=1)
def grader_distributions() -> dict[str, str]:
    """Name -> version of every distribution the grader's own Python imports (first on ``sys.path`` wins)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def _satisfied(text: str, *versions: dict[str, str]) -> bool:
    """Whether the first of ``versions`` that has the requirement's package (the sys.path order) satisfies it."""
    requirement = Requirement(text)
    name = canonicalize_name(requirement.name)
    for available in versions:
        if name in available:
            return requirement.specifier.contains(available[name], prereleases=True)
    return False


def _site_distributions(site: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


@lru_cache(maxsize=32)
def _cached_site_distributions(site: str, record_mtime_ns: int) -> dict[str, str]:
    """Read once per worker process (the runner asks twice per grading: ~36 metadata files each time);
    a rebuilt environment writes a new record, hence a new key."""
    return _site_distributions(Path(site))


def environment_status(environment: Environment, envs_dir: Path) -> EnvironmentStatus:
    """Where ``environment`` lives under ``envs_dir`` and what a sandbox of this worker would lack."""
    packages = tuple(environment.packages)
    key = environment_key(packages)
    folder = envs_dir / key
    built = (folder / RECORD).is_file() and (folder / SITE).is_dir()
    site = _cached_site_distributions(str(folder / SITE), (folder / RECORD).stat().st_mtime_ns) if built else {}
    lacking = tuple(p for p in packages if not _satisfied(p, grader_distributions(), site))
    return EnvironmentStatus(packages, key, folder, built and bool(packages), lacking)


def build_environment(environment: Environment, envs_dir: Path, *, force: bool = False) -> EnvironmentStatus:
    """Install ``environment`` under ``envs_dir`` unless it is built (or nothing is declared)."""
    status = environment_status(environment, envs_dir)
    if not status.packages or (status.built and not force):
        if status.built:
            _compile_bytecode(status.folder)  # one built before bytecode was compiled at install (once)
        return status
    envs_dir.mkdir(parents=True, exist_ok=True)
    envs_dir.chmod(envs_dir.stat().st_mode | 0o755)  # the sandbox's private uid (as root) must pass it
    staging = Path(tempfile.mkdtemp(prefix=f".build-{status.key}-", dir=envs_dir))
    try:
        started = time.monotonic()
        installer = _install(list(status.packages), staging / SITE, envs_dir / ".cache")
        if (staging / SITE / "torch").exists():
            raise EnvironmentBuildError(
                f"the environment {', '.join(status.packages)} installed its own torch: the sandbox must use the grader's; "
                "remove the package that requires it"
            )
        record = {
            "packages": list(status.packages),
            "key": status.key,
            "python": sys.version.split()[0],
            "installer": installer,
            "bytecode": True,
            "seconds": round(time.monotonic() - started, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "distributions": _site_distributions(staging / SITE),
        }
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _readable_by_all(staging)
        if force and status.folder.exists():  # moved aside first: the new one appears in one step
            status.folder.rename(staging.with_name(staging.name + "-old"))
        try:
            staging.rename(status.folder)  # atomic: a sandbox sees the whole environment or none
        except OSError:
            if not (status.folder / RECORD).is_file():
                raise
            # Another builder finished first with the same key: its environment is as good as ours.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging.with_name(staging.name + "-old"), ignore_errors=True)
    return environment_status(environment, envs_dir)


def _install(packages: list[str], site: Path, cache: Path) -> str:
    """Install ``packages`` into ``site`` against the grader's versions; returns the installer's name.

    Wheels only: building an sdist runs the package's own code on the trusted side (as root, on a root
    worker) at install time; a wheel is unpacked, and its code runs only when a sandbox imports it."""
    constraints = site.parent / "constraints.txt"
    constraints.write_text(
        "".join(f"{name}=={version}\n" for name, version in sorted(grader_distributions().items()) if name != "grader"),
        encoding="utf-8",
    )
    uv = _uv()
    if uv is not None:
        cmd = [
            uv,
            "pip",
            "install",
            "--target",
            str(site),
            "--python",
            sys.executable,
            "--constraint",
            str(constraints),
            "--link-mode",
            "copy",
            "--no-progress",
            "--no-build",
            "--compile-bytecode",  # see _compile_bytecode (pip compiles by default)
            "--",
            *packages,
        ]
        installer = "uv"
    else:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(site),
            "--constraint",
            str(constraints),
            "--no-warn-script-location",
            "--disable-pip-version-check",
            "--quiet",
            "--only-binary=:all:",
            "--",
            *packages,
        ]
        installer = "pip"
    # The operator's environment (proxy, index settings) with a package cache of our own beside the environments.
    env = child_environment(UV_CACHE_DIR=str(cache), PIP_CACHE_DIR=str(cache / "pip"))
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise EnvironmentBuildError(f"installing {', '.join(packages)} took over {BUILD_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-3000:]
        raise EnvironmentBuildError(
            f"{installer} could not install {', '.join(packages)} (no network, or a package that does not resolve "
            f"against the grader's own versions):\n{tail}"
        )
    return installer


def _compile_bytecode(folder: Path) -> None:
    """Write the ``.pyc`` files of an environment built without them (uv's default until then).

    The sandbox runs ``python -B`` on a read-only mount: without them every sandbox compiled what it
    imported from source again (pandas 1.5 s instead of 0.4 s, scikit-learn 3.8 s instead of 1.4 s).
    Compiling runs no package code; each file is written atomically, so a sandbox reading the folder
    meanwhile sees a whole ``.pyc`` or none."""
    record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    if record.get("bytecode"):
        return
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0", str(folder / SITE)]
    subprocess.run(command, capture_output=True, timeout=BUILD_TIMEOUT_SECONDS, check=False)  # noqa: S603
    _readable_by_all(folder / SITE)
    record["bytecode"] = True
    staged = folder / f".{RECORD}.{os.getpid()}"
    staged.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    staged.chmod(0o644)
    staged.replace(folder / RECORD)


def _uv() -> str | None:
    """The uv binary installed with the grader (pyproject's dependency), else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _readable_by_all(root: Path) -> None:
    """Folders 0755, files 0644 (0755 when executable): the sandbox's private uid reads, nobody writes."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(0o755 if path.is_dir() or mode & 0o100 else 0o644)
