"""cosim.backends.numpy at 1184 devices, driven directly with the lockstep protocol: the
physics (the driven device integrated, the others at the exact 0 V update, neurons from every
device's current) and what reaches the analog VCD (only what moves)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import vcd_oracle

from cosim.circuit import mss, network
from cosim.crossbar import make_backend, make_crossbar
from cosim.learn import datasets
from cosim.topology import Topology

TOPO = Topology((64, 16, 10))
K = 700  # a layer-1 device in the middle of the array


@pytest.fixture(scope="module")
def xbar():
    return make_crossbar("Cr", 1, TOPO, "digits")


def test_programming_one_device_touches_only_it(xbar, tmp_path: Path) -> None:
    be = make_backend(xbar, "numpy", tmp_path / "a.vcd", tmax_s=1e-6)
    x0 = be.states()
    p = xbar.params.broadcast_flat((TOPO.n_dev,))
    rp = xbar.spec.r_read_path_ohm
    be.advance_to(1e-6)
    be.mark_edge(1e-6)
    be.set_controls({f"vsel{K}": 1.0, "vprog": 1.0})
    be.advance_to(6e-6)  # a 5 µs write pulse on device K
    be.mark_edge(6e-6)
    be.set_controls({"vprog": 0.0, f"vsel{K}": 0.0})
    be.advance_to(8e-6)
    x = be.states()
    pk = mss.MSSArrays(**{f: getattr(p, f)[K : K + 1] for f in p.__dataclass_fields__})
    want = mss.apply_pulse(pk, x0[K : K + 1], 1.0, 5e-6, rp)
    assert x[K] - x0[K] > 0.01  # the pulse moved it
    assert x[K] == pytest.approx(want[0], abs=1e-6)
    others = np.delete(np.arange(TOPO.n_dev), K)
    exact = mss.step_constant(p, x0, 0.0, 8e-6)
    np.testing.assert_allclose(x[others], exact[others], rtol=0, atol=1e-15)
    be.close()
    waves = vcd_oracle.read(tmp_path / "a.vcd", prefix="analog.")
    name = TOPO.device_names[K]
    assert len(waves.traces[f"analog.{name}.i"].t_s) >= 4  # recorded while driven
    other = TOPO.device_names[K + 1]
    assert len(waves.traces[f"analog.{other}.i"].t_s) == 1  # only its initial 0 A
    prog = waves.traces["analog.supply.prog.i"]
    assert np.max(prog.floats()) > 0  # the bus current of the pulse


def test_inference_neurons_follow_every_device(xbar, tmp_path: Path) -> None:
    """With every device at its target state, the neurons are the trained network's."""
    p = xbar.params.broadcast_flat((TOPO.n_dev,))
    g_on, g_off = 1.0 / p.r_on, 1.0 / p.r_off
    x_target = np.clip((xbar.g_target_S - g_off) / (g_on - g_off), 0.0, 1.0)
    xbar = replace(xbar, x0=x_target)
    be = make_backend(xbar, "numpy", tmp_path / "b.vcd", tmax_s=1e-6)
    _, test = datasets.train_test(TOPO, "digits")
    v_in = test.x[0] * xbar.spec.v_read_V
    be.mark_edge(0.0)
    be.set_controls({"vinf": 1.0, **{f"vin{i}": float(v) for i, v in enumerate(v_in)}})
    got = be.sample()
    # the ideal network through the inference path at the devices' conductances
    g = xbar.conductance(be.states())
    g1, g2 = xbar.split_layers(xbar.branch_conductance(g))
    h, y = network.forward(xbar.spec, g1, g2, v_in)
    names = TOPO.neuron_names
    vals = np.array([got[n] for n in names])
    np.testing.assert_allclose(vals, np.concatenate([h, y]), rtol=2e-3, atol=2e-4)
    assert got["sense"] == 0.0
    be.advance_to(2e-6)
    be.close()
    waves = vcd_oracle.read(tmp_path / "b.vcd", prefix="analog.")
    # every device with a non-zero input or hidden output carries current, and it is recorded
    driven = np.concatenate([np.repeat(v_in, TOPO.n_hid), np.repeat(h, TOPO.n_out)]) > 0
    recorded = np.array([len(waves.traces[f"analog.{d}.i"].t_s) for d in TOPO.device_names])
    assert driven[: TOPO.n_layer1].any() and driven[TOPO.n_layer1 :].any()
    assert (recorded[driven] >= 2).all() and (recorded[~driven] == 1).all()


def _pulse_cycles(be, k: int, n: int, t0: float) -> float:
    """``n`` write pulses of 5 µs on device ``k`` (select, pulse, deselect), 20 µs apart."""
    t = t0
    for _ in range(n):
        for dt, controls in ((1e-6, {f"vsel{k}": 1.0}), (2e-6, {"vprog": 0.3})):
            t += dt
            be.advance_to(t)
            be.mark_edge(t)
            be.set_controls(controls)
        for dt, controls in ((5e-6, {"vprog": 0.0}), (2e-6, {f"vsel{k}": 0.0})):
            t += dt
            be.advance_to(t)
            be.mark_edge(t)
            be.set_controls(controls)
        t += 10e-6
    return t


def test_idle_devices_take_the_exact_update_and_stay_within_a_deadband(
    xbar, tmp_path: Path
) -> None:
    """Devices nobody drives are updated lazily: their states are the exact 0 V update at any
    time they are asked for, and their recorded x and g never leave the true trace by more
    than 1.5 deadbands while another device is being programmed (one: the writer's deadband;
    half: the drift allowed before an idle device is brought up to date)."""
    xbar = replace(xbar, x0=np.full(TOPO.n_dev, 0.9))  # a high state drifts fastest at 0 V
    be = make_backend(xbar, "numpy", tmp_path / "c.vcd", tmax_s=1e-6)
    x0 = be.states()
    t_end = _pulse_cycles(be, K, 400, 0.0)  # 8 ms of programming device K
    be.advance_to(t_end)
    x = be.states()
    p = xbar.params.broadcast_flat((TOPO.n_dev,))
    others = np.delete(np.arange(TOPO.n_dev), K)
    exact = mss.step_constant(p, x0, 0.0, t_end)  # (updated in a few exact steps: rounding)
    np.testing.assert_allclose(x[others], exact[others], rtol=1e-13, atol=0)
    be.close()
    # the idle device that drifts fastest: its recorded x against the exact trace
    a0, b0 = mss.rates(p, 0.0)
    fast = others[np.argmax(((a0 + b0) * np.abs(0.9 - a0 / (a0 + b0)))[others])]
    name = TOPO.device_names[fast]
    waves = vcd_oracle.read(tmp_path / "c.vcd", [f"analog.{name}.x", f"analog.{name}.g"])
    trace = waves.traces[f"analog.{name}.x"]
    assert len(trace.t_s) > 10  # it drifted and was recorded along the way
    grid = np.linspace(0.0, t_end, 2001)
    truth = mss.step_constant(_one(p, fast), 0.9, 0.0, grid)
    recorded = vcd_oracle.held(trace, grid)
    assert np.max(np.abs(recorded - truth)) <= 1.5e-7  # the writer's deadband of x: 1e-7
    g_truth = mss.conductance(_one(p, fast), truth)
    g_rec = vcd_oracle.held(waves.traces[f"analog.{name}.g"], grid)
    assert np.max(np.abs(g_rec - g_truth)) <= 1.5e-9  # ... and of g: 1 nS


def _one(p: mss.MSSArrays, k: int) -> mss.MSSArrays:
    return mss.MSSArrays(**{f: getattr(p, f)[k] for f in p.__dataclass_fields__})


def test_changes_at_one_instant_make_one_edge(xbar, tmp_path: Path) -> None:
    """The 64 input DACs and infer_en change in one time step, each waking the bridge: applied
    one by one or all at once, the backend gives the same samples, states and waveforms."""
    p = xbar.params.broadcast_flat((TOPO.n_dev,))
    g_on, g_off = 1.0 / p.r_on, 1.0 / p.r_off
    xbar = replace(xbar, x0=np.clip((xbar.g_target_S - g_off) / (g_on - g_off), 0.0, 1.0))
    _, test = datasets.train_test(TOPO, "digits")
    v_in = {f"vin{i}": float(v) * xbar.spec.v_read_V for i, v in enumerate(test.x[3])}
    runs = {}
    for how in ("one by one", "at once"):
        be = make_backend(xbar, "numpy", tmp_path / f"{how}.vcd", tmax_s=1e-6)
        t = _pulse_cycles(be, K, 3, 0.0)
        be.advance_to(t)
        changes = [{"vinf": 1.0}, *({k: v} for k, v in v_in.items())]
        if how == "at once":
            changes = [{k: v for c in changes for k, v in c.items()}]
        for c in changes:
            be.advance_to(t)  # the bridge's wake: time does not move
            be.mark_edge(t)
            be.set_controls(c)
        be.advance_to(t + 20e-6)
        sample = be.sample()
        be.advance_to(t + 40e-6)
        be.mark_edge(t + 40e-6)
        be.set_controls({"vinf": 0.0, **dict.fromkeys(v_in, 0.0)})
        be.advance_to(t + 50e-6)
        runs[how] = (sample, be.states(), be.stats.points)
        be.close()
    (s1, x1, n1), (s2, x2, n2) = runs["one by one"], runs["at once"]
    assert s1 == s2 and np.array_equal(x1, x2) and n1 == n2
    w1 = vcd_oracle.read(tmp_path / "one by one.vcd", prefix="analog.")
    w2 = vcd_oracle.read(tmp_path / "at once.vcd", prefix="analog.")
    assert w1.traces.keys() == w2.traces.keys()
    for name, trace in w1.traces.items():
        other = w2.traces[name]
        assert np.array_equal(trace.t_s, other.t_s) and trace.values == other.values, name
    assert max(s1[n] for n in TOPO.output_names) > 0.0  # the inference drove the outputs


def test_one_device_float_path_equals_the_arrays(xbar, tmp_path: Path) -> None:
    """Programming drives one device at a time through Python floats (``_One``); with that
    path switched off the arrays give the same samples, states and waveforms (to rounding)."""
    runs = {}
    for how in ("floats", "arrays"):
        be = make_backend(xbar, "numpy", tmp_path / f"{how}.vcd", tmax_s=1e-6)
        if how == "arrays":
            be._one = lambda: None  # type: ignore[method-assign]
        samples = []
        t = 0.0
        for k, v_pulse in ((K, 1.0), (K + 1, -0.9), (TOPO.n_layer1 + 3, 0.8), (K, 0.1)):
            t = _pulse_cycles(be, k, 2, t) if v_pulse == 1.0 else t
            for dt, controls in (
                (1e-6, {f"vsel{k}": 1.0}),
                (1e-6, {"vprog": v_pulse}),
                (7e-6, {"vprog": 0.0}),
                (1e-6, {"vprog": 0.05}),  # a read
            ):
                t += dt
                be.advance_to(t)
                be.mark_edge(t)
                be.set_controls(controls)
            t += 3e-6
            be.advance_to(t)
            samples.append(be.sample())
            for dt, controls in ((1e-6, {"vprog": 0.0}), (1e-6, {f"vsel{k}": 0.0})):
                t += dt
                be.advance_to(t)
                be.mark_edge(t)
                be.set_controls(controls)
        be.advance_to(t + 5e-3)  # idle: the others drift and are brought up to date
        runs[how] = (samples, be.states(), be.stats.points)
        be.close()
    (s1, x1, n1), (s2, x2, n2) = runs["floats"], runs["arrays"]
    assert n1 == n2
    assert all(s["sense"] > 0 for s in s1)  # the reads saw the devices
    for a, b in zip(s1, s2, strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[n] for n in a], [b[n] for n in a], rtol=1e-12, atol=0)
    np.testing.assert_allclose(x1, x2, rtol=0, atol=1e-14)
    assert np.max(np.abs(x1 - xbar.x0)) > 0.01  # the pulses moved states
    w1 = vcd_oracle.read(tmp_path / "floats.vcd", prefix="analog.")
    w2 = vcd_oracle.read(tmp_path / "arrays.vcd", prefix="analog.")
    assert w1.traces.keys() == w2.traces.keys()
    for name, trace in w1.traces.items():
        other = w2.traces[name]
        assert np.array_equal(trace.t_s, other.t_s), name
        np.testing.assert_allclose(trace.floats(), other.floats(), rtol=1e-12, atol=1e-25)
