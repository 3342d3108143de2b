"""gsds-a4 q1b(a)'s trusted-side parts, without a sandbox: which cells run, and the dataset stand-in.

The stand-in is plain Python that the check runs inside the sandbox; here it runs in a scratch
namespace, to pin the split sizes a student's code gets from it (Hugging Face's rounding, slicing
splits, ``random_split``), and the cell selection is run on crafted notebooks.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment

REFERENCE = PROJECT_ROOT / "reference_solutions" / "gsds_a4"


@pytest.fixture(scope="module")
def splitcell() -> ModuleType:
    load_assignment(PROJECT_ROOT / "test_suites", "gsds-a4")
    return importlib.import_module("grader_suite_gsds_a4.splitcell")


@pytest.fixture(scope="module")
def load_dataset(splitcell: ModuleType) -> Any:
    namespace: dict[str, Any] = {}
    exec(splitcell.stand_in_source(splitcell.fresh_captions()), namespace)  # our own stand-in, as the sandbox runs it
    return namespace["load_dataset"]


def _texts(part: Any) -> list[str]:
    return [row["text"] for row in part]


def test_stand_in_splits_like_hugging_face(load_dataset: Any) -> None:
    parts = load_dataset("reach-vb/pokemon-blip-captions")["train"].train_test_split(test_size=0.1, seed=3)
    train, valid = _texts(parts["train"]), _texts(parts["test"])
    assert (len(train), len(valid)) == (90, 10) and not set(train) & set(valid)
    assert len(load_dataset("x", split="train").train_test_split(train_size=0.9)["test"]) == 10
    assert len(load_dataset("x", split="train").train_test_split(test_size=20)["test"]) == 20
    assert len(load_dataset("x", split="train[:90%]")) == 90 and len(load_dataset("x", split="train[90%:]")) == 10
    subsets = torch.utils.data.random_split(load_dataset("x", split="train"), [0.9, 0.1])
    assert [len(_texts(s)) for s in subsets] == [90, 10]
    with pytest.raises(ValueError, match="only a 'train' split"):
        load_dataset("x", split="validation")


def test_rows_carry_captions_drawn_per_grading(splitcell: ModuleType, load_dataset: Any) -> None:
    first, second = splitcell.fresh_captions(), splitcell.fresh_captions()
    assert len(set(first)) == len(first) == 100 and not set(first) & set(second)
    namespace: dict[str, Any] = {}
    exec(splitcell.stand_in_source(first), namespace)
    assert _texts(namespace["load_dataset"]("p", split="train")) == first


def _notebook(tmp_path: Path, cells: list[str]) -> Path:
    notebook = {
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [], "execution_count": None, "source": c}
            for i, c in enumerate(cells)
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "q1").mkdir()
    (tmp_path / "q1" / "q1b.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    return tmp_path


def test_dataset_cells_are_found_and_cleaned(splitcell: ModuleType, tmp_path: Path) -> None:
    assert [n for n, _ in splitcell.dataset_cells(REFERENCE)] == [5]  # not the imports cell that names load_dataset
    root = _notebook(
        tmp_path,
        [
            "from datasets import load_dataset\nimport torch",
            "!pip install datasets\nimport datasets\nds = datasets.load_dataset('p')['train']",
            "x = 5 % 2\n",
            "train_set, valid_set = torch.utils.data.random_split(ds, [0.9, 0.1])",
            "class Trainer: pass",
        ],
    )
    cells = splitcell.dataset_cells(root)
    assert [n for n, _ in cells] == [2, 3, 4]
    assert cells[0][1].splitlines() == ["pass", "pass", "ds = datasets.load_dataset('p')['train']"]
    assert cells[1][1] == "x = 5 % 2"  # valid Python is left as it is


def test_a_notebook_without_the_split_fails_with_a_reason(splitcell: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="never assigns train_set"):
        splitcell.dataset_cells(_notebook(tmp_path, ["ds = load_dataset('p')", "split = ds.train_test_split(0.1)"]))
