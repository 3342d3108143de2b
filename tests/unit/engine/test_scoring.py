"""Tests for grader.engine.scoring: point totals and earned points."""

from __future__ import annotations

import pytest

from grader.authoring.checks import CheckSpec
from grader.engine.scoring import earned, validate_points
from grader.errors import SuiteError
from grader.models.visibility import Visibility


def spec(name: str, number: str, points: float) -> CheckSpec:
    return CheckSpec(
        func=lambda: None,
        name=name,
        number=number,
        points=points,
        visibility=Visibility.visible,
        timeout_seconds=60.0,
        tags=(),
        params=(),
    )


# ----------------------------------------------------------------------------- validate_points


def test_validate_points_returns_the_sum_when_the_total_matches() -> None:
    checks = [spec("a", "1", 2.5), spec("b", "2", 0), spec("c", "3", 7.5)]
    assert validate_points(checks, 10) == 10


def test_validate_points_returns_the_sum_without_a_declared_total() -> None:
    assert validate_points([spec("a", "1", 1.5), spec("b", "2", 2)], None) == 3.5


def test_validate_points_of_no_checks_is_zero() -> None:
    assert validate_points([], None) == 0
    assert validate_points([], 0) == 0


def test_validate_points_tolerates_float_rounding_in_the_sum() -> None:
    checks = [spec("a", "1", 0.1), spec("b", "2", 0.2)]
    assert validate_points(checks, 0.3) == pytest.approx(0.3)


def test_validate_points_rejects_duplicate_names() -> None:
    with pytest.raises(SuiteError, match="two checks share the name 'same'"):
        validate_points([spec("same", "1", 1), spec("same", "2", 1)], None)


def test_validate_points_rejects_duplicate_numbers() -> None:
    with pytest.raises(SuiteError, match="two checks share the number '1.1'"):
        validate_points([spec("a", "1.1", 1), spec("b", "1.1", 1)], None)


def test_validate_points_rejects_a_total_that_disagrees_with_the_manifest() -> None:
    with pytest.raises(SuiteError, match="add up to 3, but the manifest says 4"):
        validate_points([spec("a", "1", 1), spec("b", "2", 2)], 4)


def test_validate_points_rejects_a_total_off_by_a_hundredth() -> None:
    with pytest.raises(SuiteError):
        validate_points([spec("a", "1", 9.99)], 10)


# ----------------------------------------------------------------------------- earned


@pytest.mark.parametrize(
    "points, fraction, expected",
    [
        (2, 1.0, 2.0),
        (2, 0.0, 0.0),
        (2, 0.5, 1.0),
        (1.5, 1 / 3, 0.5),
        (2, 1 / 3, 0.67),
        (10, 0.125, 1.25),
        (1, 0.004, 0.0),
        (1, 0.006, 0.01),
        (0, 0.7, 0.0),
    ],
)
def test_earned_is_points_times_fraction_rounded_to_hundredths(points: float, fraction: float, expected: float) -> None:
    assert earned(points, fraction) == expected


def test_earned_results_have_at_most_two_decimals() -> None:
    for tenth in range(1, 100):
        value = earned(3, tenth / 97)
        assert value == round(value, 2)


@pytest.mark.parametrize("fraction", [1.0001, 2, 1e9])
def test_earned_clamps_fractions_above_one_to_full_points(fraction: float) -> None:
    assert earned(4, fraction) == 4


@pytest.mark.parametrize("fraction", [-0.0001, -1, -1e9])
def test_earned_clamps_negative_fractions_to_zero(fraction: float) -> None:
    assert earned(4, fraction) == 0
