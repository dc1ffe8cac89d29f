"""Lint and synthesis checks of the HDL for several topologies (same script as `make lint`).

`tools/hdl_check.sh N_IN,N_HID,N_OUT` runs verilator -Wall on the controller and on the harness
top, elaborates the harness with Icarus, and synthesizes the controller with Yosys
(`check -assert`, no latch, no warning; coarse synthesis with memories kept above 256 devices).
Skipped with a reason when a tool is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "hdl_check.sh"

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("yosys", "verilator", "iverilog")),
    reason="yosys, verilator and iverilog are needed (tools/setup.sh installs them)",
)


def _check(topology: str) -> str:
    proc = subprocess.run(
        [str(SCRIPT), topology], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"tools/hdl_check.sh {topology} failed:\n{log[-6000:]}"
    assert f"hdl_check {topology}: OK" in log, log[-3000:]
    return log


def _flip_flops(stat: str) -> int:
    return sum(
        int(line.split()[-1])
        for line in stat.splitlines()
        if "DFF" in line and line.split()[-1].isdigit()
    )


def test_default_topology_full_synth() -> None:
    """9,3,1: full synthesis; the per-device memories (30 x 40 bits) become flip-flops."""
    log = _check("9,3,1")
    n_ff = _flip_flops(log[log.rindex("Printing statistics") :])
    # 1200 memory bits + the register map + sequencer state
    assert n_ff > 2000, f"only {n_ff} flip-flops after synthesis"


def test_small_topology() -> None:
    """2,1,1 (3 devices, the formal configuration): 1-bit indices, no zero-width vectors."""
    log = _check("2,1,1")
    assert _flip_flops(log[log.rindex("Printing statistics") :]) > 200


@pytest.mark.slow
def test_large_topology() -> None:
    """64,16,10 (1184 devices): coarse synthesis with the three memories kept, lint clean."""
    log = _check("64,16,10")
    assert "coarse synth (memories kept)" in log  # the script asserted 3 $mem_v2 cells


def test_bad_topology_named() -> None:
    proc = subprocess.run(
        [str(SCRIPT), "9,0,1"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "N_IN,N_HID,N_OUT" in proc.stderr
