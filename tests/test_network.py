"""The circuit constants, the ideal forward pass and the netlist builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosim.circuit.netlist import build_crossbar, supplies
from cosim.circuit.network import (
    CircuitSpec,
    classify,
    conductances_to_weights,
    forward,
    join_layers,
    opamp_outputs,
    spec_for_window,
    split_layers,
    weights_to_conductances,
)
from cosim.harness.contract import contract
from cosim.topology import DEFAULT, Topology


def test_device_names_follow_the_select_line_convention() -> None:
    names = DEFAULT.device_names
    assert len(names) == DEFAULT.n_dev == 30
    assert names[3 * 4 + 2] == "w1_4_2" and names[27] == "w2_0"
    assert all(DEFAULT.device_index(n) == k for k, n in enumerate(names))
    with pytest.raises(KeyError, match="w1_<0..8>"):
        DEFAULT.device_index("w3_0")


def test_weights_round_trip_and_window() -> None:
    spec = spec_for_window(10e-6, 110e-6, v_read_V=0.1, r_series_ohm=10e3, w_max=4.0)
    assert spec.g_ref1_S == pytest.approx(60e-6)
    rng = np.random.default_rng(0)
    w1, w2 = rng.uniform(-4, 4, (9, 3)), rng.uniform(-4, 4, (3, 1))
    g1, g2 = weights_to_conductances(spec, w1, w2)
    assert g1.min() >= 10e-6 - 1e-12 and g1.max() <= 110e-6 + 1e-12
    back1, back2 = conductances_to_weights(spec, g1, g2)
    np.testing.assert_allclose(back1, w1)
    np.testing.assert_allclose(back2, w2)


def test_forward_is_the_signed_sum_with_saturating_rectifiers() -> None:
    spec = CircuitSpec()
    g1 = np.full((9, 3), spec.g_ref1_S)
    g1[0, 0] += 1e-5  # only w1[0,0] is non-zero: h0 = r_f * 1e-5 * v0
    g2 = np.full((3, 1), spec.g_ref2_S)
    g2[0, 0] += 2e-5
    v = np.zeros(9)
    v[0] = 0.01
    h, y = forward(spec, g1, g2, v)
    assert h[0] == pytest.approx(min(spec.r_f1_ohm * 1e-5 * 0.01, spec.v_h_max_V))
    assert h[1] == h[2] == 0.0
    assert y.shape == (1,)
    assert y[0] == pytest.approx(min(spec.r_f2_ohm * 2e-5 * h[0], spec.v_o_max_V))
    # Large inputs saturate; negative sums rectify to 0.
    _, y_big = forward(spec, g1, g2, np.full(9, 1.0))
    assert y_big[0] <= spec.v_o_max_V
    g1[0, 0] = spec.g_ref1_S - 1e-5
    h_neg, _ = forward(spec, g1, g2, v)
    assert h_neg[0] == 0.0
    assert classify(spec, [[0.49], [0.51]]).tolist() == [0, 1]


def test_forward_and_classify_for_a_multi_output_topology() -> None:
    topo = Topology((16, 8, 4))
    spec = CircuitSpec()
    rng = np.random.default_rng(2)
    g = rng.uniform(0.5, 1.5, (5, topo.n_dev)) * spec.g_ref1_S  # 5 networks
    g1, g2 = split_layers(g, topo)
    assert g1.shape == (5, 16, 8) and g2.shape == (5, 8, 4)
    assert np.array_equal(join_layers(g1, g2), g)
    # select-bit order: layer 2 device w2_<j>_<o> sits at N_IN·N_HID + j·N_OUT + o
    k = topo.device_index("w2_3_2")
    assert g2[1, 3, 2] == g[1, k] and g1[1, 7, 5] == g[1, topo.device_index("w1_7_5")]
    v = rng.uniform(0, spec.v_read_V, (5, 7, 16))  # 7 inputs per network
    h, y = forward(spec, g1[:, None], g2[:, None], v)
    assert h.shape == (5, 7, 8) and y.shape == (5, 7, 4)
    # one output neuron computed by hand
    h_ref = np.clip(spec.r_f1_ohm * v[2, 3] @ (g1[2] - spec.g_ref1_S), 0, spec.v_h_max_V)
    y_ref = np.clip(spec.r_f2_ohm * h_ref @ (g2[2] - spec.g_ref2_S), 0, spec.v_o_max_V)
    np.testing.assert_allclose(y[2, 3], y_ref, rtol=1e-12)
    # arg-max over the output neurons (ties to the lowest index); threshold for one output
    assert classify(spec, [[0.1, 0.7, 0.3, 0.7], [0.9, 0.0, 0.0, 0.2]]).tolist() == [1, 0]
    assert np.array_equal(classify(spec, y), np.argmax(y, axis=-1))
    with pytest.raises(ValueError, match="144 per-device"):
        split_layers(np.zeros(30), Topology((16, 8, 2)))
    assert split_layers(np.zeros(DEFAULT.n_dev))[1].shape == (3, 1)


@pytest.mark.parametrize("widths", [(9, 3, 1), (16, 8, 2), (4, 2, 3)])
def test_netlist_has_every_device_switch_and_source(widths: tuple[int, int, int]) -> None:
    topo = Topology(widths)
    inst = [{"x0": 0.1, "m_r_on": 1.0} for _ in range(topo.n_dev)]
    nl = build_crossbar(
        CircuitSpec(),
        {"r_on": 5e3},
        inst,
        mss_osdi=Path("a.osdi"),
        neuron_osdi=Path("b.osdi"),
        topology=topo,
    )
    lines = nl.text.splitlines()
    assert nl.text.endswith(".end\n")
    for k, name in enumerate(topo.device_names):
        assert sum(line.startswith(f"n{name} ") for line in lines) == 1
        assert any(line.startswith(f"ssel{k} pbus ") for line in lines)
        layer, row, col = topo.position(k)
        dev_line = next(line for line in lines if line.startswith(f"n{name} "))
        # layer 2 devices are driven by hidden neuron `row` and sum into output column `col`
        if layer == 2:
            sinf = next(line for line in lines if line.startswith(f"sinf{k} "))
            assert sinf.split()[1] == topo.hidden_names[row]
            assert dev_line.split()[2] == ("colo" if topo.n_out == 1 else f"colo{col}")
    for src, _node in supplies(topo).values():
        assert f"i({src})" in nl.save
    for name in topo.neuron_names:
        assert f"v({name})" in nl.save
        assert sum(line.startswith(f"n{name} ") for line in lines) == 1
    # the harness drives exactly the netlist's external sources
    drives = contract(topo).port_map().drives
    assert {d.source for d in drives} == set(nl.external_sources)
    with pytest.raises(ValueError, match=f"{topo.n_dev} instance"):
        build_crossbar(
            CircuitSpec(), {}, inst[:3], mss_osdi=Path("a"), neuron_osdi=Path("b"), topology=topo
        )


def test_port_map_one_hot_select_and_inverted_inputs() -> None:
    drives = {d.source: d for d in contract(DEFAULT).port_map().drives}
    assert drives["vsel28"].bit == 28 and drives["vsel28"].hdl == "sel"
    assert drives["vinn3"].gain == -1.0 and drives["vinn3"].hdl == drives["vin3"].hdl
    assert drives["vinf"].hdl == "infer_en" and drives["vprog"].hdl == "v_prog"


def test_netlist_fixed_sources_and_neuron_start() -> None:
    topo = Topology((4, 2, 3))
    inst = [{"x0": 0.1} for _ in range(topo.n_dev)]

    def build(**kw: Any) -> Any:
        paths = {"mss_osdi": Path("a.osdi"), "neuron_osdi": Path("b.osdi")}
        return build_crossbar(CircuitSpec(), {}, inst, topology=topo, **paths, **kw)

    nl = build(
        fixed_sources={"vsel3": 1.0, "VINF": 0.0},
        neuron_start={"h1": -0.25, topo.output_names[2]: 1.5},
    )
    lines = nl.text.splitlines()
    assert "vsel3 sel3 0 dc 1" in lines and "vinf inf 0 dc 0" in lines
    assert "vsel3" not in nl.external_sources and "vinf" not in nl.external_sources
    assert "vsel2" in nl.external_sources
    started = [line for line in lines if "op_pin=1" in line]
    assert len(started) == 2 and started[0].startswith("nh1 ") and "s0=-0.25 " in started[0]
    with pytest.raises(ValueError, match="fixed_sources: no such name"):
        build(fixed_sources={"vsel99": 0.0})
    with pytest.raises(ValueError, match="neuron_start: no such name"):
        build(neuron_start={"h7": 0.0})


def test_opamp_outputs_are_the_forward_pass_before_the_activation() -> None:
    spec = CircuitSpec()
    rng = np.random.default_rng(0)
    g1 = rng.uniform(0.5, 2.0, (5, 3)) * spec.g_ref1_S
    g2 = rng.uniform(0.5, 2.0, (3, 2)) * spec.g_ref2_S
    v = rng.uniform(0.0, spec.v_read_V, 5)
    a_h, a_o = opamp_outputs(spec, g1, g2, v)
    h, y = forward(spec, g1, g2, v)
    np.testing.assert_allclose(np.clip(-a_h, 0.0, spec.v_h_max_V), h)
    np.testing.assert_allclose(np.clip(-a_o, 0.0, spec.v_o_max_V), y)
    assert np.all(a_h >= spec.vss_V) and np.all(a_h <= spec.vdd_V)
