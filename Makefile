# The two commands of the quick start: `make run` (the main job) and `make test`.
# Each creates .venv and installs what it needs on first use, pinned by requirements.lock.
# torch comes from PyTorch's CPU wheel index on machines without an NVIDIA GPU when that index answers
# (else from pip's default index); TORCH_INDEX=<url> picks another index, TORCH_INDEX=none pip's default.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?=
TORCH_INDEX ?= auto
RUN_ARGS ?=
DEPS := PIP_FLAGS='$(PIP_FLAGS)' $(PY) tools/deps.py install --torch-index '$(TORCH_INDEX)'
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint sidecar bench bench-generator mutation install install-run lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The main job: the load tester, the sidecar and the reports; no dev tools.
$(RUN_STAMP): pyproject.toml requirements.lock tools/deps.py | $(PY)
	$(DEPS) sidecar,reports
	@touch $@

# make test: the same plus the dev tools.
$(TEST_STAMP): pyproject.toml requirements.lock tools/deps.py | $(PY)
	$(DEPS) sidecar,reports,dev
	@touch $@ $(RUN_STAMP)

install-run: $(RUN_STAMP)
install: $(TEST_STAMP)

## The main job: start the bundled sidecar (unless OSIRIS_URL is set), run the three scenarios, judge the SLOs.
run: $(RUN_STAMP)
	$(VENV)/bin/osiris-load run $(RUN_ARGS)

## The test suite (lint first: it is fast). TEST_WORKERS=N spreads its files over N processes (pytest-xdist,
## each file whole in one, so a module's fixtures start once): worth it on a machine with cores to spare; on
## 2 cores beside a CPU hog it took 988 s against about 700 s in one process (the suite is CPU-bound there).
TEST_WORKERS ?= 0
test: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(TEST_STAMP)
	$(PY) -m ruff check .

## Only the sidecar, on 127.0.0.1:8000, with its own Redis.
sidecar: $(RUN_STAMP)
	$(VENV)/bin/osiris-load sidecar

## Every benchmark (osiris-load bench --list) with the settings docs/benchmarks.md records (hours in all;
## BENCH=batching,soak picks some). The suite runs each on a tiny input (tests/test_benches.py).
bench: $(TEST_STAMP)
	$(VENV)/bin/osiris-load bench --all $(if $(BENCH),--only $(BENCH))

## Mutation testing of the pure core (osiris_load/core/: slo, openmodel, capacity, report, k6):
## the share of ALL mutants the core's tests kill, per module (docs/mutation.md). Tens of minutes on 2 cores.
mutation: $(TEST_STAMP)
	nice -n 15 $(PY) tools/mutation_test.py --max-children 2

## Generator CPU per request against k6 (issue 21; needs nginx and 2 CPUs), then users held and memory per user.
bench-generator: $(TEST_STAMP)
	$(VENV)/bin/osiris-load bench --all --only generator_cost

## Refresh requirements.lock: every extra installed into a fresh venv, then frozen.
lock:
	$(PYTHON) tools/deps.py lock --torch-index '$(TORCH_INDEX)'

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
