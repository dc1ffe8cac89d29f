"""Formal checks of the controller (tools/formal.py) and their non-vacuity.

The shipped RTL is proven (k-induction: every assertion in every reachable state) on the
3-device topology 2,1,1, safety alone and with the bounded-liveness assumptions; deliberately
broken copies of hdl/xbar_ctrl.v (edited in a temporary tree) must make the named property
fail, with a counterexample VCD.  Every mutant is checked to have changed the source.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORMAL = REPO / "tools" / "formal.py"

pytestmark = pytest.mark.skipif(
    shutil.which("yosys") is None or shutil.which("yosys-abc") is None,
    reason="yosys and yosys-abc are needed (Debian package yosys)",
)


def _formal(*args: str, root: Path = REPO, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FORMAL), *args, "--root", str(root), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )


# (id, text in hdl/xbar_ctrl.v, replacement, property that must fail, BMC depth).
# "a|b": either may be the one reported (BMC stops at the first failing step, and an
# assertion in a clocked block reports one step after the same breach in a combinational one)
MUTANTS = [
    (
        "two_hot_select",
        "wire [N_DEV-1:0] onehot_cur = {{(N_DEV - 1) {1'b0}}, 1'b1} << cur_dev;",
        "wire [N_DEV-1:0] onehot_cur = ({{(N_DEV - 1) {1'b0}}, 1'b1} << cur_dev)"
        " | {{(N_DEV - 1) {1'b0}}, 1'b1};",
        "p_sel_onehot0",
        16,
    ),
    (
        "ignores_max_pulses",
        "wire at_limit = (npulse >= max_pulses_r);",
        "wire at_limit = 1'b0;",
        "p_max_pulses",
        20,
    ),
    (
        "pulse_during_adc_sample",
        "S_WAIT_ADC: begin\n          if (adc_got) begin",
        "S_WAIT_ADC: begin\n          if (1'b1) begin",
        "p_pulse_no_adc|p_pulse_start_no_adc",
        22,
    ),
    (
        "no_select_setup",
        "if (cnt == SEL_SETUP_CYC - 16'd1) begin",
        "if (cnt == 16'd0) begin",
        "p_pulse_setup",
        12,
    ),
    (
        "write_one_cycle_long",
        "PHASE_WRITE: begin w_raw = wcur;",
        "PHASE_WRITE: begin w_raw = wcur + 16'd1;",
        "p_width_write",
        22,
    ),
    (
        "ok_and_failed",
        "else if (at_limit) fail_r <= fail_r | onehot_cur;",
        "if (at_limit) fail_r <= fail_r | onehot_cur;",
        "p_ok_xor_fail",
        16,
    ),
    (
        "config_writes_while_busy",
        "// everything else only while idle\n      if (idle) begin",
        "// everything else only while idle\n      if (1'b1) begin",
        "p_busy_regs_stable",
        8,
    ),
    (
        "target_writes_while_busy",
        "wire tgt_we = rst_n && cfg_we && (host_addr == REG_DEV_TARGET) && a_dev_ok;",
        "wire tgt_we = rst_n && host_we && (host_addr == REG_DEV_TARGET) && a_dev_ok;",
        "p_target_used|p_busy_target_stable",
        8,
    ),
]


@pytest.mark.parametrize("live", [False, True], ids=["safety", "liveness"])
def test_shipped_rtl_proven(tmp_path: Path, live: bool) -> None:
    proc = _formal("prove", "--topology", "2,1,1", *(["--live"] if live else []), out=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mode = "prove-live" if live else "prove"
    assert f"PASS {mode} 2,1,1:" in proc.stdout and "every reachable state" in proc.stdout


@pytest.mark.slow
def test_shipped_rtl_covers(tmp_path: Path) -> None:
    proc = _formal("cover", "--topology", "2,1,1", "--depth", "40", out=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "replacement", "prop", "depth"),
    [m[1:] for m in MUTANTS],
    ids=[m[0] for m in MUTANTS],
)
def test_mutant_fails_named_property(
    tmp_path: Path, text: str, replacement: str, prop: str, depth: int
) -> None:
    root = _mutant_tree(tmp_path, text, replacement)
    out = tmp_path / "out"
    proc = _formal(
        "bmc", "--topology", "2,1,1", "--depth", str(depth), "--props-only", root=root, out=out
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FAIL bmc")), "")
    failed = re.match(r"FAIL bmc 2,1,1: (.*) at step \d+;", line)
    assert failed, log
    names = set(failed.group(1).split(", "))
    assert names & set(prop.split("|")), f"{prop} not among the failures: {line}"
    assert (out / "cex.vcd").stat().st_size > 0 and (out / "cex.gtkw").exists()


def _mutant_tree(tmp_path: Path, text: str, replacement: str) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(REPO / "hdl", root / "hdl")
    src = root / "hdl" / "xbar_ctrl.v"
    rtl = src.read_text()
    assert rtl.count(text) == 1, f"mutation anchor not found exactly once: {text!r}"
    src.write_text(rtl.replace(text, replacement))
    return root


def test_stuck_inference_breaks_liveness(tmp_path: Path) -> None:
    """An inference that never ends: the liveness proof fails with a counterexample."""
    root = _mutant_tree(
        tmp_path,
        "S_INF_WAIT: begin\n          if (adc_got) begin",
        "S_INF_WAIT: begin\n          if (1'b0) begin",
    )
    out = tmp_path / "out"
    proc = _formal("bmc", "--live", "--topology", "2,1,1", "--depth", "12", root=root, out=out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = re.search(r"FAIL bmc-live 2,1,1: (.*) at step \d+;", proc.stdout)
    assert failed and "a_live_inf" in failed.group(1).split(", "), proc.stdout
    assert (out / "cex.vcd").stat().st_size > 0


def test_bad_topology_named(tmp_path: Path) -> None:
    proc = _formal("bmc", "--topology", "2,0,1", out=tmp_path)
    assert proc.returncode == 2 and "N_IN,N_HID,N_OUT" in proc.stderr
