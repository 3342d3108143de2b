"""Build the student's BERT objects inside the sandbox and the inputs the checks feed them."""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring import (
    RemoteObject,
    Student,
    StudentCodeError,
    expect_object,
    expect_tensor,
    fail,
    load_weights,
    raised,
    trusted_weights,
)

from .reference import TinyConfig, extended_mask

TINY = TinyConfig()
#: Eval-mode tolerance of the official sanity check.
ATOL, RTOL = 1e-5, 1e-3


#: What the given code passes to ``from_pretrained`` (classifier.py, sanity_check.py).
PRETRAINED_NAME = "bert-base-uncased"


def handout_config(student: Student, cfg: TinyConfig = TINY) -> RemoteObject:
    """The student's ``config.BertConfig`` as the handout's ``from_pretrained`` hands it to a model.

    The starter's ``BertPreTrainedModel.__init__`` reads ``config.name_or_path``, which the starter's
    ``PretrainedConfig`` never sets itself (it keeps ``_name_or_path``): the given
    ``from_pretrained`` assigns ``config.name_or_path`` before calling ``cls(config)``. Every model
    is built the same way here, so an untouched starter ``base_bert.py``/``config.py`` works.
    """
    config = expect_object(student.module("config").BertConfig(**cfg.kwargs()), "config.BertConfig(...)")
    student.module("builtins").setattr(config, "name_or_path", PRETRAINED_NAME)
    return config


def build(
    student: Student, cls: str, cfg: TinyConfig = TINY, *, module: str = "bert", train: bool = False
) -> RemoteObject:
    """``bert.<cls>(config)`` built as the handout's ``from_pretrained`` builds it, in eval (or train) mode;
    construction errors fail the check."""
    try:
        config = handout_config(student, cfg)
        obj = getattr(student.module(module), cls)(config)
        obj.call_method("train" if train else "eval")
    except StudentCodeError as exc:
        fail(
            f"Building {module}.{cls}(config) with a small config.BertConfig (name_or_path set as from_pretrained "
            f"sets it) raised {raised(exc)}"
        )
    return expect_object(obj, f"{module}.{cls}(config)")


def batch(seed: int, cfg: TinyConfig = TINY) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sequences of 8 token ids padded like the official sanity check (4 and 7 real tokens)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, cfg.vocab_size, (2, 8), generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]])
    return ids * mask, mask


def hidden(seed: int, cfg: TinyConfig = TINY) -> torch.Tensor:
    return torch.randn(2, 8, cfg.hidden_size, generator=torch.Generator().manual_seed(seed + 1))


def attention_inputs(
    seed: int, cfg: TinyConfig = TINY
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct random key, query, value (bs 2, heads, seq 8, head size) and the padded additive mask."""
    gen = torch.Generator().manual_seed(seed + 2)
    shape = (2, cfg.num_attention_heads, 8, cfg.head_size)
    key, query, value = (torch.randn(shape, generator=gen) for _ in range(3))
    return key, query, value, extended_mask(batch(seed, cfg)[1])


def state_of(obj: RemoteObject) -> dict[str, torch.Tensor]:
    """The module's state dict as the sandbox reports it: for names and diagnoses, never for an expectation."""
    return {k: v.float() for k, v in obj.state_dict().items()}


def _linear(name: str, out: int, inp: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (out, inp), f"{name}.bias": (out,)}


def handout_shapes(cls: str, cfg: TinyConfig = TINY) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """The handout's parameter names and shapes of ``cls`` (and which are LayerNorm gains)."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    attention = {**_linear("query", h, h), **_linear("key", h, h), **_linear("value", h, h)}
    if cls == "BertSelfAttention":
        return attention, []
    layer = {f"self_attention.{k}": v for k, v in attention.items()}
    layer |= _linear("attention_dense", h, h) | _linear("attention_layer_norm", h, h)
    layer |= _linear("interm_dense", i, h) | _linear("out_dense", h, i) | _linear("out_layer_norm", h, h)
    for norm in ("attention_layer_norm", "out_layer_norm"):
        layer[f"{norm}.weight"] = layer[f"{norm}.bias"] = (h,)
    gains = ["attention_layer_norm.weight", "out_layer_norm.weight"]
    if cls == "BertLayer":
        return layer, gains
    if cls != "BertModel":
        raise ValueError(cls)
    shapes: dict[str, tuple[int, ...]] = {
        "word_embedding.weight": (cfg.vocab_size, h),
        "pos_embedding.weight": (cfg.max_position_embeddings, h),
        "tk_type_embedding.weight": (2, h),
        "embed_layer_norm.weight": (h,),
        "embed_layer_norm.bias": (h,),
    }
    model_gains = ["embed_layer_norm.weight"]
    for n in range(cfg.num_hidden_layers):
        shapes |= {f"bert_layers.{n}.{k}": v for k, v in layer.items()}
        model_gains += [f"bert_layers.{n}.{g}" for g in gains]
    return shapes | _linear("pooler_dense", h, h), model_gains


def draw(cls: str, cfg: TinyConfig = TINY, *, zero: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The handout's parameters of ``cls``, drawn here (random, nonzero, fresh per grading).

    ``zero`` names parameters set to 0 on purpose (a check that must not depend on the layers before
    them, e.g. the pooler's weight when only the classifier head is graded).
    """
    shapes, gains = handout_shapes(cls, cfg)
    weights = trusted_weights(shapes, around_one=gains)
    for name in zero:
        weights[name] = torch.zeros_like(weights[name])
    return weights


def trusted(
    obj: RemoteObject, cls: str, cfg: TinyConfig = TINY, *, zero: tuple[str, ...] = ()
) -> dict[str, torch.Tensor]:
    """:func:`draw` the parameters of ``cls``, load them into the student's module by name and return them:
    every reference is computed from these, never from the module's own."""
    weights = draw(cls, cfg, zero=zero)
    load_weights(obj, weights, what=f"bert.{cls}")
    return weights


def tensor_result(value: Any, what: str) -> torch.Tensor:
    """The student's return value as a float tensor, or a failure that says what came back instead."""
    return expect_tensor(value, what).float()


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), atol=ATOL, rtol=RTOL))


def seeded(student: Student, seed: int, call: Any, *args: Any) -> Any:
    """Run ``call(*args)`` in the sandbox right after seeding its torch generator with ``seed``."""
    student.seed(seed)
    return call(*args)


def patch(student: Student, owner: RemoteObject, name: str, returns: Any) -> RemoteObject:
    """Replace ``owner.name`` in the sandbox by a recording stand-in that returns ``returns``.

    Used for what cannot run offline (``from_pretrained`` downloads weights) and to observe the
    objects a given training loop creates (``save_model``). The stand-in is ``unittest.mock.Mock``,
    which is not a descriptor, so a class attribute stays a plain callable.
    """
    stand_in = student.module("unittest.mock").Mock(return_value=returns)
    if not isinstance(stand_in, RemoteObject):
        fail("the grader could not build a stand-in inside the sandbox")
    student.module("builtins").setattr(owner, name, stand_in)
    return stand_in
