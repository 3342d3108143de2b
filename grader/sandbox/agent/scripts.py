"""Run a student's script as ``__main__`` inside the sandbox, and move files in and out of its work copy.

Some assignments are driven by scripts that parse ``sys.argv`` at module level and train for hours
(CS224N's ``run.py``). A check runs such a script with a controlled argv while one named callable
(``trainer.Trainer.train``) is replaced by a recorder: the script builds its real objects, the
recorder keeps the arguments of each call (sent back as remote objects) and either returns ``None``
or stops the script. Files go in as text or as a ``uint8`` tensor (the protocol has no bytes type),
and come back the same way; paths stay inside the work copy. Only stdlib and torch are imported here.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import runpy
import sys
import traceback
import types
from collections.abc import Iterator
from typing import Any


class StopScript(BaseException):
    """Raised by a recorder set to stop: ends the script at the intercepted call (not an ``Exception``,
    so a student's ``except Exception`` around the call does not swallow it)."""


class _CappedText(io.TextIOBase):
    """A text sink that keeps the first ``cap`` characters and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap, self.kept, self.total = cap, io.StringIO(), 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.cap - self.kept.tell()
        if room > 0:
            self.kept.write(text[:room])
        self.total += len(text)
        return len(text)


class _Null:
    """Stands in for anything a stubbed module provides: accepts any call, any attribute, does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Null:
        return self

    def __getattr__(self, name: str) -> _Null:
        return self


def _null_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name, f"no-op stand-in for the missing module {name}")
    module.__getattr__ = lambda attr: _Null  # type: ignore[method-assign]
    return module


def inside(path: str) -> str:
    """``path`` resolved under the work copy (the current directory); refuses to leave it."""
    root = os.path.realpath(os.getcwd())
    full = os.path.realpath(os.path.join(root, path))
    if full != root and not full.startswith(root + os.sep):
        raise ValueError(f"the path {path!r} leaves the submission's work copy")
    return full


def write_file(path: str, data: Any) -> int:
    """Write ``data`` (text, or a 1-D ``uint8`` tensor of raw bytes) to ``path``; returns the byte count."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data.contiguous().numpy().tobytes())
    full = inside(path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if os.path.lexists(full) and not os.path.isfile(full):
        raise ValueError(f"{path!r} exists and is not a plain file")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(full)  # a read-only or linked copy left by the submission is replaced, not written through
    with open(full, "wb") as handle:
        handle.write(raw)
    return len(raw)


def read_file(path: str, max_bytes: int) -> dict[str, Any]:
    """``{"exists", "size", "data"}``: the first ``max_bytes`` bytes of ``path`` as a ``uint8`` tensor."""
    import torch

    full = inside(path)
    if not os.path.isfile(full):
        return {"exists": False, "size": 0, "data": None}
    with open(full, "rb") as handle:
        raw = handle.read(max(0, max_bytes))
    size = os.path.getsize(full)
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
    return {"exists": True, "size": size, "data": data}


def _resolve_owner(dotted: str) -> tuple[Any, str]:
    """``"trainer.Trainer.train"`` -> (the class ``trainer.Trainer``, ``"train"``), importing the module."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:-1]:
            owner = getattr(owner, attr)
        if not hasattr(owner, parts[-1]):
            raise AttributeError(f"{dotted} does not exist")
        return owner, parts[-1]
    raise ModuleNotFoundError(f"no module found for {dotted}")


@contextlib.contextmanager
def _intercepted(dotted: str | None, calls: list[dict[str, Any]], stop: bool) -> Iterator[None]:
    if not dotted:
        yield
        return
    owner, name = _resolve_owner(dotted)
    original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
    had_own = not isinstance(owner, type) or name in owner.__dict__

    def recorder(*args: Any, **kwargs: Any) -> None:
        calls.append({"args": list(args), "kwargs": dict(kwargs)})
        if stop:
            raise StopScript

    setattr(owner, name, recorder)
    try:
        yield
    finally:
        if had_own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


@contextlib.contextmanager
def _cpu_torch_load(enabled: bool) -> Iterator[None]:
    """Without CUDA, ``torch.load`` maps every storage to the CPU (params files are usually saved on a GPU)."""
    import torch

    original = torch.load
    if not enabled or torch.cuda.is_available():
        yield
        return

    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            args = ("cpu", *args[1:])
        else:
            kwargs["map_location"] = "cpu"
        return original(f, *args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


@contextlib.contextmanager
def _script_dir_on_path(full: str) -> Iterator[None]:
    """As ``python dir/script.py`` does, the script's folder comes first on ``sys.path`` for the run."""
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


@contextlib.contextmanager
def _stubbed(names: list[str]) -> Iterator[list[str]]:
    """Insert no-op modules for those of ``names`` that cannot be imported (e.g. an absent tensorboard)."""
    added: list[str] = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = _null_module(name)
            added.append(name)
    try:
        yield added
    finally:
        for name in added:
            sys.modules.pop(name, None)


def run_script(
    path: str,
    argv: list[str],
    intercept: str | None = None,
    stop: bool = True,
    stub_modules: list[str] | None = None,
    cpu_torch_load: bool = False,
    max_output: int = 65536,
) -> dict[str, Any]:
    """Run ``path`` (relative to the work copy) as ``__main__`` with ``sys.argv = [path, *argv]``.

    Returns ``{"calls", "stopped", "exit_code", "error", "output", "output_total", "stubbed"}``:
    the recorded calls (arguments as remote objects), whether the recorder stopped the script, the
    code of a ``SystemExit``, the script's exception (type, message) if it raised one, and what it
    printed to stdout (the first ``max_output`` characters).
    """
    full = inside(path)
    calls: list[dict[str, Any]] = []
    sink = _CappedText(max_output)
    result: dict[str, Any] = {"stopped": False, "exit_code": None, "error": None}
    saved_argv = sys.argv
    sys.argv = [path, *argv]
    try:
        with (
            _script_dir_on_path(full),
            _stubbed(list(stub_modules or [])) as stubbed,
            _cpu_torch_load(cpu_torch_load),
            _intercepted(intercept, calls, stop),
            contextlib.redirect_stdout(sink),
        ):
            result["stubbed"] = stubbed
            try:
                runpy.run_path(full, run_name="__main__")
            except StopScript:
                result["stopped"] = True
            except SystemExit as exc:
                result["exit_code"] = exc.code if isinstance(exc.code, int | None) else str(exc.code)
            except Exception as exc:  # noqa: BLE001 - reported to the check, which words it for the student
                tb = "".join(traceback.format_exception(exc)[-6:])
                result["error"] = {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": tb[-4000:]}
    finally:
        sys.argv = saved_argv
    result.update(calls=calls, output=sink.kept.getvalue(), output_total=sink.total)
    return result
