"""Tests for grader.models.limits: defaults, validated overrides, immutability."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from grader.models.limits import GiB, MiB, SandboxLimits, Timeouts


def test_unit_constants() -> None:
    assert (MiB, GiB) == (2**20, 2**30)


def test_sandbox_limit_defaults() -> None:
    assert SandboxLimits().model_dump() == {
        "memory_bytes": 4 * GiB,
        "pids": 64,
        "cpu_seconds": 600,
        "wall_seconds": 900,
        "output_bytes": 1 * MiB,
        "file_bytes": 256 * MiB,
        "tmpfs_bytes": 512 * MiB,
        "open_files": 256,
        "cpu_threads": 1,
    }


def test_timeout_defaults() -> None:
    assert Timeouts().model_dump() == {"startup": 60, "per_call": 60, "total": 1800}


@pytest.mark.parametrize("model", [SandboxLimits, Timeouts])
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    undocumented = [name for name, f in model.model_fields.items() if not f.description]
    assert undocumented == []


def test_merged_with_none_is_the_same_object() -> None:
    limits = SandboxLimits()
    assert limits.merged(None) is limits


def test_merged_with_no_overrides_is_the_same_object() -> None:
    limits = SandboxLimits()
    assert limits.merged({}) is limits


def test_merged_applies_overrides_and_keeps_the_rest() -> None:
    base = SandboxLimits(pids=10)
    merged = base.merged({"memory_bytes": 2 * GiB, "wall_seconds": 30.5})
    assert merged.memory_bytes == 2 * GiB
    assert merged.wall_seconds == 30.5
    assert merged.pids == 10
    assert merged.cpu_seconds == base.cpu_seconds


def test_merged_returns_a_new_object_and_leaves_the_original_alone() -> None:
    base = SandboxLimits()
    merged = base.merged({"pids": 5})
    assert merged is not base
    assert base.pids == 64


@pytest.mark.parametrize("field", list(SandboxLimits.model_fields))
def test_merged_rejects_a_negative_value(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SandboxLimits().merged({field: -1})


@pytest.mark.parametrize("field", list(SandboxLimits.model_fields))
def test_merged_rejects_zero(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SandboxLimits().merged({field: 0})


def test_merged_rejects_an_unknown_key() -> None:
    with pytest.raises(ValidationError, match="memroy_bytes"):
        SandboxLimits().merged({"memroy_bytes": GiB})


@pytest.mark.parametrize("value", ["lots", 1.5, None, [1]])
def test_merged_rejects_a_value_that_is_not_an_integer(value: Any) -> None:
    with pytest.raises(ValidationError):
        SandboxLimits().merged({"pids": value})


def test_constructor_rejects_an_unknown_field() -> None:
    with pytest.raises(ValidationError):
        SandboxLimits(gpu_seconds=1)  # type: ignore[call-arg]


def test_sandbox_limits_are_frozen() -> None:
    limits = SandboxLimits()
    with pytest.raises(ValidationError):
        limits.pids = 1  # type: ignore[misc]
    assert limits.pids == 64


def test_sandbox_limits_are_hashable_values() -> None:
    assert SandboxLimits() == SandboxLimits()
    assert hash(SandboxLimits()) == hash(SandboxLimits())


def test_timeouts_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Timeouts().total = 1  # type: ignore[misc]


@pytest.mark.parametrize("field", list(Timeouts.model_fields))
def test_timeouts_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError):
        Timeouts(**{field: 0})


def test_timeouts_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Timeouts(forever=1)  # type: ignore[call-arg]
