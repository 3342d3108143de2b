"""Entry point inside the sandbox: ``python -I .../grader/sandbox/agent/__main__.py``."""

import sys
from pathlib import Path

# Only the directory that holds the agent's own package is added; -I already dropped the environment.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from grader.sandbox.agent.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
