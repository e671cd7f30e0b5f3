# The two commands a developer needs: `make dev` and `make test`. Both build .venv first.
# Shipping (README, Deploying): `make package STAGE=<local|dev|staging|prod>`,
# `make deploy STAGE=<stage> [DRY_RUN=1] [PARAMS="Key=Value ..."]`, `make rollback STAGE=<stage>`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev

# Offline targets run with fake credentials and a fixed region: nothing they do can reach a
# real AWS account. (`deploy` uses yours: none of these apply to it.)
OFFLINE := dev test unit integration e2e package
$(OFFLINE): export AWS_DEFAULT_REGION ?= us-east-1
$(OFFLINE): export AWS_ACCESS_KEY_ID ?= testing
$(OFFLINE): export AWS_SECRET_ACCESS_KEY ?= testing
$(OFFLINE): export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: dev test lint typecheck fix hooks unit integration e2e clean venv package deploy rollback

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

# 1. every stage packaged (cached: only what changed is rebuilt); 2. the suite, which records
# the AWS calls each function makes; 3. those calls against the packaged policies.
test: lint typecheck
	$(BIN)/python scripts/package.py all
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest tests/deploy --aws-calls-check --no-cov -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit --no-cov

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration --no-cov

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e --no-cov

package: $(STAMP)
	$(BIN)/python scripts/package.py $(STAGE)

deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py deploy $(STAGE) $(if $(DRY_RUN),--dry-run) \
		$(foreach p,$(PARAMS),--parameter $(p))

rollback: $(STAMP)
	$(BIN)/python scripts/deploy.py rollback $(STAGE) $(if $(DRY_RUN),--dry-run)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .local build dist
