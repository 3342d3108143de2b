"""The two scripts at the root of a Gradescope autograder zip, filled in at export time.

``setup.sh`` runs once, as root, when Gradescope builds the image; ``run_autograder`` runs for every
submission. Every path derives from ``AUTOGRADER_ROOT`` (default ``/autograder``), so a test can run
the same script on a folder laid out like Gradescope's.
"""

from __future__ import annotations

import shlex

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, in its Ubuntu image (the zip is unpacked in /autograder/source).
# It installs bubblewrap and prlimit, a venv from the system Python at $AUTOGRADER_ROOT/venv, the CPU
# build of torch and this grader (@VERSION@, bundled in project/). Exported for assignment @ASSIGNMENT@.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="$ROOT/venv"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

apt-get update -qq
apt-get install -y -qq bubblewrap util-linux python3 python3-venv ca-certificates >/dev/null

# The grader needs Python >= 3.11 (Ubuntu 22.04's python3 is 3.10: take python3.11 from its archive).
PY=""
for candidate in python3 python3.13 python3.12 python3.11; do
  if [ -x "/usr/bin/$candidate" ] && "/usr/bin/$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="/usr/bin/$candidate"; break
  fi
done
if [ -z "$PY" ]; then
  apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  PY=/usr/bin/python3.11
fi
"$PY" -c 'import ensurepip, venv' 2>/dev/null || apt-get install -y -qq "$(basename "$PY")-venv" >/dev/null

# From the system Python on purpose: each sandbox runs it under a private uid, so it must be readable
# by every uid (/usr is bound read-only into the sandbox, the venv next to it).
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q --index-url @TORCH_INDEX@ @TORCH@
"$VENV/bin/pip" install -q "$HERE/project"
"$VENV/bin/python" -c 'import grader, torch; print("grader", grader.__version__, "torch", torch.__version__)'
# The students' environment the suite declares (suite.toml [environment]): built here, where there is a network.
GRADER_SUITES_DIR="$HERE/suites" GRADER_DATA_DIR="$ROOT/grader-data" "$VENV/bin/grader" env build --assignment @ASSIGNMENT@
chmod -R a+rX "$VENV"

# As root the grader gives each sandbox a private uid, which must traverse every parent of the venv.
dir="$ROOT"
while [ "$dir" != "/" ]; do chmod o+x "$dir"; dir="$(dirname "$dir")"; done

# Informational: whether this build container lets bubblewrap create its namespaces. Gradescope may
# run submissions under other settings; run_autograder checks again and fails closed.
probe="$(mktemp -d)"
"$VENV/bin/python" -m grader.export.gradescope_run --check-sandbox --assignment @ASSIGNMENT@ \
  --submission "$probe" --results "$probe/results.json" --suites-dir "$HERE/suites" --data-dir "$ROOT/grader-data" \
  || echo "WARNING: the sandbox does not work in this build container; see docs/GRADESCOPE.md"
rm -rf "$probe"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission. It grades $AUTOGRADER_ROOT/submission with the
# bundled suite of @ASSIGNMENT@ inside the bubblewrap sandbox and always leaves a results.json behind.
#   AUTOGRADER_ROOT  default /autograder: submission/, results/, source/ (this zip), venv/
#   GRADER_PYTHON    default $AUTOGRADER_ROOT/venv/bin/python: a Python with this grader installed
set -uo pipefail
umask 022
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-$ROOT/venv/bin/python}"
SOURCE="$ROOT/source"
DATA="$ROOT/grader-data"
RESULTS="$ROOT/results/results.json"

last_ditch() {  # $1: a fixed sentence (no quotes or backslashes); valid Gradescope JSON, score 0
  printf '{"score": 0, "execution_time": %s, "output": "%s", "stdout_visibility": "hidden", "tests": [], "extra_data": {"status": "%s"}}\n' \
    "$SECONDS" "$1" "$2" >"$RESULTS"
}

mkdir -p "$ROOT/results" "$DATA"
# Written first, replaced atomically by the grader: a crash, an out-of-memory kill or a missing
# Python leaves this behind instead of no results at all.
last_ditch "Your submission was not graded: the autograder stopped before it finished (not a judgement of your code). Please resubmit or tell course staff." "autograder_incomplete"

# As root each sandbox runs under a private uid: it must traverse the scratch space (which receives the
# engine's own readable copy of the submission), the venv and the grader. o+x lets it pass a folder,
# not list it. The bundled suite and its hidden data stay root-only.
chmod 0711 "$DATA"
dir="$ROOT"
while [ "$dir" != "/" ]; do
  [ $(( $(stat -c '%a' "$dir") & 1 )) -eq 1 ] || chmod o+x "$dir" || echo "cannot chmod o+x $dir"
  dir="$(dirname "$dir")"
done
chmod -R go-rwx "$SOURCE/suites" 2>/dev/null || true

cd "$DATA" || exit 0  # never import a stray grader/ from the working directory
"$PYTHON" -m grader.export.gradescope_run --assignment @ASSIGNMENT@ \
  --submission "$ROOT/submission" --results "$RESULTS" --suites-dir "$SOURCE/suites" --data-dir "$DATA"
rc=$?
if [ "$rc" -ne 0 ] && grep -q '"autograder_incomplete"' "$RESULTS" 2>/dev/null; then
  last_ditch "Your submission was not graded: the autograder failed to start (exit status $rc; not a judgement of your code). Please tell course staff." "grader_error"
fi
echo "run_autograder: done in ${SECONDS}s (grader exit status $rc)"
exit 0
"""


def render(template: str, *, assignment: str, version: str, torch: str, torch_index: str) -> str:
    """``template`` with its ``@NAME@`` fields filled, each shell-quoted."""
    fields = {"ASSIGNMENT": assignment, "VERSION": version, "TORCH": torch, "TORCH_INDEX": torch_index}
    for name, value in fields.items():
        template = template.replace(f"@{name}@", shlex.quote(value))
    return template
