# salesai — `make run` (the app with demo data on the embedded defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= true
PYTEST_ARGS ?=

.PHONY: setup run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty --history-days 21
	PORT=$(PORT) scripts/run-dev

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then the architecture: the rooms' import contracts (import-linter, see pyproject.toml), no
# import cycles, no module of the apps over 600 lines, SQL only in queries modules (scripts/).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m scripts.check_architecture

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks run on PostgreSQL + Redis (defaults below when DATABASE_URL / REDIS_URL are not set).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/salesai_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/1
bench: setup
	export DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(BENCH_REDIS_URL)}" && \
	$(BIN)/python -m simulation.bench_db && \
	$(BIN)/python manage.py migrate --noinput -v0 && \
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
