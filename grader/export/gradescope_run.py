"""The entry ``run_autograder`` calls in Gradescope's container: grade one submission, write results.json.

    python -m grader.export.gradescope_run --assignment ID --submission DIR --results FILE \
        --suites-dir DIR --data-dir DIR

Paths come as arguments (the bash script reads Gradescope's environment), settings otherwise from
``grader.config``. Fail closed: whatever happens, a valid results.json is written (score 0 and a
message when nothing could be graded), and student code runs only in the bubblewrap sandbox: the
backend is forced to ``bwrap`` and a sandbox is started once before grading, so a container that
refuses namespaces yields a results.json saying so, never an unsandboxed run. Staff details go to
stdout, which results.json marks hidden from students.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grader.authoring.checks import CheckSpec
from grader.config import Settings
from grader.engine.runner import grade, make_launcher
from grader.engine.suites import load_assignment
from grader.errors import ConfigurationError, GraderError, SandboxError, SubmissionError, SuiteError
from grader.export.results import GradescopeResults, fail_closed, from_report, write_results
from grader.sandbox.client import SandboxSession
from grader.sandbox.launcher import SandboxSpec

NOT_GRADED = "Your submission was not graded"
SANDBOX_DOWN = (
    f"{NOT_GRADED}: the autograder could not start its security sandbox in this container, so none of "
    "your code was run. This is a problem with the autograder, not with your work: please tell course staff "
    "(the reason is in the autograder's output, which only staff can see)."
)
SUITE_BROKEN = f"{NOT_GRADED}: the autograder's tests could not be loaded (a problem on the staff side, not your code)."
SANDBOX_HINT = (
    "bubblewrap needs user, mount, PID and network namespaces, a fresh /proc and seccomp in this container; "
    "see docs/GRADESCOPE.md. Student code is never run without the sandbox."
)
CRASHED = f"{NOT_GRADED}: the autograder failed with an internal error (not a judgement of your code). Please resubmit or tell course staff."


class SandboxUnavailable(GraderError):
    """bubblewrap cannot isolate student code here (no user namespaces, a blocked mount, no bwrap)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m grader.export.gradescope_run", description="Grade one Gradescope submission."
    )
    parser.add_argument("--assignment", required=True, help="Assignment id of the bundled suite.")
    parser.add_argument("--submission", type=Path, required=True, help="The student's files (Gradescope unzips them).")
    parser.add_argument("--results", type=Path, required=True, help="Where results.json goes.")
    parser.add_argument("--suites-dir", type=Path, required=True, help="Folder holding the bundled suite folder.")
    parser.add_argument("--data-dir", type=Path, required=True, help="World-traversable scratch space for the sandbox.")
    parser.add_argument("--check-sandbox", action="store_true", help="Only start one sandbox and say whether it works.")
    return parser.parse_args(argv)


def settings_for(args: argparse.Namespace) -> Settings:
    """Settings from the environment, but never an insecure backend, and the bundle's paths."""
    return Settings(env="production", sandbox_backend="bwrap", suites_dir=args.suites_dir, data_dir=args.data_dir)


def probe_sandbox(settings: Settings) -> None:
    """Start one sandbox on an empty folder and stop it; raise :class:`SandboxUnavailable` with the reason."""
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="probe-", dir=settings.scratch_dir) as tmp:
        Path(tmp).chmod(0o755)  # the sandbox's private uid binds it
        try:
            session = SandboxSession(
                make_launcher(settings), SandboxSpec(Path(tmp), limits=settings.limits), settings.timeouts
            )
            try:
                session.ensure_started()
            finally:
                session.close()
        except (SandboxError, ConfigurationError, OSError) as exc:
            detail = f"{exc.student_message}\n{exc.staff_detail}" if isinstance(exc, GraderError) else repr(exc)
            raise SandboxUnavailable(SANDBOX_DOWN, f"{detail.strip()}\n{SANDBOX_HINT}") from exc


def submission_source(submission: Path) -> Path:
    """The folder Gradescope filled, or the one zip in it when a student's zip was not unpacked."""
    if not submission.is_dir():
        raise SubmissionError(f"{NOT_GRADED}: no submitted files were found.")
    entries = list(submission.iterdir())
    if (
        len(entries) == 1
        and entries[0].suffix.lower() == ".zip"
        and entries[0].is_file()
        and not entries[0].is_symlink()
    ):
        return entries[0]
    return submission


def run(args: argparse.Namespace, started: float, checks: list[CheckSpec]) -> GradescopeResults:
    """Grade; ``checks`` is filled as soon as the suite is known, for a fail-closed report."""
    settings = settings_for(args)
    try:
        suite = load_assignment(settings.suites_dir, args.assignment)
    except SuiteError as exc:
        raise SuiteError(SUITE_BROKEN, f"{exc.student_message}\n{exc.staff_detail}".strip()) from exc
    checks.extend(suite.checks)
    source = submission_source(args.submission)
    probe_sandbox(settings)
    report = grade(suite, source, settings)
    if not report.sandbox_secure:  # cannot happen with the backend forced to bwrap; refuse all the same
        raise SandboxUnavailable(SANDBOX_DOWN, "the report says it was graded without a sandbox")
    say("Staff report (hidden from students):\n" + report.model_dump_json(indent=2))
    return from_report(report, time.monotonic() - started, suite.manifest)


def say(text: str) -> None:
    """Staff output: run_autograder's stdout, hidden from students by ``stdout_visibility``."""
    sys.stdout.write(text.rstrip() + "\n")
    sys.stdout.flush()


def classify(exc: BaseException) -> tuple[str, str]:
    """The fail-closed reason (``extra_data.status``) and the student's message for an exception."""
    for kind, reason in (
        (SandboxUnavailable, "sandbox_unavailable"),
        (SuiteError, "suite_error"),
        (SubmissionError, "submission_error"),
    ):
        if isinstance(exc, kind):
            return reason, exc.student_message
    return "grader_error", CRASHED


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    if args.check_sandbox:
        try:
            probe_sandbox(settings_for(args))
        except GraderError as exc:
            say(f"sandbox: NOT working here: {exc.staff_detail}")
            return 1
        say("sandbox: bubblewrap works in this container")
        return 0
    checks: list[CheckSpec] = []
    try:
        results = run(args, started, checks)
    except BaseException as exc:  # fail closed: even an interrupt leaves a results.json behind
        reason, message = classify(exc)
        say(f"Not graded ({reason}): {message}")
        if isinstance(exc, GraderError):
            say(exc.staff_detail)
        else:
            say("".join(traceback.format_exception(exc)))
        results = fail_closed(message, checks, time.monotonic() - started, reason)
    write_results(args.results, results)
    say(f"results.json: {results.score:g} points, written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
