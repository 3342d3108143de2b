"""Helpers shared by the CSC413 A3 checks: reaching notebook definitions and explaining failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grader.authoring import RemoteObject, Student, StudentCodeError, fail, fail_raised

from .editions import NOTEBOOKS, candidates_advice, missing_message

CUDA_HINT = (
    " This looks like a hard-coded .cuda() (or device='cuda'): the grader runs on a CPU-only machine, so "
    "create tensors on the device of the inputs instead (e.g. device=queries.device)."
)


def cuda_hint(exc: StudentCodeError) -> str:
    text = f"{exc.exc_type} {exc.exc_message}".lower()
    return CUDA_HINT if "cuda" in text or "nvidia" in text else ""


_SKIPPED_LIST = " The grader skipped these cells: "


def definition(student: Student, module: str, name: str, files: Path) -> Any:
    """``module.name`` from a notebook, failing with the notebook's own explanation when it is missing.

    The engine's explanation of a missing name lists every skipped cell; that list is in the report's
    notes once, so here it is cut, and a name an older edition of the notebook lacks says just that.
    """
    try:
        return getattr(student.module(module), name)
    except StudentCodeError as exc:
        if exc.exc_type == "AttributeError" and (older := missing_message(files, module, name)):
            fail(older)
        text = exc.exc_message
        if exc.exc_type == "AttributeError" and _SKIPPED_LIST in text:
            text = text.split(_SKIPPED_LIST, 1)[0] + " (the report's notes list the cells the grader skipped)."
        notebook = NOTEBOOKS.get(module, "")
        if exc.exc_type == "ImportError" and f"{notebook} is not in the submission" in text:
            text += candidates_advice(files, notebook)
        fail(f"{exc.exc_type}: {text}")


def run(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call student code; an exception fails the check with the student's error (and the .cuda() hint)."""
    try:
        return func(*args, **kwargs)
    except StudentCodeError as exc:
        where = f"\n\nTraceback (your code):\n{exc.traceback.rstrip()}" if exc.traceback.strip() else ""
        fail_raised(what, exc, f".{cuda_hint(exc)}{where}")


def pair(value: Any, what: str) -> tuple[Any, Any]:
    """A returned 2-tuple (or 2-list)."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        fail(f"{what} should return a pair (e.g. (context, attention_weights)), got {_kind(value)}")
    return value[0], value[1]


def tensor(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should be a tensor, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, RemoteObject):
        return f"a {value.type_name}"
    return type(value).__name__


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    return actual.shape == expected.shape and bool(
        torch.allclose(actual.double(), expected.double(), atol=atol, rtol=rtol)
    )


def worst(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """Where and by how much two same-shaped tensors differ most."""
    diff = (actual.double() - expected.double()).abs()
    index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
    return f"largest difference {float(diff.max()):.3g} at index {index} (expected {float(expected[index]):.6g}, got {float(actual[index]):.6g})"


def randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def qkv_shapes(hidden: int, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """The handout's Q, K, V = nn.Linear(hidden, hidden), by parameter name."""
    return {
        f"{prefix}{layer}.{p}": (hidden, hidden) if p == "weight" else (hidden,)
        for layer in "QKV"
        for p in ("weight", "bias")
    }
