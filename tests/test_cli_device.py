"""``cosim device``: CSV/PNG output, both engines, and its errors (through ``cosim.cli``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosim import cli
from cosim.circuit import devices


def demo_card_name() -> str:
    names = [n for n in devices.known_cards() if "knowm" in n.lower() or "demo" in n.lower()]
    assert names, f"no Knowm demo card among {sorted(devices.known_cards())}"
    return sorted(names)[0]


def read_csv(path: Path) -> np.ndarray:
    assert path.read_text().splitlines()[0] == "time_s,v_V,i_A,x"
    return np.loadtxt(path, delimiter=",", skiprows=1)


def test_numpy_sine_writes_csv_and_png(tmp_path: Path) -> None:
    csv, png = tmp_path / "iv.csv", tmp_path / "iv.png"
    argv = ["device", "--card", demo_card_name(), "--sine", "0.5,100", "--t-stop", "0.02"]
    status = cli.main([*argv, "--engine", "numpy", "--csv", str(csv), "--png", str(png)])
    assert status == 0
    data = read_csv(csv)
    assert data.shape[1] == 4 and data.shape[0] > 100
    assert np.all(np.diff(data[:, 0]) > 0) and data[-1, 0] == pytest.approx(0.02)
    assert np.max(np.abs(data[:, 1])) == pytest.approx(0.5, rel=0.1)  # no series R
    assert np.ptp(data[:, 3]) > 0.01  # the state moves
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numpy_pulses_through_series_resistor(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    argv = ["device", "--card", "W", "--pulse", "1.0,50e-6,100e-6,3", "--t-stop", "3e-4"]
    argv += ["--x0", "0.0", "--series-ohm", "10e3", "--engine", "numpy", "--csv", str(csv)]
    assert cli.main(argv) == 0
    t, v, i, x = read_csv(csv).T
    assert x[0] == 0.0 and x[-1] > 0.05
    on = v > 0.01
    assert np.all(v[on] < 1.0)  # the series resistor takes part of the source voltage
    assert np.all(i[on] > 0)


@pytest.mark.spice
def test_ngspice_engine_matches_numpy_engine(tmp_path: Path) -> None:
    out = {}
    for engine in ("ngspice", "numpy"):
        csv = tmp_path / f"{engine}.csv"
        argv = ["device", "--card", "Cr", "--dc", "0.4", "--t-stop", "1e-4", "--x0", "0.1"]
        argv += ["--series-ohm", "10e3", "--engine", engine, "--csv", str(csv)]
        assert cli.main(argv) == 0
        out[engine] = read_csv(csv)
    assert out["ngspice"][-1, 3] == pytest.approx(out["numpy"][-1, 3], abs=0.005)
    assert out["ngspice"][-1, 3] > 0.15


def test_unknown_card_lists_known_cards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["device", "--card", "nope", "--dc", "0.1", "--t-stop", "1e-3", "--engine", "numpy"]
    assert cli.main([*argv, "--csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cosim: error:") and "nope" in err
    for name in devices.known_cards():
        assert name in err


@pytest.mark.parametrize(
    "bad",
    [
        ["--sine", "0.5"],
        ["--sine", "0.5,abc"],
        ["--pulse", "1,1e-6,0.5e-6,3"],
        ["--pulse", "1,1e-6,2e-6,2.5"],
        ["--dc", "0.1", "--t-stop", "-1"],
        ["--dc", "0.1", "--x0", "1.5"],
        ["--dc", "0.1", "--series-ohm", "x"],
    ],
    ids=["sine-count", "sine-nan", "pulse-period", "pulse-count", "t-stop", "x0", "ohm"],
)
def test_bad_numbers_are_usage_errors(tmp_path: Path, bad: list[str]) -> None:
    argv = ["device", "--card", "W", "--engine", "numpy", "--csv", str(tmp_path / "x.csv")]
    if "--t-stop" not in bad:
        argv += ["--t-stop", "1e-3"]
    try:
        status = cli.main([*argv, *bad])
    except SystemExit as exc:  # argparse rejects option types itself
        status = int(exc.code or 0)
    assert status == 2
    assert not (tmp_path / "x.csv").exists()
