#!/bin/sh
# Worker entrypoint: wait (bounded) until Redis answers, then become `grader worker`.
#
#   REDIS_URL                  required: the broker and store (redis://, rediss://, unix://, redis+socket://)
#   GRADER_WORKER_QUEUES       queues to consume (default cpu)
#   GRADER_REDIS_WAIT_SECONDS  how long to wait for Redis before giving up with exit 1 (default 60)
#
# Extra arguments go to `grader worker`, e.g. `--concurrency 1`. exec keeps the worker the direct
# child of tini, so SIGTERM reaches it: a warm shutdown that finishes the current job.
set -eu

: "${REDIS_URL:?REDIS_URL must be set, e.g. redis://redis:6379/0}"
wait_seconds="${GRADER_REDIS_WAIT_SECONDS:-60}"
deadline=$(( $(date +%s) + wait_seconds ))
delay=1
# Exponential backoff capped at 8 s; each try is bounded (timeout 5) so a black-holed host cannot hang it.
until timeout 5 python -c 'import os; from grader.store.redis_server import connect; connect(os.environ["REDIS_URL"]).ping()' 2>/dev/null; do
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    echo "worker-entrypoint: Redis did not answer within ${wait_seconds} s (check REDIS_URL); giving up" >&2
    exit 1
  fi
  echo "worker-entrypoint: waiting for Redis (next try in ${delay} s)" >&2
  sleep "$delay"
  delay=$(( delay < 8 ? delay * 2 : 8 ))
done
echo "worker-entrypoint: Redis is up; starting grader worker --queues ${GRADER_WORKER_QUEUES:-cpu}" >&2
exec grader worker --queues "${GRADER_WORKER_QUEUES:-cpu}" "$@"
