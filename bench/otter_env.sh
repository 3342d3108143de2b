#!/usr/bin/env bash
# Create (or refresh) the bench-only Otter-Grader environment: a separate venv, never the project's.
#
#   bench/otter_env.sh [VENV]        (default /tmp/grader-otter-venv)
#
# Otter executes the student's notebook in a Jupyter kernel of this venv, so the kernel needs torch:
# rather than download a second copy, a .pth file appends the project venv's site-packages (read only,
# after Otter's own packages). Nothing is installed into the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-/tmp/grader-otter-venv}"
OTTER_VERSION="${OTTER_VERSION:-7.0.0}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "otter-grader==$OTTER_VERSION" ipykernel >/dev/null
PROJECT_SITE="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
OTTER_SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$PROJECT_SITE" > "$OTTER_SITE/zz_grader_project_site.pth"
"$VENV/bin/python" -c 'import otter, torch, ipykernel; print("otter", otter.__version__, "torch", torch.__version__)'
