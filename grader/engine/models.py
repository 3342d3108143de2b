"""The operator's Hugging Face model cache: which models cache-gated checks can use.

Only the cache's standard layout is read (``hub/models--ORG--NAME/snapshots/<rev>/config.json``);
nothing is ever downloaded: graders run offline.
"""

from __future__ import annotations

from pathlib import Path

from grader.authoring.checks import CheckSpec


def model_dir_name(model_id: str) -> str:
    return "models--" + model_id.replace("/", "--")


def is_cached(model_id: str, hf_home: Path | None) -> bool:
    """True when a snapshot of ``model_id`` with its ``config.json`` is in the cache."""
    if hf_home is None:
        return False
    snapshots = hf_home / "hub" / model_dir_name(model_id) / "snapshots"
    return any(snapshots.glob("*/config.json"))


def missing_models(spec: CheckSpec, hf_home: Path | None) -> list[str]:
    """The models ``spec`` needs that the cache lacks (empty when it can run)."""
    return [m for m in spec.models if not is_cached(m, hf_home)]
