# Charter — the two set-up commands are `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: run test lint types test-sqlite test-postgres bench fuzz screenshots clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

## run: install, migrate and serve the API and console on SQLite, seeded with the demo scenario
run: $(BIN)/.installed
	$(BIN)/charter serve --demo

## test: lint, types, and the whole suite on SQLite and on PostgreSQL
test: $(BIN)/.installed lint types test-sqlite test-postgres

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_cycles.py

types: $(BIN)/.installed
	$(BIN)/mypy

test-sqlite: $(BIN)/.installed
	@echo "== tests on SQLite"
	env -u CHARTER_TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(BIN)/.installed
	@echo "== tests on PostgreSQL ($(PG_TEST_URL))"
	CHARTER_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS)

## fuzz: schemathesis over the OpenAPI document against a real server (long; not part of `make test`)
fuzz: $(BIN)/.installed
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-30} $(BIN)/python scripts/fuzz.py

## bench: the benchmarks under benchmarks/ (on demand, not part of `make test`)
bench: $(BIN)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## screenshots: console screenshots for the README into docs/screenshots/ (needs Debian's chromium)
screenshots: $(BIN)/.installed
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .charter .mypy_cache .ruff_cache
