"""minbert prediction files in the layouts real submissions use, and the edition signals (issue 21,
classes 3 and 7), without a sandbox: both run only in the trusted process."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from grader.authoring import Credit, Feedback
from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment

REFERENCE = PROJECT_ROOT / "reference_solutions" / "minbert"
DATA = PROJECT_ROOT / "test_suites" / "minbert" / "data"
SPLITS = ("sst-dev", "sst-test", "cfimdb-dev", "cfimdb-test")


@pytest.fixture(scope="module")
def suite_modules() -> dict[str, ModuleType]:
    load_assignment(PROJECT_ROOT / "test_suites", "minbert")
    return {m: importlib.import_module(f"grader_suite_minbert.{m}") for m in ("checks_outputs", "editions")}


def _moved(root: Path, pattern: str, splits: tuple[str, ...] = SPLITS) -> None:
    """Our reference's prediction files written as ``pattern.format(split)`` under ``root``."""
    for split in splits:
        target = root / pattern.format(split)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REFERENCE / f"{split}-output.txt", target)


def test_one_candidate_elsewhere_is_read_and_noted(suite_modules: dict[str, ModuleType], tmp_path: Path) -> None:
    _moved(tmp_path, "results/{}-output_finetune.txt")
    feedback = Feedback()
    assert suite_modules["checks_outputs"].prediction_files(tmp_path, DATA, feedback) is None
    assert "results/sst-dev-output_finetune.txt as sst-dev-output.txt" in feedback.notes[0]
    assert "move or rename" in feedback.notes[0] and "Accuracy against the gold labels" in feedback.notes[1]


def test_the_finetune_run_is_chosen_over_pretrain(suite_modules: dict[str, ModuleType], tmp_path: Path) -> None:
    _moved(tmp_path, "my_output/finetune-{}-out.txt")
    _moved(tmp_path, "my_output/pretrain-{}-out.txt", ("sst-dev", "sst-test"))
    (tmp_path / "my_output" / "finetune-cfimdb-test-out.txt").write_text("1 ||| x\n", encoding="utf-8")
    feedback = Feedback()
    result = suite_modules["checks_outputs"].prediction_files(tmp_path, DATA, feedback)
    # The truncated cfimdb-test file is named by where it is; the other three earn their share.
    assert isinstance(result, Credit) and result.fraction == 0.75
    assert "my_output/finetune-cfimdb-test-out.txt has 1 lines, expected 488" in result.message
    assert (
        "the finetune run's, of my_output/finetune-sst-dev-out.txt, my_output/pretrain-sst-dev-out.txt"
        in feedback.notes[0]
    )


def test_several_candidates_fail_naming_them(suite_modules: dict[str, ModuleType], tmp_path: Path) -> None:
    _moved(tmp_path, "run1/{}-output.txt")
    _moved(tmp_path, "run2/{}-output.txt")
    with pytest.raises(
        AssertionError, match=r"several files could be it \(run1/sst-dev-output.txt, run2/sst-dev-output.txt\)"
    ):
        suite_modules["checks_outputs"].prediction_files(tmp_path, DATA, Feedback())


def test_edition_signals(suite_modules: dict[str, ModuleType], tmp_path: Path) -> None:
    editions = suite_modules["editions"]
    shutil.copy(REFERENCE / "classifier.py", tmp_path / "classifier.py")
    assert editions.detect(tmp_path).frozen_option == "pretrain"
    text = (REFERENCE / "classifier.py").read_text(encoding="utf-8")
    (tmp_path / "classifier.py").write_text(text.replace('"pretrain"', '"freeze"'), encoding="utf-8")
    fall = editions.detect(tmp_path)
    assert (fall.name, fall.frozen_option, fall.head_dropout_from_bert) == ("Fall 2023", "freeze", True)
    assert "'freeze'" in fall.signal
    # No option name in a string (a blank classifier): the output format decides, else 2021/2022.
    (tmp_path / "classifier.py").write_text("raise NotImplementedError\n", encoding="utf-8")
    assert editions.detect(tmp_path).frozen_option == "pretrain"
    (tmp_path / "sst-dev-output.csv").write_text("ID,label\n", encoding="utf-8")
    assert editions.detect(tmp_path).frozen_option == "freeze"
