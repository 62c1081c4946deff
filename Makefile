# The two commands a new user needs are `make run` and `make test`; everything else is here too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint fmt bench sim clean lock

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
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
	$(BIN)/pytest -q --durations=20

bench: setup
	$(BIN)/python -m bench

lock:
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
