"""Issue 21, class 1: the handout's starter files import the packages its set-up installs.

The unmodified minbert starter ``utils.py`` imports ``importlib_metadata`` (and asks it for torch's
version); ``classifier.py`` imports ``sklearn.metrics`` (2021/2022) or ``pandas`` (Fall 2023). Before the
suites declared their environment, every such submission lost 70 of 100 points with "No module named ...".
Our references, edited to import what the starter files import, must keep full marks; gsds-a4's q2 is the
same starter. The environments are the shared ones scripts/bootstrap builds (tests/utils/builders.py).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.environments import build_environment
from grader.engine.runner import grade
from grader.engine.suites import load_assignment
from tests.utils.builders import SHARED_ENVS, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCES = PROJECT_ROOT / "reference_solutions"
#: What the starter files put at their top (CMU minbert 2021/2022 and Fall 2023, GSDS A4 q2).
UTILS_IMPORTS = "import importlib_metadata\n\n_torch_version = importlib_metadata.version('torch')\n"
CLASSIFIER_IMPORTS = (
    "from sklearn.metrics import classification_report, f1_score, recall_score, accuracy_score\nimport pandas as pd\n"
)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-handout-env-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _with_starter_imports(reference: Path, dest: Path, folder: str) -> Path:
    shutil.copytree(reference, dest)
    for name, imports in (("utils.py", UTILS_IMPORTS), ("classifier.py", CLASSIFIER_IMPORTS)):
        path = dest / folder / name
        path.write_text(imports + path.read_text(encoding="utf-8"), encoding="utf-8")
    return dest


def test_minbert_starter_imports_keep_full_marks(workspace: Path) -> None:
    suite = load_assignment(PROJECT_ROOT / "test_suites", "minbert")
    build_environment(suite.manifest.environment, SHARED_ENVS)  # built by scripts/bootstrap: a no-op then
    submission = _with_starter_imports(REFERENCES / "minbert", workspace / "minbert", ".")
    report = grade(suite, submission, settings_for(workspace / "var"))
    assert report.score == report.max_score == 100, [(t.number, t.output) for t in report.tests if t.result != "passed"]


def test_gsds_a4_q2_starter_imports_keep_full_marks(workspace: Path) -> None:
    suite = load_assignment(PROJECT_ROOT / "test_suites", "gsds-a4")
    build_environment(suite.manifest.environment, SHARED_ENVS)
    q2 = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number.startswith("2.")))
    submission = _with_starter_imports(REFERENCES / "gsds_a4", workspace / "gsds", "q2")
    report = grade(q2, submission, settings_for(workspace / "var"))
    assert report.score == report.max_score > 0, [(t.number, t.output) for t in report.tests if t.result != "passed"]


def test_without_the_environment_no_minbert_check_fails_the_student(workspace: Path) -> None:
    """What every real submission got before: now a worker lacking the packages grades nothing and says why."""
    suite = load_assignment(PROJECT_ROOT / "test_suites", "minbert")
    only = dataclasses.replace(suite, checks=suite.checks[:2])
    submission = _with_starter_imports(REFERENCES / "minbert", workspace / "minbert-bare", ".")
    report = grade(only, submission, settings_for(workspace / "var", envs_dir=workspace / "no-envs"))
    assert [t.result for t in report.tests] == ["not_run", "not_run"]
    assert all("lacks importlib_metadata>=3.7, scikit-learn>=1.0, pandas>=1.3" in t.output for t in report.tests)
