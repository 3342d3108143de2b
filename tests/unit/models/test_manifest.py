"""Tests for grader.models.manifest: suite.toml parsing, validation errors and self-documentation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from grader.engine.suites import load_suite
from grader.errors import ManifestError, SuiteError
from grader.models.manifest import FilesSpec, Policy, Resources, SuiteManifest, load_manifest
from grader.models.visibility import Visibility

MINIMAL = 'id = "cs101-a1"\ntitle = "Assignment 1"\n'

FULL = """
id = "cs224n-a5"
title = "CS224N A5"
description = "Span corruption and the Perceiver."
version = "3"
due_date = 2024-03-01T23:59:00Z
closes_at = 2024-03-04T23:59:00Z
published = true
total_points = 10.5
python_path = ["src", "lib"]
check_files = ["checks_*.py", "extra/*.py"]

[files]
required = ["src/model.py", "src/*.py"]
optional = ["*.predictions"]
root_marker = "src/run.py"

[resources]
queue = "gpu"
total_timeout_seconds = 900

[resources.limits]
memory_bytes = 8589934592
wall_seconds = 600

[thresholds]
dev_accuracy = 10.0
test_accuracy = 5
"""


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rejected(path: Path) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value), "the error must name the file"
    assert str(path) in info.value.student_message
    return info.value


# ----------------------------------------------------------------------------- valid manifests


def test_minimal_manifest_gets_documented_defaults(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, MINIMAL))
    assert (m.id, m.title) == ("cs101-a1", "Assignment 1")
    assert m.description == "" and m.version == "1"
    assert m.due_date is None and m.closes_at is None and m.published is False and m.total_points is None
    assert m.python_path == [] and m.check_files == ["checks_*.py"]
    assert m.files == FilesSpec(required=[], optional=[], root_marker=None)
    assert m.resources == Resources(queue="cpu", limits={}, total_timeout_seconds=1800)
    assert m.thresholds == {}


def test_full_manifest_reads_every_field(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, FULL))
    assert m.id == "cs224n-a5"
    assert m.version == "3"
    assert m.due_date == datetime.fromisoformat("2024-03-01T23:59:00+00:00")
    assert m.closes_at == datetime.fromisoformat("2024-03-04T23:59:00+00:00")
    assert m.published is True
    assert m.total_points == 10.5
    assert m.python_path == ["src", "lib"]
    assert m.check_files == ["checks_*.py", "extra/*.py"]
    assert m.files.required == ["src/model.py", "src/*.py"]
    assert m.files.optional == ["*.predictions"]
    assert m.files.root_marker == "src/run.py"
    assert m.resources.queue == "gpu"
    assert m.resources.total_timeout_seconds == 900
    assert m.resources.limits == {"memory_bytes": 8589934592, "wall_seconds": 600}
    assert m.thresholds == {"dev_accuracy": 10.0, "test_accuracy": 5.0}


def test_manifest_is_frozen(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, MINIMAL))
    with pytest.raises(ValueError):
        m.title = "changed"  # type: ignore[misc]


def test_manifest_path_may_be_any_file_name(tmp_path: Path) -> None:
    assert load_manifest(write(tmp_path, MINIMAL, "other.toml")).id == "cs101-a1"


# ----------------------------------------------------------------------------- invalid manifests


@pytest.mark.parametrize("bad_id", ["CS101", "-a1", "a_1", "a 1", "", "a1/..", "é"])
def test_invalid_id_pattern_is_a_manifest_error_naming_the_file(tmp_path: Path, bad_id: str) -> None:
    exc = rejected(write(tmp_path, f'id = "{bad_id}"\ntitle = "t"\n'))
    assert "id" in exc.staff_detail


def test_unknown_top_level_key_is_a_manifest_error(tmp_path: Path) -> None:
    exc = rejected(write(tmp_path, MINIMAL + "totl_points = 10\n"))
    assert "totl_points" in exc.staff_detail


def test_unknown_key_in_files_is_a_manifest_error(tmp_path: Path) -> None:
    exc = rejected(write(tmp_path, MINIMAL + '[files]\nrequire = ["a.py"]\n'))
    assert "require" in exc.staff_detail


def test_unknown_key_in_resources_is_a_manifest_error(tmp_path: Path) -> None:
    rejected(write(tmp_path, MINIMAL + "[resources]\ntimeout = 3\n"))


def test_bad_toml_is_a_manifest_error_naming_the_file(tmp_path: Path) -> None:
    rejected(write(tmp_path, 'id = "a"\ntitle = \n'))


def test_missing_file_is_a_manifest_error_naming_the_file(tmp_path: Path) -> None:
    rejected(tmp_path / "suite.toml")


def test_a_directory_instead_of_a_file_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").mkdir()
    rejected(tmp_path / "suite.toml")


def test_non_utf8_file_is_a_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_bytes(b'id = "a"\ntitle = "\xff"\n')
    rejected(path)


def test_missing_title_is_a_manifest_error(tmp_path: Path) -> None:
    exc = rejected(write(tmp_path, 'id = "a1"\n'))
    assert "title" in exc.staff_detail


@pytest.mark.parametrize(
    "extra",
    [
        '[resources]\nqueue = "tpu"\n',
        "[resources]\ntotal_timeout_seconds = 0\n",
        "total_points = -1\n",
        'python_path = "src"\n',
        "published = 3\n",
    ],
)
def test_out_of_range_or_mistyped_values_are_manifest_errors(tmp_path: Path, extra: str) -> None:
    rejected(write(tmp_path, MINIMAL + extra))


def test_manifest_error_is_a_suite_error() -> None:
    assert issubclass(ManifestError, SuiteError)


def test_unknown_sandbox_limit_is_rejected_when_the_manifest_is_loaded(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        load_manifest(write(tmp_path, MINIMAL + "[resources.limits]\nmemroy_bytes = 1\n"))


# ----------------------------------------------------------------------------- self-documentation


@pytest.mark.parametrize("model", [SuiteManifest, FilesSpec, Resources, Policy])
def test_every_manifest_field_has_a_description(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert undocumented == []


@pytest.mark.parametrize("model", [SuiteManifest, FilesSpec, Resources, Policy])
def test_every_manifest_model_has_a_docstring(model: type[BaseModel]) -> None:
    assert (model.__doc__ or "").strip()


def test_sub_models_are_the_types_of_the_manifest_fields() -> None:
    assert SuiteManifest.model_fields["files"].annotation is FilesSpec
    assert SuiteManifest.model_fields["resources"].annotation is Resources


# ----------------------------------------------------------------------------- hidden-label policy


def test_the_policy_withholds_nothing_by_default_and_waits_for_the_due_date(tmp_path: Path) -> None:
    policy = load_manifest(write(tmp_path, MINIMAL)).policy
    assert policy == Policy(hidden_label_checks=[], withhold_until="due_date")
    assert policy.release is Visibility.after_due_date and not policy.withholds("4.4")
    assert policy.withholds("4.4", labelled=True)  # a report that marked it keeps it withheld


def test_the_policy_names_checks_and_when_they_are_released(tmp_path: Path) -> None:
    text = MINIMAL + '[policy]\nhidden_label_checks = ["4.4", "4.6"]\nwithhold_until = "published"\n'
    policy = load_manifest(write(tmp_path, text)).policy
    assert policy.withholds("4.4") and policy.withholds("4.6") and not policy.withholds("4.3")
    assert policy.release is Visibility.after_published and "published" in policy.pending_note


@pytest.mark.parametrize(
    "extra",
    ['[policy]\nwithhold_until = "never"\n', "[policy]\nhidden_label_checks = 4.4\n", "[policy]\nlabel_checks = []\n"],
)
def test_a_bad_policy_is_a_manifest_error(tmp_path: Path, extra: str) -> None:
    rejected(write(tmp_path, MINIMAL + extra))


def test_a_policy_naming_no_check_of_the_suite_fails_to_load(tmp_path: Path) -> None:
    # A mistyped number would silently leave a label-derived figure visible to students.
    write(tmp_path, MINIMAL + '[policy]\nhidden_label_checks = ["1", "4.4"]\n')
    write(
        tmp_path,
        "from grader.authoring import check\n\n@check(name='c', number='1', points=1)\ndef c():\n    pass\n",
        "checks_a.py",
    )
    with pytest.raises(SuiteError, match="hidden_label_checks names no check numbered 4.4"):
        load_suite(tmp_path)
