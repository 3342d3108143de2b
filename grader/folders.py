"""The service's own folders, checked before it starts and by ``/healthz``: a service that cannot grade
must not look healthy.

Each part needs its folders usable by its own uid: the API writes blobs and reads the suites' manifests;
the worker reads blobs and suites and writes its scratch space. As root, the worker gives every sandbox
a private host uid (``grader/sandbox/launcher.py``), and bubblewrap binds the submission's copy from the
scratch space *as that uid*: every folder above it must let any uid pass (o+x, traverse without
listing), and so must the venv, the grader's package and the model cache the sandbox mounts. A data
folder made by ``mktemp -d`` (0700) passes every check root makes on its own behalf, so without this one
the service started, answered ``/healthz`` and accepted uploads, and every grading failed with the reason
only in the worker's log.

The grader's own folders (``GRADER_DATA_DIR`` and what lies below it) are given o+x when they lack it,
as ``scripts/bootstrap`` does for the checkout; a folder above them, or the checkout, the venv and the
model cache, are the operator's: the grader names them and refuses to start instead of changing them.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from grader.config import PROJECT_ROOT, Settings

Part = Literal["api", "worker"]
BOTH: tuple[Part, ...] = ("api", "worker")


def sandboxes_use_private_uids(settings: Settings) -> bool:
    """True when this process's sandboxes run under a uid of their own (root, bubblewrap, a uid base)."""
    return os.geteuid() == 0 and settings.sandbox_backend == "bwrap" and settings.sandbox_uid_base is not None


def prepare_folders(settings: Settings, parts: Collection[Part]) -> list[str]:
    """Create the folders ``parts`` use, give the grader's own ones the o+x sandboxes need, and return
    what is still wrong, one sentence per problem (empty: the parts can start)."""
    return _inspect(settings, parts, repair=True)


def folder_problems(settings: Settings, parts: Collection[Part]) -> list[str]:
    """What is wrong with the folders ``parts`` use, changing nothing (for ``/healthz``)."""
    return _inspect(settings, parts, repair=False)


def _inspect(settings: Settings, parts: Collection[Part], *, repair: bool) -> list[str]:
    problems = _usable(
        settings.suites_dir, "the suites folder (GRADER_SUITES_DIR)", os.R_OK | os.X_OK, create=False, made_on_use=False
    )
    if "api" in parts:
        problems += _usable(settings.blobs, "the blob folder (GRADER_BLOB_DIR)", os.W_OK | os.X_OK, create=repair)
    if "worker" in parts:
        problems += _usable(settings.blobs, "the blob folder (GRADER_BLOB_DIR)", os.R_OK | os.X_OK, create=repair)
        scratch = _usable(
            settings.scratch_dir, "the scratch space (under GRADER_DATA_DIR)", os.W_OK | os.X_OK, create=repair
        )
        problems += scratch
        if sandboxes_use_private_uids(settings) and not scratch:
            problems += _reachable_by_sandboxes(settings, repair=repair)
    return list(dict.fromkeys(problems))  # the blob folder's problem once when both parts need it


def _usable(path: Path, what: str, mode: int, *, create: bool, made_on_use: bool = True) -> list[str]:
    """``path`` is a folder this process may use with ``mode``, made first when ``create``. Without it, a
    missing folder the parts make on first use (``made_on_use``) is fine where it can be made."""
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [f"{what} {path} cannot be created: {exc.strerror}."]
    elif made_on_use and not path.exists():
        parent = next(p for p in path.parents if p.exists())
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return []
        return [f"{what} {path} does not exist and cannot be created in {parent}."]
    if not path.is_dir():
        return [f"{what} {path} does not exist." if not path.exists() else f"{what} {path} is not a folder."]
    if not os.access(path, mode):
        need = "written" if mode & os.W_OK else "read"
        return [f"{what} {path} cannot be {need} by the grader's user (uid {os.geteuid()})."]
    return []


def _reachable_by_sandboxes(settings: Settings, *, repair: bool) -> list[str]:
    """Every folder a sandbox's private uid must pass lets it; the grader's own ones are fixed when ``repair``."""
    own = settings.data_dir.resolve()
    # Not made yet (a check without repair): the worker will make it, with the usual umask's o+x.
    scratch = next(p for p in [settings.scratch_dir, *settings.scratch_dir.parents] if p.exists()).resolve()
    problems = []
    blocked = _closed_folders(scratch)
    for folder in blocked:
        if repair and folder.is_relative_to(own):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | stat.S_IXOTH)
    if repair:
        blocked = _closed_folders(scratch)
    if blocked:
        problems.append(
            _message(
                f"the scratch space {settings.scratch_dir}", blocked, "choose a GRADER_DATA_DIR other users can pass"
            )
        )
    needed = {
        "the Python environment": Path(sys.prefix),
        "the base Python": Path(sys.base_prefix),
        "the grader's package": PROJECT_ROOT / "grader",
    }
    if settings.hf_home is not None and settings.hf_home.is_dir():
        needed["the model cache (HF_HOME)"] = settings.hf_home
    for what, path in needed.items():
        if closed := _closed_folders(path.resolve()):
            problems.append(_message(f"{what} {path}", closed, "scripts/bootstrap does this for the checkout"))
    return problems


def _closed_folders(path: Path) -> list[Path]:
    """The folders from ``path`` up to ``/`` that another uid may not pass (no o+x), or cannot stat."""
    closed = []
    for folder in [path, *path.parents]:
        try:
            if not folder.stat().st_mode & stat.S_IXOTH:
                closed.append(folder)
        except OSError:
            closed.append(folder)
    return closed


def _message(what: str, closed: list[Path], alternative: str) -> str:
    folders = " ".join(str(f) for f in closed)
    one = len(closed) == 1
    return (
        f"The grader runs as root, so each sandbox runs under a private uid, which cannot reach {what}: "
        f"{folders} {'lets' if one else 'let'} no other user pass. Give {'it' if one else 'them'} o+x "
        f"(chmod o+x {folders}: passing, not listing; {alternative}) or run the grader as a non-root user."
    )
