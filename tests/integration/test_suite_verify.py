"""``grader suite verify`` on a toy suite: a reference lacking one declared artifact, one mutant, one forgery."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_suite
from grader.engine.verify import apply_edits, read_spec, verify_suite
from grader.errors import SuiteError
from tests.utils.builders import TOY_SUITES, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap]

GRADER = str(PROJECT_ROOT / ".venv" / "bin" / "grader")
REFERENCE = PROJECT_ROOT / "tests" / "files" / "references" / "verify"


@pytest.fixture()
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-verify-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_verify(workspace: Path, reference: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "GRADER_SUITES_DIR": str(TOY_SUITES),
        "GRADER_DATA_DIR": str(workspace / "var"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [GRADER, "suite", "verify", "verify", "--reference", str(reference)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_toy_suite_verifies_and_the_matrix_names_what_is_not_covered(workspace: Path) -> None:
    out = run_verify(workspace, REFERENCE)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "ok   reference reference" in lines
    assert "ok   mutant    add_subtracts" in lines and "ok   forgery   mul_constant" in lines
    header = next(line for line in lines if line.startswith("check"))
    assert header.split("  ")[1:] == ["forgery: constant output", "wrong operator"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[lines.index(header) + 1 :][:3]}
    assert rows == {"1": [".", "1"], "2": ["1", "."], "3": [".", "."]}
    assert "not covered by any mutant: 2, 3" in lines and "not covered by any forgery: 1, 3" in lines


def test_every_kind_of_mismatch_is_named_and_fails_the_command(workspace: Path) -> None:
    reference = shutil.copytree(REFERENCE, workspace / "reference")
    (reference / "verify.toml").write_text("missing_artifacts = []\n")  # the reference does lack answer.txt
    mutant = reference / "mutants" / "add_subtracts.toml"
    mutant.write_text(mutant.read_text().replace('checks = ["1"]', 'checks = ["1", "2"]'))
    forgery = reference / "forgeries" / "mul_constant.toml"
    forgery.write_text(forgery.read_text().replace('new = "return 6"', 'new = "return a * b  # honest after all"'))
    out = run_verify(workspace, reference)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL reference reference: 3 fails" in out.stdout
    assert "FAIL mutant    add_subtracts: 2 passes" in out.stdout
    assert "FAIL forgery   mul_constant: 2 scores 1.0" in out.stdout


def test_an_unknown_check_in_a_mutant_is_named_without_grading_it(workspace: Path) -> None:
    reference = shutil.copytree(REFERENCE, workspace / "reference")
    mutant = reference / "mutants" / "add_subtracts.toml"
    mutant.write_text(mutant.read_text().replace('checks = ["1"]', 'checks = ["9"]'))
    result = verify_suite(load_suite(TOY_SUITES / "verify"), reference, settings_for(workspace / "var"))
    wrong = {o.name: o.wrong for o in result.outcomes if not o.ok}
    assert wrong == {"add_subtracts": {"-": "its checks must name checks of the suite: ['9']"}}


def test_an_edit_that_does_not_match_exactly_once_is_a_suite_error(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\nx = 1\n")
    spec = read_spec(REFERENCE, "mutants", "add_subtracts") | {"replace": [{"old": "x = 1", "new": "x = 2"}]}
    with pytest.raises(SuiteError, match="occurs 2 times"):
        apply_edits(spec, tmp_path, "mutant m")


def test_notebook_edits_change_the_one_code_cell_that_holds_the_text(tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("return a + b"),
            nbformat.v4.new_code_cell("def add(a, b):\n    return a + b"),
        ]
    )
    nbformat.write(nb, tmp_path / "calc.ipynb")
    apply_edits({"file": "calc.ipynb", "replace": [{"old": "return a + b", "new": "return a - b"}]}, tmp_path, "m")
    cells = nbformat.read(tmp_path / "calc.ipynb", as_version=4).cells
    assert [c.source for c in cells] == ["return a + b", "def add(a, b):\n    return a - b"]


def test_data_copies_bring_the_suites_public_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dev.tsv").write_text("public")
    (tmp_path / "sub").mkdir()
    apply_edits({"data_copies": [["dev.tsv", "copied.tsv"]]}, tmp_path / "sub", "forgery f", tmp_path / "data")
    assert (tmp_path / "sub" / "copied.tsv").read_text() == "public"


def _two_mutants(reference: Path, mul_checks: str, mul_extra: str = "") -> None:
    """add_subtracts and a second mutant of calc.py, each reaching only its own check: one shared grading."""
    mutants = reference / "mutants"
    original = (REFERENCE / "mutants" / "add_subtracts.toml").read_text()
    (mutants / "add_subtracts.toml").write_text(original.replace('checks = ["1"]', 'checks = ["1"]\nreaches = ["1"]'))
    (mutants / "mul_doubles.toml").write_text(
        f'description = "mul doubles"\nbug_class = "wrong operator"\nchecks = {mul_checks}\nreaches = ["2"]\n'
        f'file = "calc.py"\n{mul_extra}\n[[replace]]\nold = "return a * b"\nnew = "return a * b * 2"\n'
    )


def test_mutants_reaching_disjoint_checks_share_a_grading_that_names_its_culprit_when_it_fails(workspace: Path) -> None:
    reference = shutil.copytree(REFERENCE, workspace / "reference")
    _two_mutants(reference, '["2"]', 'message_contains = { "2" = "should be" }\n')
    suite, settings = load_suite(TOY_SUITES / "verify"), settings_for(workspace / "var")
    shared = verify_suite(suite, reference, settings, kinds=("mutant",))
    assert {(o.name, o.graded_with, o.ok) for o in shared.outcomes} == {
        ("add_subtracts", ("mul_doubles",), True),
        ("mul_doubles", ("add_subtracts",), True),
    }
    _two_mutants(reference, '["1"]')  # wrong: the shared grading fails, each is graded alone
    alone = {o.name: o for o in verify_suite(suite, reference, settings, kinds=("mutant",), warm=False).outcomes}
    assert alone["add_subtracts"].ok and alone["add_subtracts"].graded_with == ()
    assert alone["mul_doubles"].wrong["1"].startswith("passes")
    assert (
        alone["mul_doubles"].wrong["2"].startswith("fails (failed: mul(")
        and "should be" in alone["mul_doubles"].wrong["2"]
    )


def test_declared_messages_scores_and_results_are_checked(workspace: Path) -> None:
    reference = shutil.copytree(REFERENCE, workspace / "reference")
    forgery = reference / "forgeries" / "mul_constant.toml"
    forgery.write_text(
        forgery.read_text().replace(
            'targets = ["2"]',
            'targets = ["2"]\nmessage_contains = { "2" = "nope" }\nmessage_lacks = ["should be"]\nresult = "error"',
        )
    )
    _two_mutants(reference, "[]", 'partial = { "1" = 0.5 }\n')  # an accepted variant of mul: loses nothing
    result = verify_suite(
        load_suite(TOY_SUITES / "verify"),
        reference,
        settings_for(workspace / "var"),
        kinds=("mutant", "forgery"),
        names=("mul_doubles", "mul_constant"),
    )
    wrong = {o.name: o.wrong for o in result.outcomes}
    assert set(wrong) == {"mul_doubles", "mul_constant"}
    assert (
        wrong["mul_doubles"]["2"].startswith("fails")
        and wrong["mul_doubles"]["1"] == "scores 1.0 of 1.0, not 0.500 of it (passed)"
    )
    assert wrong["mul_constant"]["2"].startswith(
        "output lacks 'nope'; output has 'should be'; result failed, not error (failed: mul("
    )


def test_only_and_mutant_select_what_is_graded(workspace: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "GRADER_SUITES_DIR": str(TOY_SUITES),
        "GRADER_DATA_DIR": str(workspace / "var"),
        "COLUMNS": "200",
    }
    out = subprocess.run(
        [
            GRADER,
            "suite",
            "verify",
            "verify",
            "--reference",
            str(REFERENCE),
            "--only",
            "mutants",
            "--mutant",
            "add_subtracts",
            "--no-warm",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    graded = [line for line in out.stdout.splitlines() if line.startswith(("ok", "FAIL"))]
    assert graded == ["ok   mutant    add_subtracts"]
