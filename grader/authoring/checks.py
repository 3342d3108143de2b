"""The ``@check`` decorator: a check is a plain function with injected parameters.

A check passes by returning ``None``, earns partial credit by returning :class:`Credit`, and fails
by raising ``AssertionError`` (its message is shown to the student). Errors raised by the student's
code (``grader.errors.SandboxError``) fail the check with the student's own exception summary; any
other exception is a bug in the suite and is reported to staff, never blamed on the student.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grader.models.visibility import Visibility

#: Names a check may ask for; the engine injects them by name.
INJECTABLE = frozenset({"student", "data", "files", "config", "seed", "rng", "feedback", "model_cache"})


@dataclass(frozen=True)
class Credit:
    """Partial credit: ``fraction`` of the check's points (0..1), with a message for the student."""

    fraction: float
    message: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"Credit fraction must be within [0, 1], got {self.fraction}")


class NotGradable(Exception):  # noqa: N818 - reads as what it reports, like StopIteration
    """Raise to report a check as not run (pending for staff), never passed nor failed: the worker
    lacks something the operator must provide (model weights, licensed data). The message says what."""


@dataclass
class Feedback:
    """Notes a check leaves for the student (shown whatever the outcome) and, for staff only,
    warnings, flags and the pre-release text of a check whose result waits for the due date."""

    notes: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def warn_staff(self, message: str) -> None:
        self.staff.append(message)

    def flag(self, reason: str) -> None:
        """Mark the submission for a TA to look at (e.g. a result the grader could not reproduce).

        Flags are staff-only: they never reach the student, whatever the outcome of the check.
        """
        self.flags.append(reason)

    def well_formed(self, message: str) -> None:
        """What a student may see of a hidden-label check before the due date (e.g. "437 lines,
        well formed"); it must not depend on the hidden labels."""
        self.received.append(message)


@dataclass(frozen=True)
class CheckSpec:
    """Everything the engine knows about one check."""

    func: Callable[..., Any]
    name: str
    number: str
    points: float
    visibility: Visibility
    timeout_seconds: float
    tags: tuple[str, ...]
    params: tuple[str, ...]
    models: tuple[str, ...] = ()
    hidden_inputs: bool = False

    @property
    def description(self) -> str:
        return inspect.getdoc(self.func) or ""


F = TypeVar("F", bound=Callable[..., Any])


def check(
    *,
    name: str,
    number: str,
    points: float,
    visibility: str = "visible",
    timeout: float = 60.0,
    tags: tuple[str, ...] | list[str] = (),
    models: tuple[str, ...] | list[str] = (),
    hidden_inputs: bool = False,
) -> Callable[[F], F]:
    """Declare a check. ``timeout`` (seconds) bounds everything the check does in the sandbox.

    ``models`` names Hugging Face models (e.g. ``"deepset/bert-base-cased-squad2"``) the check loads
    from the operator's read-only model cache; without them in the cache the check is reported as not
    run, never as passed.

    ``hidden_inputs`` says the check passes the student's code inputs students must not see (hidden
    cases, hidden data): the student's text of a crash then names the exception and the student's own
    frames only, never the exception's message, which could echo those inputs (staff see all of it).
    """
    if not math.isfinite(points) or points < 0:
        raise ValueError(f"check {name!r}: points must be a finite number >= 0")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"check {name!r}: timeout must be > 0")

    def decorate(func: F) -> F:
        params = tuple(inspect.signature(func).parameters)
        unknown = [p for p in params if p not in INJECTABLE]
        if unknown:
            raise TypeError(f"check {name!r} asks for {unknown}; a check may ask only for {sorted(INJECTABLE)}")
        func.__grader_check__ = CheckSpec(  # type: ignore[attr-defined]
            func=func,
            name=name,
            number=str(number),
            points=float(points),
            visibility=Visibility(visibility),
            timeout_seconds=float(timeout),
            tags=tuple(tags),
            params=params,
            models=tuple(models),
            hidden_inputs=bool(hidden_inputs),
        )
        return func

    return decorate


def collect_checks(namespace: dict[str, Any]) -> list[CheckSpec]:
    """The checks declared in a module's namespace, in definition order."""
    return [v.__grader_check__ for v in namespace.values() if hasattr(v, "__grader_check__")]
