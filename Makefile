# Set-up and the two jobs of the README. torch==2.13.0 is installed first: it is the
# CPU build; an unpinned install would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup train demo test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,distributed]"
	touch $@

setup: $(VENV)/.installed

train: setup
	$(BIN)/qrnn train

demo: setup
	$(BIN)/qrnn demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

benchmark: setup
	$(BIN)/python benchmarks/bench_w1.py
	$(BIN)/python benchmarks/bench_w2.py
	$(BIN)/python benchmarks/bench_suite.py

clean:
	rm -rf $(VENV) build *.egg-info
