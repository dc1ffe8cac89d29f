"""Tests of ``cosim report`` and ``cosim plot`` through the real command line entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from vcd.writer import VCDWriter

from cosim.cli import main

NS_PS = 1000
V_DEV, I_DEV, T_ON_NS, T_OFF_NS = 0.8, 5e-4, 20, 70
T_START_NS, T_DONE_NS, T_END_NS = 10, 90, 100


@pytest.fixture
def vcd(tmp_path: Path) -> Path:
    """One device pulsed during a write phase, one supply, start/done markers."""
    path = tmp_path / "run.vcd"
    with open(path, "w") as fh, VCDWriter(fh, timescale="1 ps", date="") as w:
        dv = w.register_var("analog.w1_2_1", "v", "real")
        di = w.register_var("analog.w1_2_1", "i", "real")
        dx = w.register_var("analog.w1_2_1", "x", "real")
        sv = w.register_var("analog.supply.vdd", "v", "real")
        si = w.register_var("analog.supply.vdd", "i", "real")
        start = w.register_var("xbar_top", "start", "wire", 1)
        done = w.register_var("xbar_top", "done", "wire", 1)
        phase = w.register_var("xbar_top", "phase", "wire", 3)
        sel = w.register_var("xbar_top", "sel", "wire", 30)
        for var, v in ((start, 0), (done, 0), (phase, 0), (sel, 0), (dv, 0.0), (di, 0.0)):
            w.change(var, 0, v)
        w.change(dx, 0, 0.1)
        w.change(sv, 0, 1.0)
        w.change(si, 0, 1e-3)
        w.change(start, T_START_NS * NS_PS, 1)
        w.change(start, (T_START_NS + 1) * NS_PS, 0)
        w.change(phase, T_ON_NS * NS_PS, 2)
        w.change(sel, T_ON_NS * NS_PS, 1 << (3 * 2 + 1))
        w.change(dv, T_ON_NS * NS_PS, V_DEV)
        w.change(di, T_ON_NS * NS_PS, I_DEV)
        w.change(dv, T_OFF_NS * NS_PS, 0.0)
        w.change(di, T_OFF_NS * NS_PS, 0.0)
        w.change(dx, T_OFF_NS * NS_PS, 0.6)
        w.change(phase, T_OFF_NS * NS_PS, 0)
        w.change(done, T_DONE_NS * NS_PS, 1)
        w.close(T_END_NS * NS_PS)
    return path


def test_report_json(vcd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(vcd), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["training_time_s"] == pytest.approx((T_DONE_NS - T_START_NS) * 1e-9)
    e_dev = V_DEV * I_DEV * (T_OFF_NS - T_ON_NS) * 1e-9
    assert data["energy_device_J"] == pytest.approx(e_dev, rel=1e-3)
    assert data["energy_by_phase_J"]["write"] == pytest.approx(e_dev, rel=1e-3)
    assert data["energy_J"] == pytest.approx(1.0 * 1e-3 * T_END_NS * 1e-9, rel=1e-3)
    dev = data["devices"]["w1_2_1"]
    assert (dev["pulses"], dev["x"]) == (1, 0.6)
    assert dev["energy_J"] == pytest.approx(e_dev, rel=1e-3)


def test_report_table(vcd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(vcd)]) == 0
    out = capsys.readouterr().out
    assert "training time  80 ns" in out
    assert "w1_2_1" in out and "write" in out and "vdd" in out


def test_report_missing_signal_exit_2(vcd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(vcd), "--done", "xbar_top.dnoe"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cosim: error: ") and "xbar_top.done" in err


def test_report_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.vcd")]) == 2
    assert "none.vcd" in capsys.readouterr().err


def test_report_malformed_exit_2(vcd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vcd.write_text(vcd.read_text() + "garbage\n")
    assert main(["report", str(vcd)]) == 2
    assert re.search(r"run\.vcd:\d+: malformed", capsys.readouterr().err)


@pytest.mark.parametrize("mode", [["--device", "w1_2_1"], ["--programming"]], ids=["dev", "prog"])
def test_plot_writes_png(vcd: Path, tmp_path: Path, mode: list[str]) -> None:
    out = tmp_path / "p.png"
    assert main(["plot", str(vcd), *mode, "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_unknown_device_exit_2(
    vcd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(vcd), "--device", "w1_2_2", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "w1_2_2" in err and "w1_2_1" in err
    assert not (tmp_path / "x.png").exists()


def test_report_training_window(vcd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(vcd), "--json", "--window", "training"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["window"] == "training"
    window_ns = T_DONE_NS - T_START_NS
    assert data["energy_J"] == pytest.approx(1.0 * 1e-3 * window_ns * 1e-9, rel=1e-3)
