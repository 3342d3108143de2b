"""AdamW.step against the official optimizer test and hidden cases, driven step by step over the RPC.

Each step mirrors the official ``optimizer_test.py``: the trusted side draws the initial weight (torch's
``Linear`` init under the run's seed, computed here and loaded into the sandbox) and x (numpy
``default_rng``), computes the gradient of the summed squared error at the student's current weight
(``outer(dŷ, x)``, what autograd gives, to the bit), and sends it in the round trip that sets ``.grad``,
runs the student's ``step()`` and returns the weight after it (``step_with_grads``). Nothing of the loop
runs in student code except ``AdamW`` itself, and every expected weight comes from our own run
(``RefAdamW``) from the same draws. Besides the handout's seed 0 (whose answer, ``optimizer_test.npy``, is
public), the checks use seeds drawn per grading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from grader.authoring import RemoteObject, Student


@dataclass
class RefAdamW:
    """Our AdamW (decoupled decay after the update, efficient bias correction), one state per tensor."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    weight_decay: float = 0.0
    correct_bias: bool = True
    #: Where the decay goes: "after" (ours), or a variant students write, used only to explain a difference:
    #: "before" the update, "factor" (p *= 1 - lr * wd, whose factor float32 rounds), "coupled" (into the
    #: gradient), "step_size" (the bias-corrected step size instead of lr).
    decay: str = "after"
    hats: bool = False  # bias correction as m-hat / (sqrt(v-hat) + eps) instead of the efficient form
    state: dict[int, dict[str, object]] = field(default_factory=dict)

    def step(self, key: int, p: torch.Tensor, grad: torch.Tensor, lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        b1, b2 = self.betas
        wd = self.weight_decay
        s = self.state.setdefault(key, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
        s["t"] = t = int(s["t"]) + 1  # type: ignore[call-overload]
        m, v = s["m"], s["v"]
        assert isinstance(m, torch.Tensor) and isinstance(v, torch.Tensor)
        if wd and self.decay == "coupled":
            grad = grad + wd * p
        m.mul_(b1).add_(grad, alpha=1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        size = lr * math.sqrt(1 - b2**t) / (1 - b1**t) if self.correct_bias else lr
        if wd and self.decay == "before":
            p.add_(p, alpha=-lr * wd)
        if wd and self.decay == "factor":
            p.mul_(1 - lr * wd)
        if self.hats and self.correct_bias:
            p.sub_(lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + self.eps))
        else:
            p.addcdiv_(m, v.sqrt().add_(self.eps), value=-size)
        if wd and self.decay == "after":
            p.add_(p, alpha=-lr * wd)
        if wd and self.decay == "step_size":
            p.add_(p, alpha=-size * wd)


def problem_gradient_weights(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d/dŷ of ((y - ŷ)²).sum() with ŷ = Wx and y = (x0 + x1, -x2), as the official test's autograd computes it."""
    y_hat = torch.nn.functional.linear(x, w)
    y = torch.tensor([float(x[0] + x[1]), float(-x[2])])
    return -2.0 * (y - y_hat)


def initial_weights(seed: int, count: int = 1) -> list[torch.Tensor]:
    """``count`` weights of ``Linear(3, 2, bias=False)`` as torch draws them after ``manual_seed(seed)``, here."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    weights = [torch.nn.Linear(3, 2, bias=False).weight.detach().clone() for _ in range(count)]
    torch.random.set_rng_state(generator_state)
    return weights


def remote_linear(student: Student, weight: torch.Tensor) -> RemoteObject:
    """``torch.nn.Linear(3, 2, bias=False)`` in the sandbox holding the grader's initial ``weight``."""
    lin = student.module("torch").nn.Linear(3, 2, bias=False)
    assert isinstance(lin, RemoteObject)
    lin.load_state_dict({"weight": weight})
    return lin


def problem_gradient(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The official loss's gradient on the weight ``w`` (one product per element: autograd's bits exactly)."""
    return torch.outer(problem_gradient_weights(w, x), x)


def official(student: Student, steps: int = 1000, weight_decay: float = 1e-4, seed: int = 0) -> torch.Tensor:
    """The official test (lr 1e-3; seed 0 is the handout's) with the student's AdamW; the final weight.

    The initial weight and the inputs are drawn here from ``seed`` and handed to the sandbox.
    """
    rng = np.random.default_rng(seed)
    lin = remote_linear(student, initial_weights(seed)[0])
    opt = student.module("optimizer").AdamW(lin.parameters(), lr=1e-3, weight_decay=weight_decay, correct_bias=True)
    weight: torch.Tensor = lin.state_dict()["weight"].float()  # as the student's __init__ left it
    for _ in range(steps):
        x = torch.FloatTensor(rng.uniform(size=[3]))
        (params,) = opt.step_with_grads([lin], [{"weight": problem_gradient(weight, x)}])
        weight = params["weight"].float()
    return weight


def reference_run(
    steps: int, weight_decay: float, seed: int = 0, *, decay: str = "after", hats: bool = False
) -> torch.Tensor:
    """The official problem with our AdamW (the same draws of x and the same initial weight); ``decay`` and
    ``hats`` choose a student variant (to explain a difference, never to grade)."""
    rng = np.random.default_rng(seed)
    w = initial_weights(seed)[0]
    opt = RefAdamW(lr=1e-3, weight_decay=weight_decay, decay=decay, hats=hats)
    for _ in range(steps):
        x = torch.FloatTensor(rng.uniform(size=[3]))
        opt.step(0, w, problem_gradient(w, x))
    return w


def groups_run(student: Student | None, steps: int, seed: int = 1) -> list[torch.Tensor]:
    """Two parameter groups: lr 1e-3 with bias correction (two tensors, one of which never gets a gradient,
    so a step counter shared across tensors shows) and lr 1e-2 without bias correction.

    With ``student`` None the same run uses our reference; returns the three final weights.
    """
    rng = np.random.default_rng(seed)
    initial = initial_weights(seed, 3)
    if student is None:
        ws = [w.clone() for w in initial]
        first, second = RefAdamW(lr=1e-3, weight_decay=0.01), RefAdamW(lr=1e-2, correct_bias=False, weight_decay=0.01)
        for _ in range(steps):
            x = torch.FloatTensor(rng.uniform(size=[3]))
            grads = [problem_gradient(w, x) for w in ws[:2]]
            first.step(0, ws[0], grads[0])
            second.step(1, ws[1], grads[1])
        return ws
    lins = [remote_linear(student, w) for w in initial]
    chain = student.module("itertools").chain  # parameter handles stay in the sandbox; tensors would be copied
    groups = [
        {"params": chain(lins[0].parameters(), lins[2].parameters())},
        {"params": lins[1].parameters(), "lr": 1e-2, "correct_bias": False},
    ]
    sopt = student.module("optimizer").AdamW(groups, lr=1e-3, weight_decay=0.01)
    ws = [lin.state_dict()["weight"].float() for lin in lins]
    for _ in range(steps):
        x = torch.FloatTensor(rng.uniform(size=[3]))
        grads = [{"weight": problem_gradient(w, x)} for w in ws[:2]] + [{}]  # the third never gets one
        ws = [params["weight"].float() for params in sopt.step_with_grads(lins, grads)]
    return ws


#: What each variant of the official run tells the student (the variant's weight is within float32 noise of theirs).
VARIANTS = {
    ("before", False): "the weight decay is applied before the Adam update; the handout applies it after the update",
    ("factor", False): "the weight decay is written p *= (1 - lr * weight_decay): in float32 that factor rounds to "
    "another number (1 - 1e-7 is not representable), so the decay is off; write it as "
    "p -= lr * weight_decay * p (p.data.add_(p.data, alpha=-lr * weight_decay))",
    ("coupled", False): "the weight decay is added to the gradient (L2, coupled); AdamW decouples it: "
    "p -= lr * weight_decay * p after the update",
    ("step_size", False): "the weight decay uses the bias-corrected step size; the handout folds in the learning "
    "rate itself: p -= lr * weight_decay * p",
    ("after", True): "the bias correction divides m and v (m-hat, v-hat) instead of the handout's efficient form "
    "(alpha_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), eps outside)",
}
VARIANT_ATOL = 3e-7


def explain(got: torch.Tensor, steps: int = 1000, weight_decay: float = 1e-4) -> str | None:
    """Which known variant of the official run the student's final weight matches, in words (None: none)."""
    for (decay, hats), words in VARIANTS.items():
        for hats_too in (hats, True) if not hats else (hats,):
            want = reference_run(steps, weight_decay, decay=decay, hats=hats_too)
            if float((got - want).abs().max()) <= VARIANT_ATOL:
                return words
    return None
