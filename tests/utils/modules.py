"""Importing the modules a test generated into a folder, and forgetting them afterwards."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

Loader = Callable[[str], ModuleType]


@contextmanager
def modules_from(folder: Path, *, on_path: bool = False, also_forget: tuple[str, ...] = ()) -> Iterator[Loader]:
    """A loader that imports ``folder/<name>.py`` as module ``name`` (with ``folder`` on ``sys.path`` when
    ``on_path``, as a sandbox has the submission); on exit every module it loaded, and ``also_forget``
    (modules they imported), leave ``sys.modules``."""
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    if on_path:
        sys.path.insert(0, str(folder))
    try:
        yield load
    finally:
        if on_path:
            sys.path.remove(str(folder))
        for name in [*loaded, *also_forget]:
            sys.modules.pop(name, None)
