#!/usr/bin/env bash
# Lint and synthesis check of the HDL for one topology (called by `make lint-hdl` and
# tests/test_hdl_lint.py):
#   tools/hdl_check.sh [N_IN,N_HID,N_OUT]        default 9,3,1
# 1. verilator --lint-only -Wall of the controller alone and of the harness top xbar_top with
#    its behavioural models (-G parameters);
# 2. iverilog elaboration of the harness with the VCD root (xbar_top + xbar_dump);
# 3. yosys: `synth` + `check -assert`, no latch, no warning.  Up to HDL_FULL_SYNTH_MAX_DEV
#    devices (default 256) the full gate-level synthesis; above, the coarse part
#    (`synth -run :fine`: elaboration, proc, opt, fsm, memory -nomap, ...) with the three
#    per-device memories kept as memories (in silicon: SRAM macros) -- mapping 1184 x 40 bits
#    of memory to flip-flops takes minutes of CPU and proves nothing more about the RTL.
# Exits non-zero with the failing step named.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
topo="${1:-9,3,1}"
if ! [[ "$topo" =~ ^[1-9][0-9]*,[1-9][0-9]*,[1-9][0-9]*$ ]]; then
    echo "hdl_check: topology '$topo' is not N_IN,N_HID,N_OUT (three integers >= 1)" >&2
    exit 2
fi
IFS=, read -r ni nh no <<< "$topo"
ndev=$((ni * nh + nh * no))
full_max="${HDL_FULL_SYNTH_MAX_DEV:-256}"
G=(-GN_IN="$ni" -GN_HID="$nh" -GN_OUT="$no")
BEHAV=(hdl/behav/adc_behav.v hdl/behav/adc_chan.v hdl/behav/dac_behav.v hdl/behav/xbar_top.v)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "hdl_check $topo: FAILED: $*" >&2; exit 1; }

t0=$SECONDS
verilator --lint-only -Wall "${G[@]}" hdl/xbar_ctrl.v || fail "verilator -Wall of xbar_ctrl"
verilator --lint-only -Wall --timing "${G[@]}" --top-module xbar_top hdl/xbar_ctrl.v "${BEHAV[@]}" \
    || fail "verilator -Wall of the harness xbar_top"
iverilog -g2012 -I. -s xbar_top -s xbar_dump -Pxbar_top.N_IN="$ni" -Pxbar_top.N_HID="$nh" \
    -Pxbar_top.N_OUT="$no" -o "$tmp/xbar_top.vvp" hdl/xbar_ctrl.v hdl/behav/*.v \
    || fail "iverilog elaboration of xbar_top + xbar_dump"
t1=$SECONDS

chparam="chparam -set N_IN $ni -set N_HID $nh -set N_OUT $no xbar_ctrl"
latches='select -assert-none t:$dlatch t:$adlatch t:$_DLATCH_* t:$_DLATCHSR_*'
if [ "$ndev" -le "$full_max" ]; then
    kind="full synth"
    script="read_verilog hdl/xbar_ctrl.v; $chparam; synth -top xbar_ctrl; check -assert; $latches; stat"
else
    kind="coarse synth (memories kept)"
    script="read_verilog hdl/xbar_ctrl.v; $chparam; synth -top xbar_ctrl -run :fine; check -assert; $latches; select -assert-count 3 t:\$mem_v2; stat"
fi
yosys -l "$tmp/yosys.log" -q -p "$script" >/dev/null 2>&1 || {
    tail -30 "$tmp/yosys.log" >&2; fail "yosys $kind"; }
if grep -q "Warning:" "$tmp/yosys.log"; then
    grep "Warning:" "$tmp/yosys.log" >&2; fail "yosys $kind printed warnings"
fi
# the statistics of the final design, for the caller (flip-flop counts)
sed -n '/Printing statistics/,$p' "$tmp/yosys.log"
echo "hdl_check $topo: OK ($ndev devices; verilator + iverilog $((t1 - t0)) s, yosys $kind $((SECONDS - t1)) s)"
