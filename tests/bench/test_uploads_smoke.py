"""``bench/uploads.py`` run tiny, so it cannot rot: both routes take every upload, and the table is printed."""

from __future__ import annotations

import pytest

from bench import uploads


@pytest.mark.bwrap
@pytest.mark.service
@pytest.mark.slow
def test_upload_benchmark_runs_both_routes_without_errors(capsys: pytest.CaptureFixture[str]) -> None:
    result = uploads.main(
        ["--rate", "5", "--seconds", "3", "--workers", "1", "--busy", "light", "--busy-outstanding", "2"]
    )
    for route in ("grader", "bare"):
        assert result[f"errors_{route}"] == 0 and result[f"uploads_{route}"] == 15
        assert 0 < result[f"p50_ms_{route}"] <= result[f"p95_ms_{route}"] <= result[f"p99_ms_{route}"]
        assert result[f"cpu_ms_{route}"] > 0  # the route's own processes were found and measured
    # The phases begin only once the workers are grading the TA's submissions (BusyWorkers.wait_running
    # raises otherwise); whether one is still being graded, or finished, during a 3 s phase of a light
    # suite depends on the machine's load and on the students' uploads queued ahead of the TA's.
    assert {"busy_start_grader", "graded_grader", "graded_bare"} <= set(result)
    out = capsys.readouterr().out
    assert "15 uploads of" in out and "route" in out and "p99 ms" in out
    assert out.count("\ngrader ") == 1 and out.count("\nbare FastAPI ") == 1
    assert "target: grader p99 <= 100 ms:" in out
