"""The trust boundary: the only code that starts untrusted code.

Threat model (what the sandbox covers / does not cover).

Covered, by construction:
- Hidden checks, hidden data and the suites never enter the sandbox's mount namespace: it sees a
  read-only ``/usr``, the Python environment, the agent's own eight files (``launcher.AGENT_FILES``), the submission (read-only,
  copied to a size-limited tmpfs before any student code runs), a private ``/tmp`` and ``/dev/shm`` (capped
  alike) and a read-only ``/dev``.
- No network: a new network namespace, and a seccomp filter that refuses every socket family but
  ``AF_UNIX`` (so not even 127.0.0.1 inside the namespace), plus ``io_uring``. The same filter denies at
  least what Docker's default profile denies, on bare metal too (``seccomp.DENIED``), plus SysV IPC and
  ``memfd_create`` (memory outside every cap).
- No view of other processes (new PID namespace and /proc), of the grader's environment (cleared), of
  inherited descriptors (only the RPC pipes and the output pipe are passed).
- Limits: wall clock (killed from outside), CPU time, address space, processes (a dedicated host uid
  per sandbox when the grader runs as root), file size, tmpfs size, open files, captured output.
- ``--die-with-parent`` and a PID namespace: no process outlives the sandbox; ``--new-session``.
- Scores are computed by the trusted side; replies are size-capped and validated before any check
  sees them, and no pickle is used, so a forged reply can at worst fail the forger's own checks.

Not covered:
- Kernel exploits (namespaces and seccomp reduce, not remove, the kernel's attack surface).
- The agent shares a process with the student's code, so a submission can forge the agent's replies;
  checks must therefore compute expectations outside (see ``grader.authoring``), never trust a value
  because it came from "the agent".
- Without root, every sandbox shares the grader's uid, so the process limit is approximate.
- CPU and memory contention with other sandboxes on the same machine (no cgroups).

This package's ``__init__`` and ``protocol`` run on both sides: keep them standard-library only.
"""
