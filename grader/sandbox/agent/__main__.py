"""Entry point inside the sandbox: ``python -I .../grader/sandbox/agent/__main__.py``."""

import sys
from pathlib import Path

# Only the directory that holds the agent's own package is added; -I already dropped the environment.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

# First of all: bubblewrap's --new-session put the agent in a new scheduling group at niceness 0, where
# it competes with the API as an equal until it takes the grader's niceness (bench/burst.py).
from grader.sandbox.agent.autogroup import share_niceness_with_session  # noqa: E402

share_niceness_with_session()

from grader.sandbox.agent.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
