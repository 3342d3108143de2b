"""What ``grader suite verify`` reads is well formed: each mutant's ``checks`` and forgery's ``targets`` (and
the checks their messages, partial credit and reach name) are checks of the suite, each spec's edits have a
declared reach that covers what it declares (so a shared grading proves what a separate one would), and
the packs cover every spec once. Nothing is graded here: the suite tests grade them."""

from __future__ import annotations

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_suite
from grader.engine.verify import plan, read_missing_artifacts
from grader.engine.verify_specs import KINDS, edited_files, load_specs, read_verify_toml, spec_names

SUITES = ("cs224n_a5", "csc413_a3", "gsds_a4", "minbert")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("folder", SUITES)
def test_every_spec_names_checks_of_its_suite_within_its_reach(folder: str, kind: str) -> None:
    reference = PROJECT_ROOT / "reference_solutions" / folder
    numbers = {c.number for c in load_suite(PROJECT_ROOT / "test_suites" / folder).checks}
    specs = load_specs(reference, kind, read_verify_toml(reference).get("reach", {}))
    assert specs and [s.name for s in specs] == spec_names(reference, KINDS[kind][0])
    for spec in specs:
        assert spec.data["description"] and spec.data["bug_class"], spec.name
        assert spec.expected <= numbers, spec.name
        assert kind == "mutant" or spec.expected, f"forgery {spec.name} targets nothing"
        named = set(spec.data.get("message_contains", {})) | set(spec.data.get("partial", {}))
        assert named <= numbers and set(spec.data.get("reaches", [])) <= numbers, spec.name
        assert spec.reach is not None, f"{spec.name}: no declared reach for {sorted(edited_files(spec.data))}"
        assert spec.expected <= spec.reach, f"{spec.name} declares checks its edits do not reach"
        if folder == "csc413_a3" and kind == "forgery":
            assert spec.bug_class.startswith("forgery"), spec.name


@pytest.mark.parametrize("folder", SUITES)
def test_the_reach_names_submitted_files_and_checks(folder: str) -> None:
    reference = PROJECT_ROOT / "reference_solutions" / folder
    numbers = {c.number for c in load_suite(PROJECT_ROOT / "test_suites" / folder).checks}
    reach: dict[str, list[str]] = read_verify_toml(reference)["reach"]
    written = {f for kind in KINDS for s in load_specs(reference, kind, reach) for f in edited_files(s.data)}
    assert all((reference / f).is_file() or f in written for f in reach), sorted(reach)
    assert all(set(checks) <= numbers for checks in reach.values())
    assert read_missing_artifacts(reference) <= numbers


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("folder", SUITES)
def test_the_shared_gradings_cover_every_spec_once(folder: str, kind: str) -> None:
    reference = PROJECT_ROOT / "reference_solutions" / folder
    packs = plan(load_suite(PROJECT_ROOT / "test_suites" / folder), reference, kind)
    assert sorted(s.name for group in packs for s in group) == spec_names(reference, KINDS[kind][0])
    for group in packs:  # mutants: no check reached twice; forgeries: no target reached by another
        for a in group:
            for b in group:
                if a is not b:
                    assert a.reach is not None and b.reach is not None
                    assert not (a.reach & (b.reach if kind == "mutant" else b.expected)), (a.name, b.name)
