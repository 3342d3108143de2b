"""``grader suite verify``: a suite against its reference, its mutants and its forging submissions.

A suite's reference folder (``reference_solutions/<suite folder>`` by default) holds our solution in the
students' layout and, beside it:

- ``verify.toml``: ``missing_artifacts = [...]``, the checks the reference is known to fail (e.g. files it
  can only have once trained on a GPU), every other check must pass with full marks; and ``[reach]``, per
  submitted file the checks that run or read it, which decides what may share a grading
  (:mod:`grader.engine.verify_specs`);
- ``mutants/*.toml``: one known bug each (``description``, ``bug_class``, ``checks``: exactly the checks it
  must fail, every other one passing with full marks);
- ``forgeries/*.toml``: submissions that do no real work (``targets``: the checks on which they must score 0).

Either kind may also say what the messages must say and what the scores must be: ``message_contains``
(check -> phrase or phrases its student output contains), ``message_lacks`` (phrases no output of its
declared checks contains), ``partial`` (check -> the fraction of its points it keeps) and ``result`` (the
result every declared check must have, e.g. ``"failed"``: a crash of the grader's own check would score 0
without testing anything); ``reaches`` narrows the checks its edits reach.

Mutants and forgeries are edits of the reference (``apply_edits``): ``file`` and ``[[replace]]`` entries
(``old`` -> ``new``, ``old`` found exactly once; an entry may name its own ``file``; in a notebook the code
cells are edited), ``[[write]]`` entries (``path``, ``text``) replacing whole files, and ``data_copies``
(``[source, target]`` pairs: public handout files from the suite's ``data/`` copied into the submission).
Every grading runs every check of the suite. Checks a worker cannot run (a missing model cache, a lacking
environment) are left out of every comparison.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grader.config import Settings
from grader.engine.environments import environment_status
from grader.engine.models import missing_models
from grader.engine.runner import grade, make_launcher, sandbox_spec
from grader.engine.suites import Suite
from grader.engine.verify_specs import (
    KINDS,
    Spec,
    apply_edits,
    copy_reference,
    load_specs,
    pack,
    read_missing_artifacts,
    read_spec,
    read_verify_toml,
    spec_names,
)
from grader.errors import SuiteError
from grader.models.report import CheckResult, GradeReport, TestReport
from grader.sandbox.launcher import Launcher
from grader.sandbox.pool import WarmPool, WarmProfile

__all__ = [
    "Outcome",
    "Verification",
    "apply_edits",
    "copy_reference",
    "plan",
    "read_missing_artifacts",
    "read_spec",
    "spec_names",
    "verify_suite",
]

#: How much of a check's output a mismatch quotes.
QUOTED = 300


@dataclass
class Outcome:
    """One graded submission of the verification: what was expected, what happened."""

    kind: str  # "reference", "mutant" or "forgery"
    name: str
    bug_class: str
    expected: frozenset[str]  # checks that must fail (reference, mutant) or score 0 (forgery)
    wrong: dict[str, str] = field(default_factory=dict)  # check -> why it contradicts the expectation
    graded_with: tuple[str, ...] = ()  # the other specs that shared its grading
    report: GradeReport | None = field(default=None, repr=False)  # the grading it was judged on

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
        rows = {
            c.number: {k: sum(c.number in o.expected for o in caught if o.bug_class == k) for k in classes}
            for c in self.suite.checks
        }
        return classes, rows

    def uncovered(self, kind: str) -> list[str]:
        """Checks that no mutant (``kind="mutant"``) or no forgery catches."""
        covered = set().union(*(o.expected for o in self.outcomes if o.kind == kind))
        return [c.number for c in self.suite.checks if c.number not in covered]


def _quote(test: TestReport) -> str:
    text = " ".join(test.output.split())
    return f" ({test.result}: {text[:QUOTED]})" if text else f" ({test.result})"


def _lost(report: GradeReport, ignore: frozenset[str]) -> set[str]:
    """Checks without full marks (a pass with partial points is a loss too)."""
    return {
        t.number
        for t in report.tests
        if (t.result != CheckResult.passed or t.score < t.max_score - 1e-9) and t.number not in ignore
    }


def _declared(spec: Spec, by_number: dict[str, TestReport]) -> dict[str, str]:
    """What the spec's ``message_contains``, ``message_lacks``, ``partial`` and ``result`` say, checked."""
    wrong: dict[str, list[str]] = {}
    for number, phrases in spec.data.get("message_contains", {}).items():
        for phrase in [phrases] if isinstance(phrases, str) else phrases:
            if phrase not in by_number[number].output:
                wrong.setdefault(number, []).append(f"output lacks {phrase!r}")
    for number in sorted(spec.expected):
        test = by_number[number]
        for phrase in spec.data.get("message_lacks", []):
            if phrase in test.output:
                wrong.setdefault(number, []).append(f"output has {phrase!r}")
        if "result" in spec.data and test.result != spec.data["result"]:
            wrong.setdefault(number, []).append(f"result {test.result}, not {spec.data['result']}")
    for number, fraction in spec.data.get("partial", {}).items():
        test = by_number[number]
        if abs(test.score - test.max_score * fraction) > 0.01:
            wrong.setdefault(number, []).append(f"scores {test.score} of {test.max_score}, not {fraction:.3f} of it")
    return {number: "; ".join(why) + _quote(by_number[number]) for number, why in wrong.items()}


def judge(
    spec: Spec, report: GradeReport, ignore: frozenset[str], others: frozenset[str] = frozenset()
) -> dict[str, str]:
    """What in ``report`` contradicts ``spec`` (``others``: the checks the specs graded with it must fail)."""
    by_number = {t.number: t for t in report.tests}
    if spec.kind == "mutant":
        lost = _lost(report, ignore)
        wrong = {n: f"fails{_quote(by_number[n])}" for n in sorted(lost - spec.expected - others)}
        wrong |= {n: f"passes{_quote(by_number[n])}" for n in sorted(spec.expected - lost)}
    else:
        wrong = {
            n: f"scores {by_number[n].score}{_quote(by_number[n])}"
            for n in sorted(spec.expected)
            if by_number[n].score > 0 or by_number[n].result == CheckResult.passed
        }
    declared = _declared(spec, by_number)
    return {n: "; ".join(w for w in (wrong.get(n), declared.get(n)) if w) for n in sorted(set(wrong) | set(declared))}


def pending_checks(suite: Suite, settings: Settings) -> frozenset[str]:
    """The checks this worker cannot run (the runner reports them "not run", pending for staff)."""
    lacking = environment_status(suite.manifest.environment, settings.environments).lacking
    return frozenset(c.number for c in suite.checks if lacking or missing_models(c, settings.hf_home))


def plan(suite: Suite, reference: Path, kind: str) -> list[tuple[Spec, ...]]:
    """The gradings verify makes for the specs of ``kind`` ("mutant" or "forgery"), without grading."""
    return pack(load_specs(reference, kind, read_verify_toml(reference).get("reach", {})))


@contextmanager
def _workspace() -> Iterator[Path]:
    # Under /tmp and passable (0711): a sandbox's own uid must reach the submission, pytest-style 0700 is not
    root = Path(tempfile.mkdtemp(prefix="grader-verify-", dir="/tmp"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _launcher(suite: Suite, settings: Settings, warm: bool) -> Iterator[Launcher]:
    """One warm sandbox kept ready for the next grading (each grading still gets its own sandbox)."""
    launcher = make_launcher(settings)
    if not warm:
        yield launcher
        return
    spec = sandbox_spec(suite, settings, Path("/nonexistent"))
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    with WarmPool(launcher, settings.scratch_dir, {WarmProfile.of(spec).queue: 1}, settings.timeouts) as pool:
        pool.target(spec)
        yield pool


def verify_suite(
    suite: Suite,
    reference: Path,
    settings: Settings,
    on_graded: Callable[[Outcome], None] | None = None,
    *,
    kinds: Collection[str] = ("reference", "mutant", "forgery"),
    names: Collection[str] | None = None,
    warm: bool = True,
) -> Verification:
    """Grade the reference, every mutant and every forgery of ``reference`` with ``suite`` (only ``kinds``;
    with ``names``, only the mutants and forgeries so named)."""
    if not reference.is_dir():
        raise SuiteError(f"no reference folder {reference}")
    missing = read_missing_artifacts(reference)
    pending = pending_checks(suite, settings)
    numbers = {c.number for c in suite.checks}
    outcomes: list[Outcome] = []

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_graded:
            on_graded(outcome)

    with _workspace() as root, _launcher(suite, settings, warm) as launcher:
        count = iter(range(1_000_000))

        def graded(group: tuple[Spec, ...]) -> GradeReport:
            dest = copy_reference(reference, root / f"{next(count):03d}")
            for spec in group:
                apply_edits(spec.data, dest, f"{spec.kind} {spec.name}", suite.data_dir)
            return grade(suite, dest, settings, launcher=launcher)

        if "reference" in kinds:
            report = grade(suite, copy_reference(reference, root / "reference"), settings, launcher=launcher)
            by_number = {t.number: t for t in report.tests}
            lost = _lost(report, pending)
            ref = Outcome("reference", "reference", "", missing, report=report)
            ref.wrong = {n: f"fails{_quote(by_number[n])}" for n in sorted(lost - missing)}
            ref.wrong |= {n: "passes (declared missing)" for n in sorted(missing - lost)}
            done(ref)
        for kind in ("mutant", "forgery"):
            if kind not in kinds:
                continue
            key = KINDS[kind][1]
            for group in plan(suite, reference, kind):
                group = tuple(s for s in group if names is None or s.name in names)
                bad = [s for s in group if (kind == "forgery" and not s.expected) or not s.expected <= numbers]
                for spec in bad:
                    done(
                        Outcome(
                            kind,
                            spec.name,
                            spec.bug_class,
                            spec.expected,
                            {"-": f"its {key} must name checks of the suite: {sorted(spec.expected - numbers)}"},
                        )
                    )
                group = tuple(s for s in group if s not in bad)
                for spec, wrong, shared, judged_on in _grade_group(group, graded, pending | missing):
                    done(Outcome(kind, spec.name, spec.bug_class, spec.expected, wrong, shared, judged_on))
    return Verification(suite, outcomes, pending)


def _grade_group(
    group: tuple[Spec, ...], graded: Callable[[tuple[Spec, ...]], GradeReport], ignore: frozenset[str]
) -> Iterator[tuple[Spec, dict[str, str], tuple[str, ...], GradeReport | None]]:
    """Each spec of ``group`` with what contradicts it: one grading for all, and when that one does not
    hold (or their edits collide), one grading each, so the message names the culprit."""
    if len(group) > 1:
        try:
            shared: GradeReport | None = graded(group)
        except SuiteError:
            shared = None
        if shared is not None:
            results = []
            for spec in group:
                others = frozenset().union(*(s.expected for s in group if s is not spec))
                results.append((spec, judge(spec, shared, ignore, others)))
            if all(not wrong for _, wrong in results):
                for spec, wrong in results:
                    yield spec, wrong, tuple(s.name for s in group if s is not spec), shared
                return
    for spec in group:
        try:
            report = graded((spec,))
        except SuiteError as exc:
            yield spec, {"-": exc.student_message}, (), None
        else:
            yield spec, judge(spec, report, ignore), (), report
