# syntax=docker/dockerfile:1
# A grading worker: `grader worker`, which runs student code in bubblewrap sandboxes. Build from the
# repository root:
#   docker build -f docker/worker.Dockerfile --build-arg VARIANT=cpu -t grader-worker:cpu .
#   docker build -f docker/worker.Dockerfile --build-arg VARIANT=gpu -t grader-worker:gpu .
#
# VARIANT=cpu installs the CPU build of torch 2.13.0 from the PyTorch CPU index.
# VARIANT=gpu installs torch 2.13.0 from PyPI, whose Linux x86_64 wheel is the CUDA 13.0 build and
#   brings the CUDA runtime, cuBLAS, cuDNN and NCCL as pip packages (nvidia-*-cu13). Both variants
#   therefore share the python:3.11-slim-bookworm base: an nvidia/cuda *-cudnn-runtime base would add
#   a second, unused copy of those libraries (gigabytes), its Ubuntu has no Python 3.11 (the project
#   needs >= 3.11), and a CUDA 12 base would not match the wheels anyway. The only thing the GPU
#   image needs from the host is the driver (>= 580 for CUDA 13), which the NVIDIA Container Toolkit
#   mounts into the container when it is started with a GPU (compose: deploy.resources.reservations).
#   The driver's libraries land under /usr/lib and the devices under /dev/nvidia*; the sandbox
#   mounts /usr read-only and binds /dev/nvidia* for GPU suites.
#
# The sandbox (see docs/DEPLOY.md, "Container security options"): bubblewrap needs unprivileged user
# namespaces, so the container needs a seccomp profile that allows the namespace system calls
# (docker/seccomp-bwrap.json), apparmor=unconfined and systempaths=unconfined; no capabilities.
#
# It runs as the non-root user `grader` (uid 10001, the API image's uid: blobs are written 0600).
# Running the worker as root instead (compose `user: "0:0"`) makes the launcher give every sandbox a
# private host uid from [GRADER_SANDBOX_UID_BASE, +50000) (default 200000), so RLIMIT_NPROC counts that
# sandbox alone instead of being shared with every process of uid 10001 on the host. That needs: the
# SETUID and SETGID capabilities (in Docker's default set: do not cap_drop them), the venv, the
# package, /var/lib/grader and the HF cache traversable by any uid (o+x, as built here), and a uid
# range that no other user or container on the host uses.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG VARIANT=cpu
ARG TORCH_VERSION=2.13.0
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
 && case "${VARIANT}" in \
      cpu) pip install --index-url "${TORCH_CPU_INDEX_URL}" "torch==${TORCH_VERSION}" ;; \
      gpu) pip install "torch==${TORCH_VERSION}" ;; \
      *) echo "VARIANT must be cpu or gpu, not '${VARIANT}'" >&2; exit 1 ;; \
    esac
WORKDIR /src
COPY pyproject.toml README.md ./
COPY grader ./grader
RUN pip install . && pip check

FROM ${PYTHON_IMAGE}
ARG VARIANT=cpu
ARG GRADER_UID=10001
# bubblewrap: the sandbox; util-linux: prlimit (the sandbox's rlimits); tini: PID 1 that forwards
# SIGTERM to the worker and reaps what the sandboxes leave behind.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid "${GRADER_UID}" grader \
 && useradd --uid "${GRADER_UID}" --gid grader --no-log-init --create-home --shell /usr/sbin/nologin grader \
 && install -d -o grader -g grader -m 0755 /var/lib/grader /srv/grader /srv/grader/blobs
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 docker/worker-entrypoint.sh /usr/local/bin/worker-entrypoint.sh
COPY --chmod=0755 docker/worker-healthcheck.py /usr/local/bin/worker-healthcheck.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRADER_VARIANT=${VARIANT} \
    GRADER_DATA_DIR=/var/lib/grader \
    GRADER_BLOB_DIR=/srv/grader/blobs \
    GRADER_SUITES_DIR=/srv/grader/suites \
    GRADER_WORKER_QUEUES=${VARIANT} \
    HF_HOME=/srv/grader/hf \
    HF_HUB_OFFLINE=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /var/lib/grader
USER ${GRADER_UID}:${GRADER_UID}
# Does this container's worker answer a Celery ping through Redis? (It does while grading: the main
# process answers, the pool child grades.)
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
  CMD ["python", "/usr/local/bin/worker-healthcheck.py"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/worker-entrypoint.sh"]
