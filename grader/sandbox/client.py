"""The trusted side of the RPC: a session with one sandbox at a time, and proxies for remote objects.

Checks receive a :class:`Student`. Every call has a deadline; a sandbox that dies or overruns is
killed and the next call starts a fresh one, so one hostile check costs only that check.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, cast

from grader.errors import ProtocolViolation, SandboxDied, SandboxTimeout, StudentCodeError
from grader.models.limits import Timeouts
from grader.sandbox import protocol
from grader.sandbox.launcher import Launcher, SandboxProcess, SandboxSpec
from grader.sandbox.script_runs import MAX_READ_BYTES, ScriptRun, as_uint8, parse_read, parse_script_run


class SandboxSession:
    """Owns the current sandbox process for one submission; restarts it after a death or a timeout."""

    def __init__(
        self, launcher: Launcher, spec: SandboxSpec, timeouts: Timeouts, caps: protocol.FrameCaps | None = None
    ) -> None:
        self.launcher = launcher
        self.spec = spec
        self.timeouts = timeouts
        self.caps = caps or protocol.FrameCaps()
        self.process: SandboxProcess | None = None
        self.generation = 0
        self.ended: list[dict[str, Any]] = []  # one record per sandbox that ended, for the report
        self._ids = itertools.count(1)
        self.info: dict[str, Any] = {}
        self.check_deadline: float | None = None  # set by the runner around each check
        self.calls = 0  # requests sent so far: a check that sent none ran no student code

    # -- lifecycle -----------------------------------------------------------------------

    def ensure_started(self) -> SandboxProcess:
        if self.process is not None and self.process.alive():
            return self.process
        self._retire()
        self.process = self.launcher.start(self.spec, replacing=self.generation > 0)
        self.generation += 1
        deadline = time.monotonic() + self.timeouts.startup
        try:
            info = self._roundtrip({"op": "hello"}, deadline)
        except (SandboxDied, SandboxTimeout, ProtocolViolation) as exc:
            # No student code has run yet: this is the sandbox failing to start (or the copy of the
            # submission not fitting its scratch space), so say so instead of blaming their code.
            output = self.process.output.text()[-4000:]
            self._retire()
            raise SandboxDied(
                f"The sandbox could not start ({type(exc).__name__}). Staff have the details.",
                f"{exc.student_message}\n{output}",
            ) from None
        if not isinstance(info, dict):
            self.process.kill("killed after answering its greeting with garbage")
            raise ProtocolViolation("The sandbox answered its greeting with garbage (was the agent tampered with?).")
        self.info = info
        return self.process

    def _retire(self) -> None:
        if self.process is None:
            return
        self.process.close()
        self.ended.append(
            {
                "generation": self.generation,
                "exit_reason": self.process.exit_reason(),
                "output": self.process.output.text(),
                "notes": self.process.notes,
            }
        )
        self.process = None

    def restart(self) -> None:
        """Throw the current sandbox away; the next call starts a fresh one."""
        self._retire()

    def close(self) -> None:
        self._retire()

    def output_so_far(self) -> str:
        """Captured output of every sandbox of this session, the live one included."""
        texts = [e["output"] for e in self.ended]
        if self.process is not None:
            texts.append(bytes(self.process.output.kept).decode("utf-8", errors="replace"))
        return "".join(texts)

    # -- calls ---------------------------------------------------------------------------

    def call(self, op: str, deadline: float | None = None, **params: Any) -> Any:
        """Send one request and return its decoded, not yet type-checked value."""
        self.calls += 1
        self.ensure_started()
        if deadline is None:
            deadline = self.check_deadline or time.monotonic() + self.timeouts.per_call
        end = deadline
        return self._roundtrip({"op": op, **params}, end)

    def _roundtrip(self, message: dict[str, Any], deadline: float) -> Any:
        proc = self.process
        assert proc is not None
        deadline = min(deadline, proc.deadline)
        request_id = next(self._ids)
        try:
            frame = protocol.encode_frame({"id": request_id, **message}, to_handle=_handle_of)
            protocol.write_frame(proc.rpc_out, frame)
            reply = protocol.read_frame(proc.rpc_in, self.caps, deadline, from_handle=self._proxy)
        except protocol.FrameTimeout:
            wall = time.monotonic() >= proc.deadline
            reason = (
                f"killed after its wall-clock limit of {proc.limits.wall_seconds:g} s"
                if wall
                else "killed: the call did not finish before its time limit"
            )
            proc.kill(reason)
            raise SandboxTimeout(
                "Your code did not finish in time (an infinite loop, or far too slow?); the sandbox was stopped."
            ) from None
        except (protocol.FrameEOF, BrokenPipeError):
            proc.popen.wait(timeout=5)
            raise SandboxDied(f"Your code ended the sandbox process: {proc.exit_reason()}.") from None
        except protocol.FrameError as exc:
            proc.kill(f"killed after a malformed reply ({exc})")
            raise ProtocolViolation(f"The sandbox sent a malformed reply ({exc}).") from None
        if reply.get("id") != request_id or not isinstance(reply.get("ok"), bool):
            proc.kill("killed after a reply that did not match its request")
            raise ProtocolViolation("The sandbox's reply did not match the request (was the agent tampered with?).")
        if not reply["ok"]:
            err = reply.get("error")
            if not isinstance(err, dict):
                raise ProtocolViolation("The sandbox sent a malformed error.")
            raise StudentCodeError(
                str(err.get("type", "Exception"))[:200],
                str(err.get("message", ""))[:4000],
                str(err.get("traceback", ""))[:8000],
            )
        return reply.get("value")

    def _proxy(self, handle: protocol.Handle) -> RemoteObject:
        return RemoteObject(self, handle, self.generation)


def _handle_of(value: Any) -> protocol.Handle:
    if isinstance(value, RemoteObject):
        return value._handle
    raise TypeError(f"cannot send a value of type {type(value).__name__} to the sandbox")


class RemoteObject:
    """A proxy for an object inside the sandbox: attribute access, calls, indexing and ``len``.

    Attribute reads return plain data (numbers, strings, lists, dicts, tensors) or further proxies.
    A proxy belongs to one sandbox: after a restart it is stale and using it raises ``SandboxDied``.
    """

    __slots__ = ("_session", "_handle", "_generation")
    _session: SandboxSession
    _handle: protocol.Handle
    _generation: int

    def __init__(self, session: SandboxSession, handle: protocol.Handle, generation: int) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", generation)

    @property
    def type_name(self) -> str:
        """Fully qualified type name of the remote object, as the sandbox reported it."""
        return self._handle.type_name

    def _call(self, op: str, **params: Any) -> Any:
        session = self._session
        if session.generation != self._generation or session.process is None or not session.process.alive():
            raise SandboxDied("The sandbox that held this object has ended (see earlier messages).")
        return session.call(op, target=self, **params)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._call("getattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("call", args=list(args), kwargs=kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._call("getitem", key=key)

    def __len__(self) -> int:
        value = self._call("len")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolViolation("len() of the student's object did not return a non-negative integer")
        return value

    def __repr__(self) -> str:
        return f"<remote {self._handle.type_name} #{self._handle.id}>"

    def call_method(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``obj.name(*args, **kwargs)`` in one round trip."""
        return self._call("call", method=name, args=list(args), kwargs=kwargs)

    def getitems(self, keys: list[Any], stack: bool = False) -> list[Any]:
        """``[obj[k] for k in keys]`` in one round trip (for checks that need thousands of items).

        ``stack``: items that are all tuples (or lists) of tensors travel as one tensor per position
        (``protocol.stack_items``), and come back as views into it; the values are the same.
        """
        value = self._call("getitems", keys=list(keys), stack=stack)
        if stack and isinstance(value, dict):
            try:
                value = protocol.unstack_items(value, len(keys))
            except (protocol.FrameError, RuntimeError, ValueError, OverflowError) as exc:
                raise ProtocolViolation(f"a stacked batch of items came back malformed ({exc})") from None
        if not isinstance(value, list) or len(value) != len(keys):
            raise ProtocolViolation("a batch of items came back with the wrong length")
        return value

    def describe(self, name: str | None = None) -> dict[str, Any]:
        """Type information about this object (or its attribute ``name``) without transferring it."""
        value = self._call("describe", name=name)
        if not isinstance(value, dict) or not isinstance(value.get("mro"), list):
            raise ProtocolViolation("the description of an object came back malformed")
        return value

    def state_dict(self) -> dict[str, Any]:
        return _dict_of_tensors(self._call("state_dict"), "state_dict()")

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> dict[str, list[str]]:
        value = self._call("load_state_dict", state=state, strict=strict)
        if not isinstance(value, dict) or not all(isinstance(value.get(k), list) for k in ("missing", "unexpected")):
            raise ProtocolViolation("load_state_dict() came back malformed")
        return {k: [str(x) for x in value[k]] for k in ("missing", "unexpected")}

    def named_parameters(self) -> list[dict[str, Any]]:
        """Name, shape, dtype, device and ``requires_grad`` of every parameter."""
        value = self._call("named_parameters")
        if not isinstance(value, list) or not all(
            isinstance(p, dict) and isinstance(p.get("name"), str) for p in value
        ):
            raise ProtocolViolation("named_parameters() came back malformed")
        return value

    def grad_probe(
        self, *args: Any, weights: Any, wrt: int | None = None, output_index: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Backward of ``(self(*args)[output_index] * weights).sum()`` inside the sandbox.

        Returns ``input_grad`` (the gradient on ``args[wrt]``, or None) and ``param_grad_norms``
        (parameter name -> gradient norm, None where no gradient reached it).
        """
        value = self._call(
            "grad_probe", args=list(args), kwargs=kwargs, wrt=wrt, weights=weights, output_index=output_index
        )
        norms = value.get("param_grad_norms") if isinstance(value, dict) else None
        if not isinstance(norms, dict) or not all(v is None or isinstance(v, float) for v in norms.values()):
            raise ProtocolViolation("the gradient probe came back malformed")
        return cast("dict[str, Any]", value)  # a dict: ``norms`` above is None otherwise

    def step_with_grads(self, modules: list[RemoteObject], grads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One optimizer step in one round trip: set ``grads[i]`` (parameter name -> gradient, None clears
        it) on ``modules[i]``'s parameters, call ``self.step()``, and return each module's parameters after it.

        The returned tensors are the student's answer, never an input to what the grader expects.
        """
        if len(grads) != len(modules):
            raise ValueError(f"{len(grads)} gradient sets for {len(modules)} modules")
        value = self._call("step_with_grads", modules=list(modules), grads=list(grads))
        if not isinstance(value, list) or len(value) != len(modules):
            raise ProtocolViolation("the parameters after an optimizer step came back with the wrong length")
        return [_dict_of_tensors(v, "the parameters after an optimizer step") for v in value]

    def release(self) -> None:
        """Let the sandbox forget this object."""
        self._call("release", handles=[self])


def _dict_of_tensors(value: Any, what: str) -> dict[str, Any]:
    import torch

    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise ProtocolViolation(f"{what} did not come back as a mapping of names to tensors")
    return value


class Student:
    """What a check receives: the student's modules, imported inside the sandbox on first use."""

    def __init__(self, session: SandboxSession) -> None:
        self._session = session

    def module(self, name: str) -> RemoteObject:
        """Import the student's module ``name`` (e.g. ``"dataset"``) inside the sandbox."""
        value = self._session.call("import", module=name)
        if not isinstance(value, RemoteObject):
            raise ProtocolViolation(f"importing {name} did not return a module handle")
        return value

    def seed(self, seed: int) -> None:
        """Seed ``random``, ``numpy`` and ``torch`` inside the sandbox."""
        self._session.call("seed", seed=seed)

    def output_size(self) -> int:
        """Bytes the current sandbox has printed so far (to notice debug printing)."""
        process = self._session.process
        return process.output.total if process is not None else 0

    def restart(self) -> None:
        """Throw the current sandbox away; the next call starts a fresh one."""
        self._session.restart()

    def run_script(
        self,
        path: str,
        argv: list[str],
        *,
        intercept: str | None = None,
        stop: bool = True,
        stub_modules: list[str] | None = None,
        cpu_torch_load: bool = False,
    ) -> ScriptRun:
        """Run the student's script ``path`` (e.g. ``"src/run.py"``) as ``__main__`` with ``argv``.

        ``intercept`` names a callable (``"trainer.Trainer.train"``) replaced by a recorder for the run;
        the recorder returns None, or stops the script when ``stop``. ``stub_modules`` get a no-op
        stand-in when they cannot be imported; ``cpu_torch_load`` maps ``torch.load`` to the CPU
        where there is no GPU. The script runs in the work copy, from its root.
        """
        value = self._session.call(
            "run_script",
            path=path,
            argv=list(argv),
            intercept=intercept,
            stop=stop,
            stub_modules=list(stub_modules or []),
            cpu_torch_load=cpu_torch_load,
        )
        return parse_script_run(value)

    def write_file(self, path: str, data: bytes | str) -> None:
        """Put a file into the sandbox's work copy (replacing the submission's copy), e.g. public data."""
        payload = data if isinstance(data, str) else as_uint8(data)
        written = self._session.call("write_file", path=path, data=payload)
        expected = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        if written != expected:
            raise ProtocolViolation(f"writing {path} into the sandbox stored {written!r} bytes instead of {expected}")

    def read_file(self, path: str, max_bytes: int = MAX_READ_BYTES) -> bytes | None:
        """The first ``max_bytes`` bytes of a file in the work copy, or None if there is no such file."""
        return parse_read(self._session.call("read_file", path=path, max_bytes=max_bytes), max_bytes)
