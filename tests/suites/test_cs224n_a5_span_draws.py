"""The span checks' shared sample (span_draws) is what a fresh seeded dataset draws, taken once per grading."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment
from grader.errors import StudentCodeError
from grader.models.limits import SandboxLimits, Timeouts
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, SandboxSpec
from tests.utils.builders import REFERENCE, make_submission, traversable_dir

pytestmark = pytest.mark.bwrap

REFERENCE_DATASET = (REFERENCE / "src" / "dataset.py").read_text(encoding="utf-8")

#: The reference's dataset, counting its draws, raising in draw ``FAIL_AT`` (counted from 0) when set.
COUNTING = (
    REFERENCE_DATASET
    + """
DRAWS = 0
FAIL_AT = None
_getitem = CharCorruptionDataset.__getitem__

def _counted(self, idx):
    global DRAWS
    DRAWS += 1
    if FAIL_AT is not None and DRAWS - 1 == FAIL_AT:
        raise RuntimeError(f"draw {FAIL_AT} fails")
    return _getitem(self, idx)

CharCorruptionDataset.__getitem__ = _counted
"""
)


@pytest.fixture(scope="module")
def modules() -> tuple[ModuleType, ModuleType]:
    assert load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5").checks  # imports the suite's package
    return (
        importlib.import_module("grader_suite_cs224n_a5.span_draws"),
        importlib.import_module("grader_suite_cs224n_a5.corpora"),
    )


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Iterator[Student]:
    """A Student on a real sandbox with the counting dataset (``FAIL_AT`` from the test's parameter, if any)."""
    root: Path = traversable_dir("grader-test-span-")
    fail_at = getattr(request, "param", None)
    make_submission(root, {"dataset.py": COUNTING.replace("FAIL_AT = None", f"FAIL_AT = {fail_at}")})
    spec = SandboxSpec(root, (".",), SandboxLimits().merged({"wall_seconds": 120}))
    session = SandboxSession(BwrapLauncher(), spec, Timeouts(startup=60, per_call=60))
    yield Student(session)
    session.close()
    shutil.rmtree(root, ignore_errors=True)


def test_the_shared_sample_is_a_fresh_seeded_datasets_draws_taken_once(
    modules: tuple[ModuleType, ModuleType], student: Student
) -> None:
    span_draws, corpora = modules
    docs, items = span_draws.long_draws(student, 32, 1000)
    assert student.module("dataset").DRAWS == 2000  # the whole sample at block 32, once
    again_docs, again = span_draws.long_draws(student, 32, 2000)
    assert student.module("dataset").DRAWS == 2000  # nothing drawn again
    assert again_docs == docs and again[:1000] == items and len(again) == 2000

    # what a check drawing its own 2,000 from a freshly seeded dataset would judge
    student.seed(span_draws.SHARED_SEED)
    ds = student.module("dataset").CharCorruptionDataset("\n".join(docs), 32)
    indices = [i % len(docs) for i in range(2000)]
    own = corpora.items_of(indices, corpora.draw(ds, indices), 32, corpora.vocabulary("\n".join(docs)))
    assert own == again
    assert all(not it.problem for _, it in own)


def test_an_unplanned_count_is_refused(modules: tuple[ModuleType, ModuleType], student: Student) -> None:
    with pytest.raises(ValueError, match="planned"):
        modules[0].long_draws(student, 32, 1500)


@pytest.mark.parametrize("student", [1500], indirect=True)
def test_an_exception_fails_exactly_the_counts_that_reach_it(
    modules: tuple[ModuleType, ModuleType], student: Student
) -> None:
    """Draw 1500 raises: the 1,000 draws before its batch are judged, a check taking 2,000 gets the error."""
    span_draws = modules[0]
    _, items = span_draws.long_draws(student, 32, 1000)
    assert len(items) == 1000
    for _ in range(2):  # the same error each time, without drawing again
        with pytest.raises(StudentCodeError, match="draw 1500 fails"):
            span_draws.long_draws(student, 32, 2000)
    assert student.module("dataset").DRAWS == 1501
