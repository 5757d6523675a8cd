# Everything a fresh machine with only python3 needs: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck imports pytest bench compat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	@$(BIN)/trailsweep demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks compat
	$(BIN)/ruff format --check src tests benchmarks compat

typecheck: $(STAMP)
	$(BIN)/mypy

# The layer rules in pyproject.toml [tool.importlinter]: layers import only downward, the
# emulator stands alone, no import cycle.
imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck imports pytest

# Minutes, not seconds; not part of `make test`. BENCH_ARGS=--quick for a short run.
bench: $(STAMP)
	$(BIN)/python benchmarks/emulator.py
	$(BIN)/python benchmarks/sweep.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/cpu.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/latency.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/follow.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/scale.py $(BENCH_ARGS)

# The real AWS CLI against the emulator, in its own virtualenv (kept apart from ours).
compat: $(STAMP)
	test -x .compat-venv/bin/aws || ($(PYTHON) -m venv .compat-venv && .compat-venv/bin/pip install -q awscli)
	TRAILSWEEP_AWS_CLI=$(CURDIR)/.compat-venv/bin/aws $(BIN)/pytest -q -p no:cacheprovider compat

clean:
	rm -rf $(VENV) .compat-venv .mypy_cache .ruff_cache .pytest_cache
