"""bench/deadline.py: its ideal schedule, and the whole run tiny (one suite, two students, one worker)."""

from __future__ import annotations

import math

import pytest

from bench import deadline


def test_ideal_drain_is_first_come_first_served_on_each_server() -> None:
    assert deadline.ideal_drain([(0, 10), (0, 10), (0, 10)], workers=2) == 20  # the third waits for a server
    assert deadline.ideal_drain([(0, 1), (30, 1)], workers=1) == 31  # an idle gap is not the service's fault
    assert deadline.ideal_drain([(5, 2), (0, 4)], workers=1) == 7  # arrivals are taken in time order
    assert deadline.ideal_drain([], workers=2) == 0


@pytest.mark.bwrap
@pytest.mark.service
@pytest.mark.slow
def test_deadline_benchmark_loses_and_duplicates_nothing() -> None:
    result = deadline.main(
        ["--submissions", "2", "--workers", "1", "--minutes", "0.05", "--suites", "minbert", "--mutants", "1"]
    )
    assert result["accepted"] == result["graded"] == 2 and result["refused"] == 0
    assert result["lost"] == 0 and result["duplicated"] == 0 and result["graded_error"] == 0
    assert 0 < result["ideal_drain_s"] <= result["drain_s"] * 1.05 and 0 < result["efficiency"] <= 1.05
    assert result["cost_minbert_s"] > 0 and math.isfinite(result["mean_cost_s"])
    projected = [v for k, v in result.items() if k.startswith("projected_")]
    assert len(projected) == 6 and all(v > 0 for v in projected)
    # more workers drain faster, more students take longer
    assert result["projected_400_students_32_workers_min"] < result["projected_400_students_2_workers_min"]
    assert result["projected_1000_students_8_workers_min"] > result["projected_400_students_8_workers_min"]
