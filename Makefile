# Everyday verbs. `make run` and `make test` work on a fresh clone with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

# Tests run on pytest-xdist workers; `make test XDIST=` runs them in one process.
XDIST  ?= -n auto
FAST   := not postgres and not browser

.PHONY: help run test test-fast test-postgres test-browser lint typecheck format check bench clean

help:
	@echo "make run           initialise a demo database and serve the web UI and API on $(HOST):$(PORT)"
	@echo "make test          the whole test suite on xdist workers (PYTEST_ARGS=... to pass pytest options)"
	@echo "make test-fast     unit and SQLite tests: no database server, no browser"
	@echo "make test-postgres the tests on PostgreSQL (PMOFLOW_TEST_POSTGRES_URL)"
	@echo "make test-browser  the browser tests (/usr/bin/chromium)"
	@echo "make lint          ruff check (style, imports, bugbear, security rules) and ruff format --check"
	@echo "make typecheck     mypy, strict, on engine/ api/ webui/ designer/ (config in pyproject.toml)"
	@echo "make format        ruff format: rewrite the code in the house format"
	@echo "make check         lint, typecheck, then test: what CI runs"
	@echo "make bench         the approval benchmark (BENCH_ARGS=...)"
	@echo "make clean         remove the virtualenv, var/ and caches"

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

# Every test carries tier markers (unit, sqlite, postgres, browser) set by tests/conftest.py.
test: $(VENV)/.installed
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(VENV)/.installed     # no database server, no browser: unit and SQLite tests
	$(BIN)/python -m pytest $(XDIST) -m "$(FAST)" $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed # needs PMOFLOW_TEST_POSTGRES_URL
	$(BIN)/python -m pytest $(XDIST) -m postgres $(PYTEST_ARGS)

test-browser: $(VENV)/.installed  # needs /usr/bin/chromium
	$(BIN)/python -m pytest $(XDIST) -m browser $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check engine api webui designer cli tests bench typings
	$(BIN)/ruff format --check --quiet engine api webui designer cli tests bench typings

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
