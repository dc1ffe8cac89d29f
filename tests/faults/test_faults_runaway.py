"""Runaway models: a Verilog-A model that compiles but diverges is stopped with an error that
names the signal and the time, instead of running on for minutes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import RunCli

from cosim.backends.protocol import X_TOLERANCE, check_physical
from cosim.circuit.va import model_path
from cosim.errors import RunawayError


@pytest.mark.parametrize(
    ("values", "what"),
    [
        ({"w1_0_0.x": [0.2, 0.5, 1.5]}, "w1_0_0.x = 1.5 at t = 3e-06"),
        ({"w1_0_0.x": [0.2, -0.5, 0.1]}, "w1_0_0.x = -0.5 at t = 2e-06"),
        ({"supply.vdd.v": [1.0, math.nan, 1.0]}, "supply.vdd.v = nan at t = 2e-06"),
        ({"neuron.h0.v": [1.0, 2.0, 1e6]}, "neuron.h0.v = 1000000.0"),
        ({"w2_0.i": [0.0, math.inf, 0.0]}, "w2_0.i = inf"),
    ],
    ids=["x-high", "x-low", "v-nan", "v-huge", "i-inf"],
)
def test_out_of_range_values_are_named_with_their_time(values: dict, what: str) -> None:
    t = np.array([1e-6, 2e-6, 3e-6])
    with pytest.raises(RunawayError, match=what.replace("(", r"\(")):
        check_physical(t, {k: np.array(v) for k, v in values.items()}, "ngspice")


def test_values_in_range_pass() -> None:
    t = np.linspace(0, 1e-3, 5)
    x = np.array([0.0, 1.0, -X_TOLERANCE / 2, 1 + X_TOLERANCE / 2, 0.5])
    check_physical(t, {"w1_0_0.x": x, "supply.vdd.v": np.full(5, 1.2)}, "numpy")


def _runaway_model(tmp_path: Path) -> Path:
    """mss.va whose state keeps growing at 1/tau (compiles, simulates, diverges)."""
    text = model_path("mss.va").read_text()
    rate = "            I(x) <+ -rate;\n"
    assert rate in text
    va = tmp_path / "va"
    va.mkdir()
    (va / "mss.va").write_text(text.replace(rate, "            I(x) <+ -(rate + 1.0);\n"))
    return va


@pytest.mark.spice
def test_diverging_device_model_is_a_named_error(cosim: RunCli, tmp_path: Path) -> None:
    csv = tmp_path / "iv.csv"
    line = cosim(
        "device", "--dc", "0", "--t-stop", "0.05", "--engine", "ngspice", "--card", "Cr",
        "--csv", str(csv), env={"COSIM_VA_PATH": str(_runaway_model(tmp_path))}, process=True,
    ).one_line_error(status=1)  # fmt: skip
    assert "device.x" in line and "at t =" in line and "diverged" in line
    assert not csv.exists()


@pytest.mark.spice
@pytest.mark.sim
@pytest.mark.slow
def test_diverging_model_stops_the_cosimulation(cosim: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = cosim(
        "sim", "--backend", "ngspice", "--devices", "0", "--test-images", "0",
        "--out", str(out), env={"COSIM_VA_PATH": str(_runaway_model(tmp_path))},
    )  # fmt: skip
    line = res.one_line_error(status=1)
    assert ".x = " in line and "outside its physical range" in line
    assert not out.exists() and (tmp_path / "out.partial").is_dir()
