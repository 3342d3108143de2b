"""Trusted side of the script and file operations (``run_script``, ``write_file``, ``read_file``).

Everything the agent sends back may be forged by the student's code (it shares the agent's process),
so each reply is validated here and turned into plain, typed values; recorded call arguments stay
remote objects. See ``grader.sandbox.agent.scripts`` for what runs inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.errors import ProtocolViolation

#: What a check may read back from the work copy at most (a params file is about 13 MB).
MAX_READ_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecordedCall:
    """One call of the intercepted callable: positional and keyword arguments (``self`` first for a method)."""

    args: list[Any]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class ScriptRun:
    """What running a student's script produced."""

    calls: list[RecordedCall]
    stopped: bool  # the recorder ended the script at the intercepted call
    exit_code: int | str | None  # the script called sys.exit() (argparse errors exit with 2)
    error_type: str  # the script raised (empty when it did not)
    error_message: str
    error_traceback: str
    output: str  # what it printed to stdout (capped)
    output_total: int
    stubbed: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when the script raised or exited with a non-zero status."""
        return bool(self.error_type) or self.exit_code not in (None, 0)

    def describe_failure(self) -> str:
        """One sentence for the student about how the script ended badly ('' when it did not)."""
        if self.error_type:
            return f"it raised {self.error_type}: {self.error_message[:500]}"
        if self.exit_code not in (None, 0):
            tail = self.output.strip().splitlines()[-1:] or [""]
            return f"it exited with status {self.exit_code!r} {tail[0][:300]!r}".rstrip(" '")
        return ""


def parse_script_run(value: Any) -> ScriptRun:
    """Validate the agent's reply to ``run_script``."""
    if not isinstance(value, dict) or not isinstance(value.get("calls"), list):
        raise ProtocolViolation("run_script() came back malformed")
    calls = []
    for call in value["calls"]:
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("args"), list)
            or not isinstance(call.get("kwargs"), dict)
        ):
            raise ProtocolViolation("a recorded call came back malformed")
        calls.append(RecordedCall(list(call["args"]), dict(call["kwargs"])))
    raw_error = value.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    exit_code = value.get("exit_code")
    return ScriptRun(
        calls=calls,
        stopped=value.get("stopped") is True,
        exit_code=exit_code if isinstance(exit_code, int | str) and not isinstance(exit_code, bool) else None,
        error_type=str(error.get("type", ""))[:200],
        error_message=str(error.get("message", ""))[:2000],
        error_traceback=str(error.get("traceback", ""))[:4000],
        output=str(value.get("output", ""))[:1_000_000],
        output_total=value["output_total"] if isinstance(value.get("output_total"), int) else 0,
        stubbed=[str(s) for s in value.get("stubbed", []) if isinstance(s, str)],
    )


def as_uint8(data: bytes) -> Any:
    """Raw bytes as the 1-D ``uint8`` tensor the protocol carries."""
    import torch

    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)


def parse_read(value: Any, max_bytes: int) -> bytes | None:
    """Validate the agent's reply to ``read_file``: the bytes, or None when the file does not exist."""
    import torch

    if not isinstance(value, dict) or not isinstance(value.get("exists"), bool):
        raise ProtocolViolation("read_file() came back malformed")
    if not value["exists"]:
        return None
    data = value.get("data")
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1 or data.numel() > max_bytes:
        raise ProtocolViolation("read_file() sent back something other than the file's bytes")
    return bytes(data.numpy().tobytes())
