# csobot: `make chat` to talk to the bot in this terminal, `make test` to run the tests.
# Everything installs into .venv on first use; only Python 3.11+ is needed beforehand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: chat run test bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "csobot needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

## chat: talk to the bot in this terminal (SQLite in data/, shipped config.yaml and knowledge/)
chat: $(VENV)/.installed
	@$(BIN)/csobot chat

## run: run the bot on Telegram (needs TELEGRAM_BOT_TOKEN in the environment or .env)
run: $(VENV)/.installed
	@$(BIN)/csobot run

## test: install the test dependencies and run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

## bench: print the matcher's accuracy (against the naive baseline) and speed figures
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.matcher
	$(BIN)/python -m tests.benchmarks.scheduler

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
