"""A grading process imports its queues' suites when it starts, so the first job does not pay for it."""

from __future__ import annotations

import gc
import shutil
import sys
from pathlib import Path

import pytest
import torch

from grader.engine.suites import suite_package
from grader.worker.warm import preload_suites, start_process
from tests.utils.builders import settings_for

SUITES = Path(__file__).resolve().parents[2] / "files" / "suites"


def test_the_suites_of_the_queues_are_loaded_and_a_broken_one_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(SUITES / "toy", suites / "toy")
    shutil.copytree(SUITES / "visibility", suites / "visibility")
    gpu = suites / "visibility" / "suite.toml"
    gpu.write_text(gpu.read_text().replace("[resources]", '[resources]\nqueue = "gpu"', 1))
    shutil.copytree(SUITES / "toy", suites / "broken")
    manifest = suites / "broken" / "suite.toml"
    manifest.write_text(manifest.read_text().replace('id = "toy"', 'id = "broken"'))
    (suites / "broken" / "checks_toy.py").write_text("raise RuntimeError('a bug in staff code')\n")
    settings = settings_for(tmp_path / "data", suites_dir=suites)

    assert preload_suites(settings, ["cpu"]) == ["toy"]
    assert suite_package("toy") in sys.modules
    assert "could not preload suite broken" in caplog.text  # logged for staff; its jobs report it
    assert sorted(preload_suites(settings, ["cpu", "gpu"])) == ["toy", "visibility"]


def test_a_grading_process_runs_its_trusted_torch_on_the_configured_threads(tmp_path: Path) -> None:
    (tmp_path / "no-suites").mkdir()
    settings = settings_for(tmp_path / "data", suites_dir=tmp_path / "no-suites", worker_threads=1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        start_process(settings)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        gc.unfreeze()  # start_process froze this test process's objects too


def test_a_grading_process_freezes_what_its_imports_left_so_collections_skip_it(tmp_path: Path) -> None:
    (tmp_path / "no-suites").mkdir()
    settings = settings_for(tmp_path / "data", suites_dir=tmp_path / "no-suites")
    try:
        start_process(settings)
        assert gc.get_freeze_count() > 10_000  # torch's modules and objects at least
        assert len(gc.get_objects(generation=2)) < gc.get_freeze_count() // 10  # a full collection skips them
    finally:
        gc.unfreeze()
