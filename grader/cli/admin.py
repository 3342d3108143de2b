"""``grader roster import`` and ``grader token create|list|revoke|rotate|link``: who may use the service."""

from __future__ import annotations

import csv
import getpass
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from grader.cli import app
from grader.cli.grading import load_settings
from grader.cli.service import redis_url_for
from grader.config import Settings
from grader.errors import ManifestError
from grader.models.manifest import load_manifest
from grader.store import audit
from grader.store.records import Role, Token
from grader.store.redis_server import connect
from grader.store.sessions import issue_link
from grader.store.submissions import Store
from grader.store.tokens import digest, find_tokens, issue_token, revoke, token_id, usable

roster_app = typer.Typer(help="Course rosters.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens: create, list, revoke, rotate, and one-time sign-in links.", no_args_is_help=True
)
app.add_typer(roster_app, name="roster")
app.add_typer(token_app, name="token")
console = Console(stderr=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
LINK_SECONDS = 14 * 24 * 3600  # an unused sign-in link lapses after two weeks


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def expiry(text: str | None) -> datetime | None:
    """``--expires 30d`` (days, ``h`` hours, ``m`` minutes) as an instant; None: never."""
    if not text:
        return None
    match = _DURATION.match(text)
    if not match:
        raise _fail(f"--expires takes a duration such as 30d, 12h or 90m, not {text!r}")
    return datetime.now(UTC) + timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def public_url(settings: Settings) -> str:
    """Where the service the settings describe listens (a wildcard address is reached on loopback)."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def link_url(base: str, secret: str) -> str:
    # The secret goes after '#': browsers do not send it, so no server or proxy log ever holds it.
    return f"{base.rstrip('/')}/signin/link#{secret}"


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    with redis_url_for(settings) as url:
        yield Store(connect(url))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _audit(store: Store, action: str, token_digest: str, before: Token | None, after: Token | None) -> None:
    """A token act in the audit log (the token's id and holder, never the token)."""
    audit.record(
        store,
        _actor(),
        action,
        f"token/{token_id(token_digest)}",
        before.model_dump(mode="json") if before else None,
        after.model_dump(mode="json") if after else None,
    )


def _read_roster(file: Path) -> list[str]:
    try:
        with file.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise _fail(f"cannot read the roster file {file}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _fail(f"{file} is not a UTF-8 CSV file: {exc}") from None
    if not rows:
        raise _fail("the roster file is empty")
    header = [h.strip().lower() for h in rows[0]]
    column = header.index("student_id") if "student_id" in header else 0
    body = rows[1:] if "student_id" in header else rows
    return sorted({row[column].strip() for row in body if len(row) > column and row[column].strip()})


def _installed(settings: Settings) -> set[str]:
    ids = set()
    for path in sorted(settings.suites_dir.glob("*/suite.toml")):
        try:
            ids.add(load_manifest(path).id)
        except ManifestError:
            continue  # a broken suite is not an assignment a roster can name
    return ids


@roster_app.command("import")
def roster_import(
    file: Annotated[
        Path, typer.Argument(help="CSV with a 'student_id' column (or the student ids in the first column).")
    ],
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="Assignment id (an installed one).")],
    out: Annotated[Path | None, typer.Option(help="Write student_id,token,link here instead of stdout.")] = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the tokens of students who already have one.")
    ] = False,
    expires: Annotated[
        str | None, typer.Option(help="New tokens expire after this long (30d, 12h); default never.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The service's address in the links; default from the settings.")
    ] = None,
) -> None:
    """Put students on an assignment's roster; a token for each student who has none (or for all, with
    --rotate), and a one-time sign-in link for every student. Tokens are printed once."""
    settings = load_settings()
    installed = _installed(settings)
    if assignment not in installed:
        raise _fail(f"unknown assignment '{assignment}'; installed: {', '.join(sorted(installed)) or 'none'}")
    students = _read_roster(file)
    until = expiry(expires)
    rows: list[tuple[str, str, str]] = []
    with _store(settings) as store:
        store.add_to_roster(assignment, students)
        for student in students:
            rows.append(_student_row(store, student, rotate, until, base_url or public_url(settings)))
    target = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    writer = csv.writer(target, lineterminator="\n")
    writer.writerow(["student_id", "token", "link"])
    writer.writerows(rows)
    if out:
        target.close()
    issued = sum(1 for _, token, _ in rows if token)
    console.print(
        f"{len(students)} student(s) on the roster of {assignment}; {issued} new token(s); "
        f"{len(rows) - issued} kept their token{' (use --rotate to replace them)' if not rotate else ''}. "
        "Each link signs its student in once."
    )


def _student_row(store: Store, student: str, rotate: bool, until: datetime | None, base: str) -> tuple[str, str, str]:
    """(student, their new token or "" when they keep theirs, a fresh sign-in link)."""
    held = {d: t for d, t in find_tokens(store, subject=student, role=Role.student).items() if usable(t)}
    token = ""
    if rotate or not held:
        revoke(store, list(held))
        for old, before in held.items():
            _audit(store, "token.rotate", old, before, None)
        token = issue_token(store, Role.student, student, expires_at=until)
        token_digest = digest(token)
        if held:
            _audit(store, "token.rotate", token_digest, None, store.token(token_digest))
    else:
        token_digest = max(held.items(), key=lambda item: item[1].created_at)[0]
    return student, token, link_url(base, issue_link(store, token_digest, LINK_SECONDS))


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="ta or ci (students get theirs from `roster import`).")],
    name: Annotated[str, typer.Option(help="A label for the token's holder.")] = "staff",
    expires: Annotated[str | None, typer.Option(help="Expire after this long (30d, 12h, 90m); default never.")] = None,
) -> None:
    """Issue a TA or CI token and print it (it is stored only as a hash)."""
    if role == Role.student:
        raise _fail("student tokens come from `grader roster import`")
    until = expiry(expires)
    with _store(load_settings()) as store:
        token = issue_token(store, role, name, expires_at=until)
        _audit(store, "token.create", digest(token), None, store.token(digest(token)))
    sys.stdout.write(token + "\n")


IdArg = Annotated[str | None, typer.Argument(help="The token's id (from `grader token list`), or a unique prefix.")]
SubjectOpt = Annotated[str | None, typer.Option("--subject", help="Every token of this student id or label instead.")]


def _chosen(store: Store, ref: str | None, subject: str | None) -> dict[str, Token]:
    if bool(ref) == bool(subject):
        raise _fail("name one token by its id, or its holder with --subject")
    found = find_tokens(store, token_ref=ref or "", subject=subject or "")
    if not found:
        raise _fail(f"no token {'with id ' + repr(ref) if ref else 'held by ' + repr(subject)}")
    if ref and len(found) > 1:
        raise _fail(f"{len(found)} tokens have ids starting with {ref!r}; give more of the id")
    return found


@token_app.command("list")
def token_list(
    role: Annotated[Role | None, typer.Option(help="Only tokens of this role.")] = None,
    subject: SubjectOpt = None,
) -> None:
    """Every token: id, role, holder, when it was created and when it expires (never the token)."""
    with _store(load_settings()) as store:
        found = find_tokens(store, subject=subject or "", role=role)
    now = datetime.now(UTC)
    table = Table(title=f"{len(found)} token(s)")
    for column in ("id", "role", "holder", "created", "expires"):
        table.add_column(column)
    for token_digest, t in found.items():
        ends = "never" if t.expires_at is None else t.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        table.add_row(
            token_id(token_digest),
            t.role.value,
            t.subject,
            t.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            ends + (" (expired)" if t.expires_at is not None and t.expires_at <= now else ""),
        )
    Console(width=200).print(table)


@token_app.command("revoke")
def token_revoke(ref: IdArg = None, subject: SubjectOpt = None) -> None:
    """Revoke tokens now: the API refuses them, and their page sessions and unused sign-in links end."""
    with _store(load_settings()) as store:
        found = _chosen(store, ref, subject)
        revoke(store, list(found))
        for token_digest, before in found.items():
            _audit(store, "token.revoke", token_digest, before, None)
    console.print(f"revoked {len(found)} token(s): {', '.join(token_id(d) for d in found)}")


@token_app.command("rotate")
def token_rotate(
    ref: IdArg = None,
    subject: SubjectOpt = None,
    expires: Annotated[
        str | None, typer.Option(help="The new token expires after this long; default as the old one.")
    ] = None,
) -> None:
    """Replace one token (or a holder's) with a new one for the same holder and role, printed once; the
    old one stops working at once, with its sessions."""
    until = expiry(expires)
    with _store(load_settings()) as store:
        found = _chosen(store, ref, subject)
        newest_digest, newest = max(found.items(), key=lambda item: item[1].created_at)
        revoke(store, list(found))
        ends = until if expires else newest.expires_at
        token = issue_token(store, newest.role, newest.subject, expires_at=ends)
        for token_digest, before in found.items():
            _audit(store, "token.rotate", token_digest, before, None)
        _audit(store, "token.rotate", digest(token), None, store.token(digest(token)))
    console.print(
        f"replaced {', '.join(token_id(d) for d in found)} of {newest.subject} with {token_id(digest(token))}"
    )
    sys.stdout.write(token + "\n")


@token_app.command("link")
def token_link(
    subject: Annotated[str, typer.Argument(help="The student id (or token label) to sign in.")],
    base_url: Annotated[
        str | None, typer.Option(help="The service's address in the link; default from the settings.")
    ] = None,
) -> None:
    """Print a new one-time sign-in link for a holder's newest token (a student who lost theirs)."""
    settings = load_settings()
    with _store(settings) as store:
        found = find_tokens(store, subject=subject)
        if not found:
            raise _fail(f"no token held by {subject!r}")
        token_digest = max(found.items(), key=lambda item: item[1].created_at)[0]
        sys.stdout.write(
            link_url(base_url or public_url(settings), issue_link(store, token_digest, LINK_SECONDS)) + "\n"
        )
