"""``grader roster import`` and ``grader token create``: who may use the service."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grader.cli import app
from grader.cli.grading import load_settings
from grader.cli.service import redis_url_for
from grader.store.records import Role
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.store.tokens import issue_token

roster_app = typer.Typer(help="Course rosters.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")
app.add_typer(token_app, name="token")
console = Console(stderr=True)


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="CSV with a 'student_id' column (or the student ids in the first column).")],
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="Assignment id.")],
    out: Annotated[Path | None, typer.Option(help="Write student_id,token here instead of stdout.")] = None,
) -> None:
    """Add students to an assignment's roster and issue each new student a token (printed once)."""
    settings = load_settings()
    with file.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        console.print("[red]error:[/red] the roster file is empty")
        raise typer.Exit(2)
    header = [h.strip().lower() for h in rows[0]]
    column = header.index("student_id") if "student_id" in header else 0
    body = rows[1:] if "student_id" in header else rows
    students = sorted({row[column].strip() for row in body if len(row) > column and row[column].strip()})
    with redis_url_for(settings) as url:
        store = Store(connect(url))
        known = store.roster(assignment)
        store.add_to_roster(assignment, students)
        issued = [(s, issue_token(store, Role.student, s)) for s in students if s not in known]
    target = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    writer = csv.writer(target, lineterminator="\n")
    writer.writerow(["student_id", "token"])
    writer.writerows(issued)
    if out:
        target.close()
    console.print(f"{len(students)} student(s) on the roster of {assignment}; {len(issued)} new token(s).")


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="ta or ci (students get theirs from `roster import`).")],
    name: Annotated[str, typer.Option(help="A label for the token's holder.")] = "staff",
) -> None:
    """Issue a TA or CI token and print it (it is stored only as a hash)."""
    if role == Role.student:
        console.print("[red]error:[/red] student tokens come from `grader roster import`")
        raise typer.Exit(2)
    settings = load_settings()
    with redis_url_for(settings) as url:
        sys.stdout.write(issue_token(Store(connect(url)), role, name) + "\n")
