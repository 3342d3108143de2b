"""``grader export-gradescope``: an autograder zip that runs this engine, sandbox included, on Gradescope."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grader.cli import app
from grader.cli.grading import load_settings
from grader.errors import GraderError
from grader.export.bundle import build_autograder_zip

err = Console(stderr=True)


@app.command("export-gradescope")
def export_gradescope_command(
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="Assignment id, see `grader assignments`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The zip to write.")] = Path("autograder.zip"),
) -> None:
    """Write a Gradescope autograder zip for ASSIGNMENT (holds the hidden suite and data: staff only)."""
    settings = load_settings()
    try:
        bundle = build_autograder_zip(settings.suites_dir, assignment, out)
    except GraderError as exc:
        err.print(f"[red]error:[/red] {exc.student_message}")
        if exc.staff_detail:
            err.print(exc.staff_detail)
        raise typer.Exit(2) from None
    size = bundle.path.stat().st_size
    err.print(
        f"Wrote {bundle.path} ({size / 2**20:.1f} MiB, {len(bundle.names)} files): suite {bundle.suite_folder!r}, "
        f"{bundle.max_score:g} points. It contains the hidden tests and data: upload it to Gradescope, share it with no student."
    )
    if bundle.models:
        err.print(
            f"[yellow]warning:[/yellow] checks need the model(s) {', '.join(bundle.models)}; the Gradescope image has "
            "no model cache, so those checks will be reported as not run (see docs/GRADESCOPE.md)."
        )
