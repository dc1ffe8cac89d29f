"""Design files (cosim.design) and the generic bridge: named errors, the crossbar's port map,
and the SAR ADC example run end to end (real Icarus, cocotb and libngspice)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cosim.design.file import DesignError, load_design
from cosim.design.ports import Drive, PortMap, PortMapError, Sample
from cosim.harness.contract import contract
from cosim.run.design import run_design
from cosim.run.sim import SimFailed
from cosim.topology import Topology

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sar_adc"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the SAR ADC example to edit."""
    dest = tmp_path / "sar_adc"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    return dest / "design.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_example_loads(example: Path) -> None:
    d = load_design(example)
    assert d.toplevel == "sar_top"
    assert d.ports.sources[:2] == ("vin", "vsamp")
    assert [s.quantity for s in d.ports.samples] == ["cmp"]
    assert d.ports.samples[0].hysteresis == (0.45, 0.55)
    assert d.analog.options == {"reltol": 1e-4, "method": "gear"}
    assert d.analog.record == ("top", "cmp", "vin", "i(vin)")


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ('deck = "analog/sar.cir"', 'deck = "analog/nope.cir"', "design.deck", "does not exist"),
        ('source = "vin"', 'source = "vdum"', "drive.0.source", "not an `external`"),
        ('source = "vin"', 'source = "vnone"', "drive.0.source", "no element"),
        ('node = "cmp"', 'node = "cmpx"', "sample.0.node", "does not exist"),
        ('hdl = "v_in"', 'hdl = "v_in"\ncolour = 1', "drive.0.colour", "unknown field"),
        ("tmax = 50e-9", 'tmax = "fast"', "analog.tmax", "must be a float"),
        ('"v(top)"', '"v(nowhere)"', "analog.record.0.node", "does not exist"),
    ],
    ids=["missing-deck", "not-external", "no-source", "no-node", "unknown-field", "type", "record"],
)
def test_bad_design_files_name_file_and_field(
    example: Path, old: str, new: str, field: str, message: str
) -> None:
    _edit(example, old, new)
    with pytest.raises(DesignError, match=message) as info:
        load_design(example)
    assert info.value.field == field
    assert str(example) in str(info.value)


def test_crossbar_port_map_follows_the_topology() -> None:
    for widths in ((9, 3, 1), (4, 2, 3)):
        topo = Topology(widths)
        ports = contract(topo).port_map()
        assert len([d for d in ports.drives if d.source.startswith("vsel")]) == topo.n_dev
        inverted = [d for d in ports.drives if d.source.startswith("vinn")]
        assert [d.hdl for d in inverted] == [f"g_in[{i}].v" for i in range(topo.n_in)]
        assert all(d.gain == -1.0 for d in inverted)
        assert ports.quantities == ("sense", *topo.neuron_names)
        assert ports.strobes == (("adc_sample", "rising"),)
    default = contract(Topology((9, 3, 1))).port_map()
    assert [s.hdl for s in default.samples] == ["v_sense"] + [f"g_nrn[{n}].v" for n in range(4)]


def test_port_map_rejects_double_drives_and_bad_paths() -> None:
    with pytest.raises(PortMapError, match="driven twice"):
        PortMap((Drive("a", "v1"), Drive("b", "V1")))
    with pytest.raises(PortMapError, match="not a path"):
        Drive("a b", "v1")
    assert Sample("c", "n", hysteresis=(0.4, 0.6)).level(0.5, 1) == 1
    assert Sample("c", "n", hysteresis=(0.4, 0.6)).level(0.39, 1) == 0


@pytest.mark.sim
@pytest.mark.spice
def test_sar_example_converts_through_the_bridge(tmp_path: Path) -> None:
    """The example's cocotb test passes: codes equal the capacitor-ratio expectation."""
    report = run_design(EXAMPLE / "design.toml", tmp_path / "out", log=lambda _: None)
    assert report["failures"] == []
    assert report["bridge"]["syncs"] > 100
    # about one accepted analog point per sync beyond the edges' restarts
    assert report["bridge"]["points"] < 12 * report["bridge"]["syncs"]
    assert set(report["energy"]["energy_J"]) == {"input", *(f"dac{k}" for k in range(8))}
    # 7 conversions with ~26 pF switched at 1 V: tens of pJ, and energy is drawn, not returned
    assert 1e-12 < report["energy"]["total_J"] < 1e-9
    assert (tmp_path / "out" / "sar_adc.vcd").stat().st_size > 0
    assert "analog.top.v" in (tmp_path / "out" / "sar_adc.gtkw").read_text()
    assert json.loads((tmp_path / "out" / "run.json").read_text())["design"] == "sar_adc"


@pytest.mark.sim
@pytest.mark.spice
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('hdl = "v_in"', 'hdl = "v_input"', r"\[drive.0.hdl\] no HDL port 'v_input'"),
        ("hysteresis = [0.45, 0.55]", "", r"\[sample.0.hdl\] 'cmp' is not a `real` input"),
        ('hdl = "samp"\nbit = 0', 'hdl = "samp"', r"\[drive.1.hdl\] 'samp' is not a `real` port"),
    ],
    ids=["unknown-port", "sample-kind", "not-real"],
)
def test_hdl_port_errors_name_the_field(example: Path, old: str, new: str, message: str) -> None:
    _edit(example, old, new)
    with pytest.raises(SimFailed, match=message):
        run_design(example, example.parent / "out", log=lambda _: None)
