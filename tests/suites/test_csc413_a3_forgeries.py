"""CSC413 A3 against forging submissions (issue 20): notebooks that do no real work gain 0 on the checks they target.

Each forgery (``reference_solutions/csc413_a3/forgeries/*.toml``: the mutants' format plus ``targets``)
edits the reference notebooks' code cells: zero Q/K/V with uniform weights, attention that ignores or
re-draws its loaded weights or copies its input, a decoder that skips attention or outputs a constant, a
table of the fixed isoflop cases' answers, a zero or label-memorising BERT head. Each target must fail for
what it checks, not because the forgery crashed the sandbox (``message_lacks``). Graded by ``grader suite
verify``: every check runs, and forgeries whose edits do not reach each other's targets share one grading.
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
    root = traversable_dir("grader-test-csc413-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("names", verify_packs("csc413_a3", "forgery"), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], workspace: Path) -> None:
    assert_verified("csc413_a3", "forgery", names, workspace / "var")
