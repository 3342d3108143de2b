"""Each mutant's toml declares the checks it must fail (``checks``, read by ``grader suite verify``); they are
the suite tests' ``EXPECTED`` sets, and every declared number is a check of its suite."""

from __future__ import annotations

import importlib

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_suite
from grader.engine.verify import read_missing_artifacts, read_spec, spec_names

SUITES = {"cs224n_a5": "test_cs224n_a5", "csc413_a3": "test_csc413_a3", "gsds_a4": "test_gsds_a4", "minbert": "test_minbert"}


@pytest.mark.parametrize("folder", sorted(SUITES))
def test_every_mutant_declares_the_checks_its_suite_test_expects(folder: str) -> None:
    expected = importlib.import_module(f"tests.suites.{SUITES[folder]}").EXPECTED
    reference = PROJECT_ROOT / "reference_solutions" / folder
    numbers = {c.number for c in load_suite(PROJECT_ROOT / "test_suites" / folder).checks}
    assert spec_names(reference, "mutants") == sorted(expected)
    for name, value in expected.items():
        declared = set(read_spec(reference, "mutants", name)["checks"])
        assert declared == (value[0] if isinstance(value, tuple) else value), name
        assert declared <= numbers, name
    assert read_missing_artifacts(reference) <= numbers
