# One command to set up and run the main job, one to set up and run the tests.
# Both create (or reuse) .venv and install torch==2.13.0 before everything else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Datasets: one folder per dataset (ml-100k/, ml-1m/, ...) in RECFRAME_DATA_DIR; unset, recframe's
# own rule applies (recframe/paths.py: <cache>/data), the same for make, the CLI and recframe.run.
# DOWNLOAD_ARGS goes to `recframe download` (e.g. --url file:///mirror/ml-100k.zip); RUN_ARGS (default model=bpr) to the run.
DOWNLOAD_ARGS ?=
RUN_ARGS ?= model=bpr

.PHONY: setup run test test-all lint clean

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip check
	touch $@

setup: $(VENV)/.installed

# BPR on MovieLens-100K, printing the protocol and the results table; the data are fetched first
# (checksums verified) when they are not there yet.
run: setup
	$(BIN)/recframe download ml-100k $(DOWNLOAD_ARGS)
	$(BIN)/recframe data=ml-100k $(RUN_ARGS)

# The default suite (tests marked slow excluded); PYTEST_ARGS adds options.
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything, slow tests included (what CI runs).
test-all: setup
	$(BIN)/python -m pytest -m "slow or not slow" --durations=15 $(PYTEST_ARGS)

# Lint (ruff: rules E,F,W,I,B; formatting) and types (mypy against .ci/mypy-baseline.txt, which only shrinks).
LINTED := recframe plugins hydra_plugins benchmarks tests scripts docs/examples
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python scripts/mypy_baseline.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
