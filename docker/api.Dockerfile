# syntax=docker/dockerfile:1
# The API: `grader api` (FastAPI under uvicorn). Build from the repository root:
#   docker build -f docker/api.Dockerfile -t grader-api .
#
# torch: the API never imports torch (grader/api is kept free of it), but torch==2.13.0 is a declared
# dependency of the package. Rather than install the package with --no-deps and a hand-kept copy of
# its other dependencies, the image installs the CPU build of torch 2.13.0 from the PyTorch CPU index
# first, which satisfies the `torch==2.13.0` pin (pip ignores the +cpu local label), so `pip install .`
# then pulls no CUDA packages: the image stays correct by construction (`pip check` passes, and admin
# commands such as `grader grade` still work in it) at about 0.7 GB for torch instead of several GB.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
 && pip install --index-url "${TORCH_CPU_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY grader ./grader
RUN pip install . && pip check

FROM ${PYTHON_IMAGE}
ARG GRADER_UID=10001
# The same uid as the worker image: blobs are written 0600 by the API and read by the workers.
RUN groupadd --gid "${GRADER_UID}" grader \
 && useradd --uid "${GRADER_UID}" --gid grader --no-log-init --create-home --shell /usr/sbin/nologin grader \
 && install -d -o grader -g grader -m 0755 /var/lib/grader /srv/grader /srv/grader/blobs
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRADER_DATA_DIR=/var/lib/grader \
    GRADER_BLOB_DIR=/srv/grader/blobs \
    GRADER_SUITES_DIR=/srv/grader/suites \
    GRADER_API_PORT=8000
WORKDIR /var/lib/grader
USER ${GRADER_UID}:${GRADER_UID}
EXPOSE 8000
# 200 only when Redis answers (503 otherwise), so "healthy" means the API can take uploads.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('GRADER_API_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=5).status == 200 else 1)"]
CMD ["grader", "api", "--host", "0.0.0.0"]
