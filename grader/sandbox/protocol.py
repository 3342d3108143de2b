"""The wire format between the trusted grader and the agent inside the sandbox.

A frame is ``>II`` (JSON length, blob length), then UTF-8 JSON, then the blob. Tensors travel as a
JSON header (dtype, shape, offset and length into the blob) plus raw little-endian bytes. There is no
pickle anywhere, in either direction: a reply can only ever be decoded into JSON values, tuples, dicts,
tensors and opaque handles, so a hostile submission cannot make the trusted side run code.

This module runs on both sides of the boundary, so it imports only the standard library; torch is
imported lazily, only when a tensor is encoded or decoded.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

HEADER = struct.Struct(">II")

#: Tensor dtypes that may cross the boundary; anything else is refused.
DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
)


@dataclass(frozen=True)
class FrameCaps:
    """Upper bounds for one decoded frame; a frame over any of them is a protocol violation."""

    json_bytes: int = 64 * 1024 * 1024
    blob_bytes: int = 512 * 1024 * 1024
    depth: int = 32
    tensor_elements: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Handle:
    """An opaque reference to an object that lives inside the sandbox."""

    id: int
    type_name: str
    text: str = ""


class FrameError(Exception):
    """A frame could not be read or decoded (too big, truncated, malformed, closed)."""


class FrameTimeout(FrameError):
    """No complete frame arrived before the deadline."""


class FrameEOF(FrameError):
    """The other side closed the pipe."""


# ----------------------------------------------------------------------------- encoding


class Encoder:
    """Turns a value into JSON-able data plus a blob; unknown objects become handles via ``to_handle``."""

    def __init__(self, to_handle: Any = None) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.to_handle = to_handle

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError("value nests too deeply to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):  # np.float64 too: it subclasses float
            return float(value) if math.isfinite(value) else {"$float": repr(float(value))}
        if isinstance(value, Handle):
            return {"$handle": value.id, "type": value.type_name}
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value):
            return {"$dict": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        tensor = _as_tensor(value)
        if tensor is not None:
            return self._encode_tensor(tensor)
        scalar = _as_scalar(value)
        if scalar is not None:
            return self.encode(scalar, depth)
        if self.to_handle is not None:
            return self.encode(self.to_handle(value), depth)
        raise TypeError(f"cannot send a value of type {type(value).__name__}")

    def _encode_tensor(self, tensor: Any) -> dict[str, Any]:
        import torch

        t = tensor.detach().to("cpu").contiguous()
        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise TypeError(f"tensor dtype {dtype} cannot be sent")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header = {"dtype": dtype, "shape": list(t.shape), "offset": self.size, "nbytes": len(raw)}
        self.parts.append(raw)
        self.size += len(raw)
        return {"$tensor": header}

    def blob(self) -> bytes:
        return b"".join(self.parts)


def _as_tensor(value: Any) -> Any:
    """Return a torch tensor for tensors and numpy arrays, else None (without importing torch)."""
    module = type(value).__module__
    if module.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter"):
        return value
    if module == "numpy" and type(value).__name__ == "ndarray" and value.dtype.kind in "fiub":
        import torch

        return torch.from_numpy(value.copy())
    return None  # other arrays (strings, objects, complex) travel as handles


def _as_scalar(value: Any) -> Any:
    """Numpy scalars become Python scalars; torch dtypes and devices become strings."""
    module = type(value).__module__
    if module == "numpy" and type(value).__name__ != "ndarray" and hasattr(value, "item"):
        item = value.item()
        return item if isinstance(item, (bool, int, float, str)) else None
    if module == "torch" and type(value).__name__ in ("dtype", "device", "Size"):
        return tuple(value) if type(value).__name__ == "Size" else str(value)
    return None


class Decoder:
    """Rebuilds values from JSON data plus a blob; every tensor header is checked against the blob."""

    def __init__(self, blob: bytes, caps: FrameCaps, from_handle: Any = None) -> None:
        self.blob = memoryview(blob)
        self.caps = caps
        self.from_handle = from_handle

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > self.caps.depth:
            raise FrameError(f"value nests deeper than {self.caps.depth} levels")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            return [self.decode(v, depth + 1) for v in data]
        if not isinstance(data, dict) or len(data) not in (1, 2):
            raise FrameError("malformed value in frame")
        if "$tuple" in data:
            return tuple(self.decode(v, depth + 1) for v in _list(data["$tuple"]))
        if "$dict" in data:
            out = {}
            for pair in _list(data["$dict"]):
                if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], (str, int)):
                    raise FrameError("malformed dict entry in frame")
                out[pair[0]] = self.decode(pair[1], depth + 1)
            return out
        if "$float" in data:
            if data["$float"] not in ("nan", "inf", "-inf"):
                raise FrameError("malformed float in frame")
            return float(data["$float"])
        if "$tensor" in data:
            return self._decode_tensor(data["$tensor"])
        if "$handle" in data:
            handle = Handle(_int(data["$handle"]), str(data.get("type", ""))[:200])
            return self.from_handle(handle) if self.from_handle else handle
        raise FrameError("unknown value tag in frame")

    def _decode_tensor(self, header: Any) -> Any:
        import torch

        if not isinstance(header, dict) or header.get("dtype") not in DTYPES:
            raise FrameError("tensor with a missing or unsupported dtype")
        shape = [_int(d) for d in _list(header.get("shape"))]
        if any(d < 0 for d in shape) or len(shape) > 16:
            raise FrameError("tensor with an invalid shape")
        dtype = getattr(torch, header["dtype"])
        numel = math.prod(shape)
        if numel > self.caps.tensor_elements:
            raise FrameError(f"tensor of {numel} elements exceeds the cap of {self.caps.tensor_elements}")
        if any(d > self.caps.tensor_elements for d in shape):  # empty, yet too big for torch to shape
            raise FrameError("tensor with an invalid shape")
        offset, nbytes = _int(header.get("offset")), _int(header.get("nbytes"))
        itemsize = torch.empty((), dtype=dtype).element_size()
        if nbytes != numel * itemsize or offset < 0 or offset + nbytes > len(self.blob):
            raise FrameError("tensor header does not match its bytes")
        if numel == 0:
            return torch.empty(shape, dtype=dtype)
        raw = bytearray(self.blob[offset : offset + nbytes])
        return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FrameError("expected a list in frame")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError("expected an integer in frame")
    return value


# ----------------------------------------------------------------------------- stacked items

#: Tag of a batch of items sent as one flat tensor per position (see :func:`stack_items`).
STACKED = "$stacked"


def stack_items(items: list[Any], max_elements: int = FrameCaps.tensor_elements) -> Any:
    """Items that are all tuples (or all lists) of tensors as one flat tensor per position, else ``items``.

    A batch of thousands of ``(x, y)`` pairs then costs two tensors to encode and decode instead of two
    per item. Each position's tensors must share a dtype that may cross the boundary; anything else (and a
    batch whose columns would pass the per-tensor cap) is returned unchanged, to be sent item by item as
    before, so the values (and any error about them) are the same either way.
    """
    kind = _sequence_kind(items[0]) if items else None
    if kind is None or not items[0]:
        return items
    width = len(items[0])
    columns: list[list[Any]] = [[] for _ in range(width)]
    for item in items:
        if _sequence_kind(item) != kind or len(item) != width:
            return items
        for column, value in zip(columns, item, strict=True):
            if _as_tensor(value) is not value:  # torch tensors only (a numpy array is copied when sent)
                return items
            column.append(value)
    import torch

    flat: list[Any] = []
    shapes: list[Any] = []  # per position: {"all": the one shape of its tensors} or {"each": [their shapes]}
    for column in columns:
        dtype = column[0].dtype
        if str(dtype).removeprefix("torch.") not in DTYPES or any(t.dtype != dtype for t in column):
            return items
        if sum(t.numel() for t in column) > max_elements:
            return items
        shape = column[0].shape
        try:
            if all(t.shape == shape for t in column):  # the usual case: one shape, one stack, sent once
                flat.append(torch.stack(column).detach().reshape(-1))
                shapes.append({"all": list(shape)})
            else:
                flat.append(torch.cat([t.detach().reshape(-1) for t in column]))
                shapes.append({"each": [list(t.shape) for t in column]})
        except RuntimeError:  # tensors on different devices
            return items
    return {STACKED: kind, "columns": flat, "shapes": shapes}


def _sequence_kind(value: Any) -> str | None:
    """How the encoder sends ``value``: as a tuple (namedtuples too), a list, or neither."""
    return "tuple" if isinstance(value, tuple) else "list" if isinstance(value, list) else None


def unstack_items(value: Any, count: int) -> list[Any]:
    """The ``count`` items a :func:`stack_items` batch holds (views into its columns), checked against it."""
    import torch

    if not isinstance(value, dict) or value.get(STACKED) not in ("tuple", "list"):
        raise FrameError("a stacked batch without its kind")
    if count <= 0:
        raise FrameError("a stacked batch of no items")
    columns, shapes = value.get("columns"), value.get("shapes")
    if not isinstance(columns, list) or not isinstance(shapes, list) or not columns or len(columns) != len(shapes):
        raise FrameError("a stacked batch with malformed columns")
    views: list[Any] = []
    for column, column_shapes in zip(columns, shapes, strict=True):
        if not isinstance(column, torch.Tensor) or column.dim() != 1:
            raise FrameError("a stacked column is not a flat tensor")
        if isinstance(column_shapes, dict) and set(column_shapes) == {"all"}:
            parsed = [_shape(column_shapes["all"])] * count
        elif isinstance(column_shapes, dict) and set(column_shapes) == {"each"}:
            parsed = [_shape(s) for s in _list(column_shapes["each"])]
        else:
            raise FrameError("a stacked column without its shapes")
        if len(parsed) != count:
            raise FrameError(f"a stacked column does not hold {count} items")
        sizes = [math.prod(s) for s in parsed]
        if sum(sizes) != column.numel():
            raise FrameError("a stacked column's shapes do not match its length")
        if all(s == parsed[0] for s in parsed):
            views.append(column.view(count, *parsed[0]).unbind(0))
        else:
            views.append([piece.view(s) for piece, s in zip(torch.split(column, sizes), parsed, strict=True)])
    make = tuple if value[STACKED] == "tuple" else list
    return [make(parts) for parts in zip(*views, strict=True)]


def _shape(value: Any) -> tuple[int, ...]:
    dims = tuple(_int(d) for d in _list(value))
    if len(dims) > 16 or any(not 0 <= d <= FrameCaps.tensor_elements for d in dims):
        raise FrameError("a stacked item with an invalid shape")
    return dims


# ----------------------------------------------------------------------------- framing


def encode_frame(message: dict[str, Any], to_handle: Any = None) -> bytes:
    """Serialise one message (values may hold tensors and handles) into a frame."""
    enc = Encoder(to_handle)
    body = {k: enc.encode(v) for k, v in message.items()}
    text = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    blob = enc.blob()
    return HEADER.pack(len(text), len(blob)) + text + blob


def write_frame(fd: int, frame: bytes) -> None:
    """Write a whole frame to a file descriptor."""
    view = memoryview(frame)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_frame(fd: int, caps: FrameCaps, deadline: float | None = None, from_handle: Any = None) -> dict[str, Any]:
    """Read and decode one frame; raise FrameTimeout past ``deadline`` (a ``time.monotonic`` value)."""
    json_len, blob_len = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if json_len > caps.json_bytes or blob_len > caps.blob_bytes:
        raise FrameError(
            f"reply of {json_len + blob_len} bytes exceeds the cap of {caps.json_bytes + caps.blob_bytes} bytes"
        )
    text = _read_exact(fd, json_len, deadline)
    blob = _read_exact(fd, blob_len, deadline)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:  # also: too-deep nesting, integers of too many digits
        raise FrameError(f"reply is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(body, dict):
        raise FrameError("reply is not a JSON object")
    dec = Decoder(blob, caps, from_handle)
    try:
        return {str(k): dec.decode(v) for k, v in body.items()}
    except (ValueError, TypeError, RuntimeError, OverflowError, RecursionError) as exc:
        if isinstance(exc, FrameError):
            raise
        raise FrameError(f"reply could not be decoded ({exc.__class__.__name__})") from None


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise FrameTimeout("no reply before the deadline")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise FrameEOF("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
