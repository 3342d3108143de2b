"""Comparison helpers that explain themselves in one line a student can act on."""

from __future__ import annotations

from typing import Any, NoReturn


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message``."""
    raise AssertionError(message)


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def assert_shape(actual: Any, expected: tuple[int, ...] | list[int], *, what: str = "output") -> None:
    """``actual`` is a tensor of exactly ``expected`` shape."""
    if not _is_tensor(actual):
        fail(f"{what}: expected a tensor of shape {tuple(expected)}, got {type(actual).__name__}")
    if tuple(actual.shape) != tuple(expected):
        fail(f"{what}: expected shape {tuple(expected)}, got {tuple(actual.shape)}")


def assert_dtype(actual: Any, expected: Any, *, what: str = "output") -> None:
    """``actual`` is a tensor of dtype ``expected`` (a torch dtype or its name)."""
    if not _is_tensor(actual):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    want = str(expected).removeprefix("torch.")
    got = str(actual.dtype).removeprefix("torch.")
    if got != want:
        fail(f"{what}: expected dtype torch.{want}, got torch.{got}")


def assert_equal(actual: Any, expected: Any, *, what: str = "value", hidden: bool = False) -> None:
    """Exact equality (tensors elementwise), reporting the first difference (no value where ``hidden``)."""
    if _is_tensor(expected) or _is_tensor(actual):
        if not _is_tensor(actual):
            fail(f"{what}: expected a tensor, got {type(actual).__name__}")
        if not _is_tensor(expected):
            shown = (
                f"a value of type {type(expected).__name__}" if hidden else f"{expected!r} ({type(expected).__name__})"
            )
            fail(f"{what}: expected {shown}, got a tensor")
        assert_shape(actual, tuple(expected.shape), what=what)
        diff = (actual != expected).nonzero()
        if len(diff):
            if hidden:
                fail(f"{what}: differs from the expected values (which are hidden)")
            where = tuple(int(i) for i in diff[0])
            fail(f"{what}: differs at index {where}: expected {expected[where].item()!r}, got {actual[where].item()!r}")
        return
    if actual != expected:
        if hidden:
            fail(f"{what}: differs from the expected value (which is hidden)")
        fail(f"{what}: expected {expected!r}, got {actual!r}")


def assert_close(
    actual: Any, expected: Any, *, atol: float = 1e-5, rtol: float = 1e-4, what: str = "output", hidden: bool = False
) -> None:
    """Tensors match within ``atol + rtol*|expected|``; the message names the worst element.

    ``hidden=True`` where the expected values come from data the student must not see: the message then
    says only that the values differ beyond the tolerance (no value, no difference, no index, no count:
    with the student's own output any of them would give the expected value away).
    """
    import torch

    if not _is_tensor(actual):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    assert_shape(actual, tuple(expected.shape), what=what)
    if not actual.dtype.is_floating_point:
        fail(f"{what}: expected a floating-point tensor, got torch.{str(actual.dtype).removeprefix('torch.')}")
    a, e = actual.double(), expected.double()
    if not torch.isfinite(a).all() and torch.isfinite(e).all():
        fail(f"{what}: contains NaN or infinite values")
    # Non-finite expected values must be matched exactly (NaN by NaN, inf by inf of the same sign).
    ok = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        if hidden:
            fail(f"{what}: differs from the expected values (which are hidden) beyond atol={atol:g}, rtol={rtol:g}")
        bad = (~ok).reshape(-1)
        err = torch.where(
            bad, (a - e).abs().nan_to_num(nan=float("inf")).reshape(-1), torch.zeros_like(bad, dtype=a.dtype)
        )
        flat = int(err.argmax())
        where = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), tuple(a.shape)))
        diff = float(err.max())
        fail(
            f"{what}: max abs difference {diff:.3g} (at index {where}: expected {float(e[where]):.6g}, "
            f"got {float(a[where]):.6g}); tolerance atol={atol:g}, rtol={rtol:g}"
        )


def max_abs_diff(actual: Any, expected: Any) -> float:
    """The largest ``|actual - expected|`` of two tensors; infinite when their shapes differ or a value is NaN."""
    if tuple(actual.shape) != tuple(expected.shape):
        return float("inf")
    if actual.numel() == 0:
        return 0.0
    return float((actual.double() - expected.double()).abs().nan_to_num(nan=float("inf")).max())


def assert_finite(actual: Any, *, what: str = "output") -> None:
    """Every value of the tensor ``actual`` is finite; the message names how many are not and the first."""
    import torch

    if not _is_tensor(actual):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    bad = ~torch.isfinite(actual)
    if bad.any():
        where = tuple(int(i) for i in bad.nonzero()[0])
        fail(f"{what}: {int(bad.sum())} of {actual.numel()} values are NaN or infinite (the first at index {where})")


def assert_changed(before: Any, after: Any, message: str, *, atol: float = 1e-6) -> None:
    """Fail with ``message`` unless ``after`` differs from ``before`` by more than ``atol`` somewhere.

    For the "did it use what the grader loaded" checks: the same call after other weights or other inputs
    must give another result (a module that ignores its weights, or returns a constant, does not). A NaN
    is no change: an output that is NaN before and after says nothing about the weights.
    """
    if tuple(before.shape) != tuple(after.shape):
        return
    if not bool(((after.double() - before.double()).abs() > atol).any()):
        fail(message)
