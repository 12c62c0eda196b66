# trainserve: the HTTP API (`trainserve serve`) and/or training workers (`trainserve worker`).
#
#   docker build --network host -t trainserve .
#   docker run --init -v trainserve-data:/data -p 8000:8000 trainserve          # API + 1 worker
#   docker run --init -v trainserve-data:/data trainserve trainserve worker      # one more worker
#
# `make docker-smoke` builds this image and checks it end to end; `make docker-lint` runs hadolint.
# Written for the classic builder as well as BuildKit (no RUN --mount, no syntax directive).

# --- 1. the runtime dependency list, read from pyproject.toml ----------------------------------
# A stage of its own so that the expensive install in stage 2 is keyed on the dependency list
# alone: editing pyproject.toml elsewhere (version, [dev] extras, pytest or ruff settings) keeps
# the tensorflow layer cached. Only [project.dependencies]; the [dev] extras never get in.
FROM python:3.11-slim AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
open('/requirements.txt', 'w').write(''.join(d + '\n' for d in deps))"

# --- 2. builder: /opt/venv with the runtime dependencies --------------------------------------
FROM python:3.11-slim AS builder
# pip runs with the base image's own pip configuration (index, certificates): nothing set here.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The big layer (tensorflow-cpu and friends): rebuilt only when the dependency list changes.
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# --- 3. the project itself, installed editable into that venv ---------------------------------
# Editable because app/db/migrations.py finds alembic.ini and alembic/ two directories above
# itself: the code must run from /app, not from site-packages. The install adds only a path hook
# to /app/app, the dist-info and the `trainserve` script; they are collected under /staging so
# that the runtime stage can take them apart from the venv. (Copying the whole venv from here
# instead would re-copy its ~1.9 GB on every source edit: reinstalled files never match.)
FROM builder AS project
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
RUN touch /tmp/before-install \
    && pip install --no-cache-dir --no-deps --editable . \
    && find /opt/venv -newer /tmp/before-install ! -type d -printf '%P\0' >/tmp/installed \
    && tar -C /opt/venv --null --files-from=/tmp/installed -cf /tmp/installed.tar \
    && mkdir -p /staging/opt/venv \
    && tar -xf /tmp/installed.tar -C /staging/opt/venv

# --- 4. runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="trainserve" \
      org.opencontainers.image.description="Trains Keras networks over HTTP and serves their digit predictions" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    TRAINSERVE_DATA_DIR=/data \
    TRAINSERVE_HOST=0.0.0.0 \
    TRAINSERVE_PORT=8000
# An unprivileged user; /data belongs to it so that a fresh named volume does too.
RUN groupadd --gid 10001 trainserve \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/trainserve \
       --shell /usr/sbin/nologin trainserve \
    && mkdir -p /data \
    && chown 10001:10001 /data
# Dependencies first (cached while the dependency list stays), then the project's few files.
COPY --from=builder /opt/venv /opt/venv
COPY --from=project /staging/ /
# The source stays root-owned (read-only to the service); small layers, rebuilt on every edit.
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
COPY models ./models
COPY app ./app
USER 10001:10001
VOLUME /data
EXPOSE 8000
# Liveness only (/readyz also needs a worker, which an API started with --workers 0 may lack).
# Python, because the slim image has no curl; follows TRAINSERVE_PORT when it is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRAINSERVE_PORT', '8000'), timeout=4)"]
# Migrate, then `exec` so that the server itself (not sh) receives SIGTERM from `docker stop`.
# Run with --init (or compose `init: true`) so the worker processes it spawns are reaped.
# Other commands: `trainserve worker`, `trainserve migrate`, `trainserve serve --workers 0`.
CMD ["sh", "-c", "trainserve migrate && exec trainserve serve"]
