"""The API's layout check of an upload: the assignment's required files, found as the worker would find them.

A zip that lacks them would be graded for minutes into a page of import errors, so it is refused at
once (422) with what is missing and what was found, and, when it fits another installed assignment,
with that assignment's name. Only the archive's directory is read (after ``check_archive`` accepted it,
so its entry count is bounded); the submission root is chosen by the unpacker's own rule.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

# The unpacker's rule for the root and for OS clutter, so the check agrees with what the worker unpacks.
from grader.engine.unpack import choose_root, is_junk_file
from grader.errors import UnpackError
from grader.models.manifest import SuiteManifest

_SHOWN = 15  # names listed in a message before "and N more"


def archive_files(archive: bytes | BinaryIO) -> list[str]:
    """The archive's file names, without folders and OS clutter (``__MACOSX/``, ``.DS_Store``, ``*.pyc``)."""
    source = io.BytesIO(archive) if isinstance(archive, bytes) else archive
    with zipfile.ZipFile(source) as zf:
        names = [i.filename.replace("\\", "/").lstrip("/") for i in zf.infolist() if not i.is_dir()]
    return sorted(n for n in names if not is_junk_file(n))


def missing_files(files: list[str], manifest: SuiteManifest) -> tuple[list[str], list[str]]:
    """(required names no file matches, the files relative to the submission root) for ``manifest``."""
    try:
        root, _ = choose_root(files, manifest.files.root_marker)
    except UnpackError:  # an ambiguous root: check_archive refuses it with its own message first
        root = ""
    prefix = f"{root}/" if root else ""
    rooted = [f.removeprefix(prefix) for f in files if f.startswith(prefix)]
    return [name for name in manifest.files.required if not _present(name, rooted)], rooted


def _present(name: str, files: list[str]) -> bool:
    name = name.removeprefix("./")
    if any(ch in name for ch in "*?["):
        return any(fnmatch.fnmatchcase(f, name) for f in files)
    return name in files


def _listing(names: list[str]) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(f"'{n}'" for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def layout_problem(archive: bytes | BinaryIO, manifest: SuiteManifest, others: Iterable[SuiteManifest]) -> str | None:
    """The message for the student when the archive lacks ``manifest``'s required files, else None."""
    files = archive_files(archive)
    missing, rooted = missing_files(files, manifest)
    if not missing:
        return None
    message = (
        f"This zip is missing files that '{manifest.id}' requires: {_listing(missing)}. "
        f"It contains: {_listing(rooted)}."
    )
    fits = [m for m in others if m.id != manifest.id and m.files.required and not missing_files(files, m)[0]]
    if fits:
        message += f" It looks like a submission for '{fits[0].id}' ({fits[0].title}); upload it there instead."
    return message + " Nothing was graded and it does not count as an attempt."
