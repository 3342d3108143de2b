"""Uploaded archives on disk, addressed by their sha256 (a shared volume when workers are elsewhere)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TypeVar

_SHA = re.compile(r"^[0-9a-f]{64}$")
_T = TypeVar("_T")


class BlobTooLarge(Exception):
    """The upload passed the size cap while it was being written."""


class BlobStoreFull(Exception):
    """The disk holding the blobs is full; nothing of the upload was kept."""


class BlobStore:
    """Content-addressed files: ``<root>/<aa>/<sha256>``; writes are durable (fsync) and atomic (temp file
    + rename). Folders are made when a write finds them missing, so a write costs no ``mkdir`` calls."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Copy ``stream`` in, hashing as it goes; returns (sha256, size). Nothing half-written remains."""
        return self._write(iter(lambda: stream.read(1 << 20), b""), max_bytes)

    def put_bytes(self, data: bytes, max_bytes: int) -> tuple[str, int]:
        """``put`` for an upload already in memory."""
        return self._write([data], max_bytes)

    def _write(self, chunks: Iterable[bytes], max_bytes: int) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        # A random name of our own (O_EXCL), not mkstemp's: one system call instead of a dozen.
        tmp = self.root / f".upload-{secrets.token_hex(12)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = _in_folder(tmp.parent, lambda: os.open(tmp, flags, 0o600))
        except OSError as exc:
            if _is_full(exc):
                raise BlobStoreFull(str(exc)) from None
            raise
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(f"the upload is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                # Readable by the group, so the API and workers may run under different uids of one group.
                os.fchmod(out.fileno(), 0o640)
            sha = digest.hexdigest()
            final = self.path(sha)
            # Same content, same name: a second upload of it is harmless.
            _in_folder(final.parent, lambda: os.replace(tmp, final))
            return sha, size
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if _is_full(exc):
                raise BlobStoreFull(str(exc)) from None
            raise

    def remove_partial(self) -> int:
        """Delete temp files left by uploads interrupted by a crash; returns how many."""
        count = 0
        for stale in self.root.glob(".upload-*") if self.root.is_dir() else ():
            stale.unlink(missing_ok=True)
            count += 1
        return count


def _in_folder(folder: Path, operation: Callable[[], _T]) -> _T:
    """``operation()``, making ``folder`` first if it turns out to be missing."""
    try:
        return operation()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        return operation()


def _is_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
