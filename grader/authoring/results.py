"""What the student's code returned or raised, checked and put in words for a failure message.

The phrases are the ones the suites had each written again: "X raised T: message", "X returned None",
"X returned a list, expected a tensor", "X did not return an object". A message quotes the student's
exception message whole and unchanged, so that the engine can redact it in a check declared
``hidden_inputs=True`` (``grader.engine.messages.redact_echoes`` replaces the exact text); for the same
reason nothing here quotes a traceback's source line or file name, which student code can fill with an
input it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from grader.authoring.asserts import fail
from grader.errors import StudentCodeError
from grader.sandbox.client import RemoteObject

if TYPE_CHECKING:
    import torch

#: What a starter's bare ``raise NotImplementedError`` means to the student.
PLACEHOLDER = "NotImplementedError (the starter's placeholder: this part is not implemented yet)"


def raised(exc: StudentCodeError) -> str:
    """``exc`` in words: ``ValueError: bad shape``, ``KeyError (with no message)``, or the placeholder."""
    message = exc.exc_message.strip()
    if exc.exc_type.endswith("NotImplementedError") and not message:
        return PLACEHOLDER
    return f"{exc.exc_type}: {exc.exc_message}" if message else f"{exc.exc_type} (with no message)"


def fail_raised(what: str, exc: StudentCodeError, hint: str = "") -> NoReturn:
    """Fail with ``"{what} raised {exception in words}{hint}"``; ``what`` names the call that was run."""
    fail(f"{what} raised {raised(exc)}{hint}")


def kind(value: Any) -> str:
    """What a returned value is, for "got ...": ``None``, ``a tuple of 2``, ``a Linear``, ``a float``."""
    if value is None:
        return "None"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"  # tuple and list take "a"
    name = value.type_name if isinstance(value, RemoteObject) else type(value).__name__
    return f"{_article(name)} {name}"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def expect_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` if it is a tensor, else a failure saying what ``what`` returned instead."""
    import torch

    if value is None:
        fail(f"{what} returned None: the function must return its result.")
    if not isinstance(value, torch.Tensor):
        fail(f"{what} returned {kind(value)}, expected a tensor")
    return value


def expect_object(value: Any, what: str) -> RemoteObject:
    """``value`` if it is a handle on an object in the sandbox, else "``what`` did not return an object"."""
    if not isinstance(value, RemoteObject):
        fail(f"{what} did not return an object (got {kind(value)})")
    return value
