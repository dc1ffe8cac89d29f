"""Waveforms of real co-simulation runs (Icarus + cocotb + ngspice/OSDI or the NumPy twin):
exact analog edges, the curated GTKWave view, FST."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

import pytest

from cosim.config import SimConfig
from cosim.run.sim import run_sim
from cosim.waves.read import END_ID, VcdHeader, iter_vcd

pytestmark = pytest.mark.sim

TOP = "xbar_top"


def changes(path: Path) -> dict[str, list[tuple[int, float | str]]]:
    stream = iter_vcd(path)
    header = next(stream)
    assert isinstance(header, VcdHeader)
    ids: dict[str, list[str]] = {}
    for var in header.vars:
        ids.setdefault(var.id, []).append(var.name)
    out: dict[str, list[tuple[int, float | str]]] = {v.name: [] for v in header.vars}
    for t, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID:
            for name in ids[ident]:
                out[name].append((t, value))
    return out


def dac_ports(names: set[str]) -> dict[str, str]:
    """Digital DAC port → the analog source node it drives (``supply.prog``/``supply.in<i>``):
    ``v_prog``, and the input DACs as ``v_in<i>`` or ``g_in[<i>].v``."""
    pairs = {f"{TOP}.v_prog": "analog.supply.prog.v"}
    for name in names:
        m = re.fullmatch(rf"{TOP}\.(?:v_in(\d+)|g_in\[(\d+)\]\.v)", name)
        if m:
            pairs[name] = f"analog.supply.in{m.group(1) or m.group(2)}.v"
    return pairs


@pytest.fixture(scope="module", params=["numpy", "ngspice"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    config = SimConfig(out_dir=out, backend=request.param, devices=(0,), test_images=2)
    run_sim(config, log=lambda _msg: None)
    return out


def test_every_dac_edge_has_the_held_analog_point(run: Path) -> None:
    ch = changes(run / "training.vcd")
    pairs = dac_ports(set(ch))
    assert len(pairs) >= 2, sorted(ch)[:20]  # v_prog and at least one input DAC
    n_edges = 0
    for port, node in pairs.items():
        analog = ch[node]
        times = [t for t, _ in analog]
        before = None
        for t, value in ch[port]:
            if before is not None and t > 0:
                n_edges += 1
                k = bisect.bisect_left(times, t)
                at_t = [v for tt, v in analog[k : k + 4] if tt == t]
                # The first analog point at the edge time holds the pre-edge value.
                assert at_t and at_t[0] == pytest.approx(before, abs=1e-12), (port, t, at_t)
                # The post-edge value follows: at the same time stamp (after the held point,
                # and after other ports' edges in the same step) or at the next point.
                if len(at_t) > 1 or k + 1 < len(analog):  # (no point after the run's end)
                    after = analog[k + 1][1] if len(at_t) == 1 else at_t[-1]
                    assert after == pytest.approx(float(value), abs=1e-9), (port, t)
            before = float(value)
    assert n_edges > 20
