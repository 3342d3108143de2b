"""The blob store: content-addressed, durable and atomic, whether an upload is streamed or in memory."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from grader.store.blobs import BlobStore, BlobStoreFull, BlobTooLarge


def test_streamed_and_in_memory_uploads_land_in_the_same_place(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")  # neither the folder nor its fan-out exists yet
    data = b"PK" + os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    assert store.put_bytes(data, 10_000) == (sha, len(data))
    assert store.put(io.BytesIO(data), 10_000) == (sha, len(data))  # the same content again: harmless
    blob = store.path(sha)
    assert blob.read_bytes() == data and stat.S_IMODE(blob.stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*")) == sorted([sha[:2], sha])  # no temp files


def test_too_large_leaves_nothing_behind(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put_bytes(b"x" * 11, 10)
    with pytest.raises(BlobTooLarge):
        store.put(io.BytesIO(b"x" * (3 << 20)), 2 << 20)  # found out while streaming, past the first chunk
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(BlobStoreFull):
        BlobStore(tmp_path).put_bytes(b"data", 100)
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_an_interrupted_upload_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".upload-abc").write_bytes(b"half")
    assert BlobStore(tmp_path).remove_partial() == 1
    assert list(tmp_path.iterdir()) == []
