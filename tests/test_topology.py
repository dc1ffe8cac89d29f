"""cosim.topology: the one source of sizes, names and the device ↔ select-bit order."""

from __future__ import annotations

import pytest

from cosim.topology import DEFAULT, MAX_DEVICES, Topology, TopologyError, parse_topology


def test_default_is_the_papers_network() -> None:
    t = DEFAULT
    assert (t.n_in, t.n_hid, t.n_out, t.n_dev, t.n_neurons) == (9, 3, 1, 30, 4)
    assert t.device_names[:4] == ("w1_0_0", "w1_0_1", "w1_0_2", "w1_1_0")
    assert t.device_names[27:] == ("w2_0", "w2_1", "w2_2")
    assert t.neuron_names == ("h0", "h1", "h2", "out")
    assert t.n_classes == 2


@pytest.mark.parametrize("widths", [(9, 3, 1), (16, 8, 2), (64, 16, 10), (1, 1, 1), (2, 5, 3)])
def test_names_and_positions_are_inverse(widths: tuple[int, int, int]) -> None:
    t = Topology(widths)
    names = t.device_names
    assert len(names) == len(set(names)) == t.n_dev == widths[0] * widths[1] + widths[1] * widths[2]
    for k, name in enumerate(names):
        assert t.device_index(name) == k
        layer, a, b = t.position(k)
        expect = f"w{layer}_{a}_{b}" if layer == 1 or t.n_out > 1 else f"w2_{a}"
        assert name == expect
        # the select-bit formula the HDL uses
        kk = a * t.n_hid + b if layer == 1 else t.n_layer1 + a * t.n_out + b
        assert kk == k
    l1, l2 = t.layers
    assert names[l1][-1].startswith("w1_") and names[l2][0].startswith("w2_")
    assert len(t.neuron_names) == t.n_neurons


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9,3", "three layer widths"),
        ("9,3,1,1", "three layer widths"),
        ("9,0,1", "≥ 1"),
        ("a,b,c", "expected layer widths"),
        (f"{MAX_DEVICES},2,1", "register map addresses at most"),
    ],
)
def test_bad_shapes_are_named_errors(text: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse_topology(text)


def test_parse_forms() -> None:
    assert parse_topology("16,8,2") == parse_topology("16→8→2") == Topology((16, 8, 2))
    assert str(parse_topology(" 64 , 16 , 10 ")) == "64,16,10"
    assert parse_topology((9, 3, 1)) is not DEFAULT and parse_topology((9, 3, 1)) == DEFAULT


def test_unknown_device_name_lists_patterns() -> None:
    with pytest.raises(KeyError, match=r"w2_<0..7>_<0..1>"):
        Topology((16, 8, 2)).device_index("w2_0")


@pytest.mark.parametrize("widths", [(9, 3, 1), (16, 8, 2), (3, 2, 4)])
def test_topology_recovered_from_device_names(widths: tuple[int, int, int]) -> None:
    t = Topology(widths)
    assert Topology.from_device_names(list(t.device_names) + ["supply"]) == t
    with pytest.raises(TopologyError, match="complete"):
        Topology.from_device_names(t.device_names[:-1])


def test_default_topology_is_the_hdl_default() -> None:
    from cosim.harness.verilog import read_constants
    from cosim.resources import hdl_dir

    for top in (hdl_dir() / "behav" / "xbar_top.v", hdl_dir() / "xbar_ctrl.v"):
        params = read_constants(top, "parameter")
        assert (params["N_IN"], params["N_HID"], params["N_OUT"]) == DEFAULT.widths, top
