"""bench/suites.py run tiny (one suite, its reference, one round in each mode), so the script cannot rot."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import suites


def test_every_suites_mutants_apply_to_its_reference(tmp_path: Path) -> None:
    for suite in suites.SUITES:
        labelled = suites.zips(suite, 2, tmp_path)
        assert [label for label, _ in labelled] == ["reference", *suites.mutant_names(suite)[:2]]
        assert len({data for _, data in labelled}) == 3  # each mutant changed something


@pytest.mark.bwrap
@pytest.mark.service
@pytest.mark.slow
def test_suites_benchmark_grades_a_reference_warm_then_cold() -> None:
    result = suites.main(["--suites", "minbert", "--mutants", "0", "--rounds", "1", "--gap", "3"])
    warm, cold = result["rows"][::2]  # per mode: all its submissions, then its references alone
    assert (warm["mode"], cold["mode"]) == ("warm", "cold")
    assert warm["warm"] == 1 and cold["warm"] == 0  # grader serve's default pool served it; the cold service had none
    assert warm["scores"] == cold["scores"] and len(warm["scores"]) == 1  # the same verdict either way
    for row in (warm, cold):
        assert 0 < row["median_s"] < 300 and math.isfinite(row["p95_s"])
        assert set(row["phases"]) == {"queue", "unpack", "notebooks", "sandbox", "checks", "worker"}
        assert all(v >= 0 for v in row["phases"].values()) and row["checks"]
    assert warm["phases"]["sandbox"] < cold["phases"]["sandbox"]  # a hand-out, not a start
