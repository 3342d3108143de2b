"""``grader models check``: which cache-gated checks can run with the configured model cache."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from grader.cli import app
from grader.cli.grading import load_settings
from grader.engine.models import is_cached
from grader.engine.suites import discover, load_suite
from grader.errors import GraderError

models_app = typer.Typer(help="The Hugging Face model cache used by cache-gated checks.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("check")
def models_check(
    assignment: Annotated[str | None, typer.Option("--assignment", "-a", help="Only this assignment.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any check's model is missing.")] = False,
) -> None:
    """List every check that needs cached models, per assignment, and whether it can run here."""
    settings = load_settings()
    console = Console()
    table = Table(title=f"model cache: {settings.hf_home or 'not configured (set HF_HOME)'}")
    for column in ("assignment", "check", "model", "status"):
        table.add_column(column)
    missing = 0
    try:
        for assignment_id, path in discover(settings.suites_dir).items():
            if assignment and assignment_id != assignment:
                continue
            for spec in load_suite(path).checks:
                for model in spec.models:
                    ok = is_cached(model, settings.hf_home)
                    missing += not ok
                    table.add_row(
                        assignment_id,
                        f"{spec.number} {spec.name}",
                        model,
                        "[green]cached[/green]" if ok else "[red]missing: will not run[/red]",
                    )
    except GraderError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.student_message}")
        raise typer.Exit(2) from None
    if table.row_count:
        console.print(table)
    else:
        console.print("No check of the selected assignments needs a cached model.")
    if strict and missing:
        raise typer.Exit(1)
