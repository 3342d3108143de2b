"""gsds-a4 forging submissions (issue 20) gain nothing on the checks they target.

Each forgery in ``reference_solutions/gsds_a4/forgeries`` is our reference with an edit that does no real
work but tries to look as if it did. q1: a trainer that forges the weights read back, degenerates the
model, re-initialises it, patches torch's own read-back, or reports made-up losses; a dataset split made of
invented rows; answers that ignore the inputs; a loader faked by class names or a model that ignores the
saved weights. q2: a BERT that returns zeros or reports a zero state, a trainer with made-up losses and a
handwritten log. Every check draws its inputs (weights, batches, pairs, spans) per grading in the trusted
process, so each forgery must score 0 on its targets whatever is drawn; its toml says what the failure
must say (the diagnosis, not the grader's expected values) and, for q1, that the target fails rather than
errors (a crash of the grader's own check would score 0 without testing anything).

Graded by ``grader suite verify``: every check runs, and forgeries whose edits do not reach each other's
targets share one grading (q1b's dataset cell runs only in 1.6, its Trainer only in 1.7 and 1.8).
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
    root = traversable_dir("grader-test-gsds-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("names", verify_packs("gsds_a4", "forgery"), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], workspace: Path) -> None:
    assert_verified("gsds_a4", "forgery", names, workspace / "var")
