# The two commands of the quick start: `make run` (the main job) and `make test`.
# Each creates .venv and installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?=
STAMP := $(VENV)/.installed

.PHONY: run test lint sidecar bench install clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt $(PIP_FLAGS) -e '.[sidecar,dev]'
	@touch $@

install: $(STAMP)

## The main job: start the bundled sidecar (unless OSIRIS_URL is set), run the three scenarios, judge the SLOs.
run: $(STAMP)
	$(PY) -m suite

## The test suite (lint first: it is fast).
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

## Only the sidecar, on 127.0.0.1:8000, with its own Redis.
sidecar: $(STAMP)
	$(PY) -m sidecar

bench: $(STAMP)
	$(PY) bench/batching.py
	$(PY) bench/gate_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
