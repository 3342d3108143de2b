"""Each benchmark run tiny, so the scripts cannot rot: they run end to end and report sane numbers."""

from __future__ import annotations

import math

import pytest

from bench import burst, overhead, rpc


@pytest.mark.bwrap
def test_rpc_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    summary = rpc.main(["--calls", "50", "--sizes", "4096", "--echoes", "2"])
    assert summary["rpc_p50_us"] > 0 and summary["pipe_p50_us"] > 0 and summary["echo_4096_mib_s"] > 0
    assert "tensor echo" in capsys.readouterr().out


@pytest.mark.bwrap
def test_overhead_benchmark_runs_in_process_and_with_the_warm_pool(capsys: pytest.CaptureFixture[str]) -> None:
    summary = overhead.main(["--suite", "light", "--repeat", "1", "--gap", "0", "--modes", "inproc,engine-warm"])
    assert summary["inproc"] == 0 and math.isfinite(summary["engine-warm"])
    out = capsys.readouterr().out
    assert "2/2" in out  # both the baseline and the sandboxed run give the light reference full marks


@pytest.mark.bwrap
@pytest.mark.service
@pytest.mark.slow
def test_burst_benchmark_loses_and_duplicates_nothing() -> None:
    # on a schedule (--spread), the harder path: the closed loop is the same with every slot at once
    result = burst.main(
        [
            "--submissions",
            "4",
            "--clients",
            "2",
            "--workers",
            "2",
            "--pool",
            "1",
            "--warmup",
            "0",
            "--spread",
            "3",
            "--rounds",
            "2",
            "--round-gap",
            "0",
        ]
    )
    assert result["upload_window_s"] >= 2 * (3 * 3 / 4 - 0.1)  # in each round the last upload waited for its slot
    assert result["accepted"] == result["graded"] == result["full_marks"] == 8  # two rounds of 4
    assert 0 < result["round_p99_median_ms"] <= result["upload_max_ms"]
    assert result["lost"] == 0 and result["duplicated"] == 0 and result["refused"] == 0
    assert result["orphans"] == 0  # Ctrl-C on grader serve leaves no worker, agent or warm sandbox behind
    assert result["from_warm_pool"] >= 1  # the workers' pools were used
    assert 0 < result["efficiency"] <= 1.5 and result["upload_p99_ms"] > 0
    # No bound on the sum of the shares: a process reaped inside the window counts its whole life through
    # its parent (the other test process's sandboxes), as in tests/bench/test_cpu_split.py.
    assert result["cpu_api"] > 0 and all(v >= 0 for k, v in result.items() if k.startswith("cpu_"))
