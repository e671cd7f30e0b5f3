# The two commands a developer needs: `make dev` and `make test`. Both build .venv first.
# The local stack's others: `make load`, `make mail`, `make reset` (see the README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export AWS_DEFAULT_REGION ?= us-east-1
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: dev test lint typecheck unit integration e2e clean venv load mail reset

venv: $(STAMP)

# pip prints each package as it goes: no silent minute on a first run.
$(STAMP): requirements.txt requirements-dev.txt
	@echo "==> Creating $(VENV) and installing the project's packages (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip>=24,<26.3"  # chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $(STAMP)
	@echo "==> $(VENV) is ready"

# `exec`: the stack replaces the recipe's shell, so a signal make passes on reaches it; and it
# stops by itself within a second should make be killed outright (LOCAL_PARENT_PID).
dev: $(STAMP)
	@echo "==> Starting the local stack (Ctrl-C stops it; its data stays in $${LOCAL_STATE_DIR:-.local}/)"
	@LOCAL_PARENT_PID=$$PPID exec $(BIN)/python -m chalicelib.local

# A bounded load on a stack of its own (loopback only): LOAD_REQUESTS, LOAD_THREADS.
LOAD_REQUESTS ?= 20000
LOAD_THREADS ?= 8
load: $(STAMP)
	$(BIN)/python -m chalicelib.local.load --requests $(LOAD_REQUESTS) --threads $(LOAD_THREADS)

# The emails the running stack's emulator keeps (on MOTO_PORT, default 5000).
mail: $(STAMP)
	@$(BIN)/python -m chalicelib.local.mail

# Start afresh: forget the local stack's saved data and demo logins (keeps the signing secret).
reset:
	@$(PYTHON) -c 'import sys; sys.path.insert(0, "."); from chalicelib.local.reset import main; sys.exit(main())'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy chalicelib

test: lint typecheck
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit --no-cov

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration --no-cov

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e --no-cov

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .local
