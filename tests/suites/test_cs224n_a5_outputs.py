"""CS224N A5 predictions checks (4.x) and the London-baseline helpers, on the real data, without a sandbox.

The predictions checks run only in the trusted process, so they are called directly here with crafted
files: the threshold boundary in exact integers, and a precise message for each way real files go wrong.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from grader.authoring import Feedback
from grader.config import PROJECT_ROOT
from grader.engine.suites import Suite, load_assignment

DATA = PROJECT_ROOT / "test_suites" / "cs224n_a5" / "data"


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")


def _module(suite: Suite, name: str) -> ModuleType:
    assert suite.manifest.id == "cs224n-a5"
    return importlib.import_module(f"grader_suite_cs224n_a5.{name}")


def _places(name: str) -> list[str]:
    return [line.split("\t")[1] for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def _check(suite: Suite, number: str) -> Callable[..., Any]:
    return next(c.func for c in suite.checks if c.number == number)


def _run(suite: Suite, number: str, tmp_path: Path, name: str, content: bytes | None) -> tuple[str, Feedback]:
    """Run check ``number`` on a submission holding only ``name`` (absent when None); '' when it passed."""
    if content is not None:
        (tmp_path / name).write_bytes(content)
    feedback = Feedback()
    try:
        _check(suite, number)(files=tmp_path, data=DATA, config=dict(suite.manifest.thresholds), feedback=feedback)
    except AssertionError as exc:
        return str(exc) or "failed", feedback
    return "", feedback


def _lines(places: list[str], correct: int, wrong: str = "Nowhere") -> bytes:
    return "".join(f"{p if i < correct else wrong}\n" for i, p in enumerate(places)).encode()


def test_the_suite_totals_33_points_split_as_the_handout(suite: Suite) -> None:
    points = {c.number: c.points for c in suite.checks}
    assert suite.max_score == 33
    assert sum(p for n, p in points.items() if n.startswith("1.")) == 10  # part e
    assert (points["4.1"], points["4.2"], points["5.1"]) == (1, 1, 3)  # part d
    assert (points["4.3"], points["4.4"]) == (5, 5)  # part f
    assert (points["4.5"], points["4.6"]) == (0, 8)  # part g: the test accuracy
    assert all(points[n] == 0 for n in points if n.startswith(("6.", "7.")))


@pytest.mark.parametrize(
    ("number", "name", "gold", "needed"),
    [
        ("4.3", "vanilla.pretrain.dev.predictions", "birth_dev.tsv", 50),  # 10 % of 500
        ("4.4", "vanilla.pretrain.test.predictions", "birth_test.tsv", 40),  # 9 % of 437 = 39.33
        ("4.5", "perceiver.pretrain.dev.predictions", "birth_dev.tsv", 30),  # 6 % of 500
        ("4.6", "perceiver.pretrain.test.predictions", "birth_test.tsv", 22),  # 5 % of 437 = 21.85
    ],
)
def test_threshold_boundary_in_exact_integers(
    suite: Suite, tmp_path: Path, number: str, name: str, gold: str, needed: int
) -> None:
    places = _places(gold)
    failed, _ = _run(suite, number, tmp_path, name, _lines(places, needed - 1))
    assert f"{needed - 1}/{len(places)}" in failed and "below the required" in failed
    passed, feedback = _run(suite, number, tmp_path, name, _lines(places, needed))
    assert passed == "" and f"{needed}/{len(places)}" in feedback.notes[-1]


def test_scoring_strips_whitespace_and_tolerates_crlf_and_no_final_newline(suite: Suite, tmp_path: Path) -> None:
    places = _places("birth_dev.tsv")
    text = "\r\n".join(f"  {p} " for p in places)  # CRLF, padded, no final newline
    passed, feedback = _run(suite, "4.3", tmp_path, "vanilla.pretrain.dev.predictions", text.encode())
    assert passed == "" and "500/500" in feedback.notes[-1]


def test_a_header_line_is_named(suite: Suite, tmp_path: Path) -> None:
    places = _places("birth_dev.tsv")
    content = b"Correct: 112 out of 500: 22.4%\n" + _lines(places, 500)
    failed, _ = _run(suite, "4.3", tmp_path, "vanilla.pretrain.dev.predictions", content)
    assert "has 501 lines, expected 500" in failed and "line 1 is 'Correct: 112 out of 500: 22.4%'" in failed
    assert "header" in failed


def test_a_truncated_file_names_its_last_line(suite: Suite, tmp_path: Path) -> None:
    places = _places("birth_dev.tsv")
    failed, _ = _run(suite, "4.1", tmp_path, "vanilla.nopretrain.dev.predictions", _lines(places[:492], 492))
    assert (
        "has 492 lines, expected 500" in failed and "truncated" in failed and f"line 492, is {places[491]!r}" in failed
    )


def test_test_predictions_under_the_dev_name_and_back(suite: Suite, tmp_path: Path) -> None:
    failed, _ = _run(suite, "4.5", tmp_path, "perceiver.pretrain.dev.predictions", b"Paris\n" * 437)
    assert "437 is the number of test questions" in failed and "saved under the dev name" in failed
    failed, _ = _run(suite, "4.6", tmp_path, "perceiver.pretrain.test.predictions", b"Paris\n" * 500)
    assert "500 is the number of dev questions" in failed and "saved under the test name" in failed


def test_free_running_text_gets_a_hint(suite: Suite, tmp_path: Path) -> None:
    content = b"Where was he born? He was born in a small town near the sea and lived there\n" * 500
    failed, _ = _run(suite, "4.3", tmp_path, "vanilla.pretrain.dev.predictions", content)
    assert "0/500" in failed and "free-running generated text" in failed


def test_empty_non_utf8_and_missing_files(suite: Suite, tmp_path: Path) -> None:
    failed, _ = _run(suite, "4.2", tmp_path, "vanilla.nopretrain.test.predictions", b"")
    assert "is empty (0 bytes): expected 437 predictions" in failed
    failed, _ = _run(suite, "4.2", tmp_path, "vanilla.nopretrain.test.predictions", b"Paris\n\xff\xfeRome\n")
    assert "not valid UTF-8: byte 0xff on line 2" in failed
    (tmp_path / "vanilla.nopretrain.test.predictions").unlink()
    (tmp_path / "vanilla.finetune.test.predictions").write_bytes(b"Paris\n")
    failed, _ = _run(suite, "4.2", tmp_path, "vanilla.nopretrain.test.predictions", None)
    assert "needs the file vanilla.nopretrain.test.predictions, which your submission lacks" in failed
    assert "Similar files were found (vanilla.finetune.test.predictions), not graded in its place" in failed


def test_a_file_elsewhere_is_graded_when_it_is_the_only_copy(suite: Suite, tmp_path: Path) -> None:
    """Issue 21, class 7: predictions under a subfolder or with '.txt' added are read, and the student told."""
    places = _places("birth_dev.tsv")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "vanilla.pretrain.dev.predictions").write_bytes(_lines(places, 60))
    passed, feedback = _run(suite, "4.3", tmp_path, "vanilla.pretrain.dev.predictions", None)
    assert passed == ""
    assert any(
        "not at the top level" in n and "read outputs/vanilla.pretrain.dev.predictions" in n for n in feedback.notes
    )
    assert any("60/500 = 12.0 %" in n for n in feedback.notes)
    (tmp_path / "vanilla.nopretrain.dev.predictions.txt").write_bytes(_lines(places, 3))
    passed, feedback = _run(suite, "4.1", tmp_path, "vanilla.nopretrain.dev.predictions", None)
    assert passed == "" and any("read vanilla.nopretrain.dev.predictions.txt in its place" in n for n in feedback.notes)


def test_several_copies_or_only_similar_names_are_named_not_graded(suite: Suite, tmp_path: Path) -> None:
    places = _places("birth_dev.tsv")
    for folder in ("a5", "results"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "vanilla.pretrain.dev.predictions").write_bytes(_lines(places, 60))
    failed, _ = _run(suite, "4.3", tmp_path, "vanilla.pretrain.dev.predictions", None)
    assert failed.startswith("Not graded: needs the file vanilla.pretrain.dev.predictions")
    assert (
        "Several copies were found (a5/vanilla.pretrain.dev.predictions, results/vanilla.pretrain.dev.predictions)"
        in failed
    )
    # A name of its own is named, never graded in place of the handout's file (which run wrote it is unknown);
    # another handout file (the test split, the other run) is never offered as a candidate.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "perceiver.dev.preds.txt").write_bytes(_lines(places, 40))
    (tmp_path / "perceiver.pretrain.test.predictions").write_bytes(b"Paris\n" * 437)
    failed, _ = _run(suite, "4.5", tmp_path, "perceiver.pretrain.dev.predictions", None)
    assert "Similar files were found (src/perceiver.dev.preds.txt), not graded in its place" in failed
    assert "perceiver.pretrain.test.predictions" not in failed


def test_dev_predictions_under_the_test_name_are_named_for_the_missing_dev_file(suite: Suite, tmp_path: Path) -> None:
    """A corpus form: only the no-pretraining test file, holding the 500 dev predictions."""
    (tmp_path / "vanilla.nopretrain.test.predictions").write_bytes(_lines(_places("birth_dev.tsv"), 5))
    failed, _ = _run(suite, "4.1", tmp_path, "vanilla.nopretrain.dev.predictions", None)
    assert "Predictions files found instead: vanilla.nopretrain.test.predictions" in failed
    failed, _ = _run(suite, "4.2", tmp_path, "vanilla.nopretrain.test.predictions", None)
    assert "has 500 lines, expected 437" in failed and "Are the dev predictions saved under the test name?" in failed


def test_no_pretraining_files_need_no_accuracy_and_constant_files_are_noted(suite: Suite, tmp_path: Path) -> None:
    passed, feedback = _run(suite, "4.2", tmp_path, "vanilla.nopretrain.test.predictions", b"London\n" * 437)
    assert passed == ""
    assert any("All 437 predictions" in n and "'London'" in n for n in feedback.notes)
    assert any("constant" in s for s in feedback.staff)


def test_test_messages_never_show_a_gold_place(suite: Suite, tmp_path: Path) -> None:
    gold = set(_places("birth_test.tsv"))
    for content in (b"Nowhere\n" * 437, b"Nowhere\n" * 436, b"Header: 1%\n" + b"Nowhere\n" * 437):
        failed, feedback = _run(suite, "4.6", tmp_path, "perceiver.pretrain.test.predictions", content)
        shown = failed + " ".join(feedback.notes + feedback.staff)
        assert failed and not [place for place in gold if f"'{place}'" in shown or f" {place} " in shown]


def test_london_output_forms(suite: Suite) -> None:
    """One figure per output: every honest form is read as 5 %, a line of several values as none."""
    london = _module(suite, "london")
    honest = (
        "Correct: 25 out of 500: 5.0%",
        "5%",
        "accuracy 0.05",
        "5.0",
        "25/500",
        "London: 4.999999 %",
        "Accuracy with London Baseline:  0.05",
        "(500, 25)",
        "data has 418352 characters, 256 unique.\n5.0 %",
        "Accuracy on 500 examples: 0.05",
        "Accuracy: 5.000000000000001%\nDone.",
        "tensor(0.0500)",
    )
    for output in honest:
        figure, why = london.reported_figure(output)
        assert figure is not None and figure.matches(25, 500), (output, why)
    for output in ("Correct: 24 out of 500: 4.8%", "0.5", "50", "4%"):
        figure, _ = london.reported_figure(output)
        assert figure is not None and not figure.matches(25, 500), output
    for output in ("5.0 % 12.4 %", "", "no number here", "0.05 0.12 0.31", "25 out of 500: 12.4%"):
        figure, why = london.reported_figure(output)
        assert figure is None and why, output
    # Only the last line stating an accuracy counts: printing every candidate gives one guess, the last.
    figure, _ = london.reported_figure("\n".join(f"{p / 10:.1f} %" for p in range(30, 301)))
    assert figure is not None and figure.share == 0.30
    # The coarsest accepted rounding is a whole percent: "0.1" cannot claim every share from 5 to 15 %.
    assert london.reported_figure("0.1")[0].tolerance == london.MAX_TOLERANCE


def test_london_shadow_files_are_drawn_per_grading_and_far_apart(suite: Suite) -> None:
    london = _module(suite, "london")
    dev = (DATA / "birth_dev.tsv").read_text(encoding="utf-8")
    assert london.london_truth(dev) == (25, 500)
    questions = {line.split("\t")[0] for line in dev.splitlines()}
    draws = [london.shadow_files(dev, 3) for _ in range(20)]
    shares = [[100 * c / n for _, c, n in files] for files in draws]
    assert len({tuple(s) for s in shares}) == 20  # fresh per grading
    for files, pcts in zip(draws, shares, strict=True):
        for text, correct, total in files:
            assert london.london_truth(text) == (correct, total) and 400 <= total <= 600
            assert {line.split("\t")[0] for line in text.splitlines()} <= questions
        for i, pct in enumerate(pcts):
            assert 3 <= pct <= 30.2 and abs(pct - 5.0) >= london.MIN_GAP_PCT
            assert all(abs(pct - other) >= london.MIN_GAP_PCT for other in pcts[:i])
    # A tiny dev file (the fixture's six lines) still gives full-size shadow files.
    text, correct, total = london.shadow_files("Where was A born?\tParis\n", 1)[0]
    assert london.london_truth(text) == (correct, total) and correct >= 12


def test_the_staging_refuses_the_hidden_labels(suite: Suite) -> None:
    staging = _module(suite, "staging")
    assert staging.HIDDEN_LABELS not in staging.PUBLIC
    with pytest.raises(ValueError, match="never be given to a sandbox"):
        staging.public_bytes(DATA, "birth_test.tsv")
    corpus = staging.wiring_corpus(DATA, {"wiring_corpus_lines": 2500})
    assert staging.documents(corpus) == 2501 and 200 * 2501 * 128 != 75_212_800


def test_an_exception_without_message_is_described_with_its_place(suite: Suite) -> None:
    """Issue 21, class 8: never "raised AssertionError: " and nothing else."""
    import traceback

    from grader.errors import StudentCodeError

    raised = _module(suite, "raised").raised
    source = "def item(doc):\n    assert len(doc) >= 4\n\nitem('ab')\n"
    try:
        exec(compile(source, "/tmp/submission/src/dataset.py", "exec"), {})
    except AssertionError:
        formatted = traceback.format_exc()
    # The sandbox's tracebacks carry the source line under each frame; format_exc cannot read this one's.
    formatted = formatted.replace("line 2, in item\n", "line 2, in item\n    assert len(doc) >= 4\n")
    text = raised(StudentCodeError("AssertionError", "", formatted))
    assert text == "raised AssertionError (with no message) at src/dataset.py line 2: `assert len(doc) >= 4`"
    text = raised(StudentCodeError("ValueError", "empty range for randrange() (1, 0, -1)", ""))
    assert text == "raised ValueError: empty range for randrange() (1, 0, -1)"
