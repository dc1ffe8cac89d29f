"""Tests of cosim.analysis.metrics on VCDs whose time, energy and pulses are known by construction.

The synthetic VCDs are written with pyvcd from piecewise-constant waveforms defined here;
expected values come from an independent dense-grid integration of the same waveforms
(numpy, 10 ps grid), not from VCD parsing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from vcd.writer import VCDWriter

from cosim.analysis.metrics import measure
from cosim.errors import UsageError
from cosim.topology import DEFAULT
from cosim.waves.read import UnknownSignalError, VcdFormatError

NS = 1e-9
T_END_NS = 200

# Piecewise-constant waveforms: lists of (t_ns, value), each value holding until the next.
WAVES: dict[str, list[tuple[float, float]]] = {
    # device w1_0_0 (select bit 0): pulses of 1 V / 2 mA, then a lower level
    "w1_0_0.v": [(0, 0.0), (12, 1.0), (30, 1.0), (40, 1.0), (52, 0.5), (80, 0.0), (150, 0.2)],
    "w1_0_0.i": [(0, 0.0), (12, 2e-3), (52, 1e-3), (80, 0.0), (150, 1e-4)],
    # device w2_1 (select bit 28): a staircase in v, constant i
    "w2_1.v": [(10 * k, 0.1 * k) for k in range(12)],
    "w2_1.i": [(0, 1e-3)],
    # supplies: vdd delivers +I at +V, vss delivers −I at −V (both draw energy)
    "supply.vdd.v": [(0, 1.2)],
    "supply.vdd.i": [(0, 1e-4), (60, 3e-4), (120, 1e-4)],
    "supply.vss.v": [(0, -1.2)],
    "supply.vss.i": [(0, -1e-4)],
}
PHASE = [(0, 0), (10, 1), (30, 2), (60, 0), (70, 4), (80, 0), (100, 2), (130, 0), (160, 5)]
SEL = [(0, 0), (10, 1), (60, 0), (70, 1), (80, 0), (100, 1 << 28), (130, 0)]
START = [(0, 0), (5, 1), (6, 0)]
DONE = [(0, 0), (2, 1), (3, 0), (170, 1), (175, 0), (180, 1)]


def value_at(wave: list[tuple[float, float]], t_ns: np.ndarray) -> np.ndarray:
    """Independent evaluation of a held waveform on a time grid."""
    times = np.array([t for t, _ in wave])
    vals = np.array([v for _, v in wave], dtype=float)
    return vals[np.searchsorted(times, t_ns, side="right") - 1]


GRID_NS = np.arange(0, T_END_NS, 0.01) + 0.005  # 10 ps midpoints


def reference_energy(device: str, phase_code: int | None = None) -> float:
    p = value_at(WAVES[f"{device}.v"], GRID_NS) * value_at(WAVES[f"{device}.i"], GRID_NS)
    if phase_code is not None:
        p = p * (value_at(PHASE, GRID_NS) == phase_code)
    return float(p.sum() * 0.01 * NS)


def write_vcd(
    path: Path,
    *,
    top: tuple[str, ...] = ("xbar_top",),
    digital: bool = True,
    analog: bool = True,
    repeat_every_ns: float = 4.0,
) -> Path:
    """The synthetic VCD; analog values are re-written every ``repeat_every_ns`` (pyvcd drops
    the repeats, leaving gaps), with a few extra samples of g and x."""
    with open(path, "w") as fh, VCDWriter(fh, timescale="1 ps", date="") as w:
        events: list[tuple[float, object, object]] = []
        if analog:
            for name, wave in WAVES.items():
                var = w.register_var(("analog", *name.split(".")[:-1]), name[-1], "real")
                for t, v in wave:
                    events.append((t, var, v))
                for t in np.arange(0, T_END_NS, repeat_every_ns):
                    events.append((float(t), var, float(value_at(wave, np.array([t]))[0])))
            for dev, x_final, g_final in (("w1_0_0", 0.75, 2e-4), ("w2_1", 0.25, 5e-5)):
                x = w.register_var(("analog", dev), "x", "real")
                g = w.register_var(("analog", dev), "g", "real")
                events += [(0, x, 0.5), (120, x, x_final), (0, g, 1e-4), (121, g, g_final)]
            nv = w.register_var(("analog", "neuron", "h0"), "v", "real")
            events += [(0, nv, 0.0), (90, nv, 0.3)]
        if digital:
            for name, wave, size in (
                ("phase", PHASE, 3),
                ("sel", SEL, 30),
                ("start", START, 1),
                ("done", DONE, 1),
            ):
                var = w.register_var(top, name, "wire", size)
                events += [(t, var, v) for t, v in wave]
            clk = w.register_var(top, "clk", "reg", 1)
            events += [(t, clk, int(t) % 2) for t in range(0, T_END_NS, 1)]
        # Stable sort by time; at equal times the order of definition above is kept.
        for t, var, v in sorted(events, key=lambda e: e[0]):
            w.change(var, round(t * 1000), v)  # type: ignore[arg-type]
        w.close(T_END_NS * 1000)
    return path


@pytest.fixture
def vcd(tmp_path: Path) -> Path:
    return write_vcd(tmp_path / "train.vcd")


def test_device_index_matches_convention() -> None:
    idx = DEFAULT.parse_device
    assert [idx(f"w1_{i}_{j}") for i in range(9) for j in range(3)] == list(range(27))
    assert [idx(f"w2_{j}") for j in range(3)] == [27, 28, 29]
    assert idx("supply") is None and idx("w1_x_0") is None


def test_training_time_first_start_rise_to_next_done_rise(vcd: Path) -> None:
    r = measure(vcd)
    # done pulses at 2 ns (before start): ignored; first rise after start at 170 ns.
    assert r.t_start_s == pytest.approx(5 * NS)
    assert r.t_done_s == pytest.approx(170 * NS)
    assert r.training_time_s == pytest.approx(165 * NS)
    assert r.t_end_s == pytest.approx(T_END_NS * NS)


@pytest.mark.parametrize("dev", ["w1_0_0", "w2_1"])
def test_device_energy_matches_dense_reference(vcd: Path, dev: str) -> None:
    r = measure(vcd)
    assert r.devices[dev].energy_J == pytest.approx(reference_energy(dev), rel=1e-3)


def test_totals_and_supplies(vcd: Path) -> None:
    r = measure(vcd)
    devices = ["w1_0_0", "w2_1"]
    assert sorted(r.devices) == devices  # neuron (no i) and supply are not devices
    assert r.energy_device_J == pytest.approx(sum(map(reference_energy, devices)), rel=1e-3)
    supplies = {s: reference_energy(f"supply.{s}") for s in ("vdd", "vss")}
    assert r.supplies == pytest.approx(supplies, rel=1e-3)
    assert r.energy_J == pytest.approx(sum(supplies.values()), rel=1e-3)
    assert all(e > 0 for e in supplies.values())


def test_energy_by_phase(vcd: Path) -> None:
    r = measure(vcd)
    for code, name in ((0, "idle"), (1, "reset"), (2, "write"), (4, "read"), (5, "infer")):
        want = reference_energy("w1_0_0", code) + reference_energy("w2_1", code)
        assert r.energy_by_phase_J[name] == pytest.approx(want, rel=1e-3, abs=1e-18), name
        dev = r.devices["w1_0_0"].energy_by_phase_J[name]
        assert dev == pytest.approx(reference_energy("w1_0_0", code), rel=1e-3, abs=1e-18)
    assert sum(r.energy_by_phase_J.values()) == pytest.approx(r.energy_device_J)
    assert sum(r.time_by_phase_s.values()) == pytest.approx(T_END_NS * NS)
    assert r.time_by_phase_s["write"] == pytest.approx(60 * NS)  # 30–60 and 100–130


def test_hold_semantics_not_trapezoid(vcd: Path) -> None:
    """The staircase device: a trapezoid between recorded samples would differ by 3.6 %."""
    times = np.array([t for t, _ in WAVES["w2_1.v"]] + [T_END_NS], dtype=float)
    vals = np.array([v for _, v in WAVES["w2_1.v"]] + [WAVES["w2_1.v"][-1][1]])
    trapezoid = float(np.trapezoid(vals * 1e-3, times * NS))
    exact = measure(vcd).devices["w2_1"].energy_J
    assert exact == pytest.approx(reference_energy("w2_1"), rel=1e-3)
    assert abs(trapezoid - exact) / exact > 0.03


def test_pulses_reads_and_final_state(vcd: Path) -> None:
    r = measure(vcd)
    a, b = r.devices["w1_0_0"], r.devices["w2_1"]
    # w1_0_0 selected on entering reset (10 ns), write (30 ns), read (70 ns)
    assert (a.pulses, a.pulses_by_phase, a.reads) == (2, {"reset": 1, "write": 1}, 1)
    # w2_1 selected (bit 28) on entering write at 100 ns — sel changes after phase there
    assert (b.pulses, b.pulses_by_phase, b.reads) == (1, {"write": 1}, 0)
    assert (a.x, a.g_S, b.x, b.g_S) == (0.75, 2e-4, 0.25, 5e-5)
    assert r.phase_entries == {"reset": 1, "write": 2, "idle": 3, "read": 1, "infer": 1}


def test_custom_signal_names(tmp_path: Path) -> None:
    path = write_vcd(tmp_path / "t.vcd", top=("top", "dut"))
    r = measure(path, start="top.dut.start", done="top.dut.done")
    assert r.training_time_s == pytest.approx(165 * NS)
    assert r.devices["w1_0_0"].pulses == 2  # phase and sel found next to start


def test_missing_signal_lists_existing_closest_first(tmp_path: Path) -> None:
    path = write_vcd(tmp_path / "t.vcd", top=("top", "dut"))
    with pytest.raises(UnknownSignalError) as err:
        measure(path, start="top.dut.strat", done="top.dut.done")
    msg = str(err.value)
    assert "top.dut.strat" in msg and str(path) in msg
    listed = msg.split("closest existing: ")[1]
    assert listed.index("top.dut.start") < listed.index("top.dut.phase")


def test_digital_only_gives_time_and_note(tmp_path: Path) -> None:
    r = measure(write_vcd(tmp_path / "d.vcd", analog=False))
    assert r.training_time_s == pytest.approx(165 * NS)
    assert r.energy_J is None and r.energy_device_J is None and r.devices == {}
    assert any("no analog scope" in n for n in r.notes)


def test_analog_only_gives_energy_and_note(tmp_path: Path) -> None:
    r = measure(write_vcd(tmp_path / "a.vcd", digital=False))
    assert r.training_time_s is None
    assert r.energy_device_J == pytest.approx(
        reference_energy("w1_0_0") + reference_energy("w2_1"), rel=1e-3
    )
    assert any("training time not measured" in n for n in r.notes)


def test_repeat_density_does_not_change_result(tmp_path: Path) -> None:
    a = measure(write_vcd(tmp_path / "a.vcd", repeat_every_ns=1.0))
    b = measure(write_vcd(tmp_path / "b.vcd", repeat_every_ns=50.0))
    assert a.energy_device_J == pytest.approx(b.energy_device_J, rel=1e-12)


def test_report_json_roundtrip(vcd: Path) -> None:
    import json

    data = json.loads(measure(vcd).to_json())
    for key in ("training_time_s", "energy_device_J", "energy_J", "energy_by_phase_J"):
        assert key in data
    assert data["devices"]["w1_0_0"]["pulses"] == 2
    assert "x" in data["devices"]["w2_1"]


def test_truncated_file_names_line(vcd: Path, tmp_path: Path) -> None:
    text = vcd.read_bytes()
    cut = tmp_path / "cut.vcd"
    cut.write_bytes(text[: text.rindex(b"\nr") + 3])  # ends inside a real value line
    n_lines = cut.read_bytes().count(b"\n") + 1
    with pytest.raises(VcdFormatError, match=rf"cut\.vcd:{n_lines}:.*truncated"):
        measure(cut)


@pytest.mark.sim
def test_icarus_dump_training_time(tmp_path: Path) -> None:
    """A real Icarus VCD (timescale 1ns/1ps, aliased ids through a sub-module port)."""
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    t_start_ns, t_done_ns = 37, 412
    (tmp_path / "t.v").write_text(
        f"""`timescale 1ns/1ps
module sub(input wire d, output wire q); assign q = d; endmodule
module xbar_top;
  reg start = 0, done_r = 0; reg [2:0] phase = 0; reg [29:0] sel = 0;
  wire done; sub u(.d(done_r), .q(done));
  initial begin
    $dumpfile("t.vcd"); $dumpvars(0, xbar_top);
    #{t_start_ns} start = 1; #1 start = 0; phase = 2; sel = 30'd4;
    #{t_done_ns - t_start_ns - 1} done_r = 1; phase = 0; #3 $finish;
  end
endmodule
"""
    )
    subprocess.run(["iverilog", "-o", "t.vvp", "t.v"], cwd=tmp_path, check=True)
    subprocess.run(["vvp", "-n", "t.vvp"], cwd=tmp_path, check=True, capture_output=True)
    r = measure(tmp_path / "t.vcd")
    assert r.training_time_s == pytest.approx((t_done_ns - t_start_ns) * NS)
    assert r.phase_entries == {"write": 1, "idle": 1}
    assert any("no analog scope" in n for n in r.notes)
    r2 = measure(tmp_path / "t.vcd", done="xbar_top.u.q")  # the alias: same id
    assert r2.training_time_s == r.training_time_s


def test_training_window(vcd: Path) -> None:
    """window='training': only start rise (5 ns) → done rise (170 ns) counts."""
    r = measure(vcd, window="training")
    inside = (GRID_NS >= 5) & (GRID_NS < 170)
    for dev in ("w1_0_0", "w2_1"):
        p = value_at(WAVES[f"{dev}.v"], GRID_NS) * value_at(WAVES[f"{dev}.i"], GRID_NS)
        want = float((p * inside).sum() * 0.01 * NS)
        assert r.devices[dev].energy_J == pytest.approx(want, rel=1e-3), dev
    assert sum(r.time_by_phase_s.values()) == pytest.approx(165 * NS)
    assert r.time_by_phase_s["infer"] == pytest.approx(10 * NS)
    assert r.window == "training" and r.devices["w1_0_0"].pulses == 2
    with pytest.raises(UsageError, match="allowed: all, training"):
        measure(vcd, window="train")


@pytest.mark.parametrize("dev", ["w1_0_0", "w2_1"])
def test_integral_of_current_squared(vcd: Path, dev: str) -> None:
    """∫i² dt per device (series-path energy = R·∫i²) against a dense reference."""
    i = value_at(WAVES[f"{dev}.i"], GRID_NS)
    expected = float((i * i).sum() * 0.01 * NS)
    got = measure(vcd).devices[dev].i2_A2s
    assert got == pytest.approx(expected, rel=1e-3)
    # Inside the training window only part of it counts.
    assert measure(vcd, window="training").devices[dev].i2_A2s < got


def test_non_finite_note_names_what_json_safe_nulls() -> None:
    """The note on NaN/infinity walks the report itself (no asdict copy): the same paths."""
    import math
    from dataclasses import asdict

    from cosim.analysis.report import DeviceReport, Report, json_safe, note_non_finite

    device = DeviceReport(energy_J=math.nan, energy_by_phase_J={"write": -math.inf, "read": 1.0})
    report = Report(
        vcd="x.vcd",
        t_end_s=1.0,
        energy_J=math.nan,
        supplies={"vdd": math.inf, "vss": 0.5},
        devices={"w1_0_0": device, "w2_0": DeviceReport()},
    )
    _, expected = json_safe(asdict(report))
    note_non_finite(report)
    assert expected == [
        "energy_J",
        "supplies.vdd",
        "devices.w1_0_0.energy_J",
        "devices.w1_0_0.energy_by_phase_J.write",
    ]
    assert report.notes == [
        "non-finite values (NaN or infinity) in the VCD's samples: "
        + ", ".join(expected)
        + " not measured (null in --json)"
    ]
