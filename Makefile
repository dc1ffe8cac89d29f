# Front door of the project.  `make sim` and `make test` do all set-up first.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
COSIM := $(VENV)/bin/cosim

# Options of `make sim` (see README): CARD, RESET (on|off), SEED, BACKEND (ngspice|numpy), OUT
CARD    ?= Cr
RESET   ?= on
SEED    ?= 1
BACKEND ?= ngspice
OUT     ?= build/sim

.PHONY: setup sim test test-all lint bench waves clean

setup:
	@tools/setup.sh

sim: setup
	$(COSIM) sim --card $(CARD) --reset $(RESET) --seed $(SEED) --backend $(BACKEND) --out $(OUT)

# The suite CI runs: everything except `slow`.  Exit code 5 (no tests collected) fails.
test: setup
	$(PY) -m pytest -m "not slow" -q

test-all: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check cosim tests bench
	$(VENV)/bin/ruff format --check cosim tests bench
	$(VENV)/bin/mypy cosim
	yosys -q -p 'read_verilog hdl/*.v; synth -auto-top; check -assert'
	verilator --lint-only -Wall hdl/*.v

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

waves: setup
	gtkwave $(OUT)/training.gtkw &

clean:
	rm -rf build sim_build results.xml .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
