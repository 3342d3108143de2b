"""Resource limits and timeouts as value objects, with units in every name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

GiB = 1024**3
MiB = 1024**2


class SandboxLimits(BaseModel):
    """Limits applied to one sandbox; defaults come from settings, a suite's manifest may override."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_bytes: int = Field(4 * GiB, gt=0, description="Address-space cap per process (RLIMIT_AS), bytes.")
    pids: int = Field(64, gt=0, description="Processes and threads the sandbox's uid may hold (RLIMIT_NPROC).")
    cpu_seconds: int = Field(600, gt=0, description="CPU time per process (RLIMIT_CPU), seconds.")
    wall_seconds: float = Field(900, gt=0, description="Lifetime of one sandbox before it is killed, seconds.")
    output_bytes: int = Field(
        1 * MiB, gt=0, description="Captured stdout+stderr kept; the rest is counted and dropped."
    )
    file_bytes: int = Field(256 * MiB, gt=0, description="Largest file the sandbox may write (RLIMIT_FSIZE), bytes.")
    tmpfs_bytes: int = Field(
        512 * MiB, gt=0, description="Size of each writable tmpfs (/tmp, /dev/shm and the work copy), bytes."
    )
    open_files: int = Field(256, gt=0, description="Open file descriptors per process (RLIMIT_NOFILE).")
    cpu_threads: int = Field(1, gt=0, description="Intra-op threads for torch/OpenMP/MKL inside the sandbox.")

    def merged(self, overrides: dict[str, object] | None) -> SandboxLimits:
        """These limits with a manifest's overrides applied (validated)."""
        return self if not overrides else SandboxLimits.model_validate(self.model_dump() | overrides)


class Timeouts(BaseModel):
    """Deadlines for talking to a sandbox, seconds.

    ``startup`` covers spawning and ``import torch``; ``per_call`` is a default for calls that name
    none (a check's own timeout bounds everything it does); ``total`` bounds a whole grading run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    startup: float = Field(60, gt=0, description="Spawn plus the agent's hello, seconds.")
    per_call: float = Field(60, gt=0, description="Default deadline of one RPC call, seconds.")
    total: float = Field(1800, gt=0, description="Whole grading run; finished checks are kept, seconds.")
