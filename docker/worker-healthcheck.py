"""Docker HEALTHCHECK for a grading worker: does this container's own Celery worker answer a ping?

The worker names itself ``grader-<queues>-<pid>@<hostname>``; the container's hostname is unique, so a
reply from a node ending in ``@<hostname>`` is this container's. Exit 0 when it replies, 1 otherwise.
The main process answers pings while its pool child grades, so a busy worker stays healthy.
"""

from __future__ import annotations

import os
import socket
import sys


def main() -> int:
    from grader.config import get_settings
    from grader.worker.celery_app import make_celery

    settings = get_settings()
    if not settings.redis_url:
        sys.stderr.write("unhealthy: REDIS_URL is not set\n")
        return 1
    app = make_celery(settings, settings.redis_url)
    suffix = "@" + socket.gethostname()
    try:
        replies = app.control.ping(timeout=float(os.environ.get("GRADER_HEALTHCHECK_TIMEOUT", "5")))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the broker means "unhealthy"
        sys.stderr.write(f"unhealthy: cannot ping through the broker: {exc}\n")
        return 1
    finally:
        app.close()
    mine = sorted(node for reply in replies for node in reply if node.endswith(suffix))
    if not mine:
        sys.stderr.write(f"unhealthy: no worker on {socket.gethostname()} answered a ping\n")
        return 1
    sys.stdout.write(f"healthy: {', '.join(mine)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
