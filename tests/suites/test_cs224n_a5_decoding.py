"""The trusted decoder of the CS224N re-execution against the handout's own model code and formulations.

Our reference's src/ (the handout's given GPT, attention and ``utils.sample``) is the ground truth for
greedy decoding; formulations.py is the ground truth for the Perceiver variants. Small models (n_embd 64)
with weights the test draws keep this fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch

from grader.authoring import trusted_weights
from grader.config import PROJECT_ROOT
from grader.engine.suites import Suite, load_assignment

SRC = PROJECT_ROOT / "reference_solutions" / "cs224n_a5" / "src"
CORPUS = "Where was Ada Lovelace born? She was born in London.\nAlan Turing was born in Maida Vale, London.\nMarie Curie: Warsaw\n"
NAMES = ("Ada", "Alan Turing", "Marie", "Curie", "Lovelace", "Turing", "Maida", "Vale", "Warsaw Curie", "Ana")


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")


def _suite_module(suite: Suite, name: str) -> ModuleType:
    assert suite.checks  # loading the suite imports its package
    return importlib.import_module(f"grader_suite_cs224n_a5.{name}")


@pytest.fixture(scope="module")
def handout() -> Iterator[dict[str, ModuleType]]:
    """The handout's model.py, attention.py and utils.py, imported as flat modules as run.py does."""
    names = ("attention", "model", "utils")
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, str(SRC))
    try:
        yield {n: importlib.import_module(n) for n in names}
    finally:
        sys.path.remove(str(SRC))
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


def _gpt(handout: dict[str, ModuleType], vocab: int, perceiver: bool, seed: int) -> torch.nn.Module:
    config = handout["model"].GPTConfig(
        vocab, 128, n_layer=4, n_head=8, n_embd=64, perceiver=perceiver, bottleneck_dim=16
    )
    gpt = handout["model"].GPT(config)
    shapes = {k: tuple(v.shape) for k, v in gpt.state_dict().items() if not k.endswith("attn.mask")}
    gains = [k for k in shapes if k.endswith("weight") and (".ln" in k or k.startswith("ln_f"))]
    weights = trusted_weights(shapes, seed=seed, around_one=gains)
    weights["tok_emb.weight"] *= 4  # varied, confident continuations
    weights["pos_emb"] *= 2
    gpt.load_state_dict(weights, strict=False)
    return gpt.eval()


def _prompts() -> list[str]:
    return [f"Where was {name} born?\n\u2047" for name in NAMES]


def _handout_predictions(
    handout: dict[str, ModuleType], gpt: torch.nn.Module, prompts: list[str], stoi: dict[str, int], itos: list[str]
) -> list[str]:
    out = []
    for prompt in prompts:
        x = torch.tensor([stoi[c] for c in prompt])[None]
        completion = "".join(itos[int(i)] for i in handout["utils"].sample(gpt, x, 32, sample=False)[0])
        out.append(completion.split("\u2047")[1])
    return out


@pytest.mark.parametrize("perceiver", [False, True], ids=["vanilla", "perceiver"])
def test_greedy_decoding_equals_the_handouts_evaluate(
    suite: Suite, handout: dict[str, ModuleType], perceiver: bool
) -> None:
    decoding, reexec = _suite_module(suite, "decoding"), _suite_module(suite, "checks_reexec")
    stoi, itos = decoding.vocabulary(CORPUS)
    gpt = _gpt(handout, len(itos), perceiver, seed=14 if perceiver else 11)
    expected = _handout_predictions(handout, gpt, _prompts(), stoi, itos)
    assert len(set(expected)) >= 5, "the test model must not answer everything alike"
    state = {k: v for k, v in gpt.state_dict().items()}
    arch = decoding.architecture(state, len(itos), perceiver)
    forms = reexec.DEFAULT_FORMULATIONS if perceiver else None  # what our reference's blocks compute
    assert decoding.predict(state, arch, _prompts(), stoi, itos, forms) == expected


def test_every_perceiver_formulation_steps_as_formulations_py_computes_it(
    suite: Suite, handout: dict[str, ModuleType]
) -> None:
    decoding, formulations, reexec = (_suite_module(suite, n) for n in ("decoding", "formulations", "checks_reexec"))
    stoi, itos = decoding.vocabulary(CORPUS)
    gpt = _gpt(handout, len(itos), True, seed=12)
    state = {k: v for k, v in gpt.state_dict().items()}
    arch = decoding.architecture(state, len(itos), True)
    ids = torch.randint(0, len(itos), (2, 40), generator=torch.Generator().manual_seed(3))

    def block(prefix: str) -> dict[str, torch.Tensor]:
        return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}

    down_default, up_default = reexec.DEFAULT_FORMULATIONS
    pairs = [(f, up_default) for f in decoding.ALL_FORMULATIONS] + [
        (down_default, f) for f in decoding.ALL_FORMULATIONS
    ]
    with torch.no_grad():
        x = gpt.tok_emb(ids) + gpt.pos_emb[:, : ids.shape[1]]
        for down, up in pairs:
            y = gpt.blocks(formulations.down_variants(block("down_block."), x, 8)[str(down)])
            full = gpt.head(gpt.ln_f(formulations.up_variants(block("up_block."), y, x, 8)[str(up)]))
            stepped = decoding.logits(state, arch, ids, (down, up))
            assert torch.allclose(stepped, full, atol=1e-4), (str(down), str(up), float((stepped - full).abs().max()))


def test_the_formulation_search_finds_a_non_default_pair(suite: Suite, handout: dict[str, ModuleType]) -> None:
    decoding, reexec = _suite_module(suite, "decoding"), _suite_module(suite, "checks_reexec")
    stoi, itos = decoding.vocabulary(CORPUS)
    state = {k: v for k, v in _gpt(handout, len(itos), True, seed=14).state_dict().items()}
    arch = decoding.architecture(state, len(itos), True)
    pair = (
        decoding.Formulation(False, True, decoding.MLP_ONLY),
        decoding.Formulation(True, False, decoding.QUERY_AFTER_MLP),
    )
    submitted = decoding.predict(state, arch, _prompts(), stoi, itos, pair)
    assert submitted != decoding.predict(state, arch, _prompts(), stoi, itos, reexec.DEFAULT_FORMULATIONS)
    found = reexec.choose_formulations(state, arch, _prompts(), submitted, (stoi, itos), candidates=[pair])
    assert decoding.predict(state, arch, _prompts(), stoi, itos, found) == submitted


def test_params_that_do_not_fit_the_handouts_model_are_named(suite: Suite, handout: dict[str, ModuleType]) -> None:
    decoding = _suite_module(suite, "decoding")
    stoi, itos = decoding.vocabulary(CORPUS)
    state = {k: v for k, v in _gpt(handout, len(itos), True, seed=14).state_dict().items()}
    with pytest.raises(decoding.ParamsMismatch, match="vocabulary of wiki.txt"):
        decoding.architecture(state, len(itos) + 1, True)  # trained on another corpus
    without_c = {k: v for k, v in state.items() if k != "down_block.C"}
    with pytest.raises(decoding.ParamsMismatch, match="no down_block.C"):
        decoding.architecture(without_c, len(itos), True)
    renamed = {k.replace("down_block.attn.", "down_block.cross."): v for k, v in state.items()}
    with pytest.raises(decoding.ParamsMismatch) as caught:
        decoding.architecture(renamed, len(itos), True)
    assert caught.value.names and all(n.startswith("down_block.attn.") for n in caught.value.names)
    broken = {**state, "head.weight": torch.full_like(state["head.weight"], float("nan"))}
    with pytest.raises(decoding.ParamsMismatch, match="not finite"):
        decoding.architecture(broken, len(itos), True)
