"""A built students' environment holds its bytecode: the sandbox (``python -B``, read-only) cannot write it."""

from __future__ import annotations

import json
from pathlib import Path

from grader.engine.environments import RECORD, SITE, build_environment, environment_key
from grader.models.manifest import Environment


def test_an_environment_built_without_bytecode_is_compiled_once(tmp_path: Path) -> None:
    environment = Environment(packages=["h3demo>=1"])
    folder = tmp_path / environment_key(environment.packages)
    (folder / SITE / "h3demo").mkdir(parents=True)
    (folder / SITE / "h3demo" / "__init__.py").write_text("VALUE = 1\n")
    (folder / SITE / "broken.py").write_text("def (:\n")  # one file that does not compile spoils nothing
    (folder / RECORD).write_text(json.dumps({"packages": environment.packages, "installer": "uv"}))

    status = build_environment(environment, tmp_path)

    assert status.built and status.folder == folder
    compiled = list((folder / SITE / "h3demo" / "__pycache__").glob("__init__.*.pyc"))
    assert len(compiled) == 1 and compiled[0].stat().st_mode & 0o777 == 0o644
    record = json.loads((folder / RECORD).read_text())
    assert record == {"packages": ["h3demo>=1"], "installer": "uv", "bytecode": True}
    compiled[0].unlink()
    build_environment(environment, tmp_path)  # the record says it is done: not compiled again
    assert not list((folder / SITE / "h3demo" / "__pycache__").glob("*.pyc"))
