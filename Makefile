# The two commands a developer needs: `make dev` and `make test`. Both build .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export AWS_DEFAULT_REGION ?= us-east-1
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: dev test lint typecheck fix hooks unit integration e2e fuzz browser clean venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip>=24,<26.3"  # chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python -m chalicelib.local

# ruff (style, bugs, complexity, stale noqa) and the import-layer contracts (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

# mypy strict on chalicelib and app.py; tests/ type-checked too (files in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

# Rewrite what the tools can fix themselves (imports, format, stale noqa), then show the rest.
fix: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/ruff check .

# Run the same checks before every commit (.pre-commit-config.yaml).
hooks: $(STAMP)
	$(BIN)/pre-commit install

test: lint typecheck browser
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit --no-cov

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration --no-cov

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e --no-cov

# Long generated runs (tests marked fuzz), e.g. the conformance run against the local stack with
# every phase: FUZZ_EXAMPLES cases per operation (make test runs a bounded few).
FUZZ_EXAMPLES ?= 20
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -m fuzz --no-cov -s

# Debian's Chromium for the test that opens /docs in a real browser: installed once, as root,
# when missing (CI runs as root). Elsewhere it says how; the browser test is skipped until then.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser test (once, about a minute)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "chromium is missing: 'sudo make browser' installs it (the browser test is skipped)"; \
	  fi; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .local test-output .schemathesis
