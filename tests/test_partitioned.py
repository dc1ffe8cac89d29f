"""The partitioned ngspice backend against the full netlist (real libngspice + Verilog-A)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosim.circuit.network import CircuitSpec
from cosim.circuit.partition import leak_conductance, partition_netlist
from cosim.crossbar import make_backend, make_crossbar
from cosim.waves.read import read_header, read_traces


def _program(backend: Any, devices: list[int], op: Any) -> list[float]:
    """The lockstep protocol with a reset pulse and two read+write rounds per device."""
    t = [0.0]
    senses: list[float] = []

    def edge(dt: float, values: dict[str, float]) -> None:
        t[0] += dt
        backend.announce_edge(t[0])
        backend.advance_to(t[0])
        backend.mark_edge(t[0])
        backend.set_controls(values)

    def infer(scale: float) -> None:
        v_in = {f"vin{i}": scale * (i % 2) for i in range(9)}
        v_inn = {f"vinn{i}": -scale * (i % 2) for i in range(9)}
        edge(op.t_gap_s, {"vinf": 1.0, **v_in, **v_inn})
        edge(op.t_read_s, {})
        senses.append(backend.sample()["out"])
        edge(op.t_gap_s, {"vinf": 0.0})

    for n, k in enumerate(devices):
        if n == len(devices) - 1:
            # inferences with an idle stretch between them, then a partition again
            infer(0.1)
            edge(op.t_gap_s, {f"vin{i}": 0.0 for i in range(9)})
            infer(0.05)
        edge(op.t_gap_s, {f"vsel{k}": 1.0})
        edge(op.t_gap_s, {"vprog": op.v_reset_V})
        edge(op.t_reset_s, {"vprog": 0.0})
        for _ in range(2):
            edge(op.t_gap_s, {"vprog": op.v_read_V})
            edge(op.t_read_s, {})
            senses.append(backend.sample()["sense"])
            edge(1e-9, {"vprog": 0.0})
            edge(op.t_gap_s, {"vprog": op.v_write_V})
            edge(op.t_write_s, {"vprog": 0.0})
        edge(op.t_gap_s, {f"vsel{k}": 0.0})
    infer(0.1)  # the full netlist with every device at its frozen state
    backend.advance_to(t[0] + op.t_gap_s)
    return senses


def test_partitioned_matches_the_full_netlist(tmp_path: Path) -> None:
    xb = make_crossbar("Cr", 1)
    op = xb.card.operation
    tmax = max(op.t_write_s, op.t_erase_s, op.t_reset_s, op.t_read_s)
    devices = [0, 13, 28]  # layer 1 and layer 2
    out: dict[str, tuple[np.ndarray, list[float]]] = {}
    for kind in ("ngspice", "ngspice-partitioned"):
        be = make_backend(xb, kind, tmp_path / f"{kind}.vcd", tmax_s=tmax)
        senses = _program(be, devices, op)
        out[kind] = (be.states(), senses)
        if kind == "ngspice-partitioned":  # one load per inference, one partition per device
            assert be.stats.extra == {"partitions": len(devices), "full_loads": 3}
        be.close()
    x_full, s_full = out["ngspice"]
    assert len(s_full) == 2 * len(devices) + 3
    x_part, s_part = out["ngspice-partitioned"]
    g = xb.conductance
    rel_g = np.abs(g(x_part) - g(x_full)) / g(x_full)
    assert rel_g.max() <= 1e-3  # the bound we hold: 0.1 % on conductance
    assert np.any(np.abs(x_full - xb.x0) > 1e-3)  # the pulses really moved the devices
    np.testing.assert_allclose(s_part, s_full, rtol=2e-3, atol=1e-6)
    # waveforms: a device that was never selected holds its initial state, 0 V
    vcd = tmp_path / "ngspice-partitioned.vcd"
    names = [v.name for v in read_header(vcd).vars]
    x_name = next(n for n in names if n.endswith("w1_5_1.x"))
    i_prog = next(n for n in names if n.endswith("supply.prog.i"))
    traces, _ = read_traces(vcd, [x_name, i_prog])
    assert np.allclose(np.asarray(traces[x_name][1], dtype=float), xb.x0[16])
    assert len(traces[i_prog][1]) > 10  # the bus current is recorded in every phase


def test_leak_conductance_is_the_open_switch_path() -> None:
    spec = CircuitSpec()
    g = np.array([1e-6, 1e-4])
    got = leak_conductance(spec, g)
    r_off, r_dev = spec.r_switch_off_ohm, spec.r_series_ohm + 1.0 / g
    want = 1.0 / (r_off + r_off * r_dev / (r_off + r_dev))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(got < 1.0 / r_off) and np.all(got > 0.5 / r_off)
    text = partition_netlist(
        spec, {"r_on": 5e3}, {"x0": 0.5}, layer=2, n_rows=3, r_leak_ohm=1e7, title="t"
    )
    assert "rleak pbus 0 10000000" in text and f"{1 / (3 * spec.g_ref2_S):.9g}" in text
    assert text.count("mss_memristor") == 1 and text.endswith(".end\n")


@pytest.mark.parametrize("kind", ["ngspice-partitioned"])
def test_backend_name_is_accepted_by_the_config(kind: str) -> None:
    from cosim.config import BACKENDS

    assert kind in BACKENDS


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def test_reloading_a_1184_device_netlist_keeps_memory_flat() -> None:
    """The full 64→16→10 netlist loaded and stepped three times in one process (what the
    partitioned backend does at each inference phase) does not grow RSS: ngspice zero-fills
    ``tstop/tstep`` points per saved vector at each load (``spice_lockstep.tran_card``)."""
    from dataclasses import replace

    from cosim.backends.spice_lockstep import tran_card
    from cosim.circuit.netlist import with_analysis
    from cosim.circuit.va import compile_va, model_path
    from cosim.crossbar import Crossbar, device_params
    from cosim.spice.ngspice import NgSpice
    from cosim.topology import Topology

    xb = make_crossbar("Cr", 1)
    topo = Topology((64, 16, 10))
    variation, params = device_params(xb.card, 1, topo)
    big: Crossbar = replace(
        xb, variation=variation, params=params, x0=np.full(topo.n_dev, 0.5), topology=topo
    )
    osdi = compile_va(model_path("mss.va")), compile_va(model_path("neuron.va"))
    nl = big.netlist(*osdi)
    rss = []
    with NgSpice() as ng:
        for path in osdi:
            ng.load_osdi(path)
        for _ in range(3):
            ng.load_circuit(with_analysis(nl.text, tran_card(5e-6)))
            for name in nl.external_sources:
                ng.set_source(name, 0.0)
            ng.set_source("vinf", 1.0)
            ng.advance_to(10e-6)
            ng.remove_circuit()
            rss.append(_rss_mb())
    assert rss[-1] - rss[0] < 100, rss  # was +0.5 GB, then +2.5 GB, per reload


def test_cosim_sim_runs_the_partitioned_backend_on_the_foreground_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cosim.config import SimConfig
    from cosim.run.sim import _engine_env
    from cosim.spice.build import ENV_SYNC

    monkeypatch.delenv(ENV_SYNC, raising=False)
    assert _engine_env(SimConfig(backend="ngspice-partitioned")) == {ENV_SYNC: "python"}
    assert _engine_env(SimConfig(backend="ngspice")) == {}
    monkeypatch.setenv(ENV_SYNC, "c")  # the user's choice wins
    assert _engine_env(SimConfig(backend="ngspice-partitioned")) == {}


def test_a_failed_advance_flushes_and_names_the_backend_and_time() -> None:
    from cosim.backends.protocol import AnalogSimulationError
    from cosim.backends.spice_lockstep import advance_or_fail
    from cosim.errors import CosimError

    class FailingNgspice:
        def advance_to(self, t_s: float) -> None:
            raise CosimError("timestep too small")

        def recent_output(self, n: int) -> list[str]:
            return ["doAnalyses: TRAN:  Timestep too small"]

    flushed: list[int] = []
    with pytest.raises(AnalogSimulationError) as err:
        advance_or_fail(
            FailingNgspice(),  # type: ignore[arg-type]
            1e-3,
            2e-3,
            flush=lambda: flushed.append(1),
            what="ngspice (prog partition)",
        )
    text = str(err.value)
    assert text.startswith("ngspice (prog partition) failed advancing to t = 0.002 s: ")
    assert "timestep too small" in text and "TRAN:  Timestep too small" in text
    assert flushed == [1]  # what was computed reaches the VCD before the error


def _iterations(ng: Any) -> int:
    line = next(s for s in ng.command("rusage totiter") if "iterations" in s.lower())
    return int(line.split("=")[1])


@pytest.mark.parametrize("widths", [(9, 3, 1), (64, 16, 10)])
def test_an_inference_started_at_the_estimate_settles_to_the_true_operating_point(
    widths: tuple[int, int, int],
) -> None:
    """The neurons' op-amps started at the ideal circuit's outputs (``s0``) reach the same
    sampled outputs as the true operating point, in a few Newton iterations where the
    1184-device array needs thousands from zero; a wrong start only costs settling (the
    transient of op-amps slewing to their outputs)."""
    from dataclasses import replace

    from cosim.backends.spice_lockstep import tran_card
    from cosim.circuit.netlist import with_analysis
    from cosim.circuit.va import compile_va, model_path
    from cosim.spice.ngspice import NgSpice
    from cosim.topology import Topology

    topo = Topology(widths)
    xb = make_crossbar("Cr", 1, topo, "digits" if topo.n_in == 64 else "patterns")
    p = xb.params.broadcast_flat((topo.n_dev,))
    x = (xb.g_target_S - 1.0 / p.r_off) / (1.0 / p.r_on - 1.0 / p.r_off)  # the trained network
    xb = replace(xb, x0=np.clip(x, 0.0, 1.0))
    v_in = np.random.default_rng(4).uniform(0.0, xb.spec.v_read_V, topo.n_in)
    osdi = compile_va(model_path("mss.va")), compile_va(model_path("neuron.va"))
    fixed = {f"vsel{k}": 0.0 for k in range(topo.n_dev)}
    outs, iters = {}, {}
    with NgSpice() as ng:
        for path in osdi:
            ng.load_osdi(path)
        for how in ("true", "estimate", "wrong"):
            inputs = None if how == "true" else v_in
            nl = xb.netlist(*osdi, inputs_V=inputs, fixed_sources=fixed)
            if how == "wrong":  # every op-amp 1 V off
                text = re.sub(r"s0=(\S+)", lambda m: f"s0={float(m[1]) + 1.0:.9g}", nl.text)
                nl = replace(nl, text=text)
            assert ("op_pin=1" in nl.text) == (how != "true")
            assert not any(s.startswith("vsel") for s in nl.external_sources)
            ng.load_circuit(with_analysis(nl.text, tran_card(5e-6)))
            for name in nl.external_sources:
                ng.set_source(name, 0.0)
            ng.set_source("vinf", 1.0)
            for i, v in enumerate(v_in):
                ng.set_source(f"vin{i}", v)
                ng.set_source(f"vinn{i}", -v)
            ng.advance_to(50e-6)
            outs[how] = np.array([ng.latest(f"v({n})") for n in topo.neuron_names])
            iters[how] = _iterations(ng)
            ng.remove_circuit()
    assert np.ptp(outs["true"]) > 0.01  # the neurons really carry signals
    np.testing.assert_allclose(outs["estimate"], outs["true"], atol=5e-6)
    # 1 V off, the output columns' virtual grounds glitch while the op-amps slew and the
    # layer-2 devices feel it: still well within an ADC step (v_o_max / 4096 ≈ 0.24 mV)
    np.testing.assert_allclose(outs["wrong"], outs["true"], atol=1e-4)
    assert iters["estimate"] < 100
    if topo.n_dev > 1000:
        assert iters["true"] > 10 * iters["estimate"], iters


def test_a_select_line_change_reloads_the_full_netlist(tmp_path: Path) -> None:
    """Several select lines on run the full netlist with the lines as ``dc`` sources: a
    change of one of them reloads it, with the new value (the sense current follows)."""
    xb = make_crossbar("Cr", 1)
    op = xb.card.operation
    be = make_backend(xb, "ngspice-partitioned", tmp_path / "a.vcd", tmax_s=op.t_read_s)
    try:
        be.set_controls({"vsel0": 1.0, "vsel1": 1.0})
        be.set_controls({"vprog": op.v_read_V})
        be.advance_to(op.t_read_s)
        two = be.sample()["sense"]
        assert be.stats.extra["full_loads"] == 1
        be.set_controls({"vsel2": 1.0})
        be.advance_to(2 * op.t_read_s)
        three = be.sample()["sense"]
        assert be.stats.extra["full_loads"] == 2
        be.set_controls({"vprog": 0.0})  # an external source: no reload
        be.advance_to(3 * op.t_read_s)
        assert be.stats.extra["full_loads"] == 2
    finally:
        be.close()
    g = xb.branch_conductance(xb.conductance(xb.x0))
    assert three / two == pytest.approx(g[:3].sum() / g[:2].sum(), rel=0.05)


def test_an_inference_loads_once_every_port_of_the_instant_is_applied(tmp_path: Path) -> None:
    """The controller raises ``vinf`` and then writes the 64 inputs at the same instant, one
    port at a time: the full netlist waits for the first advance, so its operating point
    starts the op-amps for these inputs (a few Newton iterations, not a slewing transient)."""
    from dataclasses import replace

    from cosim.topology import Topology

    topo = Topology((64, 16, 10))
    xb = make_crossbar("Cr", 1, topo, "digits")
    p = xb.params.broadcast_flat((topo.n_dev,))
    x = (xb.g_target_S - 1.0 / p.r_off) / (1.0 / p.r_on - 1.0 / p.r_off)  # the trained network
    xb = replace(xb, x0=np.clip(x, 0.0, 1.0))
    v_in = np.random.default_rng(4).uniform(0.0, xb.spec.v_read_V, topo.n_in)
    t_read = xb.card.operation.t_read_s
    be = make_backend(xb, "ngspice-partitioned", tmp_path / "a.vcd", tmax_s=t_read)
    try:
        be.set_controls({"vinf": 1.0})
        for i, v in enumerate(v_in):
            be.set_controls({f"vin{i}": float(v), f"vinn{i}": -float(v)})
        be.advance_to(t_read)
        out = be.sample()
        iterations = _iterations(be._ng)
    finally:
        be.close()
    assert be.stats.extra["full_loads"] == 1
    assert iterations < 100, iterations
    assert max(out[n] for n in topo.neuron_names) > 0.01  # the inputs reached the neurons
