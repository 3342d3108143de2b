"""``grader suite verify``: a suite against its reference, its mutants and its forging submissions.

A suite's reference folder (``reference_solutions/<suite folder>`` by default) holds our solution in the
students' layout and, beside it:

- ``verify.toml``: ``missing_artifacts = [...]``, the checks the reference is known to fail (e.g. files it
  can only have once trained on a GPU); every other check must pass;
- ``mutants/*.toml``: one known bug each (``description``, ``bug_class``, ``checks``: exactly the checks it
  must fail, every other one passing);
- ``forgeries/*.toml``: submissions that do no real work (``targets``: the checks on which they must score 0).

Mutants and forgeries are edits of the reference (``apply_edits``): ``file`` and ``[[replace]]`` entries
(``old`` -> ``new``, ``old`` found exactly once; an entry may name its own ``file``; in a notebook the code
cells are edited), ``[[write]]`` entries (``path``, ``text``) replacing whole files, and ``data_copies``
(``[source, target]`` pairs: public handout files from the suite's ``data/`` copied into the submission).
Checks a worker cannot run (``not_run`` on the reference, e.g. a missing model cache) are left out of
every comparison.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.config import Settings
from grader.engine.report import CheckResult, GradeReport
from grader.engine.runner import grade
from grader.engine.suites import Suite
from grader.errors import SuiteError

#: Files of a reference folder that are ours, not the students': never copied into a graded submission.
NOT_SUBMITTED = ("mutants", "forgeries", "variants", "_source", "__pycache__", "README.md", "verify.toml")


def read_spec(reference: Path, folder: str, name: str) -> dict[str, Any]:
    """A mutant's or forgery's toml, ``reference/<folder>/<name>.toml``."""
    return tomllib.loads((reference / folder / f"{name}.toml").read_text(encoding="utf-8"))


def read_missing_artifacts(reference: Path) -> frozenset[str]:
    """The checks ``reference/verify.toml`` declares the reference fails for lack of an artifact (none without it)."""
    declared = reference / "verify.toml"
    meta = tomllib.loads(declared.read_text(encoding="utf-8")) if declared.is_file() else {}
    return frozenset(meta.get("missing_artifacts", []))


def spec_names(reference: Path, folder: str) -> list[str]:
    return sorted(p.stem for p in (reference / folder).glob("*.toml"))


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    count = text.count(old)
    if count != 1:
        raise SuiteError(f"{where}: the text to replace occurs {count} times")
    return text.replace(old, new)


def apply_edits(spec: dict[str, Any], root: Path, label: str, data_dir: Path | None = None) -> None:
    """Apply one mutant's or forgery's edits to the submission folder ``root`` (see the module docstring)."""
    for edit in spec.get("replace", []):
        rel = edit.get("file", spec.get("file", ""))
        target = root / rel
        where = f"{label}: {rel}"
        if target.suffix == ".ipynb":  # the students' code lives in the code cells, edited as text
            nb = nbformat.read(target, as_version=4)  # type: ignore[no-untyped-call]
            cells = [c for c in nb.cells if c.cell_type == "code" and edit["old"] in c.source]
            hits = sum(c.source.count(edit["old"]) for c in cells)
            if hits == 1:
                cells[0].source = cells[0].source.replace(edit["old"], edit["new"])
                nbformat.write(nb, target)  # type: ignore[no-untyped-call]
                continue
            if hits > 1:
                raise SuiteError(f"{where}: the text to replace occurs {hits} times in its code cells")
            # No cell holds it: an edit written against the notebook's JSON text (escaped quotes, newlines)
            target.write_text(_replace_once(target.read_text(encoding="utf-8"), edit["old"], edit["new"], where))
        else:
            target.write_text(_replace_once(target.read_text(encoding="utf-8"), edit["old"], edit["new"], where))
    for written in spec.get("write", []):
        target = root / written["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(written["text"]), encoding="utf-8")
    for source, target_rel in spec.get("data_copies", []):
        if data_dir is None:
            raise SuiteError(f"{label}: data_copies needs the suite's data folder")
        shutil.copy(data_dir / source, root / target_rel)


def copy_reference(reference: Path, dest: Path) -> Path:
    """The reference in the students' layout (our notes, mutants and forgeries left out), readable by sandboxes."""
    shutil.copytree(reference, dest, ignore=shutil.ignore_patterns(*NOT_SUBMITTED))
    dest.chmod(0o755)
    return dest


@dataclass
class Outcome:
    """One graded submission of the verification: what was expected, what happened."""

    kind: str  # "reference", "mutant" or "forgery"
    name: str
    bug_class: str
    expected: frozenset[str]  # checks that must fail (reference, mutant) or score 0 (forgery)
    wrong: dict[str, str] = field(default_factory=dict)  # check -> why it contradicts the expectation

    @property
    def ok(self) -> bool:
        return not self.wrong


@dataclass
class Verification:
    suite: Suite
    outcomes: list[Outcome]
    pending: frozenset[str]  # not runnable on this worker: left out of every comparison

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def matrix(self) -> tuple[list[str], dict[str, dict[str, int]]]:
        """Bug classes (columns) and, per check, how many mutants or forgeries of each class it catches."""
        caught = [o for o in self.outcomes if o.kind != "reference"]
        classes = sorted({o.bug_class for o in caught})
        rows = {c.number: {k: sum(c.number in o.expected for o in caught if o.bug_class == k) for k in classes}
                for c in self.suite.checks}  # fmt: skip
        return classes, rows

    def uncovered(self, kind: str) -> list[str]:
        """Checks that no mutant (``kind="mutant"``) or no forgery catches."""
        covered = set().union(*(o.expected for o in self.outcomes if o.kind == kind))
        return [c.number for c in self.suite.checks if c.number not in covered]


def _lost(report: GradeReport, ignore: frozenset[str]) -> set[str]:
    return {t.number for t in report.tests if t.result != CheckResult.passed and t.number not in ignore}


@contextmanager
def _workspace() -> Iterator[Path]:
    # Under /tmp and passable (0711): a sandbox's own uid must reach the submission, pytest-style 0700 is not
    root = Path(tempfile.mkdtemp(prefix="grader-verify-", dir="/tmp"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def verify_suite(suite: Suite, reference: Path, settings: Settings,
                 on_graded: Callable[[Outcome], None] | None = None) -> Verification:  # fmt: skip
    """Grade the reference, every mutant and every forgery of ``reference`` with ``suite``."""
    if not reference.is_dir():
        raise SuiteError(f"no reference folder {reference}")
    missing = read_missing_artifacts(reference)
    numbers = {c.number for c in suite.checks}
    outcomes: list[Outcome] = []

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_graded:
            on_graded(outcome)

    with _workspace() as root:
        report = grade(suite, copy_reference(reference, root / "reference"), settings)
        pending = frozenset(t.number for t in report.tests if t.result == CheckResult.not_run) - missing
        ref = Outcome("reference", "reference", "", missing)
        lost = _lost(report, pending)
        ref.wrong = {n: "fails" for n in lost - missing} | {n: "passes (declared missing)" for n in missing - lost}
        done(ref)
        for kind, folder, key in (("mutant", "mutants", "checks"), ("forgery", "forgeries", "targets")):
            for name in spec_names(reference, folder):
                spec = read_spec(reference, folder, name)
                expected = frozenset(spec.get(key, []))
                outcome = Outcome(kind, name, str(spec.get("bug_class", "unclassified")), expected)
                if not expected or not expected <= numbers:
                    outcome.wrong = {"-": f"its {key} must name checks of the suite: {sorted(expected - numbers)}"}
                    done(outcome)
                    continue
                dest = copy_reference(reference, root / folder / name)
                apply_edits(spec, dest, f"{kind} {name}", suite.data_dir)
                report = grade(suite, dest, settings)
                if kind == "mutant":
                    lost = _lost(report, pending | missing)
                    outcome.wrong = {n: "fails" for n in lost - expected} | {n: "passes" for n in expected - lost}
                else:
                    by_number = {t.number: t for t in report.tests}
                    outcome.wrong = {n: f"scores {by_number[n].score}" for n in expected
                                     if by_number[n].score > 0 or by_number[n].result == CheckResult.passed}  # fmt: skip
                done(outcome)
    return Verification(suite, outcomes, pending)
