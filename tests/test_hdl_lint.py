"""Synthesis and lint checks of the synthesizable control logic (hdl/*.v).

Same commands as `make lint`, run from the repository root (the register header is included
as "hdl/xbar_regs.vh").  Skipped with a reason when the tool is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HDL = sorted(str(p.relative_to(REPO)) for p in (REPO / "hdl").glob("*.v"))


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not on PATH")
def test_yosys_synth_clean_no_latches() -> None:
    """`synth -auto-top; check -assert` passes without warnings, no latch, real flip-flops."""
    script = (
        f"read_verilog {' '.join(HDL)}; synth -auto-top; check -assert; "
        "select -assert-none t:$dlatch t:$adlatch t:$_DLATCH_* t:$_DLATCHSR_*; stat"
    )
    proc = _run(["yosys", "-p", script])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"yosys failed:\n{log[-5000:]}"
    assert "Warning:" not in log, [line for line in log.splitlines() if "Warning:" in line]
    stat = log[log.rindex("Printing statistics") :]
    n_ff = sum(
        int(line.split()[-1])
        for line in stat.splitlines()
        if "DFF" in line and line.split()[-1].isdigit()
    )
    # registers of the map + per-device results: several hundred flip-flops must survive
    assert n_ff > 500, f"only {n_ff} flip-flops after synthesis:\n{stat}"


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not on PATH")
def test_verilator_lint_wall() -> None:
    proc = _run(["verilator", "--lint-only", "-Wall", *HDL])
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
