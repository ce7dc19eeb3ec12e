# Darkroom: `make run` starts the service, `make test` runs the whole suite. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOST ?= 127.0.0.1
export PORT ?= 8000
# Worker processes: one a CPU, at least 2 and at most 4 (granian warns, rightly, about more workers than CPUs).
export WEB_CONCURRENCY ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 2 ? 2 : (n > 4 ? 4 : n) )))
export DATA_DIR ?= $(CURDIR)/var
export DARKROOM_ENV ?= local

.PHONY: run dev superuser manage database test lint typecheck pytest test-postgres migrate container-check clean bench soak trial cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput -v 0

## Serve at http://$(HOST):$(PORT) with granian and embedded defaults (SQLite and disk cache in ./var);
## SERVER=gunicorn serves the same with gunicorn, the other server of issue 15's trial (README, "Why granian").
SERVER ?= granian
SERVE_granian := $(BIN)/python -m server.granian_serve
SERVE_gunicorn := $(BIN)/gunicorn -c server/gunicorn.py server.wsgi:application
run: migrate
	@test -n "$(SERVE_$(SERVER))" || { echo "SERVER=$(SERVER): make run knows granian and gunicorn" >&2; exit 2; }
	@echo "Serving DATA_DIR=$(DATA_DIR) at http://$(HOST):$(PORT)/ with $(SERVER); its management commands: DATA_DIR=$(DATA_DIR) make manage ARGS=…"
	PROMETHEUS_MULTIPROC_DIR=$(DATA_DIR)/prometheus exec $(SERVE_$(SERVER))

## Create an admin (staff) user in DATA_DIR's database: asks in a terminal; without one, set
## DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD, or it fails.
superuser: database
	$(BIN)/python manage.py createsuperuser

## Any management command, on the data and settings `make run` has with the same DATA_DIR: make manage ARGS="…".
manage: database
	@$(if $(strip $(ARGS)),true,{ echo 'make manage needs ARGS, e.g. make manage ARGS="prune_variants --dry-run"' >&2; exit 2; })
	$(BIN)/python manage.py $(ARGS)

# A management command acts on a server's data only where that server's migrated database is: never create an
# empty one in the wrong DATA_DIR (which is how a newcomer's superuser landed beside the server, not in it).
database: $(VENV)/.runtime
	@test -d "$(DATA_DIR)" || [ -n "$$DATABASE_URL" ] || { \
		echo "DATA_DIR=$(DATA_DIR) does not exist: pass the DATA_DIR the server was started with," >&2; \
		echo "e.g. DATA_DIR=/tmp/x make superuser (nothing was created)." >&2; \
		exit 2; }
	@$(BIN)/python manage.py migrate --check -v 0 >/dev/null || { \
		echo "No migrated database for DATA_DIR=$(DATA_DIR): pass the DATA_DIR (and DATABASE_URL, REDIS_URL) the" >&2; \
		echo "server was started with, e.g. DATA_DIR=/tmp/x make superuser; or create it with make migrate." >&2; \
		exit 2; }

## Django's development server, with auto-reload.
dev: migrate
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Three hosts on 127.0.0.2-4 sharing a new PostgreSQL database, Redis (db 14) and moto's S3 server; Ctrl-C stops them.
cluster: $(VENV)/.dev
	$(BIN)/python -m tests.cluster.hosts

## The whole suite: lint, types, then every test.
test: lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

pytest: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

## Issue 15's server trial: the tests that start servers, against granian and gunicorn side by side (README, "Why
## granian"), and what server/granian_serve.py adds to granian; `pytest -s` prints the slow-client figures.
trial: $(VENV)/.dev
	TRIAL_SERVERS=granian,gunicorn $(BIN)/pytest -s -p no:cacheprovider tests/test_slow_clients.py tests/test_server_trial.py \
		tests/faults tests/test_operations.py tests/test_granian_serve.py \
		-k "slow_uploads or trial or faults or json_logs or proxy_headers or servers_own_refusals or granian_serve" $(PYTEST_ARGS)

## The database-touching tests against PostgreSQL (DATABASE_URL must name a server that can create databases).
test-postgres: $(VENV)/.dev
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL=postgres://…"; exit 2; }
	$(BIN)/pytest -m django_db $(PYTEST_ARGS)

## Build the Dockerfile with buildah and probe the running image (minutes, needs root; not part of `make test`).
container-check:
	python3 .ci/container-smoke $(CURDIR)

## The benchmarks of issue 6, one table (about 5 minutes; BENCH_ARGS=--quick for about 2). See bench/README.md.
bench: $(VENV)/.bench
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || NEED="nginx"; command -v wrk >/dev/null || NEED="$$NEED wrk"; \
	if [ -n "$$NEED" ]; then \
		test "$$(id -u)" = 0 || { echo "make bench needs:$$NEED (apt-get install$$NEED, as root)"; exit 2; }; \
		apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$NEED >/dev/null; \
	fi
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## A bounded soak (3 minutes by default; SOAK_ARGS="--duration 60"): errors, latency, worker memory.
soak: $(VENV)/.bench
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

$(VENV)/.bench: bench/requirements.txt | $(VENV)/.runtime
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis staticfiles
