"""The script and file operations in a real sandbox: run a script as __main__ with an intercepted callable."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import torch

from grader.errors import ProtocolViolation, StudentCodeError
from grader.sandbox.client import RemoteObject, Student

Sandbox = Callable[..., Student]

pytestmark = pytest.mark.bwrap

TRAINER = """
class Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)

class Trainer:
    def __init__(self, model, data, config):
        self.model, self.data, self.config = model, data, config

    def train(self):
        raise RuntimeError("the real training loop must not run")
"""

SCRIPT = """
import sys
import torch
import trainer
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter(log_dir="expt")
writer.add_scalar("x", 1)
epochs = int(sys.argv[1])
print("building", sys.argv[1:])
state = torch.load("params.pt")
t = trainer.Trainer(state["w"], [1, 2, 3], trainer.Config(max_epochs=epochs, lr=6e-4))
t.train()
print("after train")
open("out.txt", "w").write("done")
if len(sys.argv) > 2:
    sys.exit(int(sys.argv[2]))
"""


def test_run_script_records_the_intercepted_call_and_stops(sandbox: Sandbox) -> None:
    student = sandbox({"src/trainer.py": TRAINER, "src/run.py": SCRIPT})
    raw = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, raw)
    student.write_file("params.pt", raw.getvalue())
    run = student.run_script(
        "src/run.py",
        ["7"],
        intercept="trainer.Trainer.train",
        stub_modules=["torch.utils.tensorboard"],
        cpu_torch_load=True,
    )
    assert run.stopped and not run.failed, run
    assert run.output == "building ['7']\n"
    assert len(run.calls) == 1
    recorded = run.calls[0].args[0]
    assert isinstance(recorded, RemoteObject)
    assert recorded.config.max_epochs == 7 and recorded.config.lr == 6e-4
    assert torch.equal(recorded.model, torch.arange(4.0)) and recorded.data == [1, 2, 3]
    assert student.read_file("out.txt") is None  # stopped before the script went on


def test_run_script_can_let_the_script_go_on_and_reports_its_exit(sandbox: Sandbox) -> None:
    student = sandbox({"src/trainer.py": TRAINER, "src/run.py": SCRIPT, "params.pt": ""})
    raw = io.BytesIO()
    torch.save({"w": torch.zeros(1)}, raw)
    student.write_file("params.pt", raw.getvalue())
    run = student.run_script(
        "src/run.py",
        ["3", "4"],
        intercept="trainer.Trainer.train",
        stop=False,
        stub_modules=["torch.utils.tensorboard"],
    )
    assert not run.stopped and run.exit_code == 4 and run.failed
    assert "after train" in run.output
    assert student.read_file("out.txt") == b"done"
    # The interception ended with the run: the real method is back.
    with pytest.raises(StudentCodeError, match="must not run"):
        student.module("trainer").Trainer(1, 2, 3).train()


def test_run_script_reports_the_scripts_exception(sandbox: Sandbox) -> None:
    student = sandbox({"boom.py": "import sys\nprint(sys.argv)\nraise KeyError('missing ' + sys.argv[1])\n"})
    run = student.run_script("boom.py", ["x"])
    assert run.error_type == "KeyError" and "missing x" in run.error_message and run.failed
    assert "boom.py" in run.error_traceback
    assert "it raised KeyError" in run.describe_failure()


def test_files_move_in_and_out_and_stay_inside_the_work_copy(sandbox: Sandbox) -> None:
    student = sandbox({"data.txt": "the student's copy\n"})
    student.write_file("data.txt", "the grader's pristine copy\n")
    assert student.read_file("data.txt") == b"the grader's pristine copy\n"
    student.write_file("sub/blob.bin", bytes(range(256)))
    assert student.read_file("sub/blob.bin") == bytes(range(256))
    assert student.read_file("sub/blob.bin", max_bytes=3) == b"\x00\x01\x02"
    assert student.read_file("nothing.txt") is None
    for path in ("../outside.txt", "/etc/passwd"):
        with pytest.raises(Exception, match="leaves the submission's work copy"):
            student.read_file(path)


def test_a_forged_read_reply_is_rejected() -> None:
    from grader.sandbox.script_runs import parse_read

    with pytest.raises(ProtocolViolation):
        parse_read({"exists": True, "data": torch.zeros(10, dtype=torch.uint8)}, max_bytes=4)
    with pytest.raises(ProtocolViolation):
        parse_read({"exists": True, "data": "text"}, max_bytes=4)
