"""``grader course show|set|extend ID``: an assignment's runtime settings and extensions from the command line.

Like the other admin commands it talks to Redis directly (the embedded one is started when needed), through
the same ``CourseStore`` the API uses, so every change keeps its history and reaches the audit log
(as ``cli:<user>``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from grader.api.course_schemas import SettingsPatch
from grader.cli import app
from grader.cli.admin import _actor, _fail, _store, console
from grader.cli.grading import load_settings
from grader.config import Settings
from grader.course.policy import StudentException
from grader.errors import ManifestError
from grader.models.manifest import SuiteManifest, load_manifest
from grader.store.course import CourseStore

course_app = typer.Typer(help="An assignment's runtime settings and per-student extensions.", no_args_is_help=True)
app.add_typer(course_app, name="course")

AssignmentArg = Annotated[str, typer.Argument(help="The assignment's id (an installed one).")]
_NONE = ("none", "null", "")


def _manifest(settings: Settings, assignment: str) -> SuiteManifest:
    found: dict[str, SuiteManifest] = {}
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        try:
            manifest = load_manifest(path)
        except ManifestError:
            continue
        found[manifest.id] = manifest
    if assignment not in found:
        raise _fail(f"unknown assignment '{assignment}'; installed: {', '.join(sorted(found)) or 'none'}")
    return found[assignment]


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as settings changes; ``none``/``null``/empty clears a value."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _fail(f"expected key=value, not {pair!r} (keys: {', '.join(SettingsPatch.model_fields)})")
        changes[key.strip()] = None if value.strip().lower() in _NONE else value.strip()
    try:
        return SettingsPatch.model_validate(changes).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise _fail(_errors(exc)) from None


@course_app.command("show")
def course_show(assignment: AssignmentArg) -> None:
    """Print the settings in force, their history's length and every extension, as JSON."""
    settings = load_settings()
    manifest = _manifest(settings, assignment)
    with _store(settings) as store:
        course = CourseStore(store)
        body = {
            "assignment": manifest.id,
            "settings": course.settings(manifest).model_dump(mode="json"),
            "changes": len(course.settings_history(manifest)),
            "extensions": {s: e.model_dump(mode="json") for s, e in course.exceptions(manifest.id).items()},
        }
    typer.echo(json.dumps(body, indent=2))


@course_app.command("set")
def course_set(
    assignment: AssignmentArg,
    changes: Annotated[
        list[str],
        typer.Argument(
            help="key=value, e.g. due=2026-12-01T23:59Z late_policy=per_day late_percent=10 max_submissions=none."
        ),
    ],
) -> None:
    """Change settings (recorded in their history and the audit log); prints the settings in force."""
    settings = load_settings()
    manifest = _manifest(settings, assignment)
    patch = parse_assignments(changes)
    with _store(settings) as store:
        try:
            after = CourseStore(store).update_settings(manifest, patch, _actor())
        except ValidationError as exc:
            raise _fail(_errors(exc)) from None
        except ValueError as exc:
            raise _fail(str(exc)) from None
    typer.echo(after.model_dump_json(indent=2))
    console.print(f"{assignment}: changed {', '.join(patch) or 'nothing'}")


@course_app.command("extend")
def course_extend(
    assignment: AssignmentArg,
    student: Annotated[str, typer.Argument(help="The student's id.")],
    due: Annotated[
        str | None, typer.Option(help="The student's due date (ISO 8601, e.g. 2026-12-03T23:59Z; UTC without a zone).")
    ] = None,
    late_due: Annotated[str | None, typer.Option(help="The student's late due date (ISO 8601).")] = None,
    max_submissions: Annotated[int | None, typer.Option(help="The student's submission limit.")] = None,
    waive_penalty: Annotated[bool, typer.Option("--waive-penalty", help="No late penalty for this student.")] = False,
    note: Annotated[str, typer.Option(help="Why (staff only).")] = "",
    remove: Annotated[bool, typer.Option("--remove", help="Withdraw the student's extension and exceptions.")] = False,
) -> None:
    """Grant or replace (or, with --remove, withdraw) one student's extension and exceptions."""
    settings = load_settings()
    manifest = _manifest(settings, assignment)
    with _store(settings) as store:
        course = CourseStore(store)
        if remove:
            if course.exception(manifest.id, student) is None:
                raise _fail(f"'{student}' has no extension on {assignment}")
            course.set_exception(manifest.id, student, None, _actor())
            console.print(f"{assignment}: withdrew {student}'s extension")
            return
        try:
            exc = StudentException.model_validate(
                {
                    "due": due,
                    "late_due": late_due,
                    "max_submissions": max_submissions,
                    "waive_penalty": waive_penalty,
                    "note": note,
                }
            )
        except ValidationError as error:
            raise _fail(_errors(error)) from None
        course.set_exception(manifest.id, student, exc, _actor())
    typer.echo(exc.model_dump_json(indent=2))
    console.print(f"{assignment}: extension set for {student}")
