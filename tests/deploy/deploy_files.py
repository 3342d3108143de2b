"""Shared helpers for the deployment tests: the repository's compose files, loaded as YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from grader.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
OVERRIDE = PROJECT_ROOT / "docker-compose.override.yml"
DOCKER_DIR = PROJECT_ROOT / "docker"


def load(path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file as plain data (PyYAML resolves the anchors and `<<` merge keys)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """A service's volumes as {target: (source, read_only)}, from the short or the long syntax."""
    found: dict[str, tuple[str, bool]] = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target, *mode = entry.split(":")
            found[target] = (source, bool(mode) and "ro" in mode[0].split(","))
        else:
            found[entry["target"]] = (entry["source"], bool(entry.get("read_only", False)))
    return found


def interpolate(value: object, env: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}`` substitution, from ``env``."""
    env = env or {}

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} must be set: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value))
