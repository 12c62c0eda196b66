# trainserve: the HTTP API (`trainserve serve`) and/or training workers (`trainserve worker`).
# Two targets:
#   api     the serving side only: FastAPI + ONNX Runtime, no TensorFlow (~1/5 the size).
#           Serves runs from their ONNX/LiteRT exports; `serve` runs no workers here.
#   worker  everything (the default, last stage): TensorFlow, Keras and the exporters, so it
#           trains; its default command is the API plus one worker, as before.
#
#   docker build --network host --target api -t trainserve-api .
#   docker build --network host -t trainserve .
#   docker run --init -v trainserve-data:/data -p 8000:8000 trainserve          # API + 1 worker
#   docker run --init -v trainserve-data:/data trainserve trainserve worker      # one more worker
#   docker run --init -v trainserve-data:/data -p 8000:8000 trainserve-api      # light API only
#
# `make docker-smoke` builds both and checks them end to end; `make docker-lint` runs hadolint.
# Written for the classic builder as well as BuildKit (no RUN --mount, no syntax directive).

# --- 1. the dependency lists, exactly as uv.lock pins them ------------------------------------
# The image installs the versions the test suite ran against: uv exports the lock's pins (with
# their hashes) for the serving dependencies and for those plus the [train] extra; [dev] never
# gets in. A stage of its own so that the expensive installs below are keyed on these lists
# alone: editing pyproject.toml elsewhere (version, pytest or ruff settings) keeps them cached.
# uv is pinned as in the Makefile; pip installs them with --no-deps (the lists are the whole
# closure, resolved once by uv), so the base image's pip settings (index, certificates) apply.
FROM python:3.11-slim AS requirements
WORKDIR /src
RUN pip install --no-cache-dir --quiet 'uv==0.13.9'
COPY pyproject.toml uv.lock ./
RUN uv export --frozen --no-emit-project --no-dev --quiet -o /requirements.txt \
    && uv export --frozen --no-emit-project --no-dev --quiet --extra train \
       -o /requirements-train.txt

# --- 2. builders: /opt/venv with the serving dependencies, then the training ones on top --------
FROM python:3.11-slim AS builder
# pip runs with the base image's own pip configuration (index, certificates): nothing set here.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt

# The light venv: ONNX Runtime's Python-side developer tools and its C-API library (the Python
# module links its own copy; nothing here loads the other) removed, and numpy's test suite; pip
# and setuptools (nothing installs at run time); botocore's models of every AWS service but the
# S3 client's (app/storage/s3.py; sts/sso for credential providers): together 93 MB of the
# 450 MB the api image is allowed. The last line proves what serving needs still loads.
FROM builder AS builder-api
RUN site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -rf "$site"/onnxruntime/transformers "$site"/onnxruntime/quantization \
       "$site"/onnxruntime/tools "$site"/onnxruntime/capi/libonnxruntime.so.* \
       "$site"/numpy/_core/tests "$site"/numpy/*/tests \
    && find "$site"/botocore/data -mindepth 1 -maxdepth 1 -type d \
       ! -name s3 ! -name sts ! -name sso ! -name sso-oidc -exec rm -rf {} + \
    && python -m pip uninstall --yes --quiet pip setuptools \
    && python -c 'import onnxruntime, numpy, boto3; onnxruntime.SessionOptions(); \
boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")'

FROM builder AS builder-train
# The big layer (tensorflow-cpu and friends): rebuilt only when the [train] list changes. The
# list repeats the serving pins, already installed, so pip adds only the training ones.
COPY --from=requirements /requirements-train.txt /tmp/requirements-train.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements-train.txt

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

# --- 4. what both targets share: the unprivileged user, the environment, the source -----------
FROM scratch AS source
COPY alembic.ini /app/
COPY alembic /app/alembic
COPY models /app/models
COPY app /app/app

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="trainserve" \
      org.opencontainers.image.description="Trains Keras networks over HTTP and serves their digit predictions" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    ORT_DISABLE_TELEMETRY=1 \
    TRAINSERVE_DATA_DIR=/data \
    TRAINSERVE_HOST=0.0.0.0 \
    TRAINSERVE_PORT=8000
# An unprivileged user; /data belongs to it so that a fresh named volume does too.
RUN groupadd --gid 10001 trainserve \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/trainserve \
       --shell /usr/sbin/nologin trainserve \
    && mkdir -p /data \
    && chown 10001:10001 /data
WORKDIR /app
VOLUME /data
EXPOSE 8000
# Liveness only (/readyz also needs a worker, which an API started with --workers 0 may lack).
# Python, because the slim image has no curl; follows TRAINSERVE_PORT when it is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRAINSERVE_PORT', '8000'), timeout=4)"]

# --- 5a. api: serving only, no TensorFlow ---------------------------------------------------------
FROM runtime AS api
# No workers in this image (they need TensorFlow); run them from the worker target.
ENV TRAINSERVE_WORKERS=0
# Dependencies first (cached while the dependency list stays), then the project's few files.
# The source stays root-owned (read-only to the service); small layers, rebuilt on every edit.
COPY --from=builder-api /opt/venv /opt/venv
COPY --from=project /staging/ /
COPY --from=source /app /app
USER 10001:10001
# Migrate, then `exec` so that the server itself (not sh) receives SIGTERM from `docker stop`.
CMD ["sh", "-c", "trainserve migrate && exec trainserve serve"]

# --- 5b. worker (the default): everything, trains and serves --------------------------------------
FROM runtime AS worker
COPY --from=builder-train /opt/venv /opt/venv
COPY --from=project /staging/ /
COPY --from=source /app /app
USER 10001:10001
# Run with --init (or compose `init: true`) so the worker processes it spawns are reaped.
# Other commands: `trainserve worker`, `trainserve migrate`, `trainserve serve --workers 0`.
CMD ["sh", "-c", "trainserve migrate && exec trainserve serve"]
