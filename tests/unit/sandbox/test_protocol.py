"""Tests for grader.sandbox.protocol: round trips, framing over real pipes, caps and hostile frames."""

from __future__ import annotations

import ast
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from grader.sandbox import protocol
from grader.sandbox.protocol import (
    DTYPES,
    HEADER,
    Decoder,
    Encoder,
    FrameCaps,
    FrameEOF,
    FrameError,
    FrameTimeout,
    Handle,
    encode_frame,
    read_frame,
    write_frame,
)

GRADER_DIR = Path(__file__).resolve().parents[3] / "grader"
CAPS = FrameCaps()


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A fresh os.pipe(); whatever end a test has not closed is closed afterwards."""
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def send(frame: bytes, caps: FrameCaps = CAPS, **kw: Any) -> dict[str, Any]:
    """Write ``frame`` into a pipe from a thread (frames may exceed the pipe buffer) and read it back."""
    r, w = os.pipe()

    def writer() -> None:
        try:
            write_frame(w, frame)
        except BrokenPipeError:  # the reader gave up early (a rejected frame); that is the point
            pass
        finally:
            os.close(w)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        return read_frame(r, caps, deadline=time.monotonic() + 10, **kw)
    finally:
        os.close(r)
        thread.join(timeout=10)


def raw_frame(body: Any, blob: bytes = b"") -> bytes:
    """A frame built by hand, as a hostile agent could write it (``body`` is JSON text or a value)."""
    text = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HEADER.pack(len(text), len(blob)) + text + blob


def roundtrip(value: Any, **kw: Any) -> Any:
    """Send ``value`` as the only field of a frame through a real pipe and return what arrives."""
    return send(encode_frame({"v": value}), **kw)["v"]


def decode_value(data: Any, blob: bytes = b"", caps: FrameCaps = CAPS) -> Any:
    return Decoder(blob, caps).decode(data)


def tensor_header(dtype: str = "float32", shape: Any = (2,), offset: Any = 0, nbytes: Any = 8) -> dict[str, Any]:
    return {
        "$tensor": {
            "dtype": dtype,
            "shape": list(shape) if isinstance(shape, tuple) else shape,
            "offset": offset,
            "nbytes": nbytes,
        }
    }


def sample_tensor(dtype: torch.dtype, shape: tuple[int, ...] = (2, 3)) -> torch.Tensor:
    numel = math.prod(shape)
    if dtype == torch.bool:
        return (torch.arange(numel) % 3 == 0).reshape(shape)
    if dtype.is_floating_point:
        return (torch.arange(numel, dtype=torch.float32) * 0.5 - 1.25).to(dtype).reshape(shape)
    return (torch.arange(numel) - (numel // 2 if dtype != torch.uint8 else 0)).to(dtype).reshape(shape)


def assert_same_tensor(got: Any, want: torch.Tensor) -> None:
    assert isinstance(got, torch.Tensor)
    assert got.dtype == want.dtype
    assert tuple(got.shape) == tuple(want.shape)
    assert torch.equal(got, want)


# ----------------------------------------------------------------------------- JSON values


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**62, -(2**63), "", 'héllo ✓\n"quoted"'])
def test_plain_json_scalars_round_trip_with_their_type(value: Any) -> None:
    got = roundtrip(value)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -3.25e-300, 1.7976931348623157e308, 5e-324])
def test_finite_floats_round_trip_exactly(value: float) -> None:
    got = roundtrip(value)
    assert type(got) is float
    assert got == value and math.copysign(1, got) == math.copysign(1, value)


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinities_round_trip(value: float) -> None:
    assert roundtrip(value) == value


def test_nan_round_trips_as_nan() -> None:
    got = roundtrip(math.nan)
    assert isinstance(got, float) and math.isnan(got)


def test_non_finite_floats_are_tagged_so_the_json_stays_standard() -> None:
    enc = Encoder()
    assert [enc.encode(v) for v in (math.nan, math.inf, -math.inf)] == [
        {"$float": "nan"},
        {"$float": "inf"},
        {"$float": "-inf"},
    ]


def test_nested_lists_round_trip() -> None:
    value = [1, [2.5, [None, ["x", [True, []]]]], []]
    assert roundtrip(value) == value


def test_tuples_round_trip_as_tuples_including_nested_and_empty() -> None:
    value = (1, ("a", ()), [(), (None,)])
    got = roundtrip(value)
    assert got == value
    assert type(got) is tuple and type(got[1]) is tuple and type(got[2][1]) is tuple


def test_dicts_with_str_keys_round_trip() -> None:
    value = {"a": 1, "b": [1, 2], "c": {"d": None}}
    assert roundtrip(value) == value


def test_dicts_with_int_keys_keep_int_keys() -> None:
    value = {0: "zero", -1: "minus one", 10**12: [1]}
    got = roundtrip(value)
    assert got == value
    assert all(type(k) is int for k in got)


def test_dicts_with_mixed_str_and_int_keys_keep_each_key_type() -> None:
    got = roundtrip({1: "int", "1": "str"})
    assert got == {1: "int", "1": "str"}


def test_dict_key_order_is_preserved() -> None:
    value = {"z": 1, "a": 2, 5: 3, "m": 4}
    assert list(roundtrip(value)) == list(value)


def test_dict_with_a_non_str_non_int_key_cannot_be_sent_without_handles() -> None:
    with pytest.raises(TypeError):
        Encoder().encode({(1, 2): "tuple key"})


def test_several_top_level_fields_are_decoded_independently() -> None:
    msg = {"id": 3, "ok": True, "value": [1, (2,)], "extra": None}
    assert send(encode_frame(msg)) == msg


def test_torch_size_arrives_as_a_tuple_and_dtype_and_device_as_strings() -> None:
    got = roundtrip([torch.Size([2, 3]), torch.float32, torch.device("cpu")])
    assert got == [(2, 3), "torch.float32", "cpu"]


def test_an_object_of_unknown_type_is_refused_without_a_handle_factory() -> None:
    with pytest.raises(TypeError, match="cannot send a value of type object"):
        encode_frame({"v": object()})


def test_encoder_refuses_values_nested_deeper_than_64_levels() -> None:
    value: Any = 1
    for _ in range(70):
        value = [value]
    with pytest.raises(ValueError, match="nests too deeply"):
        Encoder().encode(value)


# ----------------------------------------------------------------------------- tensors


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_tensors_of_every_allowed_dtype_round_trip(dtype_name: str) -> None:
    t = sample_tensor(getattr(torch, dtype_name))
    assert_same_tensor(roundtrip(t), t)


def test_the_dtype_list_includes_bfloat16_and_bool() -> None:
    assert "bfloat16" in DTYPES and "bool" in DTYPES


def test_bfloat16_keeps_its_exact_bits() -> None:
    t = torch.tensor([1.0, -2.5, 3.140625, 1e-3, -0.0], dtype=torch.bfloat16)
    got = roundtrip(t)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got.view(torch.int16), t.view(torch.int16))


def test_float_tensor_keeps_nan_and_infinities() -> None:
    t = torch.tensor([math.nan, math.inf, -math.inf, 1.0])
    got = roundtrip(t)
    assert torch.equal(got.isnan(), t.isnan())
    assert got[1:].tolist() == t[1:].tolist()


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_zero_dim_tensors_round_trip_with_an_empty_shape(dtype_name: str) -> None:
    t = sample_tensor(getattr(torch, dtype_name), (1,)).reshape(())
    got = roundtrip(t)
    assert got.shape == ()
    assert_same_tensor(got, t)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0, 2)])
def test_empty_tensors_round_trip_with_their_shape(shape: tuple[int, ...]) -> None:
    t = torch.empty(shape, dtype=torch.float64)
    got = roundtrip(t)
    assert_same_tensor(got, t)


def test_an_empty_tensor_adds_no_bytes_to_the_blob() -> None:
    enc = Encoder()
    header = enc.encode(torch.empty(0, 5))
    assert header == {"$tensor": {"dtype": "float32", "shape": [0, 5], "offset": 0, "nbytes": 0}}
    assert enc.blob() == b""


def test_transposed_tensor_arrives_with_the_same_values() -> None:
    t = torch.arange(12, dtype=torch.int32).reshape(3, 4).t()
    assert not t.is_contiguous()
    assert_same_tensor(roundtrip(t), t)


def test_strided_slice_arrives_with_the_same_values() -> None:
    base = torch.arange(40, dtype=torch.float32).reshape(4, 10)
    t = base[1::2, ::3]
    assert not t.is_contiguous()
    got = roundtrip(t)
    assert_same_tensor(got, t)
    assert got.is_contiguous()


def test_expanded_tensor_with_zero_strides_arrives_materialised() -> None:
    t = torch.tensor([1, 2, 3], dtype=torch.int64).expand(4, 3)
    got = roundtrip(t)
    assert_same_tensor(got, t)
    assert got.stride() == (3, 1)


def test_a_tensor_that_requires_grad_arrives_as_plain_data() -> None:
    t = torch.ones(2, 2, requires_grad=True) * 3
    got = roundtrip(t)
    assert not got.requires_grad
    assert torch.equal(got, t.detach())


def test_a_parameter_arrives_as_a_tensor() -> None:
    p = torch.nn.Parameter(torch.arange(4.0))
    got = roundtrip(p)
    assert type(got) is torch.Tensor
    assert torch.equal(got, p.detach())


def test_decoded_tensors_are_writable_and_independent_of_the_frame() -> None:
    got = roundtrip(torch.zeros(3))
    got += 1
    assert got.tolist() == [1.0, 1.0, 1.0]


def test_several_tensors_in_one_frame_get_distinct_offsets() -> None:
    a = torch.arange(5, dtype=torch.int16)
    b = torch.tensor([[1.5, 2.5]], dtype=torch.float64)
    c = torch.tensor([True, False, True])
    got = roundtrip({"a": a, "nested": [b, (c,)]})
    assert_same_tensor(got["a"], a)
    assert_same_tensor(got["nested"][0], b)
    assert_same_tensor(got["nested"][1][0], c)


def test_tensor_header_offsets_and_sizes_describe_the_blob() -> None:
    enc = Encoder()
    h1 = enc.encode(torch.zeros(3, dtype=torch.int16))["$tensor"]
    h2 = enc.encode(torch.zeros(2, dtype=torch.float64))["$tensor"]
    assert (h1["offset"], h1["nbytes"]) == (0, 6)
    assert (h2["offset"], h2["nbytes"]) == (6, 16)
    assert len(enc.blob()) == 22


@pytest.mark.parametrize("dtype", [torch.complex64, torch.uint16, torch.float8_e4m3fn])
def test_tensor_of_a_dtype_outside_the_list_is_refused_on_encode(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match="cannot be sent"):
        Encoder().encode(torch.zeros(2, dtype=dtype))


@pytest.mark.parametrize(
    "np_dtype, torch_dtype",
    [
        (np.float16, torch.float16),
        (np.float32, torch.float32),
        (np.float64, torch.float64),
        (np.int8, torch.int8),
        (np.int16, torch.int16),
        (np.int32, torch.int32),
        (np.int64, torch.int64),
        (np.uint8, torch.uint8),
        (np.bool_, torch.bool),
    ],
)
def test_numpy_arrays_arrive_as_tensors_of_the_matching_dtype(np_dtype: Any, torch_dtype: torch.dtype) -> None:
    arr = (np.arange(6) % 4).astype(np_dtype).reshape(2, 3)
    got = roundtrip(arr)
    assert_same_tensor(got, torch.from_numpy(arr.copy()))
    assert got.dtype == torch_dtype


def test_non_contiguous_numpy_array_arrives_with_the_same_values() -> None:
    arr = np.arange(20, dtype=np.float32).reshape(4, 5)[::-2, 1::2]
    assert not arr.flags["C_CONTIGUOUS"]
    got = roundtrip(arr)
    assert got.tolist() == arr.tolist()


def test_zero_dim_numpy_array_arrives_as_a_zero_dim_tensor() -> None:
    got = roundtrip(np.array(2.5))
    assert got.shape == () and got.item() == 2.5


@pytest.mark.parametrize(
    "scalar, expected",
    [
        (np.float32(1.5), 1.5),
        (np.float64(-2.25), -2.25),
        (np.int64(7), 7),
        (np.int8(-3), -3),
        (np.uint8(200), 200),
        (np.bool_(True), True),
        (np.bool_(False), False),
    ],
)
def test_numpy_scalars_arrive_as_python_scalars(scalar: Any, expected: Any) -> None:
    got = roundtrip(scalar)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("value", [np.float32("inf"), np.float32("nan"), np.float16("-inf")])
def test_non_finite_numpy_float32_and_float16_scalars_round_trip(value: Any) -> None:
    got = roundtrip(value)
    assert type(got) is float
    assert (math.isnan(got) and math.isnan(value)) or got == value


@pytest.mark.parametrize("value", [np.float64("nan"), np.float64("inf"), np.float64("-inf")])
def test_non_finite_numpy_float64_scalars_round_trip(value: Any) -> None:
    got = roundtrip(value)
    assert type(got) is float
    assert (math.isnan(got) and math.isnan(value)) or got == value


# ----------------------------------------------------------------------------- handles


def test_unknown_objects_become_handles_and_come_back_as_the_same_objects() -> None:
    registry: dict[int, Any] = {}

    def to_handle(obj: Any) -> Handle:
        registry[len(registry) + 1] = obj
        return Handle(len(registry), type(obj).__qualname__)

    first, second = object(), object()
    frame = encode_frame({"v": [first, {"k": second}]}, to_handle=to_handle)
    got = send(frame, from_handle=lambda h: registry[h.id])["v"]
    assert got[0] is first and got[1]["k"] is second


def test_handles_arrive_as_handle_values_without_a_resolver() -> None:
    got = roundtrip(Handle(42, "student.Model", text="ignored"))
    assert got == Handle(42, "student.Model")


def test_handle_text_is_not_sent() -> None:
    assert Encoder().encode(Handle(1, "T", text="secret")) == {"$handle": 1, "type": "T"}


def test_resolver_receives_the_handle_id_and_type_name() -> None:
    seen: list[Handle] = []
    send(raw_frame({"v": {"$handle": 9, "type": "m.Net"}}), from_handle=seen.append)
    assert seen == [Handle(9, "m.Net")]


def test_handle_type_names_are_truncated_to_200_characters() -> None:
    got = send(raw_frame({"v": {"$handle": 1, "type": "x" * 5000}}))["v"]
    assert got.type_name == "x" * 200


def test_handle_with_a_non_integer_id_is_rejected() -> None:
    with pytest.raises(FrameError, match="integer"):
        decode_value({"$handle": "1", "type": "T"})


def test_handle_with_a_bool_id_is_rejected() -> None:
    with pytest.raises(FrameError, match="integer"):
        decode_value({"$handle": True, "type": "T"})


# ----------------------------------------------------------------------------- framing over a pipe


def test_frame_starts_with_the_json_and_blob_lengths() -> None:
    frame = encode_frame({"t": torch.zeros(2, dtype=torch.int32)})
    json_len, blob_len = HEADER.unpack(frame[: HEADER.size])
    assert blob_len == 8
    assert HEADER.size + json_len + blob_len == len(frame)
    json.loads(frame[HEADER.size : HEADER.size + json_len])


def test_frame_json_is_strict_json_without_nan_literals() -> None:
    frame = encode_frame({"v": [math.nan, math.inf]})
    json_len, _ = HEADER.unpack(frame[: HEADER.size])
    text = frame[HEADER.size : HEADER.size + json_len].decode()
    assert "NaN" not in text and "Infinity" not in text


def test_two_frames_written_back_to_back_are_read_one_at_a_time(pipe: tuple[int, int]) -> None:
    r, w = pipe
    write_frame(w, encode_frame({"n": 1}))
    write_frame(w, encode_frame({"n": 2, "t": torch.ones(2)}))
    assert read_frame(r, CAPS) == {"n": 1}
    second = read_frame(r, CAPS)
    assert second["n"] == 2 and torch.equal(second["t"], torch.ones(2))


def test_a_frame_larger_than_the_pipe_buffer_arrives_whole() -> None:
    t = torch.arange(300_000, dtype=torch.int64)  # 2.4 MB, far more than a pipe holds
    assert_same_tensor(roundtrip(t), t)


def test_read_frame_without_a_deadline_reads_a_waiting_frame(pipe: tuple[int, int]) -> None:
    r, w = pipe
    write_frame(w, encode_frame({"ok": True}))
    assert read_frame(r, CAPS, deadline=None) == {"ok": True}


def test_closed_pipe_raises_frame_eof(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.close(w)
    with pytest.raises(FrameEOF):
        read_frame(r, CAPS, deadline=time.monotonic() + 5)


def test_pipe_closed_mid_frame_raises_frame_eof(pipe: tuple[int, int]) -> None:
    r, w = pipe
    frame = encode_frame({"v": "x" * 100})
    os.write(w, frame[: len(frame) // 2])
    os.close(w)
    with pytest.raises(FrameEOF):
        read_frame(r, CAPS, deadline=time.monotonic() + 5)


def test_frame_eof_and_timeout_are_frame_errors() -> None:
    assert issubclass(FrameEOF, FrameError) and issubclass(FrameTimeout, FrameError)


def test_silent_pipe_raises_frame_timeout_soon_after_the_deadline(pipe: tuple[int, int]) -> None:
    r, _w = pipe
    started = time.monotonic()
    with pytest.raises(FrameTimeout):
        read_frame(r, CAPS, deadline=started + 0.05)
    assert time.monotonic() - started < 2


def test_deadline_already_past_raises_frame_timeout_at_once(pipe: tuple[int, int]) -> None:
    r, w = pipe
    write_frame(w, encode_frame({"v": 1}))
    with pytest.raises(FrameTimeout):
        read_frame(r, CAPS, deadline=time.monotonic() - 1)


def test_half_written_frame_raises_frame_timeout(pipe: tuple[int, int]) -> None:
    r, w = pipe
    frame = encode_frame({"v": "payload"})
    os.write(w, frame[:-3])
    with pytest.raises(FrameTimeout):
        read_frame(r, CAPS, deadline=time.monotonic() + 0.05)


# ----------------------------------------------------------------------------- caps


def test_oversized_json_is_rejected_before_the_body_is_read(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, HEADER.pack(1001, 0))  # the body is never written: reading it would time out
    with pytest.raises(FrameError, match="exceeds the cap") as info:
        read_frame(r, FrameCaps(json_bytes=1000), deadline=time.monotonic() + 1)
    assert type(info.value) is FrameError


def test_oversized_blob_is_rejected_before_the_body_is_read(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, HEADER.pack(2, 1001))
    with pytest.raises(FrameError, match="exceeds the cap") as info:
        read_frame(r, FrameCaps(blob_bytes=1000), deadline=time.monotonic() + 1)
    assert type(info.value) is FrameError


def test_a_header_claiming_gigabytes_is_rejected_under_the_default_caps(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, HEADER.pack(2**32 - 1, 2**32 - 1))
    with pytest.raises(FrameError, match="exceeds the cap"):
        read_frame(r, CAPS, deadline=time.monotonic() + 1)


def test_json_and_blob_exactly_at_their_caps_are_accepted() -> None:
    frame = encode_frame({"t": torch.zeros(4, dtype=torch.uint8)})
    json_len, _ = HEADER.unpack(frame[: HEADER.size])
    got = send(frame, FrameCaps(json_bytes=json_len, blob_bytes=4))
    assert got["t"].tolist() == [0, 0, 0, 0]


def test_tensor_over_the_element_cap_is_rejected() -> None:
    with pytest.raises(FrameError, match="exceeds the cap of 10"):
        send(encode_frame({"t": torch.zeros(11)}), FrameCaps(tensor_elements=10))


def test_tensor_at_the_element_cap_is_accepted() -> None:
    got = send(encode_frame({"t": torch.zeros(2, 5)}), FrameCaps(tensor_elements=10))
    assert got["t"].shape == (2, 5)


def test_element_cap_counts_the_claimed_shape_not_the_blob() -> None:
    header = tensor_header("uint8", (1000, 1000, 1000), 0, 10**9)
    with pytest.raises(FrameError, match="exceeds the cap"):
        decode_value(header, b"", FrameCaps(tensor_elements=10**6))


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def test_value_nested_deeper_than_the_depth_cap_is_rejected() -> None:
    with pytest.raises(FrameError, match="deeper than 3"):
        send(encode_frame({"v": nested(4)}), FrameCaps(depth=3))


def test_value_nested_exactly_to_the_depth_cap_is_accepted() -> None:
    assert send(encode_frame({"v": nested(3)}), FrameCaps(depth=3))["v"] == nested(3)


def test_depth_cap_counts_tuples_and_dicts_too() -> None:
    value = {"a": ({"b": (1,)},)}  # dict -> tuple -> dict -> tuple -> int: depth 4
    with pytest.raises(FrameError, match="deeper"):
        send(encode_frame({"v": value}), FrameCaps(depth=3))


def test_default_caps_reject_a_hand_made_deep_nesting() -> None:
    with pytest.raises(FrameError, match="deeper than 32"):
        send(raw_frame({"v": nested(40)}))


def test_json_nested_too_deeply_for_the_parser_is_a_frame_error() -> None:
    depth = 200_000
    with pytest.raises(FrameError):
        send(raw_frame(b'{"v":' + b"[" * depth + b"]" * depth + b"}"))


def test_json_integer_with_too_many_digits_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        send(raw_frame(b'{"v":' + b"1" * 5000 + b"}"))


# ----------------------------------------------------------------------------- malformed frames


@pytest.mark.parametrize("text", [b"not json", b"{", b'{"a": 1,}', b"\xff\xfe{}", b""])
def test_non_json_body_is_a_frame_error(text: bytes) -> None:
    with pytest.raises(FrameError, match="not valid JSON"):
        send(raw_frame(text))


@pytest.mark.parametrize("body", [[1, 2], "text", 3, None])
def test_json_that_is_not_an_object_is_a_frame_error(body: Any) -> None:
    with pytest.raises(FrameError, match="not a JSON object"):
        send(raw_frame(body))


@pytest.mark.parametrize("value", [{"$foo": 1}, {"plain": 1}, {}, {"a": 1, "b": 2, "c": 3}])
def test_unknown_or_untagged_objects_are_frame_errors(value: Any) -> None:
    with pytest.raises(FrameError):
        send(raw_frame({"v": value}))


def test_unknown_tag_names_the_problem() -> None:
    with pytest.raises(FrameError, match="unknown value tag"):
        send(raw_frame({"v": {"$foo": 1}}))


@pytest.mark.parametrize("text", ["1.5", "NaN", "Infinity", "", 1.5, None])
def test_float_tag_accepts_only_nan_and_the_infinities(text: Any) -> None:
    with pytest.raises(FrameError, match="malformed float"):
        decode_value({"$float": text})


@pytest.mark.parametrize("payload", [{"a": 1}, "x", 3, None])
def test_tuple_tag_needs_a_list(payload: Any) -> None:
    with pytest.raises(FrameError, match="expected a list"):
        decode_value({"$tuple": payload})


@pytest.mark.parametrize("entries", [[["k"]], [["k", 1, 2]], [[1.5, 1]], [[None, 1]], [[["k"], 1]], ["k"]])
def test_malformed_dict_entries_are_frame_errors(entries: Any) -> None:
    with pytest.raises(FrameError, match="malformed dict entry"):
        decode_value({"$dict": entries})


def test_tensor_header_must_be_an_object() -> None:
    with pytest.raises(FrameError, match="dtype"):
        decode_value({"$tensor": [1, 2]})


def test_valid_hand_made_tensor_header_decodes() -> None:
    blob = torch.tensor([1.0, 2.0]).numpy().tobytes()
    got = send(raw_frame({"v": tensor_header()}, blob))["v"]
    assert got.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("nbytes", [7, 9, 0, 16])
def test_tensor_whose_nbytes_disagrees_with_shape_and_dtype_is_rejected(nbytes: int) -> None:
    with pytest.raises(FrameError, match="does not match its bytes"):
        send(raw_frame({"v": tensor_header(nbytes=nbytes)}, b"\0" * 16))


@pytest.mark.parametrize("offset", [1, 8, -1, 10**12])
def test_tensor_whose_offset_points_outside_the_blob_is_rejected(offset: int) -> None:
    with pytest.raises(FrameError, match="does not match its bytes"):
        send(raw_frame({"v": tensor_header(offset=offset)}, b"\0" * 8))


def test_tensor_with_a_missing_blob_is_rejected() -> None:
    with pytest.raises(FrameError, match="does not match its bytes"):
        send(raw_frame({"v": tensor_header()}))


@pytest.mark.parametrize("shape", [[-1], [2, -3], [-2, -4]])
def test_tensor_with_a_negative_dimension_is_rejected(shape: list[int]) -> None:
    with pytest.raises(FrameError, match="invalid shape"):
        decode_value(tensor_header(shape=shape, nbytes=0))


@pytest.mark.parametrize("shape", [[0, 2**70], [0, 2**40, 2**40]])
def test_empty_tensor_with_overflowing_dimensions_is_a_frame_error(shape: list[int]) -> None:
    with pytest.raises(FrameError):
        decode_value(tensor_header(shape=shape, nbytes=0))


def test_tensor_with_more_than_16_dimensions_is_rejected() -> None:
    with pytest.raises(FrameError, match="invalid shape"):
        decode_value(tensor_header(shape=[1] * 17, nbytes=4), b"\0" * 4)


@pytest.mark.parametrize(
    "field, value",
    [
        ("shape", [True, 2]),
        ("shape", [2.0]),
        ("shape", ["2"]),
        ("offset", True),
        ("offset", 0.0),
        ("nbytes", True),
        ("nbytes", "8"),
        ("offset", None),
    ],
)
def test_tensor_header_numbers_must_be_real_integers(field: str, value: Any) -> None:
    header = tensor_header(dtype="uint8", shape=[1], nbytes=1)
    header["$tensor"][field] = value
    with pytest.raises(FrameError, match="expected an integer"):
        decode_value(header, b"\0" * 8)


def test_tensor_shape_must_be_a_list() -> None:
    header = tensor_header()
    header["$tensor"]["shape"] = 2
    with pytest.raises(FrameError, match="expected a list"):
        decode_value(header, b"\0" * 8)


@pytest.mark.parametrize(
    "dtype",
    [
        "object",
        "complex64",
        "complex128",
        "uint16",
        "float8_e4m3fn",
        "torch.float32",
        "Tensor",
        "",
        None,
        ["float32"],
        1,
    ],
)
def test_tensor_with_an_unsupported_dtype_string_is_rejected(dtype: Any) -> None:
    with pytest.raises(FrameError, match="unsupported dtype"):
        decode_value(tensor_header(dtype=dtype), b"\0" * 8)


def test_tensor_without_a_dtype_is_rejected() -> None:
    header = tensor_header()
    del header["$tensor"]["dtype"]
    with pytest.raises(FrameError, match="unsupported dtype"):
        decode_value(header, b"\0" * 8)


# ----------------------------------------------------------------------------- no pickle


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, statically or through __import__/import_module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if fname in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
    return names


PICKLERS = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib"}


def test_protocol_module_does_not_import_pickle() -> None:
    assert "pickle" not in imported_modules(Path(protocol.__file__))


def test_protocol_module_imports_only_the_standard_library_and_torch() -> None:
    import sys

    assert imported_modules(Path(protocol.__file__)) <= set(sys.stdlib_module_names) | {"torch"}


def test_no_grader_module_imports_a_pickler() -> None:
    offenders = {
        str(path.relative_to(GRADER_DIR.parent)): sorted(imported_modules(path) & PICKLERS)
        for path in sorted(GRADER_DIR.rglob("*.py"))
        if imported_modules(path) & PICKLERS
    }
    assert offenders == {}


def test_the_pickle_scan_sees_every_grader_module() -> None:
    scanned = {p.relative_to(GRADER_DIR).as_posix() for p in GRADER_DIR.rglob("*.py")}
    assert {"sandbox/protocol.py", "sandbox/client.py", "sandbox/agent/server.py", "engine/runner.py"} <= scanned


def test_the_pickle_scan_would_catch_each_way_of_importing(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, pickle as p\nfrom dill import loads\nimport importlib\n"
        "importlib.import_module('cloudpickle')\n__import__('_pickle')\n"
    )
    assert imported_modules(sample) & PICKLERS == {"pickle", "dill", "cloudpickle", "_pickle"}


def pickle_serializer_names(path: Path) -> list[str]:
    """String constants that select a pickle serializer (Celery's 'pickle', its MIME type)."""
    names = {"pickle", "application/x-python-serialize"}
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names]


def test_no_grader_module_selects_a_pickle_serializer() -> None:
    offenders = {
        str(path.relative_to(GRADER_DIR.parent)): pickle_serializer_names(path)
        for path in sorted(GRADER_DIR.rglob("*.py"))
        if pickle_serializer_names(path)
    }
    assert offenders == {}
