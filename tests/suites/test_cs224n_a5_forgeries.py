"""CS224N A5 forgeries: submissions that do no real work gain 0 on the checks they target (issue 20), while
the ways real students write and run london_baseline.py keep their 3 points (issue 21, class 4).

Each forgery is a toml in reference_solutions/cs224n_a5/forgeries/, graded by ``grader suite verify``
(every check runs; forgeries whose edits do not reach each other's targets share one grading). A London
forgery's message says what was run, or that the figure moved on one run but not on another, never the
true shares (its toml's ``message_contains``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import load_assignment
from grader.models.report import GradeReport
from tests.utils.builders import REFERENCE, assert_verified, settings_for, traversable_dir, verify_packs

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

INVOCATIONS = (
    "`python src/london_baseline.py`",
    "`python src/london_baseline.py --eval_corpus_path birth_dev.tsv`",
    "`cd src && python london_baseline.py`",
)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-a5-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _reference_copy(dest: Path) -> Path:
    shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("mutants", "forgeries", "__pycache__", "README.md"))
    os.chmod(dest, 0o755)
    return dest


def _grade(submission: Path, numbers: set[str], var: Path) -> GradeReport:
    suite = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    suite = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in numbers))
    return grade(suite, submission, settings_for(var))


@pytest.mark.parametrize("names", verify_packs("cs224n_a5", "forgery"), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], workspace: Path) -> None:
    result = assert_verified("cs224n_a5", "forgery", names, workspace / "var")
    for outcome in result.outcomes:  # what was run is said; the true shares are not (nothing but the script's output)
        if "5.1" in outcome.expected and outcome.report is not None:
            shown = next(t.output for t in outcome.report.tests if t.number == "5.1")
            assert all(command in shown for command in INVOCATIONS) or "not on another" in shown, (outcome.name, shown)


#: london_baseline.py as real students write it (corpus of issue 21) and in the accepted output forms.
HONEST_LONDON = {
    # run.py-style flags, the outputs path required (an assert), the percentage printed by evaluate's format
    "argparse_with_outputs_path": """
        import argparse
        import utils

        argp = argparse.ArgumentParser()
        argp.add_argument('--eval_corpus_path', default=None)
        argp.add_argument('--outputs_path', default=None)
        args = argp.parse_args()
        assert args.outputs_path is not None
        predictions = []
        with open(args.outputs_path, 'w', encoding='utf-8') as fout:
            for line in open(args.eval_corpus_path, encoding='utf-8'):
                predictions.append("London")
                fout.write("London\\n")
        total, correct = utils.evaluate_places(args.eval_corpus_path, predictions)
        print('Correct: {} out of {}: {}%'.format(correct, total, correct / total * 100))
    """,
    # only --eval_corpus_path; prints a fraction
    "argparse_fraction": """
        import argparse
        import utils

        argp = argparse.ArgumentParser()
        argp.add_argument('--eval_corpus_path', default=None)
        args = argp.parse_args()
        predictions = ["London" for _ in open(args.eval_corpus_path, encoding='utf-8')]
        total, correct = utils.evaluate_places(args.eval_corpus_path, predictions)
        print("Accuracy with London Baseline: ", str(correct / total))
    """,
    # written to be run from src/: reads ../birth_dev.tsv
    "run_from_src": """
        import utils

        if __name__ == '__main__':
            path = "../birth_dev.tsv"
            with open(path) as fn:
                n = len([x for x in fn])
            total, correct = utils.evaluate_places(path, ["London"] * n)
            print('Correct: {} out of {}: {}%'.format(correct, total, 100 * (correct / total)))
    """,
    # a path relative to the script's own file, a debug line first, one decimal with a percent sign
    "next_to_the_script_one_decimal": """
        import os
        import utils

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "birth_dev.tsv")
        n = sum(1 for _ in open(path, encoding="utf-8"))
        print(f"read {n} dev examples")
        total, correct = utils.evaluate_places(path, ["London"] * n)
        print(f"London baseline accuracy: {correct / total:.1%}")
    """,
    # a whole percent, and evaluate_places' (total, correct) tuple on the line before
    "whole_percent": """
        import utils

        n = sum(1 for _ in open("birth_dev.tsv", encoding="utf-8"))
        result = utils.evaluate_places("birth_dev.tsv", ["London"] * n)
        print(result)
        print(f"{round(100 * result[1] / result[0])}%")
    """,
    # the tuple alone
    "evaluate_places_tuple": """
        import utils

        n = sum(1 for _ in open("birth_dev.tsv", encoding="utf-8"))
        print(utils.evaluate_places("birth_dev.tsv", ["London"] * n))
    """,
}


@pytest.mark.parametrize("name", sorted(HONEST_LONDON))
def test_honest_london_baselines_keep_their_points(name: str, workspace: Path) -> None:
    dest = _reference_copy(workspace / f"honest-{name}")
    (dest / "src" / "london_baseline.py").write_text(textwrap.dedent(HONEST_LONDON[name]), encoding="utf-8")
    report = _grade(dest, {"5.1"}, workspace / "var")
    (result,) = report.tests
    assert result.result == "passed" and result.score == 3, result.output


def test_a_script_that_always_fails_is_told_what_ran_and_what_it_printed(workspace: Path) -> None:
    dest = _reference_copy(workspace / "failing")
    (dest / "src" / "london_baseline.py").write_text("print('starting')\nassert False\n", encoding="utf-8")
    report = _grade(dest, {"5.1"}, workspace / "var")
    (result,) = report.tests
    assert result.result != "passed"
    for command in INVOCATIONS:
        assert (
            f"{command}: it raised AssertionError (at src/london_baseline.py line 2: `assert False`)" in result.output
        )
    assert str(REFERENCE) not in result.output
