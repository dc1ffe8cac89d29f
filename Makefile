# Front door of the project.  `make sim` and `make test` do all set-up first.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
COSIM := $(VENV)/bin/cosim

# Options of `make sim` (see README): CARD, RESET (on|off), SEED, BACKEND, OUT, TOPOLOGY, DATASET
CARD    ?= Cr
RESET   ?= on
SEED    ?= 1
BACKEND ?= ngspice
OUT     ?= build/sim
TOPOLOGY ?= 9,3,1
DATASET ?= patterns

# Topologies (N_IN,N_HID,N_OUT) whose HDL `make lint-hdl` checks (tools/hdl_check.sh)
HDL_TOPOLOGIES ?= 9,3,1 2,1,1 64,16,10

.PHONY: setup sim test test-all lint lint-hdl formal bench waves clean

setup:
	@tools/setup.sh

sim: setup
	$(COSIM) sim --card $(CARD) --reset $(RESET) --seed $(SEED) --backend $(BACKEND) \
		--topology $(TOPOLOGY) --dataset $(DATASET) --out $(OUT)

# The suite CI runs: everything except `slow`.  Exit code 5 (no tests collected) fails.
test: setup
	$(PY) -m pytest -m "not slow" -q

test-all: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check cosim tests bench
	$(VENV)/bin/ruff format --check cosim tests bench
	$(VENV)/bin/mypy cosim
	$(MAKE) --no-print-directory lint-hdl
	$(MAKE) --no-print-directory formal

# verilator -Wall (controller and harness), iverilog elaboration, yosys synth + check -assert
# for each topology in HDL_TOPOLOGIES, e.g. `make lint-hdl HDL_TOPOLOGIES=16,8,2`
lint-hdl:
	@set -o pipefail; for t in $(HDL_TOPOLOGIES); do tools/hdl_check.sh $$t | tail -1 || exit 1; done

# Formal proofs of hdl/xbar_ctrl.v (tools/formal.py: yosys + yosys-abc, no other tool):
# k-induction of every property (safety; bounded liveness with --live) on 2,1,1 and 9,3,1,
# and every cover reached; ~5 min on our shared 2 cores, part of `make lint`.
# Results and counterexamples (cex.vcd, cex.gtkw) under build/formal/<mode>-<topology>/
FORMAL := python3 tools/formal.py
formal: setup
	$(FORMAL) prove --topology 2,1,1
	$(FORMAL) prove --topology 9,3,1
	$(FORMAL) prove --live --topology 2,1,1
	$(FORMAL) prove --live --topology 9,3,1
	$(FORMAL) cover --topology 2,1,1 --depth 40

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

waves: setup
	gtkwave $(OUT)/training.gtkw &

clean:
	rm -rf build sim_build results.xml .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
