"""Tests for grader.authoring.asserts: each helper passes quietly or fails with an actionable message."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from grader.authoring.asserts import (
    assert_changed,
    assert_close,
    assert_dtype,
    assert_equal,
    assert_finite,
    assert_shape,
    fail,
    max_abs_diff,
)


def message_of(action: Callable[[], object]) -> str:
    with pytest.raises(AssertionError) as info:
        action()
    return str(info.value)


# ----------------------------------------------------------------------------- fail


def test_fail_raises_assertion_error_with_the_message() -> None:
    assert message_of(lambda: fail("use torch.softmax over the last dim")) == "use torch.softmax over the last dim"


# ----------------------------------------------------------------------------- assert_shape


def test_assert_shape_passes_for_the_exact_shape() -> None:
    assert_shape(torch.zeros(2, 3), (2, 3))
    assert_shape(torch.zeros(2, 3), [2, 3])
    assert_shape(torch.tensor(1.0), ())


def test_assert_shape_accepts_a_torch_size() -> None:
    assert_shape(torch.zeros(4, 1), torch.Size([4, 1]))


def test_assert_shape_message_names_both_shapes() -> None:
    msg = message_of(lambda: assert_shape(torch.zeros(3, 2), (2, 3)))
    assert msg == "output: expected shape (2, 3), got (3, 2)"


def test_assert_shape_message_uses_what() -> None:
    assert message_of(lambda: assert_shape(torch.zeros(1), (2,), what="logits")).startswith("logits: ")


def test_assert_shape_rejects_a_different_number_of_dimensions() -> None:
    assert "expected shape (6,), got (2, 3)" in message_of(lambda: assert_shape(torch.zeros(2, 3), (6,)))


def test_assert_shape_on_a_non_tensor_names_the_type() -> None:
    msg = message_of(lambda: assert_shape([[1, 2]], (1, 2)))
    assert msg == "output: expected a tensor of shape (1, 2), got list"


# ----------------------------------------------------------------------------- assert_dtype


@pytest.mark.parametrize("expected", [torch.float32, "float32", "torch.float32"])
def test_assert_dtype_passes_for_a_dtype_or_its_name(expected: object) -> None:
    assert_dtype(torch.zeros(1), expected)


def test_assert_dtype_message_names_both_dtypes() -> None:
    msg = message_of(lambda: assert_dtype(torch.zeros(1, dtype=torch.float64), torch.float32))
    assert msg == "output: expected dtype torch.float32, got torch.float64"


def test_assert_dtype_message_uses_what() -> None:
    msg = message_of(lambda: assert_dtype(torch.zeros(1, dtype=torch.int32), "int64", what="labels"))
    assert msg == "labels: expected dtype torch.int64, got torch.int32"


def test_assert_dtype_on_a_non_tensor_names_the_type() -> None:
    assert message_of(lambda: assert_dtype(1.0, torch.float32)) == "output: expected a tensor, got float"


# ----------------------------------------------------------------------------- assert_equal


@pytest.mark.parametrize("value", [3, "abc", [1, (2, 3)], {"k": None}, None])
def test_assert_equal_passes_for_equal_plain_values(value: object) -> None:
    assert_equal(value, value)


def test_assert_equal_plain_values_message_shows_expected_and_actual_reprs() -> None:
    assert message_of(lambda: assert_equal("ab", "abc")) == "value: expected 'abc', got 'ab'"


def test_assert_equal_passes_for_equal_tensors() -> None:
    assert_equal(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]]))


def test_assert_equal_passes_for_equal_empty_tensors() -> None:
    assert_equal(torch.zeros(0, 2), torch.zeros(0, 2))


def test_assert_equal_tensor_message_gives_the_index_of_the_first_difference() -> None:
    actual = torch.tensor([[1, 2], [3, 4], [9, 9]])
    expected = torch.tensor([[1, 2], [3, 5], [0, 0]])
    msg = message_of(lambda: assert_equal(actual, expected, what="ids"))
    assert msg == "ids: differs at index (1, 1): expected 5, got 4"


def test_assert_equal_zero_dim_tensor_message_uses_an_empty_index() -> None:
    msg = message_of(lambda: assert_equal(torch.tensor(1), torch.tensor(2)))
    assert msg == "value: differs at index (): expected 2, got 1"


def test_assert_equal_reports_a_shape_mismatch_before_comparing_values() -> None:
    msg = message_of(lambda: assert_equal(torch.zeros(2), torch.zeros(3)))
    assert msg == "value: expected shape (3,), got (2,)"


def test_assert_equal_with_a_non_tensor_actual_names_its_type() -> None:
    msg = message_of(lambda: assert_equal([1, 2], torch.tensor([1, 2])))
    assert msg == "value: expected a tensor, got list"


def test_assert_equal_treats_nan_as_different_from_nan() -> None:
    msg = message_of(lambda: assert_equal(torch.tensor([math.nan]), torch.tensor([math.nan])))
    assert "differs at index (0,)" in msg


def test_assert_equal_with_a_tensor_actual_and_a_plain_expected_does_not_claim_a_tensor_was_expected() -> None:
    msg = message_of(lambda: assert_equal(torch.tensor(3), 3))
    assert "expected a tensor, got Tensor" not in msg


# ----------------------------------------------------------------------------- assert_close


def test_assert_close_passes_within_tolerance() -> None:
    assert_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0 + 1e-6, 2.0 - 1e-6]))


def test_assert_close_passes_for_identical_tensors_of_any_float_dtype() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        t = torch.linspace(-1, 1, 5, dtype=dtype)
        assert_close(t, t.clone())


def test_assert_close_compares_across_float_dtypes_in_double() -> None:
    assert_close(torch.tensor([0.5, 0.25], dtype=torch.float16), torch.tensor([0.5, 0.25], dtype=torch.float64))


def test_assert_close_passes_for_empty_tensors() -> None:
    assert_close(torch.zeros(0, 3), torch.zeros(0, 3))


def test_assert_close_relative_tolerance_scales_with_the_expected_value() -> None:
    assert_close(torch.tensor([10.5]), torch.tensor([10.0]), atol=0.0, rtol=0.1)
    msg = message_of(lambda: assert_close(torch.tensor([11.5]), torch.tensor([10.0]), atol=0.0, rtol=0.1))
    assert "max abs difference 1.5" in msg


def test_assert_close_message_gives_max_abs_difference_index_and_tolerance() -> None:
    msg = message_of(lambda: assert_close(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.5, 3.0])))
    assert msg == (
        "output: max abs difference 0.5 (at index (1,): expected 2.5, got 2); tolerance atol=1e-05, rtol=0.0001"
    )


def test_assert_close_message_shows_custom_tolerances() -> None:
    msg = message_of(lambda: assert_close(torch.zeros(2), torch.ones(2), atol=0.01, rtol=0.001))
    assert "tolerance atol=0.01, rtol=0.001" in msg


def test_assert_close_message_points_at_a_multi_dimensional_index() -> None:
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[1, 2] = 0.75
    msg = message_of(lambda: assert_close(actual, expected, what="attention"))
    assert msg.startswith("attention: max abs difference 0.75 (at index (1, 2): expected 0, got 0.75)")


def test_assert_close_zero_dim_message_uses_an_empty_index() -> None:
    msg = message_of(lambda: assert_close(torch.tensor(1.0), torch.tensor(2.0)))
    assert "at index ()" in msg and "max abs difference 1" in msg


def test_assert_close_reports_nan_in_the_actual_value() -> None:
    msg = message_of(lambda: assert_close(torch.tensor([1.0, math.nan]), torch.tensor([1.0, 2.0])))
    assert msg == "output: contains NaN or infinite values"


def test_assert_close_reports_infinity_in_the_actual_value() -> None:
    msg = message_of(lambda: assert_close(torch.tensor([math.inf]), torch.tensor([1.0])))
    assert "NaN or infinite" in msg


def test_assert_close_reports_a_shape_mismatch() -> None:
    msg = message_of(lambda: assert_close(torch.zeros(2, 3), torch.zeros(3, 2), what="h"))
    assert msg == "h: expected shape (3, 2), got (2, 3)"


def test_assert_close_refuses_an_integer_tensor() -> None:
    msg = message_of(lambda: assert_close(torch.zeros(2, dtype=torch.int64), torch.zeros(2)))
    assert msg == "output: expected a floating-point tensor, got torch.int64"


def test_assert_close_refuses_a_non_tensor() -> None:
    assert message_of(lambda: assert_close([0.0], torch.zeros(1))) == "output: expected a tensor, got list"


def test_assert_close_does_not_pass_silently_when_the_expected_value_is_nan() -> None:
    message_of(lambda: assert_close(torch.tensor([1.0, 123.0]), torch.tensor([1.0, math.nan])))


# ----------------------------------------------------------------------------- hidden expected values


def test_assert_close_hidden_names_neither_value_nor_difference_nor_index() -> None:
    expected = torch.tensor([0.25, 0.75, 0.125])
    msg = message_of(lambda: assert_close(torch.tensor([0.25, 0.5, 0.125]), expected, what="p", hidden=True))
    assert msg == "p: differs from the expected values (which are hidden) beyond atol=1e-05, rtol=0.0001"


def test_assert_close_hidden_still_passes_a_match() -> None:
    assert_close(torch.tensor([0.25, 0.75]), torch.tensor([0.25, 0.75]), hidden=True)


def test_assert_equal_hidden_does_not_show_the_expected_value() -> None:
    msg = message_of(lambda: assert_equal(torch.tensor([1, 2]), torch.tensor([1, 3]), what="labels", hidden=True))
    assert msg == "labels: differs from the expected values (which are hidden)"
    msg = message_of(lambda: assert_equal("B", "A", what="answer", hidden=True))
    assert msg == "answer: differs from the expected value (which is hidden)"
    msg = message_of(lambda: assert_equal(torch.tensor([1]), 42, what="count", hidden=True))
    assert "42" not in msg and msg == "count: expected a value of type int, got a tensor"


# ----------------------------------------------------------------------------- max_abs_diff


def test_max_abs_diff_is_the_largest_absolute_difference() -> None:
    assert max_abs_diff(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.5, 2.0, 1.0])) == 2.0


def test_max_abs_diff_is_infinite_for_other_shapes_or_nan() -> None:
    assert max_abs_diff(torch.zeros(2, 3), torch.zeros(3, 2)) == math.inf
    assert max_abs_diff(torch.tensor([math.nan]), torch.tensor([0.0])) == math.inf


def test_max_abs_diff_of_empty_tensors_is_zero() -> None:
    assert max_abs_diff(torch.zeros(0, 3), torch.zeros(0, 3)) == 0.0


# ----------------------------------------------------------------------------- assert_finite


def test_assert_finite_passes_finite_values() -> None:
    assert_finite(torch.randn(3, 4))


def test_assert_finite_counts_and_locates_the_bad_values() -> None:
    msg = message_of(lambda: assert_finite(torch.tensor([[1.0, math.nan], [math.inf, 0.0]]), what="loss"))
    assert msg == "loss: 2 of 4 values are NaN or infinite (the first at index (0, 1))"


def test_assert_finite_refuses_a_non_tensor() -> None:
    assert message_of(lambda: assert_finite(None)) == "output: expected a tensor, got NoneType"


# ----------------------------------------------------------------------------- assert_changed


def test_assert_changed_passes_when_a_value_moved() -> None:
    assert_changed(torch.zeros(3), torch.tensor([0.0, 0.0, 0.01]), "did not change")


def test_assert_changed_fails_with_the_message_when_nothing_moved() -> None:
    msg = message_of(lambda: assert_changed(torch.ones(3), torch.ones(3) + 1e-9, "the logits did not change"))
    assert msg == "the logits did not change"


def test_assert_changed_counts_another_shape_as_a_change() -> None:
    assert_changed(torch.zeros(3), torch.zeros(4), "did not change")


def test_assert_changed_does_not_count_nan_as_a_change() -> None:
    nan = torch.full((3,), math.nan)
    assert message_of(lambda: assert_changed(nan, nan.clone(), "did not change")) == "did not change"
    assert_changed(torch.tensor([math.nan, 0.0]), torch.tensor([math.nan, 1.0]), "did not change")
