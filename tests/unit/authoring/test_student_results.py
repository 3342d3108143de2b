"""Tests for grader.authoring.results: the student's return values and exceptions, checked and put in words."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from grader.authoring.results import PLACEHOLDER, expect_object, expect_tensor, fail_raised, kind, raised
from grader.engine.messages import redact_echoes
from grader.errors import StudentCodeError


def message_of(action: Callable[[], object]) -> str:
    with pytest.raises(AssertionError) as info:
        action()
    return str(info.value)


# ----------------------------------------------------------------------------- raised / fail_raised


def test_raised_quotes_the_type_and_the_message() -> None:
    assert raised(StudentCodeError("ValueError", "bad shape (2, 3)")) == "ValueError: bad shape (2, 3)"


def test_raised_says_when_there_is_no_message() -> None:
    assert raised(StudentCodeError("AssertionError", "  ")) == "AssertionError (with no message)"


def test_raised_names_the_starters_placeholder() -> None:
    assert raised(StudentCodeError("NotImplementedError", "")) == PLACEHOLDER
    assert raised(StudentCodeError("builtins.NotImplementedError", "")) == PLACEHOLDER


def test_a_not_implemented_error_with_a_message_is_quoted() -> None:
    assert raised(StudentCodeError("NotImplementedError", "todo")) == "NotImplementedError: todo"


def test_fail_raised_names_the_call_the_exception_and_the_hint() -> None:
    exc = StudentCodeError("KeyError", "'labels'")
    msg = message_of(lambda: fail_raised("model(**batch)", exc, " Pass the labels."))
    assert msg == "model(**batch) raised KeyError: 'labels' Pass the labels."


def test_the_quoted_message_is_whole_so_a_hidden_inputs_check_can_redact_it() -> None:
    # The engine replaces the exact exception text; a quote cut short would slip past it.
    secret = "the hidden label is 7 " * 40
    try:
        try:
            raise StudentCodeError("ValueError", secret)
        except StudentCodeError as exc:
            fail_raised("predict(x)", exc)
    except AssertionError as failure:
        shown = redact_echoes(str(failure), failure)
    assert "hidden label" not in shown
    assert shown.startswith("predict(x) raised ValueError: <not shown")


# ----------------------------------------------------------------------------- kind / expect_tensor


@pytest.mark.parametrize(
    ("value", "words"),
    [(None, "None"), ((1, 2), "a tuple of 2"), ([1], "a list of 1"), (1.5, "a float"), (2, "an int")],
)
def test_kind_says_what_came_back(value: object, words: str) -> None:
    assert kind(value) == words


def test_expect_tensor_returns_the_tensor() -> None:
    value = torch.ones(2)
    assert expect_tensor(value, "f(x)") is value


def test_expect_tensor_on_none_says_to_return_the_result() -> None:
    assert message_of(lambda: expect_tensor(None, "embed(ids)")) == (
        "embed(ids) returned None: the function must return its result."
    )


def test_expect_tensor_on_another_value_says_what_it_was() -> None:
    msg = message_of(lambda: expect_tensor((torch.ones(1), torch.ones(1)), "forward(x)"))
    assert msg == "forward(x) returned a tuple of 2, expected a tensor"


# ----------------------------------------------------------------------------- expect_object


def test_expect_object_on_a_plain_value_says_what_came_back() -> None:
    assert message_of(lambda: expect_object(None, "Trainer(...)")) == "Trainer(...) did not return an object (got None)"
    assert (
        message_of(lambda: expect_object(3, "QAmodel(path)")) == "QAmodel(path) did not return an object (got an int)"
    )
