# The two commands a developer needs: `make dev` and `make test`. Both build .venv first.
# The local stack's others: `make load`, `make mail`, `make reset` (see the README).
# Shipping (README, Deploying): `make package STAGE=<local|dev|staging|prod>`,
# `make deploy STAGE=<stage> [DRY_RUN=1] [PARAMS="Key=Value ..."]`, `make rollback STAGE=<stage>`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev

# Offline targets run with fake credentials and a fixed region: nothing they do can reach a
# real AWS account. (`deploy` uses yours: none of these apply to it.)
OFFLINE := dev test unit integration e2e package bench load mail
$(OFFLINE): export AWS_DEFAULT_REGION ?= us-east-1
$(OFFLINE): export AWS_ACCESS_KEY_ID ?= testing
$(OFFLINE): export AWS_SECRET_ACCESS_KEY ?= testing
$(OFFLINE): export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: lock bench dev test lint typecheck security fuzz browser fix hooks unit integration e2e clean venv package deploy rollback load mail reset

venv: $(STAMP)

# pip prints each package as it goes: no silent minute on a first run.
$(STAMP): requirements.txt requirements-dev.txt
	@echo "==> Creating $(VENV) and installing the project's packages (a few minutes the first time)"
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

# The requirements*.txt files are locks: every package pinned with its hashes, compiled from
# the requirements*.in files a person edits (runtime first: the dev lock is constrained by it,
# so the venv runs exactly what the Lambda zip bundles). Run after editing a .in file.
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

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

# Static security checks: bandit on chalicelib (accepted findings and why: [tool.bandit] in
# pyproject.toml, and BANDIT_LOCAL_SKIPS below), pip-audit on the pinned requirements.
# The offline stack (chalicelib/local) talks only to loopback with fake credentials:
# B105 ("testing" credentials for the emulator), B310 (urlopen of its own loopback URLs) and
# B324 (md5 as SQS's body checksum, not for security) are accepted there; so are B311 (`make
# load` picks its workload with a seeded random, to repeat a run) and B404/B603 (the load's
# harness starts this project's own stack as a child process, with fixed arguments).
BANDIT_LOCAL_SKIPS := B101,B105,B310,B324,B311,B404,B603
AUDIT_REQUIREMENTS ?= requirements.txt requirements-dev.txt
security: $(STAMP)
	$(BIN)/bandit -q -c pyproject.toml -r chalicelib
	$(BIN)/bandit -q -s $(BANDIT_LOCAL_SKIPS) -r chalicelib/local
	$(BIN)/pip-audit --disable-pip --no-deps --progress-spinner off --vulnerability-service pypi \
		$(addprefix -r ,$(AUDIT_REQUIREMENTS)) -f json -o .pip-audit.json
	$(BIN)/python -c 'import json; d=json.load(open(".pip-audit.json"))["dependencies"]; \
		s=[x["name"] for x in d if x.get("skip_reason")]; \
		print(f"pip-audit: {len(d)-len(s)} of {len(d)} pinned packages audited, no known vulnerabilities"); \
		s and print("pip-audit: WARNING: the package index did not describe", ", ".join(s))'

# 1. every stage packaged (cached: only what changed is rebuilt); 2. the suite, which records
# the AWS calls each function makes; 3. those calls against the packaged policies.
test: lint typecheck security browser
	$(BIN)/python scripts/package.py all
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest tests/deploy --aws-calls-check --no-cov -q -p no:cacheprovider

# The generated runs of `make test` (tests marked fuzz: no input is a 5xx, tenant isolation, the
# conformance run against the local stack with every phase), long: FUZZ_EXAMPLES per operation.
FUZZ_EXAMPLES ?= 20
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -m fuzz --no-cov -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit --no-cov

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration --no-cov

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e --no-cov

package: $(STAMP)
	$(BIN)/python scripts/package.py $(STAGE)

# The performance budget as one table (README, Performance): cold start against the floor of a
# Chalice + DynamoDB function, per-request overhead against raw boto3, DynamoDB requests and
# capacity per route, scaling, package size. Timings are printed, never asserted; run it on a
# quiet machine (BENCH_RUNS fresh interpreters per entry).
BENCH_RUNS ?= 11
bench: $(STAMP)
	$(BIN)/python scripts/bench.py --runs $(BENCH_RUNS)

deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py deploy $(STAGE) $(if $(DRY_RUN),--dry-run) \
		$(foreach p,$(PARAMS),--parameter $(p))

rollback: $(STAMP)
	$(BIN)/python scripts/deploy.py rollback $(STAGE) $(if $(DRY_RUN),--dry-run)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .local build dist test-output .schemathesis .pip-audit.json
