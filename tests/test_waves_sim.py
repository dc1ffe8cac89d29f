"""Waveforms of real co-simulation runs (Icarus + cocotb + ngspice/OSDI or the NumPy twin):
exact analog edges, the curated GTKWave view, FST."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

import pytest

from cosim.config import SimConfig
from cosim.run.sim import run_sim
from cosim.waves.read import END_ID, VcdHeader, iter_vcd, read_header

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
                if k == len(analog):
                    continue  # the run ended on this edge: no analog solution after it
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


def _gtkw_traces(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if not line or line[0] in "[@-*^":
            continue
        line = re.sub(r"^\+\{[^}]*\} ", "", line)
        out.append(re.sub(r"\[[0-9:]+\]$", "", line))
    return out


def test_curated_view(run: Path) -> None:
    from cosim.analysis.view import phase_names

    text = (run / "training.gtkw").read_text()
    names = set(read_header(run / "training.vcd").by_name())
    traces = _gtkw_traces(text)
    assert set(traces) <= names  # only signals present in the VCD
    for wanted in ("xbar_top.phase", "xbar_top.v_prog", "analog.selected.v", "analog.selected.g"):
        assert wanted in traces
    assert "analog.neuron.h0.v" in traces and "analog.neuron.out.v" in traces
    for alias in ("{h0}", "{out}", "{v_prog}", "{phase}"):
        assert alias in text
    # Relative paths only: the directory can move.
    assert str(run) not in text and '"/' not in text and "^1 /" not in text
    assert '[dumpfile] "training.vcd"' in text
    # phase by name: the filter beside it, from the register header's PHASE_* codes.
    filt = (run / "phase.txt").read_text().splitlines()
    assert filt == [f"{code} {name}" for code, name in sorted(phase_names().items())]
    assert any(line.endswith(" WRITE") for line in filt)
    assert (run / "devices.txt").read_text().splitlines()[0] == "0 w1_0_0"
    # The Surfer command file: the same rows, by names the VCD has.
    sucl = (run / "training.sucl").read_text().splitlines()
    added = [line.split(" ", 1)[1] for line in sucl if line.startswith("variable_add ")]
    assert set(added) <= names and set(added) == set(traces)
    # Opens on device 0's first write–verify cycle; marker A at its programming start.
    ch = changes(run / "training.vcd")
    codes = {name: code for code, name in phase_names().items()}
    phase = [(t, int(str(v), 2)) for t, v in ch[f"{TOP}.phase"] if str(v).strip("01") == ""]
    t_write = next(t for t, code in phase if code == codes["WRITE"])
    start = int(re.search(r"\[timestart\] (\d+)", text).group(1))  # type: ignore[union-attr]
    assert 0 < start < t_write
    sel_rise = next(t for t, v in ch[f"{TOP}.sel"] if "1" in str(v))
    zoom = next(line for line in text.splitlines() if line.startswith("*")).split()
    assert int(zoom[2]) == sel_rise and "[markername] Aw1_0_0" in text


def test_selected_traces_follow_the_selected_device(run: Path) -> None:
    ch = changes(run / "training.vcd")
    dev = [(t, v) for t, v in ch["analog.selected.dev"] if "x" not in str(v)]  # x until then
    assert dev and {int(str(v), 2) for _, v in dev} == {0}  # only device 0 is programmed
    t0 = dev[0][0]
    assert t0 == next(t for t, v in ch[f"{TOP}.sel"] if "1" in str(v))
    for q in ("v", "i", "x", "g"):
        own = [(t, v) for t, v in ch[f"analog.w1_0_0.{q}"] if t >= t0]
        mirrored = [(t, v) for t, v in ch[f"analog.selected.{q}"] if t > t0]
        assert mirrored and mirrored == [(t, v) for t, v in own if t > t0], q
    # The copy is not a device: energy and device lists are unchanged.
    from cosim.analysis.metrics import measure

    assert "selected" not in measure(run / "training.vcd").devices


def test_fst_output_reads_like_the_vcd(run: Path, tmp_path: Path) -> None:
    from cosim.analysis.metrics import measure
    from cosim.waves.fst import is_fst, write_fst

    fst = write_fst(run / "training.vcd", tmp_path / "training.fst")
    assert is_fst(fst) and fst.stat().st_size < (run / "training.vcd").stat().st_size
    assert {v.name for v in read_header(fst).vars} == {
        v.name for v in read_header(run / "training.vcd").vars
    }
    a, b = measure(fst, window="training"), measure(run / "training.vcd", window="training")
    assert a.training_time_s == b.training_time_s and a.energy_J == pytest.approx(b.energy_J)
    assert a.devices["w1_0_0"].pulses == b.devices["w1_0_0"].pulses > 0


def test_makefile_flow_leaves_the_runner_outputs(run: Path, tmp_path: Path) -> None:
    """`make -C tests/sim/xbar` (cocotb's Makefile flow) ends with the same merged VCD, view
    and summary as `cosim sim` for the same configuration; WAVES=1 dumps the whole hierarchy
    and adds FST, without a second $dumpfile."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    if not run.name.startswith("numpy") or shutil.which("make") is None:
        pytest.skip("compared with the NumPy-backend run; needs make")
    bench = Path(__file__).parent / "sim" / "xbar"
    out = tmp_path / "out"
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    options = [
        "COSIM_ANALOG=numpy",
        "COSIM_DEVICES=0",
        "COSIM_TEST_IMAGES=2",
        f"COSIM_OUT={out}",
        f"SIM_BUILD={tmp_path / 'hdl'}",
        f"COCOTB_RESULTS_FILE={tmp_path / 'results.xml'}",
        "WAVES=1",
    ]
    proc = subprocess.run(
        ["make", "-C", str(bench), *options], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "$dumpfile called after" not in proc.stdout + proc.stderr
    for name in ("training.vcd", "training.gtkw", "phase.txt", "summary.json", "training.fst"):
        assert (out / name).stat().st_size > 0, name
    mine, theirs = (json.loads((d / "summary.json").read_text()) for d in (out, run))
    for key in ("training_time_s", "energy_J", "energy_device_J", "pulses_total", "accuracy"):
        assert mine[key] == theirs[key], key
    assert mine["devices"] == theirs["devices"]
    names = {v.name for v in read_header(out / "training.vcd").vars}
    assert "xbar_top.clk" in names  # WAVES=1: the whole hierarchy
    assert "analog.selected.v" in names


def test_summary_separates_pulses_names_failures_and_qualifies_accuracy(run: Path) -> None:
    import json

    from cosim.analysis.summary import human

    summary = json.loads((run / "summary.json").read_text())
    host = json.loads((run / "host.json").read_text())
    assert summary["pulses_write_erase"] == sum(host["pulses_register"])  # controller counters
    assert summary["pulses_reset"] == (1 if summary["reset_pulse"] else 0)  # one device
    assert summary["pulses_total"] == summary["pulses_write_erase"] + summary["pulses_reset"]
    assert summary["failed_devices"] == [
        n for n, d in summary["devices"].items() if d["programmed"] and not d["ok"]
    ]
    assert summary["accuracy_meaningful"] is False  # 1 of 30 devices programmed
    text = human(summary)
    assert f"{summary['pulses_write_erase']} write/erase + {summary['pulses_reset']} reset" in text
    assert "not meaningful: only 1 of 30 devices programmed" in text
    assert "window" in text and "start → done" in text


def test_plots_default_to_the_device_window_and_take_units(run: Path, tmp_path: Path) -> None:
    from cosim.cli import main
    from cosim.cli.plot import device_window

    ch = changes(run / "training.vcd")
    sel = [(t, "1" in str(v)) for t, v in ch[f"{TOP}.sel"]]
    first = next(t for t, on in sel if on)
    last_off = max(t for (t, on), (_, was) in zip(sel[1:], sel, strict=False) if was and not on)
    window = device_window(run / "training.vcd", "w1_0_0")
    assert window == (pytest.approx(first * 1e-12), pytest.approx(last_off * 1e-12))
    assert device_window(run / "training.vcd", "w1_0_1") is None  # never selected
    png = tmp_path / "d.png"
    assert main(["plot", str(run / "training.vcd"), "--device", "w1_0_0", "--out", str(png)]) == 0
    assert png.stat().st_size > 0
    argv = ["plot", str(run / "training.vcd"), "--programming", "--out", str(png)]
    assert main([*argv, "--t-start", "500us", "--t-stop", "1ms"]) == 0
    assert main([*argv, "--t-start", "1ms", "--t-stop", "500us"]) == 2  # stop before start
