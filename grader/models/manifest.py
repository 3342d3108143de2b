"""``suite.toml``: the manifest of one assignment's hidden suite, as a self-documenting model."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from grader.errors import ManifestError
from grader.models.limits import SandboxLimits
from grader.models.notebooks import NotebookSpec
from grader.models.visibility import Visibility


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSpec(_Strict):
    """Which files a submission must or may contain."""

    required: list[str] = Field(
        default_factory=list,
        description="Paths (globs allowed) that must be present; missing ones are reported by name.",
    )
    optional: list[str] = Field(default_factory=list, description="Paths that are used when present.")
    root_marker: str | None = Field(
        None, description="A path that locates the submission root when it is wrapped in one folder, e.g. 'src/run.py'."
    )


class Resources(_Strict):
    """Where and within which limits the suite runs."""

    queue: Literal["cpu", "gpu"] = Field("cpu", description="The worker queue that grades this assignment.")
    fallback_queue: Literal["cpu", "gpu"] | None = Field(
        None,
        description="Where to send a submission when no live worker consumes `queue` (e.g. 'cpu' for a suite that prefers a GPU but also runs on CPU).",
    )
    limits: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of SandboxLimits fields (units in the field names)."
    )
    total_timeout_seconds: float = Field(
        1800, gt=0, description="Whole-run limit; checks finished by then keep their results."
    )
    preload: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]] = (
        Field(
            default_factory=list,
            description="Modules a sandbox imports before the submission arrives (warm pool), e.g. ['transformers']; torch always is.",
        )
    )

    @field_validator("limits")
    @classmethod
    def _known_limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        SandboxLimits().merged(value)  # typos and bad values fail when the suite loads, not mid-grading
        return value


class Policy(_Strict):
    """What students may learn, and when, of checks scored against labels they must not see."""

    hidden_label_checks: list[str] = Field(
        default_factory=list,
        description="Numbers of the checks scored against hidden labels (e.g. test-set accuracy). Until they are "
        "released a student sees neither their score nor their text, only what the check marked as well formed "
        "(Feedback.well_formed), and no total: resubmitting chosen answers would otherwise read the labels.",
    )
    withhold_until: Literal["due_date", "published"] = Field(
        "due_date",
        description="When those checks are released to students: the due date (never, without one) or publishing.",
    )

    @property
    def release(self) -> Visibility:
        """The Gradescope visibility that releases those checks when ``withhold_until`` does."""
        return Visibility.after_due_date if self.withhold_until == "due_date" else Visibility.after_published

    @property
    def pending_note(self) -> str:
        """What a student reads of such a check before its release, after what it marked as well formed
        (only the check can say that the file was received and well formed: it may be missing)."""
        when = "after the due date" if self.withhold_until == "due_date" else "once the grades are published"
        return f"The result of this check on the hidden test labels is shown {when}."

    def withholds(self, number: str, labelled: bool = False) -> bool:
        """Whether the check numbered ``number`` (or one the report marked ``labelled``) is label-derived."""
        return labelled or number in self.hidden_label_checks


class Environment(_Strict):
    """The students' environment: what the handout's set-up installs beyond the grader's own packages.

    It is built once per worker into a folder of its own (``grader env build``), mounted read-only into
    the sandbox and put on ``sys.path`` after the grader's packages, so that nothing in it can shadow
    the grader's torch or numpy.
    """

    packages: list[str] = Field(
        default_factory=list,
        description="Pip requirement strings, e.g. ['importlib_metadata', 'scikit-learn>=1.0', 'pandas']; never torch "
        "(the sandbox uses the grader's own pinned build).",
    )

    @field_validator("packages")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        names: set[str] = set()
        for text in value:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                raise ValueError(f"{text!r} is not a pip requirement: {exc}") from None
            if requirement.url:
                raise ValueError(f"{text!r}: a URL requirement cannot be cached by its text, name a version instead")
            name = canonicalize_name(requirement.name)
            if name in GRADER_OWNED:
                raise ValueError(
                    f"{text!r}: the sandbox uses the grader's own {name}, an environment must not install another"
                )
            if name in names:
                raise ValueError(f"{requirement.name!r} is declared twice")
            names.add(name)
        return value


#: Distributions the grader provides itself and no suite's environment may replace.
GRADER_OWNED = frozenset({"torch", "grader"})


class SuiteManifest(_Strict):
    """The manifest of one assignment's suite."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$", description="Assignment id used by the CLI and API, e.g. 'cs224n-a5'."
    )
    title: str = Field(description="Human-readable title.")
    description: str = Field("", description="What is graded, for the assignment page.")
    version: str = Field("1", description="Bumped when checks change, recorded in reports.")
    due_date: datetime | None = Field(
        None,
        description="After it, 'after_due_date' and 'hidden' checks are shown to students; later uploads are marked late.",
    )
    closes_at: datetime | None = Field(
        None, description="After it, uploads are refused (late submissions are accepted until then)."
    )
    published: bool = Field(False, description="When true, 'after_published' checks are shown to students.")
    total_points: float | None = Field(None, ge=0, description="If set, the checks' points must add up to it.")
    python_path: list[str] = Field(
        default_factory=list, description="Submission folders put on sys.path in the sandbox, e.g. ['src']."
    )
    check_files: list[str] = Field(
        default_factory=lambda: ["checks_*.py"],
        description="Globs, relative to the suite folder, of the modules that declare checks.",
    )
    files: FilesSpec = Field(default_factory=FilesSpec, description="Required and optional files.")
    resources: Resources = Field(default_factory=Resources, description="Queue, sandbox limits, time limits.")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Numbers the checks read (e.g. accuracy percentages), injected as 'config'."
    )
    notebooks: list[NotebookSpec] = Field(
        default_factory=list,
        description="Notebooks of the submission turned into modules of their definitions (see grader.engine.notebooks).",
    )
    policy: Policy = Field(
        default_factory=Policy,
        description="Checks scored against hidden labels, withheld from students until released.",
    )
    environment: Environment = Field(
        default_factory=Environment, description="The packages the handout's set-up installs, provided to the sandbox."
    )
    shared: list[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*(/[A-Za-z_][A-Za-z0-9_]*)+$")]
    ] = Field(
        default_factory=list,
        description="Helper packages of other suites this one imports, relative to the suites folder, e.g. "
        "'minbert/bertlib'; each is importable by its last name ('from .bertlib import probes').",
    )

    @field_validator("due_date", "closes_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A date written without a zone is UTC, so every comparison downstream is between aware datetimes.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def load_manifest(path: Path) -> SuiteManifest:
    """Read and validate a ``suite.toml``; every problem becomes a ``ManifestError`` naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return SuiteManifest.model_validate(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ManifestError(f"invalid suite manifest {path}", str(exc)) from exc
