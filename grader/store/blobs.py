"""Uploaded archives on disk, addressed by their sha256 (a shared volume when workers are elsewhere)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_SHA = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLarge(Exception):
    """The upload passed the size cap while it was being written."""


class BlobStoreFull(Exception):
    """The disk holding the blobs is full; nothing of the upload was kept."""


class BlobStore:
    """Content-addressed files: ``<root>/<aa>/<sha256>``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Copy ``stream`` in, hashing as it goes; returns (sha256, size). Nothing half-written remains."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(1 << 20):
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
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)  # same content, same name: a second upload of it is harmless
            return sha, size
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BlobStoreFull(str(exc)) from None
            raise

    def remove_partial(self) -> int:
        """Delete temp files left by uploads interrupted by a crash; returns how many."""
        count = 0
        for stale in self.root.glob(".upload-*") if self.root.is_dir() else ():
            stale.unlink(missing_ok=True)
            count += 1
        return count
