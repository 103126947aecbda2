# jitplan — two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := constraints.txt
export LITELLM_LOCAL_MODEL_COST_MAP := True
export MPLBACKEND := Agg

.PHONY: demo test test-slow test-wheel lint typecheck pytest regress-smoke test-llm bench lock clean help

help:
	@echo "make demo   - set up .venv and run one planning cycle on the sample world (no API key, no server)"
	@echo "make test   - set up .venv with the dev extra; run ruff, mypy, pytest and the smoke regression suite"
	@echo "make regress-smoke - jitplan regress scenarios/suites/smoke.yaml with JUnit XML (REGRESS_JUNIT=...)"
	@echo "make test-slow - the long statistical checks (exact engine vs Erlang C, ~3 min)"
	@echo "make test-postgres - the Postgres audit log and checkpointer against a throwaway server"
	@echo "make test-wheel - build the wheel, install it in a fresh venv, run the job outside the repository"
	@echo "make test-ray - a sweep on a real local Ray head equals the local run (installs the ray extra)"
	@echo "make test-langgraph - a cycle through langgraph dev's API: interrupt, resume (installs the studio extra)"
	@echo "make test-browser - the web console (jitplan serve) in headless Chromium; screenshots in .jitplan/screenshots/"
	@echo "make test-prometheus - apply --sources gates canaries on a real local Prometheus server"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make test-llm - run the real-model tests against JITPLAN_TEST_LLM_MODEL (opt-in)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"

$(VENV)/.installed: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	@JITPLAN_HOME=$${JITPLAN_HOME:-.jitplan/demo} bash scripts/demo.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	@rm -f $(VENV)/.pytest-exit; \
	$(BIN)/pytest -n 2 --dist loadfile --nbmake tests notebooks; rc=$$?; echo $$rc > $(VENV)/.pytest-exit; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): nothing was verified" >&2; fi; \
	exit $$rc

# The smoke regression suite as CI runs it: JUnit XML to $(REGRESS_JUNIT).
REGRESS_JUNIT ?= $${TMPDIR:-/tmp}/jitplan-regress-smoke.xml
regress-smoke: $(VENV)/.installed-dev
	$(BIN)/jitplan regress scenarios/suites/smoke.yaml --junit $(REGRESS_JUNIT)

test: lint typecheck pytest regress-smoke

# The exact engine's 2 % Erlang-C checks need ~23M SimPy requests (about 3 minutes on 2 cores);
# CI runs them after `make test`.
test-slow: $(VENV)/.installed-dev
	JITPLAN_SLOW_TESTS=1 $(BIN)/pytest -m slow tests

# The wheel as a user gets it: built from a copy of the sources, installed with -c constraints.txt
# into a fresh venv (only pip's download cache is shared), then run from a folder with its own
# contracts/ and tools/ packages on a small catalog the test writes (tests/test_wheel.py).
test-wheel: $(VENV)/.installed-dev
	JITPLAN_WHEEL_TESTS=1 $(BIN)/pytest -m wheel -p no:xdist -s tests/test_wheel.py

# `--backend ray`: installs the ray extra, starts a local Ray head on 127.0.0.1 (stopped by PID
# afterwards) and checks a 20-point x 10-replication sweep through RAY_ADDRESS equals the local
# run (tests/simulator/test_sweep_ray.py, under a minute). No head possible: a skip with the reason.
.PHONY: test-ray
test-ray: $(VENV)/.installed-dev
	@stamp=$(VENV)/.installed-ray; \
	if [ ! -f $$stamp ] || [ pyproject.toml -nt $$stamp ] || [ $(CONSTRAINTS) -nt $$stamp ]; then \
	  echo "$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,ray]'"; \
	  $(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,ray]' && touch $$stamp || exit $$?; \
	fi
	JITPLAN_RAY_TESTS=1 $(BIN)/pytest -m ray -p no:xdist -rs tests/simulator/test_sweep_ray.py

# LangGraph's own server: installs the studio extra (langgraph-cli[inmem]), starts `langgraph dev`
# on 127.0.0.1 with langgraph.json (stopped by PID afterwards) and runs an escalated cycle through
# its HTTP API with langgraph-sdk: interrupt, then Command(resume=...) approves it
# (tests/agent/test_langgraph_server.py). The extra missing: a skip with the reason.
.PHONY: test-langgraph
test-langgraph: $(VENV)/.installed-dev
	@stamp=$(VENV)/.installed-studio; \
	if [ ! -f $$stamp ] || [ pyproject.toml -nt $$stamp ] || [ $(CONSTRAINTS) -nt $$stamp ]; then \
	  echo "$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,studio]'"; \
	  $(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,studio]' && touch $$stamp || exit $$?; \
	fi
	JITPLAN_LANGGRAPH_TESTS=1 $(BIN)/pytest -m langgraph -p no:xdist -rs tests/agent/test_langgraph_server.py

# The web console in a real browser: `jitplan serve` on 127.0.0.1 (ephemeral port, temp home)
# driven by selenium in headless Chromium (Debian's chromium + chromium-driver; .ci/run installs
# them): cycles, an approval through the queue that changes the flags file, a chat plan, a plot
# (tests/agent/test_browser_console.py). Screenshots in .jitplan/screenshots/. No Chromium: a skip.
.PHONY: test-browser
test-browser: $(VENV)/.installed-dev
	JITPLAN_BROWSER_TESTS=1 $(BIN)/pytest -m browser -p no:xdist -rs tests/agent/test_browser_console.py

# `jitplan apply --sources`: a real Prometheus (Debian package, apt-installed when missing) on
# 127.0.0.1 scraping two prometheus_client exporters every second; healthy canary passes,
# regressed one is compensated, stopped exporter pauses (tests/agent/test_prometheus_apply.py);
# `jitplan watch --sources --apply` end to end: drift -> cycle -> live-gated canaries (test_prometheus_watch.py).
# The server is started and stopped by PID (scripts/start_prometheus.sh); none possible: a skip.
.PHONY: test-prometheus
test-prometheus: $(VENV)/.installed-dev
	JITPLAN_PROMETHEUS_TESTS=1 $(BIN)/pytest -m prometheus -p no:xdist -rs tests/agent/test_prometheus_apply.py tests/agent/test_prometheus_watch.py

# The Postgres scale-out paths (audit log, LangGraph checkpointer) against a throwaway local
# server on 127.0.0.1:54329 (scripts/start_postgres.sh; apt-installs PostgreSQL when missing).
# A server this target did not start (e.g. yours, from the script) is left running.
.PHONY: test-postgres
test-postgres: $(VENV)/.installed-dev
	@stamp=$(VENV)/.installed-postgres; \
	if [ ! -f $$stamp ] || [ pyproject.toml -nt $$stamp ] || [ $(CONSTRAINTS) -nt $$stamp ]; then \
	  echo "$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,postgres]'"; \
	  $(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,postgres]' && touch $$stamp || exit $$?; \
	fi
	@if bash scripts/start_postgres.sh status >/dev/null 2>&1; then started=0; else started=1; fi; \
	url=$$(bash scripts/start_postgres.sh) || exit $$?; \
	echo "test-postgres: server at $$url"; \
	JITPLAN_TEST_POSTGRES_URL=$$url $(BIN)/pytest -m postgres -n 2 --dist loadfile tests; rc=$$?; \
	if [ $$started -eq 1 ]; then bash scripts/start_postgres.sh stop; fi; \
	exit $$rc

# The real model path: JITPLAN_TEST_LLM_MODEL (e.g. openai/qwen2.5) served at JITPLAN_LLM_API_BASE.
# Fails when the cycle falls back to the offline planner. (The replay-server tests of the same
# litellm -> HTTP path run in `make test`.)
test-llm: $(VENV)/.installed-dev
	@if [ -z "$$JITPLAN_TEST_LLM_MODEL" ] || [ -z "$${JITPLAN_LLM_API_BASE:-$$OPENAI_API_BASE}" ]; then \
	  echo "make test-llm: set JITPLAN_TEST_LLM_MODEL (e.g. openai/qwen2.5) and JITPLAN_LLM_API_BASE (e.g. http://127.0.0.1:8000/v1)" >&2; \
	  exit 2; fi
	$(BIN)/pytest -m llm -p no:xdist -rs tests

bench: $(VENV)/.installed-dev
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit $$?; done

# Mutation testing (mutmut 3) of the safety-critical modules, one at a time in scratch trees under
# .jitplan/mutation/ (scripts/mutation.py; README "Mutation testing"). MODULES="tools/gate.py ..."
# runs a subset. mutation-changed (CI) runs only the modules whose source or selected tests changed
# since MUTATION_BASE, within MUTATION_BUDGET_S seconds, and fails below MUTATION_FAIL_UNDER %.
MODULES ?=
MUTATION_BASE ?= HEAD~1
MUTATION_BUDGET_S ?= 900
MUTATION_FAIL_UNDER ?= 90
.PHONY: mutation mutation-changed
mutation: $(VENV)/.installed-dev
	$(BIN)/python scripts/mutation.py --fail-under $(MUTATION_FAIL_UNDER) $(MODULES)

mutation-changed: $(VENV)/.installed-dev
	$(BIN)/python scripts/mutation.py --changed $(MUTATION_BASE) --budget-s $(MUTATION_BUDGET_S) \
	  --fail-under $(MUTATION_FAIL_UNDER) $(MODULES)

# Refresh the constraints file from the current environment (reproducible installs).
lock: $(VENV)/.installed-dev
	$(PIP) freeze --exclude-editable | grep -v '^-e ' > $(CONSTRAINTS)

clean:
	rm -rf .jitplan .mypy_cache .ruff_cache .pytest_cache build *.egg-info
