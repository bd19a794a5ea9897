# Everyday verbs. `make run` and `make test` work on a fresh clone with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: help run test lint typecheck format check bench clean

help:
	@echo "make run        initialise a demo database and serve the web UI and API on $(HOST):$(PORT)"
	@echo "make test       the whole test suite (PYTEST_ARGS=... to pass pytest options)"
	@echo "make lint       ruff check (style, imports, bugbear, security rules)"
	@echo "make typecheck  mypy, strict, on engine/ api/ webui/ designer/ (config in pyproject.toml)"
	@echo "make format     ruff format: rewrite the code in the house format"
	@echo "make check      lint, typecheck, then test: what CI runs"
	@echo "make bench      the approval benchmark (BENCH_ARGS=...)"
	@echo "make clean      remove the virtualenv, var/ and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp is rebuilt whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/pmoflow init --demo
	$(BIN)/pmoflow serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check engine api webui designer cli tests bench typings

typecheck: $(VENV)/.installed
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format engine api webui designer cli tests bench typings
	$(BIN)/ruff check --fix --select I engine api webui designer cli tests bench typings

check: lint typecheck test

bench: $(VENV)/.installed
	$(BIN)/python -m bench.approval $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
