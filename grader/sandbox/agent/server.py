"""Serve the trusted side's requests on the student's objects, one frame in, one frame out.

Nothing here decides a score: the agent only runs the student's code and reports what came back.
Because the student's code shares this process, everything the agent says may be forged; the trusted
side validates every reply (see ``grader.sandbox.client``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import shutil
import site
import sys
import traceback
from pathlib import Path
from typing import Any

from grader.sandbox import protocol
from grader.sandbox.agent import scripts

AGENT_DIR = str(Path(__file__).resolve().parents[1])


class Agent:
    """Holds the student's objects behind integer handles and dispatches requests to them."""

    def __init__(self, start: Any = None) -> None:
        self.objects: dict[int, Any] = {}
        self.next_id = 1
        # A warm-pool agent starts without a submission: ``start`` copies it in once, on request.
        self.pending_start = start

    # -- handles -------------------------------------------------------------------------

    def to_handle(self, obj: Any) -> protocol.Handle:
        handle_id = self.next_id
        self.next_id += 1
        self.objects[handle_id] = obj
        kind = type(obj)
        return protocol.Handle(handle_id, f"{kind.__module__}.{kind.__qualname__}")

    def from_handle(self, handle: protocol.Handle) -> Any:
        try:
            return self.objects[handle.id]
        except KeyError:
            raise LookupError(f"unknown handle {handle.id}") from None

    # -- operations (each returns a value to encode) -------------------------------------

    def op_hello(self) -> dict[str, Any]:
        import torch

        return {"python": sys.version.split()[0], "torch": torch.__version__, "pid": os.getpid()}

    def op_start(self, python_path: list[str]) -> dict[str, Any]:
        """Copy the submission (now filled in by the trusted side) into place; allowed once, before any other op."""
        if self.pending_start is None:
            raise RuntimeError("this sandbox has already started")
        start, self.pending_start = self.pending_start, None
        start([str(p) for p in python_path])
        return self.op_hello()

    def op_seed(self, seed: int) -> None:
        random.seed(seed)
        try:
            import numpy

            numpy.random.seed(seed % 2**32)
        except ImportError:
            pass
        import torch

        torch.manual_seed(seed)

    def op_import(self, module: str) -> Any:
        return self.to_handle(importlib.import_module(module))

    def op_getattr(self, target: Any, name: str) -> Any:
        return getattr(target, name)

    def op_call(self, target: Any, args: list[Any], kwargs: dict[str, Any], method: str | None = None) -> Any:
        func = getattr(target, method) if method else target
        return func(*args, **kwargs)

    def op_getitem(self, target: Any, key: Any) -> Any:
        return target[key]

    def op_getitems(self, target: Any, keys: list[Any], stack: bool = False) -> Any:
        items = [target[key] for key in keys]
        return protocol.stack_items(items) if stack else items

    def op_len(self, target: Any) -> int:
        return len(target)

    def op_describe(self, target: Any, name: str | None = None) -> dict[str, Any]:
        import torch

        obj = getattr(target, name) if name else target
        kind = type(obj)
        info: dict[str, Any] = {
            "type": f"{kind.__module__}.{kind.__qualname__}",
            "mro": [f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__],
            "callable": callable(obj),
            "is_module": isinstance(obj, torch.nn.Module),
            "is_tensor": isinstance(obj, torch.Tensor),
            "is_parameter": isinstance(obj, torch.nn.Parameter),
        }
        if name and isinstance(target, torch.nn.Module):
            info["registered_parameter"] = name in dict(target.named_parameters(recurse=False))
            info["registered_buffer"] = name in dict(target.named_buffers(recurse=False))
        if isinstance(obj, torch.Tensor):
            info.update(shape=list(obj.shape), dtype=str(obj.dtype), device=str(obj.device))
        return info

    def op_state_dict(self, target: Any) -> dict[str, Any]:
        import torch

        # torch's own methods, not overrides in the student's class (which could report other tensors)
        if isinstance(target, torch.nn.Module):
            return dict(torch.nn.Module.state_dict(target))
        return dict(target.state_dict())

    def op_load_state_dict(self, target: Any, state: dict[str, Any], strict: bool) -> dict[str, Any]:
        import torch

        # torch's own method, not an override in the student's class: the grader's weights are loaded
        # by parameter name whatever the class says (forward then shows whether they are used).
        if isinstance(target, torch.nn.Module):
            result = torch.nn.Module.load_state_dict(target, state, strict=strict)
        else:
            result = target.load_state_dict(state, strict=strict)
        return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}

    def op_named_parameters(self, target: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "shape": list(p.shape),
                "dtype": str(p.dtype).removeprefix("torch."),
                "device": str(p.device),
                "requires_grad": bool(p.requires_grad),
            }
            for name, p in _named_parameters(target)
        ]

    def op_grad_probe(
        self,
        target: Any,
        args: list[Any],
        kwargs: dict[str, Any],
        weights: Any,
        wrt: int | None = None,
        output_index: int | None = None,
    ) -> dict[str, Any]:
        """Backward of ``(output * weights).sum()``: the gradient on ``args[wrt]`` and every parameter's grad norm."""
        import torch

        args = list(args)
        probe = None
        if wrt is not None:
            probe = args[wrt].detach().clone().requires_grad_(True)
            args[wrt] = probe
        params = dict(target.named_parameters()) if isinstance(target, torch.nn.Module) else {}
        for p in params.values():
            p.grad = None
        out = target(*args, **kwargs)
        if output_index is not None:
            out = out[output_index]
        (out * weights.to(out.dtype)).sum().backward()
        return {
            "input_grad": None if probe is None else probe.grad,
            "param_grad_norms": {n: None if p.grad is None else float(p.grad.norm()) for n, p in params.items()},
        }

    def op_step_with_grads(self, target: Any, modules: list[Any], grads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set the grader's gradients on ``modules``' named parameters, call ``target.step()`` once, and
        return every parameter of each module after it (one round trip per optimizer step).

        ``grads[i]`` maps parameter names of ``modules[i]`` to the gradient to put in ``.grad`` (None
        clears it); the parameters it does not name keep theirs.
        """
        if len(grads) != len(modules):
            raise ValueError(f"{len(grads)} gradient sets for {len(modules)} modules")
        for module, named in zip(modules, grads, strict=True):
            params = dict(_named_parameters(module))
            for name, grad in named.items():
                params[name].grad = None if grad is None else grad.to(params[name].dtype)
        target.step()
        # torch's own view of the parameters (not the class's), detached: the encoder copies them into the reply
        return [{name: p.detach() for name, p in _named_parameters(m)} for m in modules]

    def op_run_script(self, path: str, argv: list[str], **options: Any) -> dict[str, Any]:
        """Run a student's script as ``__main__`` (see ``grader.sandbox.agent.scripts.run_script``)."""
        return scripts.run_script(path, [str(a) for a in argv], **options)

    def op_write_file(self, path: str, data: Any) -> int:
        """Put a file (text or a uint8 tensor) into the work copy, e.g. the grader's pristine public data."""
        return scripts.write_file(path, data)

    def op_read_file(self, path: str, max_bytes: int) -> dict[str, Any]:
        """Read back a file the student's code wrote in the work copy (first ``max_bytes`` bytes)."""
        return scripts.read_file(path, max_bytes)

    def op_release(self, handles: list[Any]) -> None:
        for handle in handles:
            self.objects.pop(getattr(handle, "id", -1), None)

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.pop("op", None)
        request_id = request.pop("id", None)
        func = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if self.pending_start is not None and op not in ("hello", "start"):
            func = None  # nothing touches the (still empty) submission before it has been started
        if func is None:
            return {"id": request_id, "ok": False, "error": _error("ProtocolError", f"unknown op {op!r}")}
        try:
            return {"id": request_id, "ok": True, "value": func(**request)}
        except BaseException as exc:  # SystemExit too: a student's sys.exit() must not end the agent
            if isinstance(exc, KeyboardInterrupt):
                raise
            return {"id": request_id, "ok": False, "error": _describe_exception(exc)}


def _named_parameters(target: Any) -> Any:
    """torch's own ``named_parameters`` of a module (a class's override cannot hide or invent any)."""
    import torch

    if isinstance(target, torch.nn.Module):
        return torch.nn.Module.named_parameters(target)
    return target.named_parameters()


def _error(kind: str, message: str, tb: str = "") -> dict[str, str]:
    return {"type": kind, "message": message[:4000], "traceback": tb[-8000:]}


def _describe_exception(exc: BaseException) -> dict[str, str]:
    """The student's exception, with the frames of their own files (all but the agent's if none)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(AGENT_DIR)]
    own = [f for f in frames if f.filename.startswith(os.getcwd() + os.sep)]
    frames = own or frames
    tb = "".join(traceback.format_list(frames))
    message = str(exc) if not isinstance(exc, SystemExit) else f"sys.exit({exc.code!r}) was called"
    return _error(type(exc).__name__, message, tb)


def _prepare_workdir(source: str, workdir: str, python_path: list[str]) -> None:
    """Copy the read-only submission into the writable scratch space and make it importable."""
    if source != workdir:
        shutil.copytree(source, workdir, dirs_exist_ok=True, symlinks=True)
    os.chdir(workdir)
    sys.path[:0] = [os.path.join(workdir, p) for p in python_path]


def _preload(modules: list[str]) -> None:
    """Import what a suite declared it needs (torch, transformers) before any student code exists, so a
    warm sandbox has paid for it ahead of demand; a module that is not installed is left to fail later."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the student's own import reports it, in their words
            pass


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a student may have replaced or closed the streams
            pass


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="grader-agent")
    parser.add_argument("--source", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--python-path", action="append", default=[])
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--deferred", action="store_true")
    parser.add_argument("--site", action="append", default=[])
    opts = parser.parse_args(argv)
    for folder in opts.site:
        site.addsitedir(folder)  # the suite's students' environment: appended, after the grader's own packages

    # The RPC pipes move to private descriptors; fd 1 then joins fd 2 (the captured output), so a
    # student's print() can never land in the middle of a frame.
    rpc_in, rpc_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    _preload(opts.preload)
    if opts.deferred:
        agent = Agent(start=lambda path: _prepare_workdir(opts.source, opts.workdir, opts.python_path + path))
    else:
        _prepare_workdir(opts.source, opts.workdir, opts.python_path)
        agent = Agent()
    caps = protocol.FrameCaps()
    while True:
        try:
            request = protocol.read_frame(rpc_in, caps, from_handle=agent.from_handle)
        except protocol.FrameEOF:
            return
        except (protocol.FrameError, LookupError) as exc:
            request = {"op": "invalid", "error": str(exc)}
        reply = agent.handle(request)
        _flush_output()  # what a call printed is captured before its reply, even if it is killed next
        try:
            frame = protocol.encode_frame(reply, to_handle=agent.to_handle)
        except Exception as exc:  # noqa: BLE001 - unsendable, too deep, or too big to copy (MemoryError)
            frame = protocol.encode_frame(
                {
                    "id": reply.get("id"),
                    "ok": False,
                    "error": _error("UnsendableResult", f"{type(exc).__name__}: {exc}"),
                }
            )
        protocol.write_frame(rpc_out, frame)
