"""minbert forgeries (issue 20): submissions that implement nothing gain 0 on the checks they target.

Graded by ``grader suite verify`` (every check of the suite runs; forgeries whose edits do not reach each
other's targets share one grading); each forgery's toml names its ``targets``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.builders import assert_verified, traversable_dir, verify_packs

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-minbert-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("names", verify_packs("minbert", "forgery"), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], workspace: Path) -> None:
    assert_verified("minbert", "forgery", names, workspace / "var")
