"""The ``[[notebooks]]`` tables of ``suite.toml``; ``grader.engine.notebooks`` reads the notebooks they name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_MIB = 1024 * 1024


class NotebookAlias(BaseModel):
    """A name checks use, and the other names a notebook may define it under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_]\w*$", description="The name checks read, e.g. 'DecoderOnlyTransformer'.")
    accept: list[str] = Field(
        default_factory=list, description="Other names accepted for it, e.g. ['TransformerDecoder']."
    )
    params: list[str] = Field(
        default_factory=list, description="Parameter names a definition (a class: its __init__) must take to count."
    )


class NotebookSpec(BaseModel):
    """One notebook of a submission and the module built from it (``[[notebooks]]`` in ``suite.toml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Path of the notebook in the submission, e.g. 'nmt.ipynb'.")
    module: str = Field(
        pattern=r"^[A-Za-z_]\w*$", description="Module name written at the submission root, e.g. 'nmt'."
    )
    aliases: list[NotebookAlias] = Field(default_factory=list, description="Accepted renamings of graded names.")
    max_bytes: int = Field(
        32 * _MIB, gt=0, description="Largest notebook file read (bytes); outputs such as images count."
    )
    defer_imports: bool = Field(
        False,
        description="Run an import no kept code names when a check first reads a name it binds, not at load "
        "(grader/engine/notebooks_imports.py). Only for suites whose checks read the module's names one by one: "
        "a copy of its globals (vars(module)) would lack them.",
    )
