"""Warm-pool pieces that need no sandbox: profiles, settings, the manifest's preload, the agent's start gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.config import Settings
from grader.models.limits import SandboxLimits
from grader.models.manifest import SuiteManifest
from grader.sandbox.agent.server import Agent
from grader.sandbox.launcher import SandboxSpec
from grader.sandbox.pool import WarmProfile
from grader.worker.warm import initial_targets
from tests.utils.builders import TOY_SUITES, settings_for


def test_profile_ignores_the_submission_and_its_import_path() -> None:
    a = SandboxSpec(Path("/a"), ("src",), SandboxLimits())
    b = SandboxSpec(Path("/b"), (".",), SandboxLimits())
    assert WarmProfile.of(a) == WarmProfile.of(b)
    assert WarmProfile.of(a) != WarmProfile.of(SandboxSpec(Path("/a"), (), SandboxLimits(pids=8)))
    assert WarmProfile.of(a) != WarmProfile.of(SandboxSpec(Path("/a"), (), preload=("transformers",)))
    assert WarmProfile.of(SandboxSpec(Path("/a"), gpu=True)).queue == "gpu"


def test_pool_sizes_per_queue_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(env="test").warm_pool == {}
    monkeypatch.setenv("GRADER_WARM_POOL__CPU", "2")
    assert Settings(env="test").warm_pool == {"cpu": 2}
    monkeypatch.delenv("GRADER_WARM_POOL__CPU")
    monkeypatch.setenv("GRADER_WARM_POOL", '{"cpu": 1, "gpu": 0}')
    assert Settings(env="test").warm_pool == {"cpu": 1, "gpu": 0}
    monkeypatch.setenv("GRADER_WARM_POOL", '{"cpu": -1}')
    with pytest.raises(ValidationError):
        Settings(env="test")


def test_manifest_preload_takes_module_names_only() -> None:
    base = {"id": "x", "title": "X"}
    manifest = SuiteManifest.model_validate(base | {"resources": {"preload": ["transformers", "torch.nn"]}})
    assert manifest.resources.preload == ["transformers", "torch.nn"]
    with pytest.raises(ValidationError):
        SuiteManifest.model_validate(base | {"resources": {"preload": ["os; import sys"]}})


def test_a_deferred_agent_does_nothing_before_it_is_started_and_starts_once() -> None:
    started: list[list[str]] = []
    agent = Agent(start=started.append)
    refused = agent.handle({"op": "import", "id": 1, "module": "os"})
    assert refused["ok"] is False and "unknown op" in refused["error"]["message"]
    assert agent.handle({"op": "hello", "id": 2})["ok"] is True
    assert agent.handle({"op": "start", "id": 3, "python_path": ["src"]})["ok"] is True
    assert started == [["src"]]
    again = agent.handle({"op": "start", "id": 4, "python_path": ["."]})
    assert again["ok"] is False and started == [["src"]]
    assert agent.handle({"op": "len", "id": 5, "target": [1, 2]})["value"] == 2


def test_an_ordinary_agent_refuses_start() -> None:
    assert Agent().handle({"op": "start", "id": 1, "python_path": []})["ok"] is False


def test_initial_targets_one_profile_per_queue_served(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, suites_dir=TOY_SUITES)
    specs = initial_targets(settings, ["cpu"])
    assert len(specs) == 1 and not specs[0].gpu
    assert initial_targets(settings, ["gpu"]) == []
