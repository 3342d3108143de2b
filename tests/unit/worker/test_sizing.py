"""The default warm pool of ``grader serve``: one per queue per grading process while memory allows."""

from __future__ import annotations

from pathlib import Path

from grader.worker.sizing import MEMORY_SHARE, WARM_SANDBOX_BYTES, available_memory, default_warm_pool

GIB = 2**30


def test_one_warm_sandbox_per_queue_per_process_when_memory_allows() -> None:
    assert default_warm_pool(["cpu", "gpu"], processes=2, memory=24 * GIB, cores=2) == {"cpu": 1, "gpu": 1}


def test_cpu_is_kept_warm_before_gpu_when_memory_is_short() -> None:
    memory = int(2 * WARM_SANDBOX_BYTES / MEMORY_SHARE)  # room for exactly two warm sandboxes
    assert default_warm_pool(["gpu", "cpu"], processes=2, memory=memory, cores=4) == {"cpu": 1, "gpu": 0}
    assert default_warm_pool(["cpu"], processes=3, memory=memory, cores=4) == {"cpu": 0}


def test_no_pool_on_one_core_or_unknown_memory() -> None:
    assert default_warm_pool(["cpu"], processes=1, memory=64 * GIB, cores=1) == {"cpu": 0}
    assert default_warm_pool(["cpu"], processes=1, memory=0, cores=8) == {"cpu": 0}


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    1000 kB\n")
    assert available_memory(meminfo) == 1000 * 1024
    assert available_memory(tmp_path / "absent") == 0
    assert available_memory() > 0  # this machine's
