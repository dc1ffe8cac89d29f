"""Runs the cocotb unit bench of the controller (tests/sim/ctrl) through cocotb_tools.runner.

Each cocotb test case gets its own build directory under build/sim_ctrl/ and leaves a VCD
there (written by the extra root xbar_dump; the vvp dumper is switched to VCD by giving
``-vcd`` after cocotb's ``-none`` through SIM_CMD_SUFFIX).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "tests" / "sim" / "ctrl"

CASES = [
    "test_register_roundtrip",
    "test_program_converges/reset=False",
    "test_program_converges/reset=True",
    "test_unreachable_target_fails_after_max_pulses",
    "test_monitor_catches_two_hot_sel",
    "test_monitor_catches_wrong_width",
    "test_inference",
    "test_adaptive_widths_stop_ping_pong/adaptive=False",
    "test_adaptive_widths_stop_ping_pong/adaptive=True",
    "test_monitor_catches_wrong_adaptive_width/expect=fixed",
    "test_monitor_catches_wrong_adaptive_width/expect=min2",
    "test_step_wait_after_every_read/wait_cyc=37",
    "test_step_wait_after_every_read/wait_cyc=65541",
    "test_relative_window_edges/shift=3",
    "test_relative_window_edges/shift=5",
]

pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not on PATH"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.replace("/", "-") for c in CASES])
def test_ctrl_bench(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cocotb_tools.runner import get_results, get_runner

    build_dir = REPO / "build" / "sim_ctrl" / re.sub(r"[^\w.-]", "_", case)
    vcd = build_dir / "xbar_top.vcd"
    if vcd.exists():
        vcd.unlink()
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("SIM_CMD_SUFFIX", "-vcd")
    runner = get_runner("icarus")
    runner.build(
        sources=[REPO / "hdl" / "xbar_ctrl.v", *sorted((REPO / "hdl" / "behav").glob("*.v"))],
        hdl_toplevel="xbar_top",
        includes=[REPO],
        build_args=["-s", "xbar_dump"],
        build_dir=build_dir,
        always=True,
    )
    results = runner.test(
        test_module="ctrl_tests",
        hdl_toplevel="xbar_top",
        test_filter=re.escape(case) + r"$",
        plusargs=[f"+vcd={vcd}"],
        build_dir=build_dir,
        test_dir=build_dir,
    )
    n_tests, n_failed = get_results(results)
    assert n_tests == 1, f"filter {case!r} selected {n_tests} cocotb tests"
    assert n_failed == 0, f"cocotb test {case} failed; see the log above and {results}"
    header, sep, _ = vcd.read_text().partition("$enddefinitions")
    assert sep, f"{vcd} is not a VCD (no $enddefinitions)"
    for name in ("v_prog", "v_sense", "v", "adc_sample", "sel", "phase"):
        assert re.search(rf"\$var \w+ \d+ \S+ {name} ", header), f"{name} missing from {vcd}"
    for scope in ("g_in[8]", "g_nrn[3]"):  # input DAC and neuron ADC reals in generate scopes
        assert f"$scope begin {scope} $end" in header, f"{scope} missing from {vcd}"
