# csobot: `make chat` to talk to the bot in this terminal, `make test` to run the tests.
# Everything installs into .venv on first use; only Python 3.11+ is needed beforehand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: chat run test lint bench bench-load faults browser clean

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

## test: install the test dependencies, run the lint and type gates, then the whole suite
test: lint browser
	$(BIN)/python -m pytest

## lint: ruff (lint and format) and mypy, with the settings in pyproject.toml
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The dashboard's browser test drives Debian's chromium with Playwright (never a downloaded
# browser build). Installed here when missing and possible; otherwise that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
				|| echo "chromium could not be installed; the browser test will be skipped"; \
		else echo "chromium not found (install Debian's chromium package); the browser test will be skipped"; fi; }

## bench: print the matcher's accuracy (against the naive baseline) and speed figures
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.matcher
	$(BIN)/python -m tests.benchmarks.scheduler
	$(BIN)/python -m tests.benchmarks.intents

## bench-load: csobot under load (SQLite, PostgreSQL, 1 and 2 processes) beside bare PTB
bench-load: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.load

## faults: kill the bot with SIGKILL at random moments under load; print what was lost or repeated
faults: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.faults

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
