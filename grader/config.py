"""Settings: the only place that reads the environment (prefix ``GRADER_``).

Everything below the entry points receives these values; nothing else calls ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.sandbox.limits import SandboxLimits, Timeouts

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Operator settings; every default documented with its unit."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", env_nested_delimiter="__", extra="ignore")

    env: Literal["production", "development", "test"] = Field(
        "production", description="Deployment kind; unsafe options are refused in production."
    )
    suites_dir: Path = Field(PROJECT_ROOT / "test_suites", description="Folder of test_suites/<assignment>/ folders.")
    data_dir: Path = Field(PROJECT_ROOT / "var", description="Service state: blobs, the embedded Redis file, scratch space.")
    sandbox_backend: Literal["bwrap", "insecure-subprocess"] = Field(
        "bwrap", description="How student code is isolated; 'insecure-subprocess' only in development."
    )
    bwrap_path: str = Field("bwrap", description="The bubblewrap executable.")
    sandbox_uid_base: int | None = Field(
        200_000, description="When the grader runs as root, each sandbox gets a host uid from [base, base+50000); None disables it."
    )
    limits: SandboxLimits = Field(default_factory=SandboxLimits, description="Default sandbox limits; manifests may override.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Default RPC deadlines, seconds.")

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


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
