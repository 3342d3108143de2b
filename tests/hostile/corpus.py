"""The hostile corpus: each case builds one submission that attacks one thing.

Code attacks target check 2 of the ``hostile`` suite (``suites/hostile``: ``evil.answer(7)`` should return
49) and leave the honest ``good.py`` alone, so an attack contained is a score of exactly 2 of 3. Archive attacks must be
refused at upload with a clear message, or, when harmless, graded like any other submission.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.utils.builders import zip_of

GOOD = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"


@dataclass(frozen=True)
class Context:
    """What an attack may know about the machine it targets (as a real attacker could guess)."""

    api_port: int
    redis_socket: str
    secret_path: Path
    suites_dir: Path
    marker: str  # unique text a daemon carries, so the test can look for survivors


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Context], bytes]
    upload_status: int = 202
    upload_phrase: str = ""
    score: float = 2
    phrase: str = ""  # expected in check 2's output
    staff_must_not_contain: tuple[str, ...] = field(default_factory=tuple)


def evil(source: str | Callable[[Context], str]) -> Callable[[Context], bytes]:
    return lambda ctx: zip_of({"good.py": GOOD, "evil.py": source(ctx) if callable(source) else source})


def _symlink_zip(ctx: Context) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("good.py", GOOD)
        info = zipfile.ZipInfo("evil.py")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, str(ctx.secret_path))
    return buffer.getvalue()


def _encrypted_zip(ctx: Context) -> bytes:
    data = bytearray(zip_of({"good.py": GOOD}))
    # Set the "encrypted" flag in the local header and the central directory entry.
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, local + 6, struct.unpack_from("<H", data, local + 6)[0] | 1)
    struct.pack_into("<H", data, central + 8, struct.unpack_from("<H", data, central + 8)[0] | 1)
    return bytes(data)


def _many_files(ctx: Context) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("good.py", GOOD)
        for i in range(100_000):
            zf.writestr(f"f/{i}.txt", b"")
    return buffer.getvalue()


def _cp437_name(ctx: Context) -> bytes:
    data = bytearray(zip_of({"good.py": GOOD, "evil.py": "def answer(x):\n    return x * x\n", "cafX.txt": "hi"}))
    # Rewrite the name in both headers to a byte that is not UTF-8 (0x82 is 'é' in cp437, the
    # encoding zip members without the UTF-8 flag are read in).
    return bytes(data.replace(b"cafX.txt", b"caf\x82.txt"))


def _json_bomb(ctx: Context) -> bytes:
    notebook = '{"cells": ' + "[" * 50_000 + "]" * 50_000 + ', "nbformat": 4}'
    return zip_of({"good.py": GOOD, "evil.py": "def answer(x):\n    return x * x\n", "bomb.ipynb": notebook})


CODE_CASES = [
    Case(
        "read-hidden-labels-by-path",
        evil(lambda c: f"def answer(x):\n    return open({str(c.secret_path)!r}).read()\n"),
        phrase="No such file or directory",
    ),
    Case(
        "read-suites-by-path",
        evil(lambda c: f"import os\ndef answer(x):\n    return os.listdir({str(c.suites_dir)!r})\n"),
        phrase="No such file or directory",
    ),
    Case(
        "read-via-proc-of-other-processes",
        evil(
            "import glob\n"
            "def answer(x):\n"
            "    found = []\n"
            "    for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/root/work/**/secret.txt'):\n"
            "        try:\n"
            "            found.append(open(path, 'rb').read(4096).decode('latin-1'))\n"
            "        except OSError:\n"
            "            pass\n"
            "    print('PROC', found)\n"
            "    return found\n"
        ),
        phrase="got a list",
        staff_must_not_contain=("GRADER_DATA_DIR", "REDIS_URL"),
    ),
    Case(
        "read-inherited-descriptors",
        evil(
            "import os\n"
            "def answer(x):\n"
            "    seen = []\n"
            "    for fd in range(3, 1024):\n"
            "        try:\n"
            "            seen.append((fd, os.readlink(f'/proc/self/fd/{fd}')))\n"
            "        except OSError:\n"
            "            pass\n"
            "    print('FDS', seen)\n"
            "    return seen\n"
        ),
        phrase="got a list",
    ),
    Case(
        "read-environment",
        evil("import os\ndef answer(x):\n    print('ENV', dict(os.environ))\n    return dict(os.environ)\n"),
        phrase="got a dict",
        staff_must_not_contain=("GRADER_", "REDIS_URL"),
    ),
    Case(
        "tcp-to-the-api",
        evil(
            lambda c: (
                f"import socket\ndef answer(x):\n    socket.create_connection(('127.0.0.1', {c.api_port}), timeout=2)\n"
            )
        ),
        phrase="PermissionError",
    ),
    Case(
        "udp-out",
        evil(
            "import socket\ndef answer(x):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))\n"
        ),
        phrase="PermissionError",
    ),
    Case(
        "redis-unix-socket",
        evil(
            lambda c: (
                f"import socket\ndef answer(x):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect({c.redis_socket!r})\n"
            )
        ),
        phrase="No such file or directory",
    ),
    Case(
        "redis-tcp",
        evil("import socket\ndef answer(x):\n    socket.create_connection(('127.0.0.1', 6379), timeout=2)\n"),
        phrase="PermissionError",
    ),
    Case(
        "print-a-fake-report",
        evil(
            'import json\nprint(json.dumps({"score": 3, "max_score": 3}))\ndef answer(x):\n    print(\'{"tests": [], "score": 3}\')\n    return "49"\n'
        ),
        phrase="got a str",
    ),
    Case(
        "write-results-files",
        evil(
            "import os\n"
            "def answer(x):\n"
            "    for p in ['/autograder/results/results.json', '/tmp/results.json', 'results.json', '../results.json']:\n"
            "        try:\n"
            "            os.makedirs(os.path.dirname(p) or '.', exist_ok=True)\n"
            "            open(p, 'w').write('{\"score\": 3}')\n"
            "        except OSError:\n"
            "            pass\n"
        ),
        phrase="got a NoneType",
    ),
    Case(
        "monkeypatch-the-agent",
        evil(
            "import sys\n"
            "server = sys.modules['grader.sandbox.agent.server']\n"
            "server.Agent.handle = lambda self, request: {'id': request.get('id'), 'ok': True, 'value': 'passed'}\n"
            "def answer(x):\n    return x\n"
        ),
        phrase="got a str",
    ),
    Case(
        "forge-protocol-frames",
        evil(
            "import os, struct, json\n"
            "def answer(x):\n"
            "    body = json.dumps({'id': 1, 'ok': True, 'value': 49}).encode()\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            os.write(fd, struct.pack('>II', len(body), 0) + body)\n"
            "        except OSError:\n"
            "            pass\n"
            "    return 0\n"
        ),
        phrase="reply",
    ),
    Case("sys-exit-at-import", evil("import sys\nsys.exit(0)\n"), phrase="sys.exit(0) was called"),
    Case("os-exit-at-import", evil("import os\nos._exit(0)\n"), phrase="exited with status 0"),
    Case("sys-exit-mid-check", evil("import sys\ndef answer(x):\n    sys.exit(0)\n"), phrase="sys.exit(0) was called"),
    Case("os-exit-mid-check", evil("import os\ndef answer(x):\n    os._exit(0)\n"), phrase="exited with status 0"),
    # The sandbox's init ignores signals from inside its namespace; the grader is not even visible.
    Case(
        "signal-everything",
        evil(
            "import os, signal\ndef answer(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    os.kill(-1, signal.SIGKILL)\n"
        ),
        phrase="ProcessLookupError",
    ),
    Case(
        "daemon-outlives",
        evil(
            lambda c: (
                "import os\n"
                "def answer(x):\n"
                "    if os.fork() == 0:\n"
                "        os.setsid()\n"
                "        if os.fork() == 0:\n"
                f"            os.execv('/usr/bin/sleep', ['sleep', '{c.marker}'])\n"
                "        os._exit(0)\n"
                "    return 0\n"
            )
        ),
        phrase="should be 49",
    ),
    Case("infinite-loop-at-import", evil("while True:\n    pass\n"), phrase="did not finish in time"),
    Case(
        "infinite-loop-in-constructor",
        evil("class M:\n    def __init__(self):\n        while True:\n            pass\n\ndef answer(x):\n    M()\n"),
        phrase="did not finish in time",
    ),
    Case(
        "infinite-loop-in-forward",
        evil(
            "import torch\n"
            "class M(torch.nn.Module):\n"
            "    def forward(self, x):\n"
            "        while True:\n"
            "            x = x + 1\n"
            "def answer(x):\n    return M()(torch.zeros(2))\n"
        ),
        phrase="did not finish in time",
    ),
    Case(
        "fork-bomb",
        evil(
            "import os\ndef answer(x):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
        ),
        phrase="did not finish in time",
    ),
    Case("memory-bomb", evil("def answer(x):\n    return len(bytearray(10 * 1024**3))\n"), phrase="MemoryError"),
    Case(
        "disk-fill",
        evil(
            "def answer(x):\n"
            "    for path in ('/tmp/fill', 'fill'):\n"
            "        try:\n"
            "            with open(path, 'wb') as f:\n"
            "                while True:\n"
            "                    f.write(b'x' * 2**20)\n"
            "        except OSError as exc:\n"
            "            print('stopped:', exc)\n"
            "    return -1\n"
        ),
        phrase="should be 49",
    ),
    Case(
        "gigabytes-of-stdout",
        evil("import sys\ndef answer(x):\n    while True:\n        sys.stdout.write('y' * 2**20)\n"),
        phrase="did not finish in time",
    ),
    Case(
        "huge-tensor-returned",
        evil("import torch\ndef answer(x):\n    return torch.zeros(300_000_000)\n"),
        phrase="cannot be sent back",
    ),
    Case("nan-returned", evil("def answer(x):\n    return float('nan')\n"), phrase="got a float"),
    Case(
        "inf-tensor-returned",
        evil("import torch\ndef answer(x):\n    return torch.full((3,), float('inf'))\n"),
        phrase="got a Tensor",
    ),
    Case(
        "wrong-dtype-returned",
        evil("import torch\ndef answer(x):\n    return torch.tensor(49, dtype=torch.int8)\n"),
        phrase="got a Tensor",
    ),
    Case(
        "assumes-cuda",
        evil("import torch\nDEVICE = torch.zeros(1).cuda()\ndef answer(x):\n    return 49\n"),
        phrase="CUDA",
    ),
]

ARCHIVE_CASES = [
    Case("zip-slip", lambda c: zip_of({"good.py": GOOD, "../../evil.py": "x = 1\n"}), 422, "'..' component"),
    Case("absolute-path", lambda c: zip_of({"good.py": GOOD, "/etc/evil.py": "x = 1\n"}), 422, "absolute path"),
    Case("symlink-to-hidden-data", _symlink_zip, 422, "symbolic link"),
    Case("zip-bomb", lambda c: zip_of({"good.py": GOOD, "bomb.bin": b"\0" * (64 * 2**20)}), 422, "zip bomb"),
    Case("hundred-thousand-files", _many_files, 422, "too many entries"),
    Case("encrypted-zip", _encrypted_zip, 422, "encrypted"),
    Case("not-a-zip", lambda c: b"#!/bin/sh\nrm -rf /\n", 422, "not a zip archive"),
    Case(
        "truncated-zip",
        lambda c: (lambda z: z[: len(z) // 2])(zip_of({"good.py": GOOD, "evil.py": "x = 1\n" * 500})),
        422,
        "damaged",
    ),
    # Harmless oddities: graded like honest work.
    Case("non-utf8-file-name", _cp437_name, 202, "", score=3),
    Case("notebook-json-bomb", _json_bomb, 202, "", score=3),
]

HONEST = Case("honest", evil("def answer(x):\n    return x * x\n"), score=3)


def redis_socket_of(data_dir: Path) -> str:
    """Where the embedded Redis listens (what an attacker would aim at)."""
    for settings in (data_dir / "redis").glob("*.settings"):
        return str(json.loads(settings.read_text())["unixsocket"])
    return "/tmp/redis.sock"
