"""``[environment]`` in suite.toml, the hash that names a built environment, and what a worker lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.config import PROJECT_ROOT
from grader.engine.environments import environment_key, environment_status, grader_distributions
from grader.errors import ManifestError
from grader.models.manifest import Environment, load_manifest

SUITES = PROJECT_ROOT / "test_suites"


def test_a_manifest_without_the_table_declares_nothing(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text('id = "x"\ntitle = "X"\n')
    assert load_manifest(tmp_path / "suite.toml").environment.packages == []


def test_the_table_is_read_as_requirement_strings(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text(
        'id = "x"\ntitle = "X"\n[environment]\npackages = ["importlib_metadata>=3.7", "scikit-learn", "pandas<4; python_version >= \'3.9\'"]\n'
    )
    assert load_manifest(tmp_path / "suite.toml").environment.packages == [
        "importlib_metadata>=3.7",
        "scikit-learn",
        "pandas<4; python_version >= '3.9'",
    ]


@pytest.mark.parametrize(
    ("packages", "phrase"),
    [
        (["scikit-learn>=>1"], "is not a pip requirement"),
        (["torch==2.1"], "the sandbox uses the grader's own torch"),
        (["Torch"], "the sandbox uses the grader's own torch"),
        (["pandas", "Pandas>=2"], "declared twice"),
        (["mypkg @ https://example.org/mypkg.whl"], "a URL requirement"),
    ],
)
def test_bad_declarations_fail_when_the_suite_loads(packages: list[str], phrase: str) -> None:
    with pytest.raises(ValidationError, match=phrase):
        Environment(packages=packages)


def test_an_unknown_key_in_the_table_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text('id = "x"\ntitle = "X"\n[environment]\npackage = ["pandas"]\n')
    with pytest.raises(ManifestError):
        load_manifest(tmp_path / "suite.toml")


def test_the_key_ignores_order_and_name_spelling_but_not_the_list() -> None:
    key = environment_key(["scikit-learn>=1.0", "importlib_metadata"])
    assert key == environment_key(["importlib-metadata", "Scikit_Learn>=1.0"])
    assert key != environment_key(["scikit-learn>=1.1", "importlib_metadata"])
    assert key != environment_key(["scikit-learn>=1.0"])
    assert len(key) == 16 and int(key, 16) >= 0


def test_nothing_is_lacking_that_the_graders_own_venv_provides(tmp_path: Path) -> None:
    assert "tqdm" in grader_distributions() and "torch" in grader_distributions()
    status = environment_status(Environment(packages=["tqdm>=4", "importlib_metadata>=3.7"]), tmp_path)
    assert not status.built and status.mount is None
    assert status.lacking == ("importlib_metadata>=3.7",)
    assert status.lacking_message() == (
        "the grader's environment for this assignment lacks importlib_metadata>=3.7; staff: run `grader env build`"
    )


def test_a_version_the_graders_venv_cannot_satisfy_is_lacking(tmp_path: Path) -> None:
    # The grader's own packages come first on the sandbox's sys.path: a declared range they miss is a gap.
    assert environment_status(Environment(packages=["tqdm<1"]), tmp_path).lacking == ("tqdm<1",)


def test_an_empty_declaration_is_never_built_nor_lacking(tmp_path: Path) -> None:
    status = environment_status(Environment(), tmp_path)
    assert (status.built, status.lacking, status.mount) == (False, (), None)


def test_the_installed_suites_declare_the_handouts_packages() -> None:
    declared = {m.id: m.environment.packages for m in (load_manifest(p) for p in sorted(SUITES.glob("*/suite.toml")))}
    names = {aid: {p.split(">")[0].split("=")[0].split("<")[0] for p in packages} for aid, packages in declared.items()}
    # The minbert starter: utils.py imports importlib_metadata; classifier.py sklearn.metrics (2021/2022) or pandas (2023).
    assert {"importlib_metadata", "scikit-learn", "pandas"} <= names["minbert"]
    assert declared["gsds-a4"] == declared["minbert"]  # q2 is the minbert starter: one shared environment
    assert {"pandas", "scikit-learn"} <= names["csc413-a3"]
    assert "tensorboard" not in names["cs224n-a5"]  # run.py's SummaryWriter keeps its no-op stand-in (staging.STUBS)
