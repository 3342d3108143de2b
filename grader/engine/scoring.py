"""Points arithmetic, kept pure so it can be tested on its own."""

from __future__ import annotations

from collections.abc import Sequence

from grader.authoring.checks import CheckSpec
from grader.errors import SuiteError


def validate_points(checks: Sequence[CheckSpec], total_points: float | None) -> float:
    """The suite's maximum score; raise if names or numbers repeat or the total disagrees."""
    for attr in ("name", "number"):
        seen: set[str] = set()
        for spec in checks:
            value = getattr(spec, attr)
            if value in seen:
                raise SuiteError(f"two checks share the {attr} {value!r}")
            seen.add(value)
    total = sum(spec.points for spec in checks)
    if total_points is not None and abs(total - total_points) > 1e-9:
        raise SuiteError(f"the checks' points add up to {total:g}, but the manifest says {total_points:g}")
    return total


def earned(points: float, fraction: float) -> float:
    """Points for a fraction of a check, rounded to hundredths so totals add up exactly."""
    return round(points * min(max(fraction, 0.0), 1.0), 2)
