"""``grader grade`` and ``grader assignments``: local grading without the service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.authoring.checks import CheckSpec
from grader.cli import app
from grader.config import Settings, get_settings
from grader.engine.environments import EnvironmentBuildError, build_environment
from grader.engine.runner import grade
from grader.engine.suites import discover, load_assignment, load_suite
from grader.errors import GraderError
from grader.models.report import GradeReport, TestReport

err = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment, or a clear error and exit code 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


class _Bar:
    """A rich progress bar fed by the engine's progress events."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=total)

    def check_started(self, spec: CheckSpec, index: int, total: int) -> None:
        self.progress.update(self.task, description=f"{spec.number} {spec.name}")

    def check_finished(self, result: TestReport, index: int, total: int) -> None:
        self.progress.advance(self.task)


@app.command("grade")
def grade_command(
    path: Annotated[Path, typer.Argument(help="A submission zip or folder.")],
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="Assignment id, see `grader assignments`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON report to this file.")] = None,
) -> None:
    """Grade PATH with the assignment's hidden suite and show the report."""
    settings = load_settings()
    try:
        suite = load_assignment(settings.suites_dir, assignment)
        if not path.exists():
            raise GraderError(f"{path} does not exist")
        try:  # the students' environment, built on first use here (a worker builds it at start-up)
            build_environment(suite.manifest.environment, settings.environments)
        except EnvironmentBuildError as exc:
            err.print(f"[yellow]warning:[/yellow] {exc.student_message}", highlight=False)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            report = grade(suite, path, settings, progress=_Bar(progress, len(suite.checks)))
    except GraderError as exc:
        err.print(f"[red]error:[/red] {exc.student_message}")
        if exc.staff_detail:
            err.print(exc.staff_detail)
        raise typer.Exit(2) from None
    text = report.model_dump_json(indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        _print_table(report)


def _print_table(report: GradeReport) -> None:
    console = Console()
    table = Table(title=f"{report.assignment}: {report.score:g} / {report.max_score:g}  ({report.status})")
    for column in ("#", "check", "score", "result", "message"):
        table.add_column(column, overflow="fold")
    for t in report.tests:
        colour = {"passed": "green", "partial": "yellow"}.get(t.result, "red")
        first_line = t.output.splitlines()[0] if t.output else ""
        table.add_row(t.number, t.name, f"{t.score:g}/{t.max_score:g}", f"[{colour}]{t.result}[/{colour}]", first_line)
    console.print(table)
    if report.output:
        console.print(report.output)
    if not report.sandbox_secure:
        console.print("[bold red]WARNING: graded without a sandbox (development mode).[/bold red]")


@app.command("assignments")
def assignments_command() -> None:
    """List the installed assignments with their points."""
    settings = load_settings()
    table = Table()
    for column in ("id", "title", "checks", "points", "queue"):
        table.add_column(column)
    try:
        for path in discover(settings.suites_dir).values():
            suite = load_suite(path)
            m = suite.manifest
            table.add_row(m.id, m.title, str(len(suite.checks)), f"{suite.max_score:g}", m.resources.queue)
    except GraderError as exc:
        err.print(f"[red]error:[/red] {exc.student_message}\n{exc.staff_detail}")
        raise typer.Exit(2) from None
    Console().print(table)
