"""``grader suite verify``: check a suite against its reference, mutants and forgeries (grader.engine.verify)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grader.cli import app
from grader.cli.grading import load_settings
from grader.config import PROJECT_ROOT
from grader.engine.suites import discover, load_suite
from grader.engine.verify import Outcome, Verification, verify_suite
from grader.errors import GraderError

suite_app = typer.Typer(help="Suite authoring.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")
out = Console(highlight=False, soft_wrap=True)


class Part(StrEnum):
    reference = "reference"
    mutants = "mutants"
    forgeries = "forgeries"


KIND_OF = {Part.reference: "reference", Part.mutants: "mutant", Part.forgeries: "forgery"}


def _line(outcome: Outcome) -> None:
    mark = "ok  " if outcome.ok else "FAIL"
    wrong = "; ".join(f"{n} {why}" for n, why in sorted(outcome.wrong.items()))
    shared = f"  [graded with {', '.join(outcome.graded_with)}]" if outcome.graded_with else ""
    out.print(f"{mark} {outcome.kind:9} {outcome.name}" + (f": {wrong}" if wrong else "") + shared, markup=False)


def print_matrix(result: Verification) -> None:
    """Check x bug class: how many mutants or forgeries of each class each check catches."""
    classes, rows = result.matrix()
    width = max([5, *(len(c) for c in rows)])
    out.print("\ncheck".ljust(width + 1) + "  " + "  ".join(classes), markup=False)
    for number, counts in rows.items():
        cells = "  ".join((str(counts[k]) if counts[k] else ".").center(len(k)) for k in classes)
        out.print(number.ljust(width) + "  " + cells, markup=False)
    for kind in ("mutant", "forgery"):
        missed = result.uncovered(kind)
        out.print(f"not covered by any {kind}: {', '.join(missed) if missed else 'none'}", markup=False)
    if result.pending:
        out.print(f"not runnable on this worker (left out): {', '.join(sorted(result.pending))}", markup=False)


@suite_app.command("verify")
def verify_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, see `grader assignments`.")],
    reference: Annotated[
        Path | None, typer.Option(help="The reference folder; default reference_solutions/<the suite's folder name>.")
    ] = None,
    only: Annotated[list[Part] | None, typer.Option(help="Grade only these parts (repeatable); default all.")] = None,
    mutant: Annotated[
        list[str] | None, typer.Option(help="Grade only the mutants or forgeries of this name (repeatable).")
    ] = None,
    warm: Annotated[bool, typer.Option(help="Keep a warm sandbox ready for the next grading.")] = True,
) -> None:
    """Grade the reference (full marks but its declared missing artifacts), each mutant (exactly its checks
    fail) and each forgery (0 on its targets); print the matrix check x bug class. Exit 1 on a mismatch.

    Mutants (forgeries) whose edits reach disjoint checks (the reach table of verify.toml) share one grading;
    when it does not hold, each is graded alone, so a mismatch names its mutant, the check and its message."""
    settings = load_settings()
    try:
        known = discover(settings.suites_dir)
        if assignment not in known:
            raise GraderError(f"unknown assignment {assignment!r}; installed: {', '.join(sorted(known)) or 'none'}")
        suite = load_suite(known[assignment])
        folder = reference or PROJECT_ROOT / "reference_solutions" / suite.path.name
        kinds = [KIND_OF[p] for p in only] if only else list(KIND_OF.values())
        result = verify_suite(suite, folder, settings, on_graded=_line, kinds=kinds, names=mutant, warm=warm)
    except GraderError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.student_message}")
        raise typer.Exit(2) from None
    print_matrix(result)
    if not result.ok:
        failed = [o for o in result.outcomes if not o.ok]
        out.print(f"\n{len(failed)} of {len(result.outcomes)} do not hold:", markup=False)
        for outcome in failed:
            for number, why in sorted(outcome.wrong.items()):
                out.print(f"  {outcome.kind:9} {outcome.name:40} {number:8} {why}", markup=False)
        raise typer.Exit(1)
