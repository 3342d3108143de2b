"""Student-facing wording for failures (O3, P2): say what was expected, never show hidden source."""

from __future__ import annotations

import traceback

from grader.errors import SandboxError, StudentCodeError


def assertion_message(exc: AssertionError) -> str:
    """The assertion's own message; for a bare ``assert``, the one failing line of the check."""
    if str(exc):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    line = frames[-1].line if frames else ""
    return f"Check failed: {line}" if line else "Check failed."


def student_code_message(exc: SandboxError) -> str:
    """What the student's code did, with their own traceback when there is one."""
    if isinstance(exc, StudentCodeError) and exc.exc_type == "UnsendableResult":
        return f"Your code returned a value that cannot be sent back to the grader ({exc.exc_message})."
    if isinstance(exc, StudentCodeError):
        text = f"Your code raised {exc.exc_type}: {exc.exc_message}"
        if exc.traceback.strip():
            text += "\n\nTraceback (your code):\n" + exc.traceback.rstrip()
        return text
    return exc.student_message
