"""The write-verify twin (cosim.twin.program) against the full co-simulation (Icarus + ngspice).

Issue 5's criterion: on the same seed the twin's pulse counts per device agree within ±1 and its
final conductances within 1 %.  The co-simulation programs a few devices of each card with the
real controller (``hdl/xbar_ctrl.v`` in Icarus), the real Verilog-A model (openvaf-r → OSDI in
ngspice) and the real sense path; the twin is set up from the card and seed alone
(:func:`cosim.twin.program.crossbar_twin`) and never reads the co-simulation's outputs except to
compare.

Measured (cards W/Cr/C, 5 devices each, seeds 3/1/3, verify tolerance 34/19/12 codes): pulse
counts equal on all 15 devices, including a W device that ping-pongs to the 200-pulse limit on
both; conductances within 0.08 %; the co-simulation's last verify codes 0–2 codes above the
twin's.  Two sources, bounded but not fully apportioned: the ngspice sense path carries tiny
extra currents the twin ignores (leakage of the 29 off select switches: 0.1–0.4 code; finite
op-amp gain), and the device states themselves differ slightly, most for the fast C device
(τ = 5 µs: conductances 0.05–0.08 % apart, W and Cr ≤ 0.02 %).  Not the twin's table grid (2049
instead of 513 states gives identical results); pulse edges of the harness DAC and the solver's
time steps are the remaining suspects.  The test bounds the code difference at 4 codes or
0.3 % of the code, whichever is larger.
The solver's steps, measured (2026-11-28, C device 28, seed 3): at ngspice's default reltol
1e-3 the co-simulation's final G is 0.34 % (compiled engine, continuous transient: code 3625)
or 0.17 % (pure-Python engine, `resume` at each sync: code 3621) above its value at reltol
1e-5, where both engines read 3616/3617 and agree within 6e-5 in G — and the twin reads 3616.
So the bound covers ngspice's own tolerance at its default (it was 0.2 %, set with the
pure-Python engine, which the compiled engine's 9 codes exceed).

Relative verify window (``REG_TOL_SHIFT`` = 5, floor 1 code; measured with it): final codes
0–1 codes apart on W/Cr, 6 codes (0.17 %, G 0.22 %) on C device 28 at code 3622.  Cr device 3
(target 1139, window ±35) was dropped from the cases: the co-simulation read it exactly on the
window edge (1104) and stopped after 7 pulses, the twin read one code below the edge and went
on to 13 pulses.  A read within the 0–2 code sense-path difference of an edge can flip the
decision on either model; no choice of window removes that, so the cases avoid such devices.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cosim.config import SimConfig
from cosim.run.sim import run_sim
from cosim.topology import DEFAULT, Topology
from cosim.twin import program

pytestmark = [pytest.mark.spice, pytest.mark.sim]

#: (card, seed, devices, topology): a few devices per card, layer-1 and layer-2, low and high
#: targets; the last case on a non-default network (12→2→3: 30 devices, three output neurons).
CASES = [
    ("W", 3, (5, 28), DEFAULT),
    ("Cr", 1, (0, 9, 27), DEFAULT),
    ("C", 3, (22, 28), DEFAULT),
    ("Cr", 2, (0, 7, 19, 23), Topology((12, 2, 3))),
]


@pytest.mark.parametrize(
    ("card", "seed", "devices", "topology"),
    CASES,
    ids=[f"{c[0]}-{c[3]}" for c in CASES],
)
def test_twin_matches_cosimulation(
    card: str, seed: int, devices: tuple[int, ...], topology: Topology, tmp_path: Path
) -> None:
    summary = run_sim(
        SimConfig(
            card=card,
            seed=seed,
            backend="ngspice",
            topology=topology,
            devices=devices,
            test_images=1,
            out_dir=tmp_path,
        ),
        log=lambda s: None,
    )
    assert summary["topology"] == list(topology.widths)
    host = json.loads((tmp_path / "host.json").read_text())
    twin = program.crossbar_twin(card, seed, reset_pulse=True, topology=topology)
    # same targets, codes and tolerance as the cocotb host
    np.testing.assert_array_equal(twin.target_codes, host["target_codes"])
    assert twin.setup.scheme.tolerance_codes == host["tolerance"]
    assert twin.setup.scheme.tolerance_shift == host["tolerance_shift"] > 0
    out = twin.program(devices)
    names = list(summary["devices"])
    for j, k in enumerate(devices):
        dev = summary["devices"][names[k]]
        assert (bool(out.ok[j]), bool(out.failed[j])) == (
            host["flags_ok"][k],
            host["flags_failed"][k],
        )
        # controller counter (write + erase) and waveform count (+ the reset pulse)
        assert abs(int(out.pulses[j]) - host["pulses_register"][k]) <= 1, (k, out.pulses[j])
        assert abs(int(out.pulses[j]) + 1 - dev["pulses"]) <= 1
        assert out.g_S[j] == pytest.approx(dev["g_final_S"], rel=0.01)
        # the sense-path difference, bounded (see the module docstring)
        code = host["final_codes"][k]
        assert abs(int(out.codes[j]) - code) <= max(4, round(0.003 * code)), (k, out.codes[j])
