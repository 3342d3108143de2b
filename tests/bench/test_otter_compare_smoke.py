"""The Otter comparison's inputs, checked without Otter itself (its venv is built by bench/otter_env.sh).

The Otter run needs a network install; what can rot without it is checked here: the tagged notebook, the
OK-format test files, the support checks passing on the reference's own classes, and our restricted suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import nbformat
import pytest
import torch

from bench import otter_compare
from bench.otter import csc413_attention
from grader.engine.suites import load_suite
from tests.utils.builders import traversable_dir

pytestmark = pytest.mark.skipif(
    not (otter_compare.REFERENCE / "nmt.ipynb").exists(), reason="the CSC413 A3 reference notebook is not installed"
)


def test_otter_notebook_skips_downloads_shell_and_training_only() -> None:
    work = traversable_dir("grader-otter-smoke-")
    path, skipped = otter_compare.otter_notebook(work)
    nb = nbformat.read(path, as_version=4)
    shutil.rmtree(work, ignore_errors=True)
    ignored = [c.source for c in nb.cells if "otter_ignore" in c.metadata.get("tags", [])]
    assert skipped == len(ignored) >= 2
    assert any("urllib" in s for s in ignored) and any("train" in s for s in ignored)
    assert not any("class ScaledDotAttention" in s or "class CausalScaledDotAttention" in s for s in ignored)


def test_otter_test_files_are_ok_format_worth_the_same_eight_points() -> None:
    total = 0
    for path in sorted((otter_compare.OTTER / "tests").glob("*.py")):
        env: dict[str, object] = {}
        exec(path.read_text(), env)  # noqa: S102 - our own test files
        assert env["OK_FORMAT"] is True
        test = env["test"]
        assert isinstance(test, dict)
        assert test["points"] == sum(c["points"] for c in test["suites"][0]["cases"])
        total += test["points"]
    assert total == 8  # the suite's part 2.1: 2.1.1.* (4) + 2.1.2.* (4)


def test_support_checks_pass_on_the_reference_and_fail_on_a_broken_class() -> None:
    nb = nbformat.read(otter_compare.REFERENCE / "nmt.ipynb", as_version=4)
    env: dict[str, object] = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith(
            ("class ScaledDotAttention", "class CausalScaledDotAttention")
        ):
            exec(cell.source, env)  # noqa: S102 - the reference solution's own definitions
    scaled, causal = env["ScaledDotAttention"], env["CausalScaledDotAttention"]
    for check in (csc413_attention.scaled_context, csc413_attention.scaled_weights, csc413_attention.scaled_2d):
        assert check(scaled) is True
    for check in (
        csc413_attention.causal_reference,
        csc413_attention.causal_perturbation,
        csc413_attention.causal_zero_scores,
    ):
        assert check(causal) is True
    assert csc413_attention.causal_perturbation(scaled) is not True  # no mask: the future leaks


def test_our_side_runs_only_the_attention_checks() -> None:
    work = traversable_dir("grader-otter-smoke-")
    try:
        suite = load_suite(otter_compare.attention_suite(work / "suite"))
        assert {c.number.rsplit(".", 1)[0] for c in suite.checks} == {"2.1.1", "2.1.2"}
        assert suite.max_score == 8 and "matplotlib.pyplot" in suite.manifest.resources.preload
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_graders_take_turns_and_the_first_round_is_untimed() -> None:
    calls: list[str] = []

    def runner(name: str, took: float) -> Callable[[], tuple[float, str]]:
        def run() -> tuple[float, str]:
            calls.append(name)
            return took + len(calls), "8/8"

        return run

    results = otter_compare.interleaved({"otter": runner("otter", 0), "cold": runner("cold", 100)}, repeat=2)
    assert calls == ["otter", "cold"] * 3
    assert results == {"otter": ([3, 5], "8/8"), "cold": ([104, 106], "8/8")}
