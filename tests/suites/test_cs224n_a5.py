"""CS224N A5 suite against our reference (full marks) and its mutants (each loses exactly its checks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.report import GradeReport
from grader.engine.runner import grade
from grader.engine.suites import load_assignment
from tests.utils.builders import REFERENCE, apply_mutant, make_zip, mutant_names, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

SPAN = {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"}
PERCEIVER_ALL = {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"}

#: mutant -> (checks it must fail, checks that must pass with a note containing the phrase)
EXPECTED: dict[str, tuple[set[str], dict[str, str]]] = {
    "crash_on_short_document": ({"1.8"}, {}),
    "span_length_from_full_document": ({"1.6"}, {}),
    "span_length_deterministic_small_k": ({"1.7"}, {}),
    "span_mean_one_eighth": ({"1.6", "1.7"}, {}),
    "span_slice_end_is_length": ({"1.4", "1.5", "1.6"}, {}),
    "span_off_by_one_short_mask": ({"1.4"}, {}),
    "span_rare_negative_overlap": ({"1.4"}, {}),
    "truncation_upper_exclusive": ({"1.5"}, {}),
    "truncation_range_shifted": ({"1.5"}, {}),
    "truncation_keeps_extra_char": ({"1.5"}, {}),
    "truncation_float_bound": ({"1.5", "1.8"}, {}),
    "perceiver_c_plain_tensor": ({"2.1", "2.6"}, {"2.7": "non-standard submodule names"}),
    "perceiver_mlp_on_c": ({"2.7"}, {}),
    "perceiver_undefined_local": (PERCEIVER_ALL - {"2.6"}, {}),
    "perceiver_cross_attention_reversed": (PERCEIVER_ALL - {"2.6"}, {}),
    "perceiver_cuda_call": (PERCEIVER_ALL, {}),
    # Warning-only bug classes of the spec: full marks, but the student and TAs are told.
    "perceiver_extra_unused_parameter": (set(), {"2.6": "parameters more than expected"}),
    "perceiver_debug_print": (set(), {"2.3": "prints output"}),
    # Only visible where CUDA exists (`.to('cuda')` returns a plain tensor): 2.1 catches it on a GPU
    # worker; on this CPU-only tier the mutant is, by construction, indistinguishable from the reference.
    "perceiver_c_moved_to_device": (set(), {}),
}


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-suite-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_every_mutant_has_an_expectation() -> None:
    assert sorted(EXPECTED) == mutant_names()


def test_reference_gets_full_marks_through_the_cli(workspace: Path) -> None:
    out = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "grader"), "grade", str(REFERENCE), "--assignment", "cs224n-a5", "--json",
         "--out", str(workspace / "report.json")],
        capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "GRADER_DATA_DIR": str(workspace / "var")},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = GradeReport.model_validate_json(out.stdout)
    assert report.score == report.max_score == 10
    assert all(t.result == "passed" and t.output == "" for t in report.tests), [t.output for t in report.tests]
    assert report.sandbox_secure and report.status == "graded"
    assert json.loads((workspace / "report.json").read_text())["score"] == 10


def test_reference_zipped_in_a_wrapper_folder_gets_full_marks(workspace: Path) -> None:
    archive = make_zip(REFERENCE, workspace / "assignment5_submission.zip", wrapper="a5/")
    suite = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    report = grade(suite, archive, settings_for(workspace / "var"))
    assert report.score == 10, [(t.number, t.output) for t in report.tests if t.result != "passed"]
    assert any("a5" in note for note in report.unpack_notes)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mutant_loses_exactly_its_checks(name: str, workspace: Path) -> None:
    fails, notes = EXPECTED[name]
    submission = apply_mutant(name, workspace / name)
    suite = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    report = grade(suite, submission, settings_for(workspace / "var"))
    lost = {t.number for t in report.tests if t.result != "passed"}
    assert lost == fails, {t.number: t.output[:300] for t in report.tests if t.result != "passed"}
    by_number = {t.number: t for t in report.tests}
    for number, phrase in notes.items():
        assert phrase in by_number[number].output
    assert report.score == round(10 - sum(by_number[n].max_score for n in fails & SPAN), 2)
