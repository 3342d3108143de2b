"""Parts (f), (g): decode the submitted finetuned params here and compare with the submitted test predictions.

The student's ``evaluate`` command is never trusted (it could copy the predictions file). The params
file is opened inside the sandbox (``torch.load``, never unpickled on the trusted side) and only its
tensors come back over the RPC; every test question is then decoded in the trusted process with the
grader's own implementation of the handout's GPT (decoding.py), exactly as the given evaluate branch
does (greedy, 32 characters, the test line's newline kept). Params that do not fit the architecture
fail. For the Perceiver, whose blocks the handout leaves open (spec §7.7), the accepted formulation of
each block is the one that reproduces the first questions (a choice among genuine computations with the
submitted weights, never a value taken from the student). A low agreement fails the check and flags
the submission for the TAs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import torch

from grader.authoring import Feedback, NotGradable, Student, StudentCodeError, check, fail

from . import decoding, formulations, predictions
from .checks_outputs import missing_artifact
from .staging import line_count

#: questions decoded with each candidate formulation of the Perceiver blocks before the full run
PROBE = 12
#: the handout's reference blocks: the down block layer-norms its query C, the up block its keys/values
DEFAULT_FORMULATIONS = (
    decoding.Formulation(ln_query=True, ln_kv=False),
    decoding.Formulation(ln_query=False, ln_kv=True),
)
PERCEIVER_BLOCKS = ("down_block.", "up_block.")


def _flag_and_fail(feedback: Feedback, params: str, message: str) -> NoReturn:
    feedback.flag(f"{params}: {message}")
    feedback.warn_staff(f"{params}: re-execution failed; flagged for review")
    fail(f"{message} This submission is flagged for the TAs.")


def load_params(
    student: Student, files: Path, name: str, feedback: Feedback, source: str = ""
) -> dict[str, torch.Tensor]:
    """The params file's tensors (read from ``source`` when it is elsewhere), loaded inside the sandbox and
    sent back over the RPC (float32, CPU)."""
    path = f"grader.{name}"
    student.write_file(path, (files / (source or name)).read_bytes())
    try:
        state = student.module("torch").load(path, map_location="cpu")
    except StudentCodeError as exc:
        fail(f"{name} cannot be loaded with torch.load: {exc.exc_type}: {exc.exc_message[:300]}")
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        fail(f"{name} is not a state dict (a mapping of parameter names to tensors): save model.state_dict().")
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        feedback.note(
            f"{name} was saved from the DataParallel wrapper (keys start with 'module.'); the grader "
            "removed the prefix to re-run it. Save model.state_dict() of the unwrapped model."
        )
        feedback.warn_staff(f"{name}: 'module.' key prefix normalised")
    return {k: v.detach().to(torch.float32) for k, v in state.items() if v.is_floating_point()}


def _agreement(rerun: list[str], submitted: list[str]) -> int:
    return sum(a.strip() == b.strip() for a, b in zip(rerun, submitted, strict=False))


def block_formulations(
    student: Student, state: dict[str, torch.Tensor], arch: decoding.Architecture
) -> tuple[decoding.Formulation, decoding.Formulation] | None:
    """The accepted formulation nearest to what the student's own blocks compute with the submitted weights
    on an input the grader draws (None when their model.py cannot build or run them)."""
    d, m = arch.n_embd, arch.bottleneck
    blocks = {
        prefix: {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        for prefix in PERCEIVER_BLOCKS
    }
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    x = torch.randn(2, min(arch.block_size, 2 * (m or 1)), d, generator=gen)
    try:
        model = student.module("model")
        config = model.GPTConfig(
            arch.vocab,
            arch.block_size,
            n_layer=arch.n_blocks + 2,
            n_head=decoding.N_HEAD,
            n_embd=d,
            perceiver=True,
            bottleneck_dim=m,
        )
        down, up = model.DownProjectBlock(config), model.UpProjectBlock(config)
        for module, prefix in ((down, "down_block."), (up, "up_block.")):
            module.load_state_dict(blocks[prefix], strict=False)
            module.call_method("eval")
        y = down(x)
        if not isinstance(y, torch.Tensor):
            return None
        down_name, _ = formulations.closest(formulations.down_variants(blocks["down_block."], x, decoding.N_HEAD), y)
        up_name, _ = formulations.closest(
            formulations.up_variants(blocks["up_block."], y, x, decoding.N_HEAD), up(y, x)
        )
    except StudentCodeError:
        return None
    if down_name not in decoding.BY_NAME or up_name not in decoding.BY_NAME:
        return None
    return decoding.BY_NAME[down_name], decoding.BY_NAME[up_name]


def choose_formulations(
    state: dict[str, torch.Tensor],
    arch: decoding.Architecture,
    prompts: list[str],
    submitted: list[str],
    vocab: tuple[dict[str, int], list[str]],
    candidates: list[tuple[decoding.Formulation, decoding.Formulation]] = (),
) -> tuple[decoding.Formulation, decoding.Formulation]:
    """The accepted formulations of the two Perceiver blocks that best reproduce the first PROBE questions:
    the candidates first (what the student's blocks compute), then the handout's, then a coordinate search."""
    probe, wanted = prompts[:PROBE], submitted[:PROBE]

    def score(pair: tuple[decoding.Formulation, decoding.Formulation]) -> int:
        return _agreement(decoding.predict(state, arch, probe, *vocab, pair), wanted)

    best, best_score = DEFAULT_FORMULATIONS, -1
    for pair in [*candidates, DEFAULT_FORMULATIONS]:
        if (found := score(pair)) > best_score:
            best, best_score = pair, found
        if best_score == len(probe):
            return best
    for _ in range(2):  # each block's sixteen variants with the other block's best
        improved = False
        for block in (0, 1):
            for form in decoding.ALL_FORMULATIONS:
                pair = (form, best[1]) if block == 0 else (best[0], form)
                if pair != best and (found := score(pair)) > best_score:
                    best, best_score, improved = pair, found, True
                if best_score == len(probe):
                    return best
        if not improved:
            break
    return best


def reexecute(
    variant: str,
    params: str,
    preds_name: str,
    check_no: str,
    student: Student,
    files: Path,
    data: Path,
    config: dict[str, Any],
    feedback: Feedback,
) -> None:
    """Decode every test question with the submitted params and compare with the submitted file."""
    where: dict[str, str] = {}
    for name in (params, preds_name):
        found = predictions.locate(files, name)
        if found.path is None:
            fail(missing_artifact(name, files, "the re-execution needs the submitted params and test predictions"))
        if found.note:
            feedback.note(found.note)
        where[name] = found.path
    questions = predictions.question_lines(data / "birth_test_inputs.tsv")
    parsed = predictions.parse(
        (files / where[preds_name]).read_bytes(),
        preds_name,
        line_count(data, "birth_test_inputs.tsv"),
        "test",
        (line_count(data, "birth_dev.tsv"), "dev"),
    )
    if parsed.lines is None or parsed.problem:
        fail(
            f"Cannot compare the re-run with {preds_name}, which is not well formed (see check {check_no}): {parsed.problem}"
        )
    submitted = parsed.lines
    state = load_params(student, files, params, feedback, where[params])
    vocab = decoding.vocabulary((data / "wiki.txt").read_text(encoding="utf-8"))
    perceiver = variant == "perceiver"
    try:
        arch = decoding.architecture(state, len(vocab[1]), perceiver)
    except decoding.ParamsMismatch as exc:
        if (
            perceiver
            and exc.names
            and all(n.startswith(PERCEIVER_BLOCKS) for n in exc.names)
            and not _has_natural_blocks(state)
        ):
            feedback.flag(f"{params}: Perceiver blocks with their own parameter names; re-execution not possible")
            raise NotGradable(
                f"{params} holds Perceiver blocks with parameter names of their own (not ln1, ln2, "
                "attn.key/query/value/proj, mlp.0/mlp.2): the grader's implementation cannot re-run "
                "them. A TA will review the predictions by hand."
            ) from None
        _flag_and_fail(feedback, params, f"{params} cannot be re-run: {exc}")
    prompts = [q.split("\t")[0] + decoding.MASK for q in questions]
    chosen = None
    if perceiver:
        candidate = block_formulations(student, state, arch)
        chosen = choose_formulations(state, arch, prompts, submitted, vocab, [candidate] if candidate else [])
    agree = _agreement(decoding.predict(state, arch, prompts, *vocab, chosen), submitted)
    summary = (
        f"Decoding your {params} with the handout's greedy evaluation on all {len(prompts)} test questions "
        f"reproduced {agree}/{len(prompts)} of the predictions in {preds_name}"
    )
    if chosen is not None:
        feedback.warn_staff(f"{params}: Perceiver blocks re-run as down [{chosen[0]}], up [{chosen[1]}]")
    pct = float(config.get("reexec_agreement_pct", 95))
    if not predictions.Score(agree, len(prompts)).reaches(pct):
        _flag_and_fail(
            feedback,
            params,
            f"{summary}, below the {pct:g} % expected: the submitted predictions do not "
            "come from the submitted params.",
        )
    feedback.note(summary + ".")


def _has_natural_blocks(state: dict[str, torch.Tensor]) -> bool:
    """Whether both Perceiver blocks use the natural names (so a mismatch is a real misfit)."""
    return all(f"{block}attn.query.weight" in state and f"{block}mlp.0.weight" in state for block in PERCEIVER_BLOCKS)


@check(
    name="Re-execution: vanilla.finetune.params reproduces vanilla.pretrain.test.predictions",
    number="7.1",
    points=0,
    tags=["part f"],
    timeout=600,
)
def reexec_vanilla(student: Student, files: Path, data: Path, config: dict[str, Any], feedback: Feedback) -> None:
    """The submitted vanilla params, decoded here as the given evaluate branch decodes, give the submitted test predictions."""
    reexecute(
        "vanilla",
        "vanilla.finetune.params",
        "vanilla.pretrain.test.predictions",
        "4.4",
        student,
        files,
        data,
        config,
        feedback,
    )


@check(
    name="Re-execution: perceiver.finetune.params reproduces perceiver.pretrain.test.predictions",
    number="7.2",
    points=0,
    tags=["part g"],
    timeout=600,
)
def reexec_perceiver(student: Student, files: Path, data: Path, config: dict[str, Any], feedback: Feedback) -> None:
    """The submitted perceiver params, decoded here with an accepted formulation of the blocks, give the submitted test predictions."""
    reexecute(
        "perceiver",
        "perceiver.finetune.params",
        "perceiver.pretrain.test.predictions",
        "4.6",
        student,
        files,
        data,
        config,
        feedback,
    )
