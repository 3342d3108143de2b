"""minbert prediction files (4.1) and gsds-a4's result.log parser (2.6), without a sandbox.

Both run only in the trusted process, so they are called directly with crafted files: every edition's
format, and a precise problem for each way a real file or log goes wrong.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from grader.authoring import Credit, Feedback
from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment

MINBERT_DATA = PROJECT_ROOT / "test_suites" / "minbert" / "data"
GSDS_LOG = PROJECT_ROOT / "reference_solutions" / "gsds_a4" / "q2" / "result.log"


@pytest.fixture(scope="module")
def outputs() -> ModuleType:
    load_assignment(PROJECT_ROOT / "test_suites", "minbert")
    return importlib.import_module("grader_suite_minbert.outputs")


@pytest.fixture(scope="module")
def resultlog() -> ModuleType:
    load_assignment(PROJECT_ROOT / "test_suites", "gsds-a4")
    return importlib.import_module("grader_suite_gsds_a4.resultlog")


def _gold(outputs: ModuleType, name: str) -> object:
    return outputs.load_gold(MINBERT_DATA / name)


def test_each_edition_is_read_and_scored(outputs: ModuleType) -> None:
    gold = outputs.load_gold(MINBERT_DATA / "sst-dev.txt")
    lines = (MINBERT_DATA / "sst-dev.txt").read_text(encoding="utf-8").splitlines()
    sentences = [line.split(" ||| ", 1)[1] for line in lines]
    perfect_2022 = "".join(f"{g} ||| {s.lower()}\n" for g, s in zip(gold.labels, sentences, strict=True))
    assert outputs.parse_txt("sst-dev-output.txt", perfect_2022, gold).accuracy == 1.0
    # 2021: sentence ||| gold ||| pred, in any order (sorted by length inside batches).
    rows = sorted(zip(sentences, gold.labels, strict=True), key=lambda r: len(r[0]))
    all_zero_2021 = "".join(f"{s} ||| {g} ||| 0\n" for s, g in rows)
    parsed = outputs.parse_txt("sst-dev-output.txt", all_zero_2021, gold)
    assert parsed.edition == "2021" and parsed.accuracy == pytest.approx(gold.labels.count(0) / len(gold.labels))
    csv_2023 = "ID,label\n" + "".join(f"{i},{g}\n" for i, g in reversed(list(enumerate(gold.labels))))
    assert outputs.parse_csv("sst-dev-output.csv", csv_2023, gold).accuracy == 1.0


def test_malformed_files_name_their_problem(outputs: ModuleType) -> None:
    gold = outputs.load_gold(MINBERT_DATA / "cfimdb-dev.txt")
    lines = (MINBERT_DATA / "cfimdb-dev.txt").read_text(encoding="utf-8").splitlines()
    good = [f"1 ||| {line.split(' ||| ', 1)[1]}" for line in lines]
    assert "lines, expected 245" in outputs.parse_txt("x", "\n".join(good[:-1]), gold).problem
    assert "not in the order" in outputs.parse_txt("x", "\n".join(reversed(good)), gold).problem
    assert "predicted label" in outputs.parse_txt("x", "\n".join(["pos ||| s"] * 245), gold).problem
    assert "header 'ID,label'" in outputs.parse_csv("x", "id,pred\n", gold).problem
    assert "repeated or missing" in outputs.parse_csv("x", "ID,label\n" + "0,1\n" * 245, gold).problem


def test_missing_files_cost_their_share(outputs: ModuleType, tmp_path: Path) -> None:
    checks = importlib.import_module("grader_suite_minbert.checks_outputs")
    for name in ("sst-dev", "sst-test", "cfimdb-dev"):
        labels = [
            line.split(" ||| ", 1) for line in (MINBERT_DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        ]
        # Gold for the first 40 % of the lines, label 1 after: a model's kind of accuracy (about 0.55).
        cut = len(labels) * 4 // 10
        text = "".join(f"{g if i < cut else 1} ||| {s}\n" for i, (g, s) in enumerate(labels))
        (tmp_path / f"{name}-output.txt").write_text(text, encoding="utf-8")
    feedback = Feedback()
    result = checks.prediction_files(tmp_path, MINBERT_DATA, feedback)
    assert isinstance(result, Credit) and result.fraction == 0.75 and "cfimdb-test-output.txt" in result.message
    assert "Accuracy against the gold labels: sst-dev 0." in feedback.notes[0] and not feedback.flags


def test_a_copy_of_the_public_gold_labels_is_not_credited(outputs: ModuleType, tmp_path: Path) -> None:
    """SST's gold labels ship with the handout: a file that copies them is no model's output (flagged, no credit);
    one label for every sentence is flagged for the TAs but keeps the credit for its form."""
    checks = importlib.import_module("grader_suite_minbert.checks_outputs")
    for name in ("sst-dev", "sst-test", "cfimdb-dev", "cfimdb-test"):
        rows = [
            line.split(" ||| ", 1) for line in (MINBERT_DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        ]
        gold_copy = name == "sst-dev"
        text = "".join(f"{g if gold_copy else 3} ||| {s}\n" for g, s in rows)
        (tmp_path / f"{name}-output.txt").write_text(text, encoding="utf-8")
    feedback = Feedback()
    result = checks.prediction_files(tmp_path, MINBERT_DATA, feedback)
    assert isinstance(result, Credit) and result.fraction == 0.75
    assert "sst-dev-output.txt agrees with the gold labels far beyond" in result.message
    assert any("sst-dev-output.txt: accuracy 1.000" in f for f in feedback.flags)
    assert any("sst-test-output.txt: every prediction is label 3" in f for f in feedback.flags)
    assert not any("1.000" in n for n in feedback.notes + [result.message])  # the figure is for staff only


def test_reference_log_is_consistent_and_broken_logs_are_named(resultlog: ModuleType) -> None:
    text = GSDS_LOG.read_text(encoding="utf-8")
    log = resultlog.parse(text)
    assert log.problems == [] and len(log.epochs) == 3 and "test" in log.final
    zeroed = "\n".join(
        line.split("train loss ::")[0] + "train loss :: 0.000, train acc :: 0.2, dev acc :: 0.2"
        if line.startswith("Epoch")
        else line
        for line in text.splitlines()
    )
    assert any("never adds loss.item()" in p for p in resultlog.parse(zeroed).problems)
    truncated = text[: text.index("load model from")]
    assert any("truncated" in p for p in resultlog.parse(truncated).problems)
    pretrain = text.replace("'option': 'finetune'", "'option': 'pretrain'")
    assert any("'pretrain'" in p for p in resultlog.parse(pretrain).problems)
    twice = text + text
    problems = resultlog.parse(twice).problems
    assert any("'Epoch' lines for epochs=3" in p for p in problems)
    assert resultlog.parse("args: {__import__('os')}\n").problems[0] == "the 'args:' line is not a readable dict"
