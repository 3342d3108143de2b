"""The ``grader`` command line; each sub-module adds its commands to ``app``."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Autograder for ML course assignments.")


def main() -> None:
    from grader.cli import admin, course, environments, gradescope, grading, models, service, submit, suite  # noqa: F401 - registers the commands

    app()
