"""A warm sandbox pool: sandboxes started ahead of demand, each used by one submission, then thrown away.

Starting a sandbox costs an interpreter plus ``import torch`` (~1.3 s on a small machine), paid before
any student code runs. The pool pays it in the background: each warm sandbox is a normal sandbox (same
launcher, so the same private uid, rlimits, namespaces, seccomp filter and read-only system) whose agent
has imported torch and the suite's ``preload`` modules and waits, with an EMPTY submission folder bound
read-only at its usual place, for a ``start`` request.

A job takes one, hard-links (or copies) its unpacked submission into that folder on the host (a bind
mount shows the host folder's later contents) and asks the agent to start; from then on the sandbox is
exactly a cold-started one. It is never handed to anyone else: when the job's session closes it (a
restart after a failed check included) it is killed and its folder removed, and a restart takes another
warm sandbox for the same submission. When no warm sandbox matches, or a warm one fails to fill, the
job starts one cold, as without a pool.

Which sandboxes to keep warm: per queue ("cpu", "gpu"), ``size`` sandboxes of one *profile* (limits,
GPU, model cache, preload), set by :meth:`WarmPool.target` and moved to whatever profile the last job on
that queue asked for (a deadline burst is one assignment).

Threads: one long-lived refill thread starts every warm sandbox. It must outlive them: bubblewrap's
``--die-with-parent`` fires when the *thread* that spawned it exits, which is also what guarantees that no
sandbox outlives the pool's process, however it ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.models.limits import SandboxLimits, Timeouts
from grader.sandbox import protocol
from grader.sandbox.launcher import Launcher, SandboxProcess, SandboxSpec

log = logging.getLogger(__name__)

#: Recorded in the report's sandbox notes of every sandbox that came from the pool.
WARM_NOTE = "warm pool: started before the submission arrived, used for it alone"


@dataclass(frozen=True)
class WarmProfile:
    """What a warm sandbox is started with; a job can use it only when its own spec has the same profile."""

    limits: SandboxLimits
    gpu: bool
    model_cache: Path | None
    cuda_visible_devices: str | None
    preload: tuple[str, ...]
    environment: Path | None = None  # the suite's students' environment: mounted at start, so part of the profile

    @classmethod
    def of(cls, spec: SandboxSpec) -> WarmProfile:
        return cls(spec.limits, spec.gpu, spec.model_cache, spec.cuda_visible_devices, spec.preload, spec.environment)

    @property
    def queue(self) -> str:
        return "gpu" if self.gpu else "cpu"


@dataclass
class _Warm:
    process: SandboxProcess
    folder: Path  # bound read-only into the sandbox as its submission; owned by the pool until filled
    profile: WarmProfile


class WarmFillError(Exception):
    """A warm sandbox could not take a submission (it died, or its agent refused); the job starts cold."""


class WarmPool:
    """Keeps ``sizes[queue]`` warm sandboxes per queue and serves as a :class:`Launcher` for jobs.

    ``start(spec)`` returns a warm sandbox filled with ``spec.submission_dir`` when one matches, else a
    cold one from ``launcher``. Call :meth:`close` once grading has stopped: it kills every sandbox the
    pool started, handed-out ones included.
    """

    def __init__(self, launcher: Launcher, scratch_dir: Path, sizes: dict[str, int], timeouts: Timeouts) -> None:
        self.cold = launcher
        self.secure = launcher.secure
        self.scratch_dir = scratch_dir
        self.sizes = {queue: n for queue, n in sizes.items() if n > 0}
        self.timeouts = timeouts
        self.stats: Counter[str] = Counter()  # warm, cold, fill_failed, started, start_failed, discarded
        self._targets: dict[str, WarmProfile] = {}
        self._idle: dict[str, list[_Warm]] = {queue: [] for queue in self.sizes}
        self._starting: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self._spawned: list[SandboxProcess] = []  # every sandbox started by the refill thread, to kill on close
        self._cond = threading.Condition()
        self._closed = False
        self._failures = 0
        self._thread = threading.Thread(target=self._refill_loop, name="warm-pool", daemon=True)
        self._thread.start()

    # -- what to keep warm ---------------------------------------------------------------

    def target(self, spec: SandboxSpec) -> None:
        """Keep warm sandboxes of ``spec``'s profile for its queue (no-op for a queue of size 0)."""
        profile = WarmProfile.of(spec)
        with self._cond:
            if profile.queue not in self.sizes or self._targets.get(profile.queue) == profile:
                return
            self._targets[profile.queue] = profile
            stale, self._idle[profile.queue] = self._idle[profile.queue], []
            self._cond.notify_all()
        for warm in stale:
            self._discard(warm)

    def resize(self, queue: str, size: int) -> None:
        """Keep ``size`` warm sandboxes for ``queue`` from now on (0: stop refilling; idle ones are still handed out)."""
        with self._cond:
            if queue not in self.sizes:
                raise ValueError(f"queue {queue!r} was not given a pool size")
            self.sizes[queue] = max(0, size)
            self._cond.notify_all()

    def wait_ready(self, queue: str = "cpu", timeout: float = 120) -> bool:
        """Block until ``queue`` has its full complement of warm sandboxes (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle.get(queue, [])) < self.sizes.get(queue, 0):
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    # -- the Launcher interface ----------------------------------------------------------

    def start(self, spec: SandboxSpec, *, replacing: bool = False) -> SandboxProcess:
        """A sandbox for ``spec``: a warm one filled with its submission, or else a cold start."""
        warm = self._take(spec, wait=not replacing)
        if warm is not None:
            try:
                self._fill(warm, spec)
            except WarmFillError as exc:
                log.warning("a warm sandbox could not take a submission (%s); starting one cold", exc)
                self.stats["fill_failed"] += 1
                warm.process.close()
            else:
                self.stats["warm"] += 1
                return warm.process
        self.stats["cold"] += 1
        return self.cold.start(spec)

    def _take(self, spec: SandboxSpec, wait: bool) -> _Warm | None:
        profile = WarmProfile.of(spec)
        if spec.deferred or profile.queue not in self.sizes:
            return None
        with self._cond:
            retarget = self._targets.get(profile.queue) != profile
        if retarget:
            self.target(spec)  # this job starts cold; the next sandboxes are warmed for what it asked for
            return None
        stale = []
        taken = None
        deadline = time.monotonic() + self.timeouts.startup
        with self._cond:
            # A grading's first sandbox waits for a warm start already under way: it is seldom slower than a
            # cold one begun now, which would compete with it for the CPU. A sandbox replacing one thrown
            # away after a failed check does not: the warm start imports the whole preload (csc413-a3's
            # transformers, ~10 s on a busy machine) while the next check may need only torch.
            while wait and not self._idle[profile.queue] and self._starting[profile.queue] and not self._closed:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    break
            idle = self._idle[profile.queue]
            while idle and taken is None:
                candidate = idle.pop(0)
                if candidate.process.alive():
                    taken = candidate
                else:
                    stale.append(candidate)
            self._cond.notify_all()  # the refill thread replaces what was taken
        for warm in stale:
            self._discard(warm)
        return taken

    def _fill(self, warm: _Warm, spec: SandboxSpec) -> None:
        """Put the submission into the warm sandbox's (still empty) folder and let its agent start."""
        try:
            _link_tree(spec.submission_dir, warm.folder)
        except OSError as exc:
            raise WarmFillError(f"could not place the submission: {exc}") from None
        _request(warm.process, {"op": "start", "python_path": list(spec.python_path)}, self.timeouts.startup)
        warm.process.notes.append(WARM_NOTE)
        # Only now does the student's time start: the wait in the pool is not theirs.
        warm.process.started = time.monotonic()
        warm.process.deadline = warm.process.started + warm.process.limits.wall_seconds

    # -- the refill thread ---------------------------------------------------------------

    def _next_needed(self) -> WarmProfile | None:
        for queue, size in self.sizes.items():
            profile = self._targets.get(queue)
            if profile is not None and len(self._idle[queue]) + self._starting[queue] < size:
                return profile
        return None

    def _refill_loop(self) -> None:
        while True:
            with self._cond:
                profile = None
                while not self._closed and (profile := self._next_needed()) is None:
                    self._cond.wait(timeout=1.0)
                    self._sweep_locked()
                if self._closed or profile is None:
                    return
                self._starting[profile.queue] += 1
            warm = self._start_warm(profile)
            with self._cond:
                self._starting[profile.queue] -= 1
                keep = warm is not None and not self._closed and self._targets.get(profile.queue) == profile
                if keep and warm is not None:
                    self._idle[profile.queue].append(warm)
                self._cond.notify_all()
                backoff = min(30.0, 0.5 * 2**self._failures) if warm is None and self._failures else 0.0
                if backoff:
                    self._cond.wait(backoff)  # bwrap broken or the machine out of memory: do not spin
            if warm is not None and not keep:
                self._discard(warm)

    def _sweep_locked(self) -> None:
        """Forget warm sandboxes that died while waiting (an OOM kill, an operator's kill) or that have
        waited half their wall-clock life (a fill needs time before that clock is reset)."""
        now = time.monotonic()
        for queue, idle in self._idle.items():
            dead = [
                w for w in idle if not w.process.alive() or now - w.process.started > w.process.limits.wall_seconds / 2
            ]
            if dead:
                self._idle[queue] = [w for w in idle if w not in dead]
                for warm in dead:
                    warm.process.close()
                    self.stats["discarded"] += 1

    def _start_warm(self, profile: WarmProfile) -> _Warm | None:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="warm-", dir=self.scratch_dir))
        os.chmod(folder, 0o711)  # the sandbox's own uid must reach the submission, as in the engine
        submission = folder / "submission"
        submission.mkdir()
        os.chmod(submission, 0o755)
        spec = SandboxSpec(
            submission,
            (),
            profile.limits,
            gpu=profile.gpu,
            model_cache=profile.model_cache,
            cuda_visible_devices=profile.cuda_visible_devices,
            preload=profile.preload,
            deferred=True,
            environment=profile.environment,
        )
        try:
            process = self.cold.start(spec)
        except Exception:
            log.exception("could not start a warm sandbox")
            shutil.rmtree(folder, ignore_errors=True)
            self._failed()
            return None
        process.on_close.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        with self._cond:
            if self._closed:
                process.close()
                return None
            self._spawned = [p for p in self._spawned if p.alive()] + [process]
        try:
            _request(process, {"op": "hello"}, self.timeouts.startup)
        except WarmFillError as exc:
            if not self._closed:
                log.warning("a warm sandbox failed to start: %s %s", exc, process.output.text()[-2000:])
            process.close()
            if not self._closed:
                self._failed()
            return None
        self._failures = 0
        self.stats["started"] += 1
        return _Warm(process, submission, profile)

    def _failed(self) -> None:
        self._failures += 1
        self.stats["start_failed"] += 1
        return None

    def _discard(self, warm: _Warm) -> None:
        warm.process.close()
        self.stats["discarded"] += 1

    # -- shutdown ------------------------------------------------------------------------

    def close(self) -> None:
        """Kill every sandbox the pool started (idle or handed out) and stop the refill thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle = [w for queue in self._idle.values() for w in queue]
            self._idle = {queue: [] for queue in self.sizes}
            spawned, self._spawned = self._spawned, []
            self._cond.notify_all()
        for warm in idle:
            warm.process.close()
        for process in spawned:
            process.close()  # also unblocks a refill thread waiting on a greeting
        self._thread.join(timeout=self.timeouts.startup + 5)

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link ``source``'s files into ``dest`` (same file system: no copy), copying where links fail."""
    shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True, copy_function=_link_or_copy)


def _link_or_copy(src: str, dst: str) -> Any:
    try:
        os.link(src, dst)
        return dst
    except OSError:
        return shutil.copy2(src, dst)


def _request(process: SandboxProcess, message: dict[str, Any], seconds: float) -> dict[str, Any]:
    """One round trip with a sandbox's agent before any session owns it; the reply must be a success."""
    deadline = min(time.monotonic() + seconds, process.deadline)
    try:
        protocol.write_frame(process.rpc_out, protocol.encode_frame({"id": 0, **message}))
        reply = protocol.read_frame(process.rpc_in, protocol.FrameCaps(), deadline)
    except (protocol.FrameError, OSError) as exc:
        process.kill(f"killed: the warm sandbox did not answer {message['op']!r} ({type(exc).__name__})")
        raise WarmFillError(f"no answer to {message['op']!r}: {exc}") from None
    if reply.get("id") != 0 or reply.get("ok") is not True or not isinstance(reply.get("value"), dict):
        process.kill(f"killed: the warm sandbox refused {message['op']!r}")
        raise WarmFillError(f"{message['op']!r} refused: {str(reply.get('error'))[:500]}")
    return dict(reply["value"])
