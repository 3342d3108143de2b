"""Grade one submission: unpack, run every check against a sandbox, and always return a report.

Fail closed (PrairieLearn's rule): whatever the submission does, the result is a well-formed
``GradeReport``. Time limits nest innermost first: a call's deadline, the check's timeout, the
sandbox's wall clock, the run's total timeout (which keeps every finished check's result).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import grader
from grader.authoring.checks import CheckSpec, Credit, Feedback, NotGradable
from grader.config import Settings
from grader.engine.environments import environment_status
from grader.engine.messages import HostPaths, assertion_message, redact_echoes, staff_code_detail, student_code_message
from grader.engine.models import missing_models
from grader.engine.notebooks import ingest_notebooks
from grader.engine.scoring import earned
from grader.engine.suites import Suite
from grader.engine.unpack import UnpackLimits, find_missing, unpack_submission
from grader.errors import SandboxError, SandboxTimeout, SubmissionError
from grader.models.limits import SandboxLimits
from grader.models.report import CheckResult, GradeReport, PhaseTimings, ReportStatus, SandboxRecord, TestReport
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, InsecureSubprocessLauncher, Launcher, SandboxSpec


class ProgressListener(Protocol):
    """Told about each check as it starts and ends (CLI progress bar, live status in the service)."""

    def check_started(self, spec: CheckSpec, index: int, total: int) -> None: ...

    def check_finished(self, result: TestReport, index: int, total: int) -> None: ...


def make_launcher(settings: Settings) -> Launcher:
    """The launcher the settings ask for; bwrap unless development explicitly opted out."""
    if settings.sandbox_backend == "insecure-subprocess":
        return InsecureSubprocessLauncher()
    return BwrapLauncher(settings.bwrap_path, settings.sandbox_uid_base)


def sandbox_spec(suite: Suite, settings: Settings, submission_dir: Path) -> SandboxSpec:
    """The sandbox a submission of ``suite`` runs in (the warm pool builds the same one ahead of demand)."""
    manifest = suite.manifest
    environment = environment_status(manifest.environment, settings.environments).mount
    return SandboxSpec(
        submission_dir,
        tuple(manifest.python_path),
        settings.limits.merged(manifest.resources.limits),
        gpu=manifest.resources.queue == "gpu",
        model_cache=settings.hf_home if settings.hf_home and settings.hf_home.is_dir() else None,
        cuda_visible_devices=settings.cuda_visible_devices,
        preload=tuple(manifest.resources.preload),
        environment=environment,
    )


def grade(
    suite: Suite,
    source: Path,
    settings: Settings,
    *,
    launcher: Launcher | None = None,
    progress: ProgressListener | None = None,
) -> GradeReport:
    """Grade the zip or folder at ``source`` with ``suite``."""
    started = time.monotonic()
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="job-", dir=settings.scratch_dir))
    # The sandbox's own uid must be able to reach the submission to bind it (read-only) into place.
    os.chmod(scratch, 0o711)
    try:
        return _grade_in(suite, source, settings, launcher or make_launcher(settings), progress, scratch, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _grade_in(
    suite: Suite,
    source: Path,
    settings: Settings,
    launcher: Launcher,
    progress: ProgressListener | None,
    scratch: Path,
    started: float,
) -> GradeReport:
    manifest = suite.manifest
    limits = settings.limits.merged(manifest.resources.limits)
    timings = PhaseTimings()
    header = _Header(suite, limits, launcher.secure, started)
    try:
        unpacked = unpack_submission(
            source, scratch / "submission", UnpackLimits(), root_marker=manifest.files.root_marker
        )
    except SubmissionError as exc:
        tests: list[TestReport] = [_not_run(spec, f"Not graded: {exc.student_message}", suite) for spec in suite.checks]
        return _finish(header, tests, timings, status=ReportStatus.submission_error, output=exc.student_message)
    timings.unpack = time.monotonic() - started
    missing = find_missing(unpacked, manifest.files.required)
    # Notebooks become modules before any sandbox starts; their notes say which cells were skipped.
    t = time.monotonic()
    notebook_notes = ingest_notebooks(unpacked.root, manifest.notebooks)
    timings.notebooks = time.monotonic() - t

    spec = sandbox_spec(suite, settings, unpacked.root)
    # A declared package this worker lacks would fail the student for the worker's fault: no check runs.
    lacking = environment_status(manifest.environment, settings.environments)
    session = SandboxSession(launcher, spec, settings.timeouts)
    total_deadline = started + min(manifest.resources.total_timeout_seconds, settings.timeouts.total)
    tests = []
    try:
        t = time.monotonic()
        try:
            session.ensure_started()
        except SandboxError:
            pass  # each check retries and reports the failure in its own words
        timings.sandbox_start = time.monotonic() - t
        t = time.monotonic()
        paths = HostPaths.of(
            [unpacked.root],
            {"<scratch>": settings.scratch_dir, "<model cache>": spec.model_cache, "<suite>": suite.path},
        )
        inject = _Injector(Student(session), suite, unpacked.root, spec.model_cache, paths)
        for index, check in enumerate(suite.checks):
            if progress:
                progress.check_started(check, index, len(suite.checks))
            missing_cache = missing_models(check, settings.hf_home)
            if time.monotonic() >= total_deadline:
                result = _not_run(
                    check, "Not run: the submission's overall time limit was reached before this check.", suite
                )
            elif lacking.lacking:
                result = _not_run(
                    check,
                    f"Not run, not gradable on this worker: {lacking.lacking_message()}. "
                    "It is pending: staff can see this and regrade later.",
                    suite,
                )
            elif missing_cache:
                result = _not_run(
                    check,
                    f"Not run, not gradable on this worker: needs model cache. This check needs the model(s) "
                    f"{', '.join(missing_cache)}, which this grader's model cache does not have; "
                    "it is pending: staff can see this and regrade later.",
                    suite,
                )
            else:
                calls = session.calls
                result = run_check(check, inject, session, total_deadline)
                if result.result != CheckResult.passed and session.calls != calls:
                    # A check that failed may have left the sandbox patched, looping or half-dead: the next
                    # check starts from a fresh one, so one hostile check cannot spoil the others. (One
                    # that sent the sandbox nothing, such as a missing predictions file, ran no student
                    # code: a restart there would only cost a sandbox start.)
                    session.restart()
            tests.append(result)
            if progress:
                progress.check_finished(result, index, len(suite.checks))
        timings.checks = time.monotonic() - t
    finally:
        session.close()
    run = _RunRecord(
        sandboxes=[
            SandboxRecord(generation=e["generation"], exit_reason=e["exit_reason"], notes=e["notes"])
            for e in session.ended
        ],
        staff_output=session.output_so_far(),
        files_missing=missing,
        unpack_notes=unpacked.notes + notebook_notes,
    )
    output = "Missing required file(s): " + ", ".join(missing) if missing else ""
    return _finish(header, tests, timings, status=ReportStatus.graded, output=output, run=run)


class _Injector:
    """Builds the keyword arguments a check asks for."""

    def __init__(
        self,
        student: Student,
        suite: Suite,
        files: Path,
        model_cache: Path | None = None,
        paths: HostPaths | None = None,
    ) -> None:
        # model_cache: the one the sandbox mounts (sandbox_spec decides whether the operator's cache exists)
        self.student, self.suite, self.files, self.model_cache = student, suite, files, model_cache
        # The host paths student-visible text must not show (the run's folders on top of the sandbox's).
        self.paths = paths or HostPaths.of([files], {"<suite>": suite.path})

    def kwargs(self, spec: CheckSpec, feedback: Feedback) -> dict[str, Any]:
        seed = zlib.crc32(f"{self.suite.manifest.id}:{spec.name}".encode())
        values: dict[str, Callable[[], Any]] = {
            "student": lambda: self.student,
            "data": lambda: self.suite.data_dir,
            "files": lambda: self.files,
            "config": lambda: dict(self.suite.manifest.thresholds),
            "seed": lambda: seed,
            "rng": lambda: random.Random(seed),
            "feedback": lambda: feedback,
            "model_cache": lambda: self.model_cache,  # the operator's HF cache (read-only), or None
        }
        return {name: values[name]() for name in spec.params}


def run_check(spec: CheckSpec, inject: _Injector, session: SandboxSession, total_deadline: float) -> TestReport:
    """Run one check and turn whatever happens into a ``TestReport``."""
    feedback = Feedback()
    started = time.monotonic()
    session.check_deadline = min(started + spec.timeout_seconds, total_deadline)
    staff = ""
    try:
        returned = spec.func(**inject.kwargs(spec, feedback))
        fraction, message = (returned.fraction, returned.message) if isinstance(returned, Credit) else (1.0, "")
        result = CheckResult.passed if fraction >= 1.0 else CheckResult.partial if fraction > 0 else CheckResult.failed
    except AssertionError as exc:
        fraction, message, result = 0.0, assertion_message(exc), CheckResult.failed
        if spec.hidden_inputs:
            staff, message = message, redact_echoes(message, exc)
    except NotGradable as exc:
        fraction, message, result = 0.0, f"Not run, not gradable on this worker: {exc}", CheckResult.not_run
    except SandboxTimeout as exc:
        fraction, result = 0.0, CheckResult.timeout
        message = f"{exc.student_message} This check's time limit is {spec.timeout_seconds:g} s."
    except SandboxError as exc:
        fraction, result = 0.0, CheckResult.failed
        message = student_code_message(exc, inject.paths, spec.hidden_inputs)
        staff = staff_code_detail(exc)
    except Exception:
        fraction, result = 0.0, CheckResult.error
        message = "This check could not be completed because of an error in the grader's test (not your code). Staff have the details."
        staff = traceback.format_exc()
    finally:
        session.check_deadline = None
    output = inject.paths.scrub("\n".join([m for m in [message, *feedback.notes] if m]))
    labelled = inject.suite.manifest.policy.withholds(spec.number)
    return TestReport(
        name=spec.name,
        number=spec.number,
        score=earned(spec.points, fraction),
        max_score=spec.points,
        status="passed" if result == CheckResult.passed else "failed",
        result=result,
        output=output,
        tags=list(spec.tags),
        visibility=spec.visibility,
        execution_time=round(time.monotonic() - started, 4),
        staff_output="\n".join([staff, *feedback.staff]).strip(),
        staff_flags=list(feedback.flags),
        hidden_labels=labelled,
        pre_release_output=inject.paths.scrub("\n".join(feedback.received)),
    )


def _not_run(spec: CheckSpec, message: str, suite: Suite) -> TestReport:
    return TestReport(
        name=spec.name,
        number=spec.number,
        score=0,
        max_score=spec.points,
        status="failed",
        result=CheckResult.not_run,
        output=message,
        tags=list(spec.tags),
        visibility=spec.visibility,
        hidden_labels=suite.manifest.policy.withholds(spec.number),
    )


@dataclass(frozen=True)
class _Header:
    """What a report says of the run before any check: the suite, the limits applied, the clock's start."""

    suite: Suite
    limits: SandboxLimits
    secure: bool
    started: float


@dataclass
class _RunRecord:
    """What the sandboxes and the unpacker left for the report (nothing when the archive did not unpack)."""

    sandboxes: list[SandboxRecord] = field(default_factory=list)
    staff_output: str = ""
    files_missing: list[str] = field(default_factory=list)
    unpack_notes: list[str] = field(default_factory=list)


def _finish(
    header: _Header,
    tests: list[TestReport],
    timings: PhaseTimings,
    *,
    status: ReportStatus,
    output: str,
    run: _RunRecord | None = None,
) -> GradeReport:
    if any(t.result == CheckResult.error for t in tests):
        status = ReportStatus.suite_error
    run = run or _RunRecord()
    timings.total = time.monotonic() - header.started
    return GradeReport(
        score=round(sum(t.score for t in tests), 2),
        max_score=sum(t.max_score for t in tests),
        execution_time=round(timings.total, 3),
        output=output,
        tests=tests,
        extra_data={"suite_version": header.suite.manifest.version},
        status=status,
        assignment=header.suite.manifest.id,
        grader_version=grader.__version__,
        created_at=datetime.now(UTC),
        timings=timings,
        limits=header.limits.model_dump(),
        sandbox_secure=header.secure,
        sandboxes=run.sandboxes,
        sandbox_exit_reason=run.sandboxes[-1].exit_reason if run.sandboxes else "",
        files_missing=run.files_missing,
        unpack_notes=run.unpack_notes,
        staff_output=run.staff_output,
        staff_flags=[f"{t.number} {t.name}: {f}" for t in tests for f in t.staff_flags],
    )
