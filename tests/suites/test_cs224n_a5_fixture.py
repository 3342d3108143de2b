"""CS224N A5 on the tiny fixture: predictions, London, run.py wiring and re-execution, for real.

``scripts/make_cs224n_fixture.py`` trains our reference on a synthetic corpus with its own run.py (once
per test session) and the tests grade the result with the fixture suite (tests/files/cs224n_a5_tiny/:
the real check modules, the fixture's data and thresholds). Mutants of the artifacts each lose exactly
the checks aimed at them, and a hostile submission that searches the sandbox for the hidden test
labels during every check that runs its code finds nothing, changes no score (the reference passes every such check) and leaks nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment, load_suite
from grader.models.report import GradeReport
from tests.utils.builders import REFERENCE, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

TINY = PROJECT_ROOT / "tests" / "files" / "cs224n_a5_tiny"
REAL_SUITE = PROJECT_ROOT / "test_suites" / "cs224n_a5"
OUTPUTS = {"4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "7.1", "7.2"}


@dataclasses.dataclass(frozen=True)
class Tiny:
    submission: Path  # our reference's src/ plus the params and predictions it produced
    suite: Suite
    root: Path

    @property
    def data(self) -> Path:
        return self.suite.data_dir


@pytest.fixture(scope="session")
def tiny() -> Iterator[Tiny]:
    """Generate the fixture once per session: data, trained reference, and the suite variant."""
    root = traversable_dir("grader-cs224n-tiny-")
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "make_cs224n_fixture.py"), str(root), "--no-pretraining"],
        check=True,
        timeout=1200,
        capture_output=True,
    )
    suite_dir = root / "suite"
    suite_dir.mkdir()
    for module in REAL_SUITE.glob("*.py"):
        shutil.copy(module, suite_dir)
    shutil.copy(TINY / "suite.toml", suite_dir)
    shutil.copytree(root / "data", suite_dir / "data")
    yield Tiny(root / "submission", load_suite(suite_dir), root)
    shutil.rmtree(root, ignore_errors=True)


def _grade(suite: Suite, submission: Path, var: Path, numbers: set[str] | None = None) -> GradeReport:
    if numbers is not None:
        suite = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in numbers))
    return grade(suite, submission, settings_for(var))


def _copy(tiny: Tiny, name: str) -> Path:
    dest = tiny.root / "mutants" / name
    shutil.copytree(tiny.submission, dest)
    return dest


def test_the_reference_gets_full_marks_on_the_fixture(tiny: Tiny) -> None:
    report = _grade(tiny.suite, tiny.submission, tiny.root / "var")
    assert report.score == report.max_score == 23, [(t.number, t.output) for t in report.tests if t.result != "passed"]
    by_number = {t.number: t.output for t in report.tests}
    questions = len((tiny.data / "birth_test_inputs.tsv").read_text().splitlines())
    for number in ("7.1", "7.2"):
        assert f"on all {questions} test questions reproduced {questions}/{questions}" in by_number[number]
    assert "Test accuracy of perceiver.pretrain.test.predictions" in by_number["4.6"]


def _header(sub: Path, data: Path) -> None:
    path = sub / "vanilla.pretrain.dev.predictions"
    path.write_text("Correct: 5 out of 6: 83.3%\n" + path.read_text())


def _truncated(sub: Path, data: Path) -> None:
    path = sub / "vanilla.nopretrain.dev.predictions"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))  # half: neither the dev nor the test count


def _swapped(sub: Path, data: Path) -> None:
    dev, test = sub / "perceiver.pretrain.dev.predictions", sub / "perceiver.pretrain.test.predictions"
    dev_text, test_text = dev.read_text(), test.read_text()
    dev.write_text(test_text)
    test.write_text(dev_text)


def _not_from_params(sub: Path, data: Path) -> None:
    """Test predictions written by hand (here: the true places), not by the submitted params."""
    path = sub / "vanilla.pretrain.test.predictions"
    gold = [line.split("\t")[1] for line in (data / "birth_test.tsv").read_text().splitlines()]
    assert [p.strip() for p in path.read_text().splitlines()] != gold, "the fixture model must not be perfect"
    path.write_text("".join(f"{place}\n" for place in gold))


def _junk_params(sub: Path, data: Path) -> None:
    """Params of the right names and shapes but not trained (random): the predictions cannot come from them."""
    path = sub / "vanilla.finetune.params"
    state = torch.load(path, map_location="cpu")
    generator = torch.Generator().manual_seed(0)
    torch.save({k: torch.randn(v.shape, generator=generator) * 0.05 for k, v in state.items()}, path)


def _params_of_another_model(sub: Path, data: Path) -> None:
    """A params file that is not the handout's GPT (a block missing, another width)."""
    path = sub / "perceiver.finetune.params"
    state = torch.load(path, map_location="cpu")
    torch.save({k: v for k, v in state.items() if not k.startswith("blocks.1.")}, path)


def _evaluate_copies_the_predictions(sub: Path, data: Path) -> None:
    """run.py's evaluate copies the submitted predictions (the forgery the issue names), with junk params."""
    _junk_params(sub, data)
    run = sub / "src" / "run.py"
    run.write_text(
        run.read_text().replace(
            'elif args.function == "evaluate":',
            'elif args.function == "evaluate":\n    import shutil\n    shutil.copy("vanilla.pretrain.test.predictions", args.outputs_path)\n    raise SystemExit(0)\nelif False:',
        )
    )


PREDICTIONS = {"4.1", "4.2", "4.3", "4.4", "4.5", "4.6"}
#: mutant -> (how, the checks it must lose, a phrase of their message, the checks it is graded on).
#: Mutants of dev files skip the re-execution checks, which read only the params and the test files.
ARTIFACT_MUTANTS: dict[str, tuple[Callable[[Path, Path], None], set[str], str, set[str]]] = {
    "header_line": (_header, {"4.3"}, "line 1 is 'Correct: 5 out of 6: 83.3%', which looks like a header", PREDICTIONS),
    "truncated": (_truncated, {"4.1"}, "the file is truncated", PREDICTIONS),
    "swapped_dev_test": (_swapped, {"4.5", "4.6", "7.2"}, "saved under the dev name", OUTPUTS),
    "predictions_not_from_params": (_not_from_params, {"7.1"}, "do not come from the submitted params", OUTPUTS),
    "junk_params": (_junk_params, {"7.1"}, "do not come from the submitted params", {"7.1"}),
    "params_of_another_model": (_params_of_another_model, {"7.2"}, "does not fit the handout's Perceiver", {"7.2"}),
    "evaluate_copies_the_predictions": (
        _evaluate_copies_the_predictions,
        {"7.1"},
        "do not come from the submitted params",
        {"7.1"},
    ),
}
#: the artifact mutants that forge the re-execution: each is flagged for the TAs
FLAGGED = {"predictions_not_from_params", "junk_params", "params_of_another_model", "evaluate_copies_the_predictions"}


@pytest.mark.parametrize("name", sorted(ARTIFACT_MUTANTS))
def test_artifact_mutant_loses_exactly_its_checks(tiny: Tiny, name: str) -> None:
    mutate, fails, phrase, graded_on = ARTIFACT_MUTANTS[name]
    submission = _copy(tiny, name)
    mutate(submission, tiny.data)
    report = _grade(tiny.suite, submission, tiny.root / "var", graded_on)
    lost = {t.number: t.output for t in report.tests if t.result != "passed"}
    assert set(lost) == fails, lost
    assert any(phrase in output for output in lost.values()), lost
    if name in FLAGGED:
        (flagged,) = [t for t in report.tests if t.number in fails]
        assert "flagged for review" in flagged.staff_output and report.staff_flags, report.staff_flags


# ----------------------------------------------------------------------------- hidden labels

#: A submission module that searches everything the sandbox can see for the test questions followed by
#: a tab (how labelled lines start): files outside the read-only system, processes' command lines and
#: environments, and the mount table. It prints what it scanned and fails loudly on a find.
SNOOP = """
import os
import sys

SKIP = ("/proc", "/sys", "/dev", "/usr", sys.prefix, sys.base_prefix)


def read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def snoop(roots=("/",), proc=True):
    here = os.path.dirname(os.path.abspath(__file__))
    questions = [line for line in read(os.path.join(here, "questions.txt")).splitlines() if line.strip()]
    needles = [q + "\\t" for q in questions]
    hits, scanned = [], 0

    def look(path, text):
        # A labelled test file holds most test questions followed by a tab (a couple of test names
        # also occur in the public training file, so one question alone proves nothing).
        found = [n for n in needles if n in text]
        if 2 * len(found) > len(needles):
            hits.append(f"{path}: {text[text.find(found[0]):text.find(found[0]) + 80]}")

    for root in roots:
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = [d for d in subfolders if not os.path.join(folder, d).startswith(SKIP)]
            for name in names:
                path = os.path.join(folder, name)
                try:
                    if os.path.isfile(path) and os.path.getsize(path) < 4_000_000:
                        scanned += 1
                        look(path, read(path))
                except OSError:
                    pass
    for pid in ([p for p in os.listdir("/proc") if p.isdigit()] + ["self"]) if proc else []:
        for leaf in ("cmdline", "environ", "mountinfo"):
            try:
                look(f"/proc/{pid}/{leaf}", read(f"/proc/{pid}/{leaf}"))
            except OSError:
                pass
    print(f"SNOOP scanned={scanned} hits={len(hits)}", file=sys.stderr)
    if hits:
        raise RuntimeError("LEAK " + " | ".join(hits)[:3000])
"""


def _hostile(source: Path, dest: Path, data: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("mutants", "__pycache__", "README.md"))
    (dest / "src" / "snoop.py").write_text(SNOOP)
    (dest / "src" / "questions.txt").write_bytes((data / "birth_test_inputs.tsv").read_bytes())  # public
    for script in ("run.py", "london_baseline.py"):
        path = dest / "src" / script
        path.write_text("import snoop\nsnoop.snoop()\n" + path.read_text())
    return dest


def _label_lines(data: Path) -> list[str]:
    return [line for line in (data / "birth_test.tsv").read_text(encoding="utf-8").splitlines() if line]


def _assert_scanner_finds_labels_where_they_are(data: Path, tmp: Path) -> None:
    """The same scanner, run here over the hidden data folder (files only), does find the labels."""
    (tmp / "questions.txt").write_bytes((data / "birth_test_inputs.tsv").read_bytes())
    namespace: dict[str, object] = {"__file__": str(tmp / "snoop.py")}
    exec(compile(SNOOP, "snoop.py", "exec"), namespace)  # noqa: S102 - our own test code
    with pytest.raises(RuntimeError, match="LEAK .*birth_test.tsv"):
        namespace["snoop"]((str(data),), proc=False)  # type: ignore[operator]  # the host's /proc is none of its business


def _assert_no_leak(report: GradeReport, data: Path, runs: int) -> None:
    """The scanner ran in every script run, found nothing, and the scores are the reference's (all passed)."""
    text = report.model_dump_json()
    assert text.count("SNOOP scanned=") >= runs, "the scanner did not run in every script run"
    assert "LEAK" not in text and "hits=0" in text
    for line in _label_lines(data):
        assert line not in text and line.replace("\t", "\\t") not in text
    assert all(t.result == "passed" for t in report.tests), [(t.number, t.output) for t in report.tests]


def test_test_labels_are_unreadable_during_the_fixture_checks(tiny: Tiny) -> None:
    (tiny.root / "snoop").mkdir()
    _assert_scanner_finds_labels_where_they_are(tiny.data, tiny.root / "snoop")
    hostile = _hostile(tiny.submission, tiny.root / "hostile", tiny.data)
    for name in ("vanilla.finetune.params", "perceiver.finetune.params"):
        assert (hostile / name).is_file()
    numbers = {"5.1", "6.1", "6.3", "7.1", "7.2"}
    report = _grade(tiny.suite, hostile, tiny.root / "var", numbers)
    # london_baseline twice; two run.py wiring commands (the re-execution decodes on the trusted side).
    _assert_no_leak(report, tiny.data, runs=2 + 2)


def test_test_labels_are_unreadable_during_the_real_suites_script_checks() -> None:
    real = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    workspace = traversable_dir("grader-snoop-")
    try:
        _assert_scanner_finds_labels_where_they_are(real.data_dir, workspace)
        hostile = _hostile(REFERENCE, workspace / "hostile-real", real.data_dir)
        report = _grade(real, hostile, workspace / "var", {"5.1", "6.2"})
        _assert_no_leak(report, real.data_dir, runs=3)  # london_baseline twice, one run.py command
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
