"""Run a command under a Docker seccomp profile (JSON), as runc would load it, to test the profile here.

    python seccomp_exec.py PROFILE.json -- COMMAND [ARGS...]

Supports the subset of Docker's profile format that docker/seccomp-bwrap.json uses (defaultAction,
architectures, and name lists with SCMP_ACT_ALLOW or SCMP_ACT_ERRNO + errnoRet) and refuses anything
else, so the test cannot silently check something other than what Docker would load. Like runc, names
this libseccomp does not know are skipped. Exits 125 when the profile cannot be loaded.
"""

from __future__ import annotations

import json
import os
import sys

import pyseccomp as seccomp

ARCHES = {
    "SCMP_ARCH_X86_64": seccomp.Arch.X86_64,
    "SCMP_ARCH_AARCH64": seccomp.Arch.AARCH64,
    "SCMP_ARCH_X86": seccomp.Arch.X86,
    "SCMP_ARCH_X32": seccomp.Arch.X32,
}
SUPPORTED_KEYS = {"comment", "defaultAction", "architectures", "syscalls"}
SUPPORTED_RULE_KEYS = {"comment", "names", "action", "errnoRet"}


def action(name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(1 if errno_ret is None else errno_ret)
    raise ValueError(f"unsupported action {name}")


def build(profile: dict) -> seccomp.SyscallFilter:  # type: ignore[type-arg]
    if unknown := set(profile) - SUPPORTED_KEYS:
        raise ValueError(f"unsupported profile keys {sorted(unknown)}")
    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    filt = seccomp.SyscallFilter(default)
    native = seccomp.system_arch()
    for arch in (ARCHES[a] for a in profile.get("architectures", [])):
        if arch != native:
            filt.add_arch(arch)
    for rule in profile["syscalls"]:
        if unknown := set(rule) - SUPPORTED_RULE_KEYS:
            raise ValueError(f"unsupported rule keys {sorted(unknown)}")
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue  # libseccomp refuses a rule that repeats the default action
        for name in rule["names"]:
            try:
                filt.add_rule(act, name)
            except (OSError, ValueError):
                continue  # unknown to this libseccomp: runc skips it too
    return filt


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write(__doc__ or "")
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            build(json.load(f)).load()
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"seccomp_exec: cannot load {argv[1]}: {exc}\n")
        return 125
    os.execvp(argv[3], argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
