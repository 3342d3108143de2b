"""The bwrap command line: what is mounted where, and in which order (no bwrap is started)."""

from __future__ import annotations

from pathlib import Path

from grader.sandbox.launcher import INSIDE_HOME, BwrapLauncher, SandboxSpec


def _mounts(cmd: list[str]) -> list[tuple[str, str]]:
    """(kind, destination) for every mount, in order."""
    out = []
    for i, arg in enumerate(cmd):
        if arg in ("--ro-bind", "--bind", "--dev-bind", "--symlink"):
            out.append((arg, cmd[i + 2]))
        elif arg in ("--tmpfs", "--proc", "--dev"):
            out.append((arg, cmd[i + 1]))
    return out


def test_no_bind_is_hidden_by_a_later_tmpfs() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/some/submission")), seccomp_fd=9)
    mounts = _mounts(cmd)
    for i, (kind, dest) in enumerate(mounts):
        if kind == "--tmpfs":
            earlier = [d for k, d in mounts[:i] if k != "--tmpfs" and (d == dest or d.startswith(dest.rstrip("/") + "/"))]
            assert earlier == [], f"{dest} would hide {earlier}"


def test_writable_places_are_only_the_private_tmpfs() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/sub")), seccomp_fd=9)
    kinds = {kind for kind, _ in _mounts(cmd)}
    assert "--bind" not in kinds and "--dev-bind" not in kinds  # no GPU asked for: nothing writable from the host
    assert [d for k, d in _mounts(cmd) if k == "--tmpfs"] == ["/tmp", INSIDE_HOME]
    assert "--unshare-net" in cmd and "--die-with-parent" in cmd and "--clearenv" in cmd
