"""``grader submit``: upload a zip or folder to a running service, follow it, print the report (CI path)."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from grader.cli import app

console = Console(stderr=True)
JUNK = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".DS_Store"}


def zip_folder(folder: Path) -> bytes:
    """The folder's files as a zip in memory (junk such as __pycache__ left out)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not path.is_symlink() and not JUNK & set(rel.parts) and path.suffix != ".pyc":
                zf.write(path, rel.as_posix())
    return buffer.getvalue()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:500]


@app.command("submit")
def submit_command(
    path: Annotated[Path, typer.Argument(help="A submission zip or folder.")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    server: Annotated[
        str | None,
        typer.Option(
            envvar="GRADER_SERVER",
            help="Service URL; default where the settings (GRADER_API_HOST, GRADER_API_PORT) put the service.",
        ),
    ] = None,
    token: Annotated[str, typer.Option(envvar="GRADER_TOKEN", help="API token.")] = "",
    wait: Annotated[bool, typer.Option("--wait", help="Follow grading and print the report.")] = False,
    expect_full_marks: Annotated[
        bool, typer.Option("--expect-full-marks", help="Exit 1 unless the score is the maximum (implies --wait).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the submission (with its report) as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for grading.")] = 1800,
) -> None:
    """Upload PATH for grading; with --wait, follow progress and print the report."""
    if not path.exists():
        raise _fail(f"{path} does not exist")
    if server is None:
        from grader.cli.admin import public_url
        from grader.cli.grading import load_settings

        server = public_url(load_settings())
    try:
        data = zip_folder(path) if path.is_dir() else path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}") from None
    name = f"{path.name}.zip" if path.is_dir() else path.name
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=server, headers=headers, timeout=120) as client:
        try:
            response = client.post(
                f"/api/v1/assignments/{assignment}/submissions", files={"file": (name, data, "application/zip")}
            )
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach {server}: {exc}") from None
        if response.status_code != 202:
            raise _fail(f"{response.status_code}: {_detail(response)}")
        accepted = response.json()
        console.print(f"submitted: {accepted['id']}")
        if not (wait or expect_full_marks):
            sys.stdout.write(json.dumps(accepted) + "\n")
            return
        sub = _follow(client, accepted["status_url"], timeout, accepted["id"], server)
    if as_json:
        sys.stdout.write(json.dumps(sub, indent=2) + "\n")
    else:
        _print(sub)
    report: dict[str, Any] = sub.get("report") or {}
    if sub["state"] != "done":
        raise typer.Exit(1)
    score = report.get("score")
    if expect_full_marks and (score is None or score < report.get("max_score")):
        console.print(f"[red]expected full marks, got {report.get('score')} / {report.get('max_score')}[/red]")
        raise typer.Exit(1)


# Answers worth waiting out while following a submission: the service is busy, restarting, or its Redis is.
_TRANSIENT = {429, 502, 503, 504}
POLL_SECONDS, MAX_BACKOFF_SECONDS = 0.5, 30.0


def _follow(client: httpx.Client, url: str, timeout: float, sub_id: str, server: str) -> dict[str, Any]:
    """Poll until the grading ends; a lost connection or a 429/503 is retried with exponential backoff
    (``Retry-After`` respected) until ``timeout``, then the submission is reported as still queued."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    backoff = POLL_SECONDS
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("queued", total=None)
        while time.monotonic() < deadline:
            try:
                response = client.get(url)
            except httpx.TransportError as exc:
                last = f"cannot reach {server} ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    sub: dict[str, Any] = response.json()
                    progress = sub["progress"]
                    bar.update(
                        task,
                        total=progress["total"] or None,
                        completed=progress["done"],
                        description=progress["current"] or sub["state"],
                    )
                    if sub["state"] in ("done", "error"):
                        return sub
                    backoff = POLL_SECONDS
                    time.sleep(POLL_SECONDS)
                    continue
                if response.status_code not in _TRANSIENT:
                    raise _fail(f"{response.status_code}: {_detail(response)}")
                last = f"{response.status_code}: {_detail(response)}"
                backoff = max(backoff, _retry_after(response))
            console.print(f"[yellow]{last}; trying again in {backoff:.0f} s[/yellow]")
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
    console.print(
        f'submission {sub_id} is still queued; check with: curl -H "Authorization: Bearer $GRADER_TOKEN" '
        f"{server}{url}  (last answer: {last})",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(3)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", "0")), MAX_BACKOFF_SECONDS)
    except ValueError:
        return 0.0


def _print(sub: dict[str, Any]) -> None:
    report = sub.get("report")
    if sub["state"] == "error" or not report:
        Console().print(f"[red]{sub['state']}[/red]: {sub.get('error') or 'no report'}")
        return
    table = Table(title=f"{sub['assignment']}: {report.get('score')} / {report.get('max_score')}")
    for column in ("#", "check", "score", "result", "message"):
        table.add_column(column)
    for t in report["tests"]:
        table.add_row(t["number"], t["name"], f"{t['score']:g}/{t['max_score']:g}", t["result"], _message(t))
    Console().print(table)
    for note in report.get("pending", []):
        Console().print(f"pending {note['number']} {note['name']}: {note.get('output', '')}")


def _message(test: dict[str, Any]) -> str:
    """A failed check's message (its first lines), as ``grader grade`` shows them."""
    if test.get("result") == "passed":
        return ""
    lines = str(test.get("output") or "").strip().splitlines()
    return "\n".join(lines[:6]) + ("\n…" if len(lines) > 6 else "")
