"""The exception tree, and who is at fault for each branch.

    GraderError                     base of everything raised on purpose
    ├── SubmissionError             the student's fault: the report status is ``submission_error``
    │   └── UnpackError             the archive or folder cannot be accepted as it is
    ├── SuiteError                  the suite author's fault: bad manifest, a check that crashed
    │   └── ManifestError           ``suite.toml`` does not validate
    ├── SandboxError                the student's code, seen from outside the sandbox
    │   ├── StudentCodeError        the student's code raised; carries their exception and traceback
    │   ├── SandboxDied             the sandbox process ended (exit, signal, limit) before answering
    │   ├── SandboxTimeout          a call passed its deadline; the sandbox was killed
    │   └── ProtocolViolation       a reply was malformed, too large, or of the wrong type or shape
    └── ConfigurationError          the operator's: unsafe or impossible settings (e.g. no bubblewrap)

Every error carries a ``student_message`` (safe to show to the student) and a ``staff_detail``
(may contain internals; only staff views show it).
"""

from __future__ import annotations


class GraderError(Exception):
    """Base class; ``str()`` is the student-facing message."""

    def __init__(self, student_message: str, staff_detail: str = "") -> None:
        super().__init__(student_message)
        self.student_message = student_message
        self.staff_detail = staff_detail


class SubmissionError(GraderError):
    """The submission cannot be graded as submitted (the student's fault)."""


class UnpackError(SubmissionError):
    """The archive or folder is rejected: traversal, symlinks, bombs, encryption, not a zip..."""


class SuiteError(GraderError):
    """The test suite itself is broken (never the student's fault)."""


class ManifestError(SuiteError):
    """A ``suite.toml`` does not validate."""


class SandboxError(GraderError):
    """Something went wrong with the student's code as seen from the trusted side."""


class StudentCodeError(SandboxError):
    """The student's code raised an exception inside the sandbox."""

    def __init__(self, exc_type: str, exc_message: str, traceback: str = "") -> None:
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback
        super().__init__(f"{exc_type}: {exc_message}", traceback)


class SandboxDied(SandboxError):
    """The sandbox process ended before answering (exit, signal or a resource limit)."""


class SandboxTimeout(SandboxError):
    """A call into the sandbox passed its deadline; the sandbox was killed."""


class ProtocolViolation(SandboxError):
    """A reply from the sandbox was malformed, too large or not what the check asked for."""


class ConfigurationError(GraderError):
    """The operator's settings are unsafe or impossible."""
