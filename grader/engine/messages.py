"""Student-facing wording for failures (O3, P2): say what was expected, never show hidden source.

What the student's own code printed or raised comes back through here too, so two rules apply to it:
host paths (the sandbox's mounts, the grader's install, the scratch space) become submission-relative
or named placeholders, and a check that passes hidden inputs (``@check(hidden_inputs=True)``) never
echoes the exception's message, which the student's code can fill with those inputs. Staff keep the
raw text (:func:`staff_code_detail`).
"""

from __future__ import annotations

import re
import sys
import sysconfig
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SandboxError, StudentCodeError
from grader.sandbox.launcher import INSIDE_AGENT_ROOT, INSIDE_SOURCE, INSIDE_WORKDIR, PACKAGE_ROOT

#: Caps on the student's exception text as a student reads it (the agent sends up to 4,000 + 8,000).
MESSAGE_CHARS = 1000
TRACEBACK_CHARS = 2000

# The development backend's working copy: <scratch>/job-*/work-<8 hex> (see InsecureSubprocessLauncher).
_WORK_COPY = re.compile(r"(?:/[^/\s\"'<>:]+)*/work-[0-9a-f]{8}(/|\b)")
# One frame of a formatted traceback; its file and function name.
_FRAME = re.compile(r'^\s*File "(?P<file>[^"\n]*)", line (?P<line>\d+)(?:, in (?P<func>\S+))?\s*$')
_MAX_SOURCE_BYTES = 4 * 1024 * 1024
_NAME = re.compile(r"^(?:[A-Za-z_][\w.]*|<(?:module|lambda|listcomp|dictcomp|setcomp|genexpr)>)$")


@dataclass(frozen=True)
class HostPaths:
    """Host path prefixes a student must not read, each with what the student reads instead."""

    rewrites: tuple[tuple[str, str], ...]
    submission: tuple[str, ...] = ()

    @classmethod
    def of(cls, submission: Iterable[Path | str] = (), named: dict[str, Path | str | None] | None = None) -> HostPaths:
        """``submission``: folders shown as the submission's root; ``named``: placeholder -> folder (e.g.
        ``{"<scratch>": settings.scratch_dir}``), on top of the sandbox's mounts and the Python install."""
        pairs = [(str(p), "") for p in (*submission, INSIDE_WORKDIR, INSIDE_SOURCE)]
        places: dict[str, Path | str | None] = {"<grader>": PACKAGE_ROOT, **(named or {})}
        pairs += [(str(p), name) for name, p in places.items() if p]
        pairs.append((INSIDE_AGENT_ROOT, "<grader>"))
        paths = sysconfig.get_paths()
        pairs += [(paths[k], "<python>/site-packages") for k in ("purelib", "platlib")]
        pairs += [(paths[k], "<python>/lib") for k in ("stdlib", "platstdlib")]
        pairs += [(p, "<python>") for p in (sys.prefix, sys.exec_prefix, sys.base_prefix)]
        # "/" or "/usr" as a prefix would rewrite every system path: only folders two levels down or deeper.
        kept = {(p.rstrip("/"), name) for p, name in pairs if len(Path(p).parts) > 2}
        return cls(tuple(sorted(kept, key=lambda pair: -len(pair[0]))), tuple(str(p) for p in submission))

    def scrub(self, text: str) -> str:
        """``text`` with every host path rewritten (longest prefix first): ``src/model.py``, ``<python>/...``."""
        if not text:
            return text
        text = _WORK_COPY.sub(lambda m: "" if m[1] == "/" else ".", text)
        for prefix, name in self.rewrites:
            text = text.replace(prefix + "/./", f"{name}/" if name else "")  # sys.path "." joins as .../.
            text = text.replace(prefix + "/", f"{name}/" if name else "")
            text = re.sub(re.escape(prefix) + r"(?![\w.-])", name or ".", text)
        return text

    def submitted_source(self, relative: str) -> list[str] | None:
        """The lines of the file ``relative`` as the student submitted it, or None when ``relative`` is no
        submitted file (code their program wrote or compiled while running)."""
        if relative.startswith(("/", "<")) or ".." in Path(relative).parts:
            return None
        for root in self.submission:
            path = (Path(root) / relative).resolve()
            if (
                path.is_relative_to(Path(root).resolve())
                and path.is_file()
                and path.stat().st_size <= _MAX_SOURCE_BYTES
            ):
                return path.read_text(encoding="utf-8", errors="replace").splitlines()
        return None


#: The sandbox's mounts and the Python install only (for callers without a grading run's folders).
SANDBOX_PATHS = HostPaths.of()


def assertion_message(exc: AssertionError) -> str:
    """The assertion's own message; for a bare ``assert``, the one failing line of the check."""
    if str(exc):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    line = frames[-1].line if frames else ""
    return f"Check failed: {line}" if line else "Check failed."


def student_code_message(exc: SandboxError, paths: HostPaths = SANDBOX_PATHS, hidden_inputs: bool = False) -> str:
    """What the student's code did, with their own traceback when there is one; host paths rewritten,
    lengths capped, and for a check with hidden inputs no exception message (only its type and frames)."""
    if isinstance(exc, StudentCodeError) and exc.exc_type == "UnsendableResult":
        if hidden_inputs:
            return "Your code returned a value that cannot be sent back to the grader."
        return f"Your code returned a value that cannot be sent back to the grader ({_cap(paths.scrub(exc.exc_message), MESSAGE_CHARS)})."
    if isinstance(exc, StudentCodeError):
        if hidden_inputs:
            text = (
                f"Your code raised {exc.exc_type}. Its message is not shown: this check gives your code "
                "hidden inputs, which an exception message could repeat."
            )
            frames = frames_only(paths.scrub(exc.traceback), paths)
        else:
            text = f"Your code raised {exc.exc_type}: {_cap(paths.scrub(exc.exc_message), MESSAGE_CHARS)}"
            frames = exc.traceback
        frames = _tail(paths.scrub(frames).rstrip(), TRACEBACK_CHARS)
        if frames.strip():
            text += "\n\nTraceback (your code):\n" + frames
        return text
    return paths.scrub(exc.student_message)


def staff_code_detail(exc: SandboxError) -> str:
    """The raw text of a failure of the student's code, host paths and all (staff views only)."""
    if isinstance(exc, StudentCodeError):
        return f"{exc.exc_type}: {exc.exc_message}\n{exc.traceback}".strip()
    return "\n".join(t for t in (exc.student_message, exc.staff_detail) if t)


def redact_echoes(message: str, exc: BaseException) -> str:
    """``message`` without any text of a student exception it was raised while handling (a check's
    ``fail(f"... {exc.exc_message}")`` in a check with hidden inputs)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, StudentCodeError):
            for echoed in (cause.exc_message, cause.traceback):
                if echoed.strip():
                    message = message.replace(echoed.strip(), "<not shown: this check's inputs are hidden>")
        cause = cause.__cause__ or cause.__context__
    return message


def frames_only(formatted: str, paths: HostPaths) -> str:
    """The frames of a traceback in files the student submitted, each with its source line read from
    the submitted file; nothing else: no exception message, no chained "During handling" text, no
    frame of code written or compiled at run time, and no source line as the running code left it
    (any of which the code could fill with its inputs)."""
    kept: list[str] = []
    for line in formatted.splitlines():
        frame = _FRAME.match(line)
        source = paths.submitted_source(frame["file"]) if frame else None
        if frame is None or source is None:
            continue
        lineno, func = int(frame["line"]), frame["func"] or "<module>"
        # A function's name can be set at run time (code.replace(co_name=...)): shown only if the file defines it.
        named = func.startswith("<") or any(re.match(rf"\s*(?:async\s+)?def\s+{re.escape(func)}\b", x) for x in source)
        kept.append(
            f'  File "{frame["file"]}", line {lineno}' + (f", in {func}" if named and _NAME.match(func) else "")
        )
        if 0 < lineno <= len(source) and source[lineno - 1].strip():
            kept.append(f"    {source[lineno - 1].strip()}")
    return "\n".join(kept)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
