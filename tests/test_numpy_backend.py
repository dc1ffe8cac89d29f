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
