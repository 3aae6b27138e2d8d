# The two commands a newcomer needs: `make run` (serve with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BENCH_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/markets_bench
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench profile schema clean

install: $(VENV)/.installed

# torch first, pinned: 2.13.0 is a CPU wheel on this machine's disk; left to the semantic extra
# (sentence-transformers), pip would pull a CUDA build of several GB.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,semantic]'
	touch $@

run: install
	$(BIN)/markets migrate
	$(BIN)/markets seed --if-empty --users 200 --markets 2000 --positions 20000
	$(BIN)/markets serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/markets export-schema --check

schema: install
	$(BIN)/markets export-schema

# Ports, Redis and the parts to run: bench/processes.sh and bench/serve_and_run.sh (BENCH_* variables).
bench: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_BIN=$(BIN) bash bench/serve_and_run.sh

# py-spy's top frames for one read operation under wrk's load: make profile OP=markets_nested
OP ?= market_by_id
profile: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_BIN=$(BIN) bash bench/profile.sh $(OP)

clean:
	rm -rf $(VENV) markets.db markets.db-* .pytest_cache .mypy_cache .ruff_cache
