"""The bwrap command line: what is mounted where, and in which order (no bwrap is started)."""

from __future__ import annotations

from pathlib import Path

from grader.models.limits import MiB, SandboxLimits
from grader.sandbox.launcher import INSIDE_HOME, BwrapLauncher, SandboxSpec


def _mounts(cmd: list[str]) -> list[tuple[str, str]]:
    """(kind, destination) for every mount, in order."""
    out = []
    for i, arg in enumerate(cmd):
        if arg in ("--ro-bind", "--bind", "--dev-bind", "--symlink"):
            out.append((arg, cmd[i + 2]))
        elif arg in ("--tmpfs", "--proc", "--dev", "--remount-ro"):
            out.append((arg, cmd[i + 1]))
    return out


def test_no_bind_is_hidden_by_a_later_tmpfs() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/some/submission")), seccomp_fd=9)
    mounts = _mounts(cmd)
    for i, (kind, dest) in enumerate(mounts):
        if kind == "--tmpfs":
            earlier = [
                d for k, d in mounts[:i] if k != "--tmpfs" and (d == dest or d.startswith(dest.rstrip("/") + "/"))
            ]
            assert earlier == [], f"{dest} would hide {earlier}"


def test_writable_places_are_only_the_private_tmpfs() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/sub")), seccomp_fd=9)
    kinds = {kind for kind, _ in _mounts(cmd)}
    assert "--bind" not in kinds and "--dev-bind" not in kinds  # no GPU asked for: nothing writable from the host
    assert [d for k, d in _mounts(cmd) if k == "--tmpfs"] == ["/tmp", INSIDE_HOME, "/dev/shm"]
    assert "--unshare-net" in cmd and "--die-with-parent" in cmd and "--clearenv" in cmd


def test_every_tmpfs_is_capped_by_tmpfs_bytes() -> None:
    cmd = BwrapLauncher().command(
        SandboxSpec(Path("/tmp/sub"), limits=SandboxLimits(tmpfs_bytes=3 * MiB)), seccomp_fd=9
    )
    tmpfs_at = [i for i, arg in enumerate(cmd) if arg == "--tmpfs"]
    assert len(tmpfs_at) == 3
    for i in tmpfs_at:
        size_at = cmd.index("--size", i - 4)  # the size (and, for /dev/shm, --perms) come just before
        assert size_at < i and cmd[size_at + 1] == str(3 * MiB), cmd[i + 1]


def test_dev_shm_is_world_writable_and_sticky_like_a_real_one() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/sub")), seccomp_fd=9)
    i = cmd.index("/dev/shm")
    assert cmd[i - 3 : i] == ["--perms", "1777", "--tmpfs"]


def test_dev_is_remounted_read_only_after_every_mount_in_it() -> None:
    cmd = BwrapLauncher().command(SandboxSpec(Path("/tmp/sub"), gpu=True), seccomp_fd=9)
    mounts = _mounts(cmd)
    ro = mounts.index(("--remount-ro", "/dev"))
    under_dev = [i for i, (kind, dest) in enumerate(mounts) if dest == "/dev" or dest.startswith("/dev/")]
    assert max(i for i in under_dev if i != ro) < ro
    assert mounts.index(("--dev", "/dev")) < mounts.index(("--tmpfs", "/dev/shm")) < ro
