# Augur — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
AUGUR := $(VENV)/bin/augur
STAMP := $(VENV)/.installed
GENERATED := 'services/augur/*/v1'
export PYTHONHASHSEED := 0

help: ## List the targets
	@grep -hE '^[a-z][a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-dev.lock package.json package-lock.json
	@test -x $(PY) || python3.11 -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check
	bash scripts/ensure_nginx.sh
	bash scripts/ensure_prometheus.sh
	bash scripts/fetch_compose_schema.sh $(VENV)
	@if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --no-save; else echo "npm not found: proto lint (buf) unavailable" >&2; fi
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Augur with its pinned dependencies

LOCK := $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --no-header -q
lock: $(STAMP) ## Re-resolve the hashed lock files (keeps every pin it can; UPGRADE=pkg to move one)
	$(LOCK) $(if $(UPGRADE),--upgrade-package $(UPGRADE)) -o requirements.lock
	$(LOCK) --extra dev $(if $(UPGRADE),--upgrade-package $(UPGRADE)) -o requirements-dev.lock

protos: $(STAMP) ## Regenerate Python code from protos/ into services/augur/<svc>/v1
	PY=$(PY) bash scripts/gen_protos.sh

check-protos: protos ## Fail when the committed generated code differs from the protos
	@git diff --exit-code -- $(GENERATED) || (echo "generated code is stale: run make protos and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" || (echo "untracked generated files: run make protos and commit" >&2; git status --short -- $(GENERATED); exit 1)

lint-protos: $(STAMP) ## Lint the .proto files with buf (STANDARD + COMMENTS rules)
	node_modules/.bin/buf lint

lint: $(STAMP) lint-protos ## ruff, ruff format check, mypy, buf lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## Format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

redis: ## Make sure a Redis answers on 127.0.0.1:6379 (starts redis-server if none)
	@bash scripts/ensure_redis.sh

test: $(STAMP) lint check-protos redis ## The whole suite (what CI runs): lint, proto drift, every lane
	$(VENV)/bin/pytest -q

test-fast: $(STAMP) ## The unit lane: pure Python, no Redis, socket or subprocess (under a minute)
	$(VENV)/bin/pytest -q -m unit tests/unit

test-integration: $(STAMP) redis ## The integration lane: real Redis, MLflow on sqlite, in-process gRPC, nginx
	$(VENV)/bin/pytest -q -m integration tests/integration

test-system: $(STAMP) redis ## The system lane: process stacks, PostgreSQL, Prometheus, Dask, chaos, deploy tools
	$(VENV)/bin/pytest -q -m system tests/system

chaos: $(STAMP) redis ## Fault scenarios on a stack of its own (Redis, MLflow, backends, consumer)
	$(AUGUR) chaos

MINUTES ?= 10
soak: $(STAMP) redis ## Mixed load through the gateway for MINUTES (default 10): p50/p99 and memory per minute
	$(AUGUR) soak --minutes $(MINUTES)

eval: $(STAMP) redis ## Real public purchase logs (development half): figures into EVALUATION.md
	$(AUGUR) eval

demo: $(STAMP) ## The main job on embedded defaults: data -> features -> live ingestion -> serving
	$(AUGUR) demo

up: $(STAMP) ## Start the local stack (Redis if needed, MLflow store, services with something to serve)
	$(AUGUR) up

down: ## Stop exactly what `make up` started
	@if [ -x $(AUGUR) ]; then $(AUGUR) down; fi

status: $(STAMP) ## Show what the local stack runs
	$(AUGUR) status

bench: $(STAMP) ## Every benchmark on a stack of its own; writes .bench/results.json and the figures of BENCHMARKS.md
	$(AUGUR) bench

clean: down ## Remove local state (.augur, .bench)
	rm -rf .augur .bench

.PHONY: help install lock protos check-protos lint-protos lint fmt redis test test-fast test-integration test-system chaos soak demo up down status bench clean
