"""``grader env check`` and ``grader env build``: the students' environments each suite declares."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from grader.cli import app
from grader.cli.grading import load_settings
from grader.config import Settings
from grader.engine.environments import EnvironmentBuildError, build_environment, environment_status
from grader.engine.suites import discover
from grader.errors import GraderError
from grader.models.manifest import SuiteManifest, load_manifest

env_app = typer.Typer(
    help="The students' environments: the packages each handout's set-up installs.", no_args_is_help=True
)
app.add_typer(env_app, name="env")

AssignmentOption = Annotated[str | None, typer.Option("--assignment", "-a", help="Only this assignment.")]


def _manifests(settings: Settings, assignment: str | None) -> list[SuiteManifest]:
    err = Console(stderr=True)
    try:
        found = discover(settings.suites_dir)
    except GraderError as exc:
        err.print(f"[red]error:[/red] {exc.student_message}")
        raise typer.Exit(2) from None
    if assignment is not None and assignment not in found:
        err.print(
            f"[red]error:[/red] unknown assignment {assignment!r}; installed: {', '.join(sorted(found)) or 'none'}"
        )
        raise typer.Exit(2)
    return [load_manifest(path / "suite.toml") for aid, path in found.items() if assignment in (None, aid)]


@env_app.command("check")
def env_check(assignment: AssignmentOption = None) -> None:
    """Per assignment: the declared packages and which of them a sandbox on this worker lacks (exit 1 if any)."""
    settings = load_settings()
    table = Table(title=f"students' environments: {settings.environments}")
    for column in ("assignment", "packages", "environment", "lacks"):
        table.add_column(column)
    lacking = 0
    for manifest in _manifests(settings, assignment):
        status = environment_status(manifest.environment, settings.environments)
        where = "nothing declared" if not status.packages else f"built ({status.key})" if status.built else "not built"
        lacks = ", ".join(status.lacking)
        table.add_row(
            manifest.id,
            ", ".join(status.packages) or "-",
            where,
            f"[red]{lacks}: run `grader env build`[/red]" if lacks else "[green]nothing[/green]",
        )
        lacking += bool(status.lacking)
    Console(width=200).print(table)
    if lacking:
        raise typer.Exit(1)


@env_app.command("build")
def env_build(
    assignment: AssignmentOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild environments that are already built.")] = False,
) -> None:
    """Install each assignment's declared packages (once per package list; cached by its hash)."""
    settings = load_settings()
    console = Console()
    failed = build_all(settings, _manifests(settings, assignment), console, force=force)
    if failed:
        raise typer.Exit(1)


def build_all(settings: Settings, manifests: list[SuiteManifest], console: Console, *, force: bool = False) -> int:
    """Build every manifest's environment, saying what happened to each; returns how many failed.

    A failure does not stop the others: the worker still grades every suite it can, and the ones whose
    environment is missing report it on each check (grader/engine/runner.py) instead of failing students."""
    failed = 0
    done: set[str] = set()
    for manifest in manifests:
        if not manifest.environment.packages:
            continue
        before = environment_status(manifest.environment, settings.environments)
        if before.key in done:
            console.print(f"{manifest.id}: shares environment {before.key}")
            continue
        try:
            status = build_environment(manifest.environment, settings.environments, force=force)
        except EnvironmentBuildError as exc:
            console.print(
                f"[red]{manifest.id}: cannot build its environment:[/red] {exc.student_message}", highlight=False
            )
            failed += 1
            continue
        done.add(status.key)
        verb = "built" if force or not before.built else "already built"
        console.print(f"{manifest.id}: {verb} {status.key} ({', '.join(status.packages)})", highlight=False)
    return failed
