"""The service's folders before it starts: made, made passable when they are the grader's own, or named.

As root each sandbox runs under a private uid that must pass every folder above the scratch space; as a
non-root user sandboxes share the grader's uid and a 0700 folder is fine. Each test says what both see.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import Settings
from grader.folders import BOTH, folder_problems, prepare_folders

ROOT = os.geteuid() == 0


@pytest.fixture
def private() -> Iterator[Path]:
    """A folder as ``mktemp -d`` makes it: mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="grader-test-private-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(env="test", data_dir=data_dir, **overrides)


def test_a_0700_data_folder_is_named_by_the_check_and_made_passable_by_start_up(private: Path) -> None:
    s = settings(private)
    problems = folder_problems(s, BOTH)
    assert not (private / "scratch").exists() and not (private / "blobs").exists()  # the check changes nothing
    if ROOT:
        (problem,) = problems
        assert f"cannot reach the scratch space {private}/scratch: {private} lets no other user pass." in problem
    else:
        assert problems == []
    assert prepare_folders(s, BOTH) == []
    assert mode(private) == (0o701 if ROOT else 0o700)  # o+x only: other users may pass, not list
    assert (private / "scratch").is_dir() and (private / "blobs").is_dir()
    assert folder_problems(s, BOTH) == []


def test_a_closed_folder_above_the_data_folder_is_named_and_left_alone(private: Path) -> None:
    data = private / "course" / "var"
    data.mkdir(parents=True)
    data.chmod(0o700)
    problems = prepare_folders(settings(data), ["worker"])
    if ROOT:
        (problem,) = problems
        assert f"{private} lets no other user pass. Give it o+x (chmod o+x {private}:" in problem
        assert mode(private) == 0o700  # not the grader's: refused, not changed
        assert mode(data) == 0o701  # the grader's own folder is made passable all the same
    else:
        assert problems == [] and mode(private) == 0o700


def test_several_closed_folders_are_named_together(private: Path) -> None:
    outer = private / "a"
    (outer / "b" / "var").mkdir(parents=True)
    (outer / "b").chmod(0o700)
    outer.chmod(0o700)
    problems = folder_problems(settings(outer / "b" / "var"), ["worker"])
    if ROOT:
        (problem,) = problems
        assert f": {outer / 'b'} {outer} {private} let no other user pass. Give them o+x" in problem
    else:
        assert problems == []


def test_the_api_alone_does_not_need_the_scratch_space_passable(private: Path) -> None:
    assert prepare_folders(settings(private), ["api"]) == []
    assert mode(private) == 0o700 and not (private / "scratch").exists()


def test_a_missing_suites_folder_is_refused_and_not_made(private: Path) -> None:
    missing = private / "suites"
    problems = folder_problems(settings(private, suites_dir=missing), ["api"])
    assert problems == [f"the suites folder (GRADER_SUITES_DIR) {missing} does not exist."]
    assert prepare_folders(settings(private, suites_dir=missing), ["api"]) == problems and not missing.exists()


def test_a_blob_folder_that_cannot_be_made_is_named_once_for_both_parts(private: Path) -> None:
    (private / "file").write_text("not a folder")
    blobs = private / "file" / "blobs"
    expected = f"the blob folder (GRADER_BLOB_DIR) {blobs} cannot be created: Not a directory."
    assert prepare_folders(settings(private, blob_dir=blobs), BOTH).count(expected) == 1


def test_a_missing_blob_folder_is_fine_for_the_check_where_it_can_be_made(private: Path) -> None:
    assert folder_problems(settings(private), ["api"]) == []
    (private / "file").write_text("not a folder")
    blobs = private / "file" / "blobs"
    assert folder_problems(settings(private, blob_dir=blobs), ["api"]) == [
        f"the blob folder (GRADER_BLOB_DIR) {blobs} does not exist and cannot be created in {private / 'file'}."
    ]
