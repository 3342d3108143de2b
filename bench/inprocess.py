"""The benchmarks' baseline: a suite's checks run in this process, with no sandbox, no agent process and no pipe.

``InProcessSession`` is a ``SandboxSession`` whose "sandbox" is the agent's own ``Agent`` object living
in this process: every call is still encoded and decoded exactly as on the wire (so checks receive the
same proxies, tensors and errors), but nothing is spawned, nothing crosses a pipe and nothing is isolated.
Benchmark use only: the student's code runs with the grader's privileges.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.engine.runner import _Injector, run_check
from grader.engine.suites import Suite
from grader.engine.unpack import UnpackLimits, unpack_submission
from grader.errors import ProtocolViolation, StudentCodeError
from grader.models.limits import Timeouts
from grader.models.report import TestReport
from grader.sandbox import protocol
from grader.sandbox.agent.server import Agent, _prepare_workdir
from grader.sandbox.client import SandboxSession, Student, _handle_of
from grader.sandbox.launcher import SandboxSpec


class _Output:
    total = 0
    kept = bytearray()

    def text(self) -> str:
        return ""


class _InProcess:
    """Stands where a ``SandboxProcess`` would: always alive, prints nothing we capture."""

    output = _Output()
    notes: list[str] = ["in-process baseline: no sandbox"]
    deadline = float("inf")

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def exit_reason(self) -> str:
        return "finished"


def _decode(frame: bytes, from_handle: Any) -> dict[str, Any]:
    json_len, blob_len = protocol.HEADER.unpack_from(frame)
    body = json.loads(frame[protocol.HEADER.size : protocol.HEADER.size + json_len])
    blob = frame[protocol.HEADER.size + json_len :]
    assert len(blob) == blob_len
    decoder = protocol.Decoder(blob, protocol.FrameCaps(), from_handle)
    return {str(k): decoder.decode(v) for k, v in body.items()}


class InProcessSession(SandboxSession):
    """A session with an in-process agent (see the module docstring)."""

    def __init__(self, spec: SandboxSpec) -> None:
        super().__init__(None, spec, Timeouts())  # type: ignore[arg-type]  # never launches anything
        self.agent: Agent | None = None

    def ensure_started(self) -> Any:
        if self.agent is None:
            self.agent = Agent()
            self.generation += 1
            self.process = _InProcess()  # type: ignore[assignment]
        return self.process

    def _retire(self) -> None:
        self.agent = None
        self.process = None

    def _roundtrip(self, message: dict[str, Any], deadline: float) -> Any:
        agent = self.agent
        assert agent is not None
        request_id = next(self._ids)
        request = _decode(protocol.encode_frame({"id": request_id, **message}, to_handle=_handle_of), agent.from_handle)
        reply = _decode(protocol.encode_frame(agent.handle(request), to_handle=agent.to_handle), self._proxy)
        if not reply["ok"]:
            err = reply.get("error")
            if not isinstance(err, dict):
                raise ProtocolViolation("malformed error")
            raise StudentCodeError(str(err.get("type")), str(err.get("message")), str(err.get("traceback")))
        return reply.get("value")


def grade_in_process(suite: Suite, zip_path: Path, scratch: Path) -> tuple[float, list[TestReport]]:
    """Unpack ``zip_path`` and run every check of ``suite`` in this process; (seconds, results).

    The timed part is the same as the engine's: unpack plus the checks. Student modules are dropped from
    ``sys.modules`` afterwards and the working directory restored, so runs do not share state.
    """
    import torch

    torch.set_num_threads(1)  # as inside a sandbox (OMP_NUM_THREADS=1)
    cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)
    work = Path(tempfile.mkdtemp(prefix="inproc-", dir=scratch))
    started = time.perf_counter()
    try:
        unpacked = unpack_submission(
            zip_path, work / "submission", UnpackLimits(), root_marker=suite.manifest.files.root_marker
        )
        _prepare_workdir(str(unpacked.root), str(work / "copy"), list(suite.manifest.python_path))
        session = InProcessSession(SandboxSpec(unpacked.root, tuple(suite.manifest.python_path)))
        inject = _Injector(Student(session), suite, unpacked.root)
        total_deadline = time.monotonic() + suite.manifest.resources.total_timeout_seconds
        with contextlib.redirect_stdout(io.StringIO()):  # a sandbox's output is captured, not printed
            results = [run_check(check, inject, session, total_deadline) for check in suite.checks]
        return time.perf_counter() - started, results
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        tops = {name.partition(".")[0] for name in modules}
        for name in set(sys.modules) - modules:
            file = getattr(sys.modules[name], "__file__", None)
            # The student's modules and stand-ins go; a library's lazily imported parts stay loaded.
            if (file and file.startswith(str(work))) or name.partition(".")[0] not in tops:
                del sys.modules[name]
