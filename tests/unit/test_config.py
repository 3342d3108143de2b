"""Tests for grader.config: the unsafe-backend guard, environment variables, and the one-reader rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.config import PROJECT_ROOT, Settings, get_settings
from grader.models.limits import SandboxLimits, Timeouts

GRADER_DIR = PROJECT_ROOT / "grader"


# ----------------------------------------------------------------------------- the unsafe backend


def test_insecure_backend_is_refused_in_production() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(env="production", sandbox_backend="insecure-subprocess")
    assert "GRADER_ENV=development" in str(info.value)


def test_insecure_backend_is_refused_in_the_test_environment() -> None:
    with pytest.raises(ValidationError, match="GRADER_ENV=development"):
        Settings(env="test", sandbox_backend="insecure-subprocess")


def test_insecure_backend_is_refused_by_default() -> None:
    with pytest.raises(ValidationError):
        Settings(sandbox_backend="insecure-subprocess")


def test_insecure_backend_is_allowed_in_development() -> None:
    settings = Settings(env="development", sandbox_backend="insecure-subprocess")
    assert settings.sandbox_backend == "insecure-subprocess"


@pytest.mark.parametrize("env", ["production", "development", "test"])
def test_bwrap_backend_is_allowed_everywhere(env: str) -> None:
    assert Settings(env=env).sandbox_backend == "bwrap"  # type: ignore[arg-type]


def test_unknown_environment_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(env="staging")  # type: ignore[arg-type]


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(sandbox_backend="docker")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- defaults


def test_defaults_are_production_with_bubblewrap() -> None:
    settings = Settings()
    assert settings.env == "production"
    assert settings.sandbox_backend == "bwrap"
    assert settings.bwrap_path == "bwrap"
    assert settings.sandbox_uid_base == 200_000


def test_default_paths_are_inside_the_project() -> None:
    settings = Settings()
    assert settings.suites_dir == PROJECT_ROOT / "test_suites"
    assert settings.data_dir == PROJECT_ROOT / "var"
    assert settings.scratch_dir == PROJECT_ROOT / "var" / "scratch"


def test_default_limits_and_timeouts_are_the_models_defaults() -> None:
    settings = Settings()
    assert settings.limits == SandboxLimits()
    assert settings.timeouts == Timeouts()


def test_every_setting_is_documented() -> None:
    assert [name for name, f in Settings.model_fields.items() if not f.description] == []


# ----------------------------------------------------------------------------- the environment


def test_environment_selects_the_insecure_backend_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_ENV", "development")
    monkeypatch.setenv("GRADER_SANDBOX_BACKEND", "insecure-subprocess")
    settings = Settings()
    assert (settings.env, settings.sandbox_backend) == ("development", "insecure-subprocess")


def test_environment_cannot_select_the_insecure_backend_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SANDBOX_BACKEND", "insecure-subprocess")
    with pytest.raises(ValidationError, match="GRADER_ENV=development"):
        Settings()


def test_environment_sets_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRADER_SUITES_DIR", str(tmp_path / "suites"))
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GRADER_BWRAP_PATH", "/opt/bin/bwrap")
    settings = Settings()
    assert settings.suites_dir == tmp_path / "suites"
    assert settings.scratch_dir == tmp_path / "state" / "scratch"
    assert settings.bwrap_path == "/opt/bin/bwrap"


def test_environment_sets_nested_limits_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_LIMITS__MEMORY_BYTES", "1073741824")
    monkeypatch.setenv("GRADER_TIMEOUTS__PER_CALL", "5.5")
    settings = Settings()
    assert settings.limits.memory_bytes == 2**30
    assert settings.limits.pids == SandboxLimits().pids
    assert settings.timeouts.per_call == 5.5


def test_environment_values_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_LIMITS__PIDS", "-3")
    with pytest.raises(ValidationError):
        Settings()


def test_environment_variable_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("grader_env", "test")
    assert Settings().env == "test"


def test_redis_url_is_read_from_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    assert Settings().redis_url == "redis://cache:6379/0"


def test_redis_url_is_also_read_from_grader_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_REDIS_URL", "redis://other:6379/1")
    assert Settings().redis_url == "redis://other:6379/1"


def test_redis_url_is_unset_by_default() -> None:
    assert Settings().redis_url is None


def test_worker_queues_are_split_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_WORKER_QUEUES", " gpu , ,cpu")
    assert Settings().queues == ["gpu", "cpu"]


def test_blob_folder_defaults_to_the_data_folder(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).blobs == tmp_path / "blobs"
    assert Settings(data_dir=tmp_path, blob_dir=tmp_path / "shared").blobs == tmp_path / "shared"


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "development")
    monkeypatch.setenv("SANDBOX_BACKEND", "insecure-subprocess")
    assert (Settings().env, Settings().sandbox_backend) == ("production", "bwrap")


def test_explicit_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_ENV", "test")
    assert Settings(env="development").env == "development"


def test_get_settings_is_read_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_ENV", "test")
    first = get_settings()
    monkeypatch.setenv("GRADER_ENV", "development")
    assert get_settings() is first
    assert first.env == "test"


def test_get_settings_rereads_after_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_ENV", "test")
    get_settings()
    monkeypatch.setenv("GRADER_ENV", "development")
    get_settings.cache_clear()
    assert get_settings().env == "development"


def test_the_suite_starts_without_grader_variables() -> None:
    import os

    assert [k for k in os.environ if k.upper().startswith("GRADER_") or k.upper() == "REDIS_URL"] == []


# ----------------------------------------------------------------------------- only config reads the environment


ENV_READERS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_access(path: Path) -> list[str]:
    """Lines of ``path`` that touch os.environ / os.getenv (attribute access or ``from os import ...``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_READERS
            and isinstance(node.value, ast.Name)
            and node.value.id in ("os", "posix", "_os")
        ):
            found.append(f"{path.name}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix"):
            found += [f"{path.name}:{node.lineno} from os import {a.name}" for a in node.names if a.name in ENV_READERS]
    return found


#: Known breaches of the rule, each checked on its own below so that the guard still covers every other module.


def test_no_module_but_config_reads_the_environment() -> None:
    exempt = {GRADER_DIR / "config.py"}
    offenders = {
        path.relative_to(PROJECT_ROOT).as_posix(): environment_access(path)
        for path in sorted(GRADER_DIR.rglob("*.py"))
        if path not in exempt and environment_access(path)
    }
    assert offenders == {}


def test_the_environment_scan_catches_each_spelling(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom os import getenv\nos.environ['A']\nos.getenv('B')\nos.environ.get('C')\n")
    assert len(environment_access(sample)) == 4


def test_the_environment_scan_ignores_docstrings_and_comments(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Nothing else calls ``os.environ``."""\n# os.getenv is not used\n')
    assert environment_access(sample) == []
