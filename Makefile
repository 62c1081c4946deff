# The two commands a new user needs are `make run` and `make test`; everything else is here too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := uv==0.13.8

.PHONY: setup run test test-all lint fmt bench sim clean lock scale

setup: $(STAMP)

# uv installs the pinned set: on a clean machine (no cache) ~30 s where pip took ~5 min.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(UV)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Without a token in .env this opens the local chat (prints `local chat: http://127.0.0.1:8080/`).
# .env will hold the bot token and exchange keys: readable by its owner only.
run: setup
	@test -f .env || (umask 077 && cp .env.example .env)
	@chmod 600 .env
	@$(BIN)/python -m bot

sim: setup
	$(BIN)/python -m bot.sim --host 127.0.0.1 --port 8899 --seed 1

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest -q -n 3 --durations=20

# Everything, the long variants too (every crash kill point): `-m` replaces the default
# `-m 'not crash'` from pyproject.toml.
test-all: lint
	$(BIN)/pytest -q --durations=20 -m ''

bench: setup
	$(BIN)/python -m bench

lock:
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The process set on a local PostgreSQL (Debian's, in a temporary directory) under load and
# SIGKILLs; prints one table (bench/scale/; `--users 1000,3000,10000` for the full one).
scale: setup
	$(BIN)/python -m bench.scale --users 1000,3000
