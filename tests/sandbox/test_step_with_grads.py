"""``step_with_grads`` in a real sandbox: the grader's gradients in, one ``step()``, the parameters out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from grader.errors import ProtocolViolation, StudentCodeError
from grader.sandbox.client import RemoteObject, Student

Sandbox = Callable[..., Student]

pytestmark = pytest.mark.bwrap

SGD = """
import sys
import torch

class SGD(torch.optim.Optimizer):
    def __init__(self, params, lr):
        super().__init__(params, dict(lr=lr))
        self.calls = 0

    def step(self):
        self.calls += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data.add_(p.grad, alpha=-group["lr"])

class Broken(SGD):
    def step(self):
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation")

class Forger(SGD):
    def step(self):
        # the student's code shares the agent's process: it can rewrite the agent's replies
        server = sys.modules["grader.sandbox.agent.server"]
        server.Agent.op_step_with_grads = lambda agent, **request: [{"weight": "not a tensor"}]
"""


def linears(student: Student, *weights: torch.Tensor) -> list[RemoteObject]:
    lins = []
    for w in weights:
        lin = student.module("torch").nn.Linear(w.shape[1], w.shape[0], bias=False)
        assert isinstance(lin, RemoteObject)
        lin.load_state_dict({"weight": w})
        lins.append(lin)
    return lins


def test_sets_the_gradients_steps_once_and_returns_every_parameter(sandbox: Sandbox) -> None:
    student = sandbox({"sgd.py": SGD})
    w0, w1 = torch.randn(2, 3), torch.randn(4, 2)
    lins = linears(student, w0, w1)
    chain = student.module("itertools").chain
    opt = student.module("sgd").SGD(chain(lins[0].parameters(), lins[1].parameters()), lr=0.5)
    g0 = torch.randn(2, 3)
    after = opt.step_with_grads(lins, [{"weight": g0}, {}])
    assert torch.equal(after[0]["weight"], w0 - 0.5 * g0)
    assert torch.equal(after[1]["weight"], w1)  # no gradient named: .grad stays None, the parameter untouched
    again = opt.step_with_grads(lins, [{"weight": None}, {"weight": torch.ones(4, 2)}])
    assert torch.equal(again[0]["weight"], after[0]["weight"])  # None cleared the first gradient
    assert torch.equal(again[1]["weight"], w1 - 0.5)
    assert opt.calls == 2
    assert torch.equal(lins[1].state_dict()["weight"], again[1]["weight"])


def test_the_students_exception_in_step_is_theirs(sandbox: Sandbox) -> None:
    student = sandbox({"sgd.py": SGD})
    (lin,) = linears(student, torch.zeros(2, 3))
    opt = student.module("sgd").Broken(lin.parameters(), lr=0.1)
    with pytest.raises(StudentCodeError, match="leaf Variable"):
        opt.step_with_grads([lin], [{"weight": torch.ones(2, 3)}])


def test_gradient_sets_must_match_the_modules(sandbox: Sandbox) -> None:
    student = sandbox({"sgd.py": SGD})
    (lin,) = linears(student, torch.zeros(2, 3))
    opt = student.module("sgd").SGD(lin.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="1 modules"):
        opt.step_with_grads([lin], [])


def test_a_forged_reply_is_rejected(sandbox: Sandbox) -> None:
    student = sandbox({"sgd.py": SGD})
    (lin,) = linears(student, torch.zeros(2, 3))
    opt = student.module("sgd").Forger(lin.parameters(), lr=0.1)
    opt.step_with_grads([lin], [{"weight": torch.ones(2, 3)}])  # the forger patches the agent here
    with pytest.raises(ProtocolViolation, match="optimizer step"):
        opt.step_with_grads([lin], [{"weight": torch.ones(2, 3)}])
