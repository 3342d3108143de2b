"""Tests for grader.authoring.checks: the @check decorator, Credit, Feedback and collect_checks."""

from __future__ import annotations

import math
from typing import Any

import pytest

from grader.authoring.checks import INJECTABLE, CheckSpec, Credit, Feedback, check, collect_checks
from grader.models.visibility import Visibility


def spec_of(func: Any) -> CheckSpec:
    spec = func.__grader_check__
    assert isinstance(spec, CheckSpec)
    return spec


# ----------------------------------------------------------------------------- @check


def test_check_records_a_check_spec_with_every_argument() -> None:
    @check(name="Shapes", number="1.2", points=2, visibility="hidden", timeout=30, tags=["part a", "shape"])
    def shapes(student: Any, config: Any) -> None:
        """Output shapes match."""

    spec = spec_of(shapes)
    assert spec.func is shapes
    assert (spec.name, spec.number, spec.points) == ("Shapes", "1.2", 2.0)
    assert spec.visibility is Visibility.hidden
    assert spec.timeout_seconds == 30.0
    assert spec.tags == ("part a", "shape")
    assert spec.params == ("student", "config")


def test_check_returns_the_function_itself() -> None:
    def plain() -> None:
        pass

    assert check(name="n", number="1", points=1)(plain) is plain


def test_check_defaults() -> None:
    @check(name="n", number="1", points=1)
    def c() -> None:
        pass

    spec = spec_of(c)
    assert spec.visibility is Visibility.visible
    assert spec.timeout_seconds == 60.0
    assert spec.tags == ()
    assert spec.params == ()


def test_check_stores_points_and_timeout_as_floats() -> None:
    @check(name="n", number="1", points=3, timeout=5)
    def c() -> None:
        pass

    assert type(spec_of(c).points) is float and type(spec_of(c).timeout_seconds) is float


def test_check_stores_the_number_as_a_string() -> None:
    @check(name="n", number=3, points=1)  # type: ignore[arg-type]
    def c() -> None:
        pass

    assert spec_of(c).number == "3"


def test_check_description_is_the_docstring() -> None:
    @check(name="n", number="1", points=1)
    def c() -> None:
        """First line.

        More detail.
        """

    assert spec_of(c).description == "First line.\n\nMore detail."


def test_check_description_is_empty_without_a_docstring() -> None:
    @check(name="n", number="1", points=1)
    def c() -> None:
        pass

    assert spec_of(c).description == ""


def test_check_spec_is_frozen() -> None:
    @check(name="n", number="1", points=1)
    def c() -> None:
        pass

    with pytest.raises(AttributeError):
        spec_of(c).points = 5  # type: ignore[misc]


def test_check_accepts_every_injectable_parameter() -> None:
    @check(name="n", number="1", points=1)
    def c(student, data, files, config, seed, rng, feedback, model_cache):  # type: ignore[no-untyped-def]
        pass

    assert set(spec_of(c).params) == INJECTABLE


def test_injectable_names_are_the_documented_ones() -> None:
    assert INJECTABLE == {"student", "data", "files", "config", "seed", "rng", "feedback", "model_cache"}


def test_check_rejects_an_unknown_parameter_name_with_type_error() -> None:
    with pytest.raises(TypeError, match="'model'") as info:

        @check(name="Shapes", number="1", points=1)
        def c(student: Any, model: Any) -> None:
            pass

    assert "Shapes" in str(info.value)
    assert "student" in str(info.value)  # the allowed names are listed


def test_check_rejects_var_args() -> None:
    with pytest.raises(TypeError):

        @check(name="n", number="1", points=1)
        def c(*args: Any, **kwargs: Any) -> None:
            pass


def test_check_rejects_negative_points() -> None:
    with pytest.raises(ValueError, match="points must be a finite number >= 0"):
        check(name="n", number="1", points=-0.5)


def test_check_accepts_zero_points() -> None:
    @check(name="diagnostic", number="1", points=0)
    def c() -> None:
        pass

    assert spec_of(c).points == 0.0


@pytest.mark.parametrize("timeout", [0, -1, -0.001])
def test_check_rejects_a_timeout_that_is_not_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        check(name="n", number="1", points=1, timeout=timeout)


def test_check_rejects_nan_points() -> None:
    with pytest.raises(ValueError):
        check(name="n", number="1", points=math.nan)


def test_check_rejects_an_unknown_visibility() -> None:
    with pytest.raises(ValueError):

        @check(name="n", number="1", points=1, visibility="secret")
        def c() -> None:
            pass


@pytest.mark.parametrize("value", ["visible", "hidden", "after_due_date", "after_published"])
def test_check_accepts_each_gradescope_visibility(value: str) -> None:
    @check(name="n", number="1", points=1, visibility=value)
    def c() -> None:
        pass

    assert spec_of(c).visibility == value


# ----------------------------------------------------------------------------- Credit and Feedback


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0, 0, 1])
def test_credit_accepts_fractions_within_zero_and_one(fraction: float) -> None:
    assert Credit(fraction).fraction == fraction


@pytest.mark.parametrize("fraction", [-0.01, 1.01, -1, 2, math.nan, math.inf])
def test_credit_rejects_fractions_outside_zero_and_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="within"):
        Credit(fraction)


def test_credit_keeps_its_message_and_is_frozen() -> None:
    credit = Credit(0.5, "half the cases")
    assert credit.message == "half the cases"
    with pytest.raises(AttributeError):
        credit.fraction = 1.0  # type: ignore[misc]


def test_feedback_collects_notes_and_staff_warnings_separately() -> None:
    feedback = Feedback()
    feedback.note("for the student")
    feedback.warn_staff("for TAs")
    feedback.note("second")
    assert feedback.notes == ["for the student", "second"]
    assert feedback.staff == ["for TAs"]


def test_feedback_instances_do_not_share_lists() -> None:
    first, second = Feedback(), Feedback()
    first.note("x")
    assert second.notes == []


# ----------------------------------------------------------------------------- collect_checks


def test_collect_checks_keeps_definition_order_not_number_order() -> None:
    namespace: dict[str, Any] = {}

    @check(name="second by number", number="2", points=1)
    def b() -> None:
        pass

    @check(name="first by number", number="1", points=1)
    def a() -> None:
        pass

    namespace.update(b=b, a=a)
    assert [s.name for s in collect_checks(namespace)] == ["second by number", "first by number"]


def test_collect_checks_ignores_everything_that_is_not_a_check() -> None:
    @check(name="only", number="1", points=1)
    def c() -> None:
        pass

    def helper() -> None:
        pass

    namespace = {"c": c, "helper": helper, "X": 3, "check": check, "Credit": Credit}
    assert [s.name for s in collect_checks(namespace)] == ["only"]


def test_collect_checks_on_an_empty_namespace_is_empty() -> None:
    assert collect_checks({}) == []


def test_feedback_flag_and_well_formed_are_kept_apart_from_the_student_notes() -> None:
    feedback = Feedback()
    feedback.note("for the student")
    feedback.flag("test accuracy not reproduced")
    feedback.well_formed("437 lines, well formed")
    assert feedback.notes == ["for the student"]
    assert feedback.flags == ["test accuracy not reproduced"]
    assert feedback.received == ["437 lines, well formed"]


def test_check_records_hidden_inputs() -> None:
    @check(name="n", number="1", points=1, hidden_inputs=True)
    def c() -> None:
        pass

    @check(name="m", number="2", points=1)
    def d() -> None:
        pass

    assert spec_of(c).hidden_inputs is True and spec_of(d).hidden_inputs is False
