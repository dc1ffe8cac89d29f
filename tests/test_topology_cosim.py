"""Co-simulation of networks other than the paper's: any N_IN → N_HID → N_OUT.

The HDL is built with the topology's Verilog parameters, the netlist and the NumPy backend are
sized from the same :class:`cosim.topology.Topology`, the controller decides the class by
arg-max when there are several output neurons, and the summary says which network ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cosim.config import SimConfig
from cosim.errors import UsageError
from cosim.run.sim import run_sim
from cosim.topology import Topology

pytestmark = [pytest.mark.sim]


def _check_run(out: Path, topology: Topology, summary: dict) -> None:
    assert summary["topology"] == list(topology.widths)
    assert summary["n_devices"] == topology.n_dev
    assert list(summary["devices"]) == list(topology.device_names)
    assert summary["devices_programmed"] == topology.n_dev
    host = json.loads((out / "host.json").read_text())
    for inf in host["inferences"]:
        assert len(inf["h_codes"]) == topology.n_hid
        assert len(inf["out_codes"]) == topology.n_out
        # the controller's class is the arg-max of the output codes (lowest index on ties)
        codes = inf["out_codes"]
        assert inf["class"] == codes.index(max(codes))
    # every device was visited: pulses counted from the waveforms on every select bit
    assert all(d["pulses"] >= 1 for d in summary["devices"].values())


def test_numpy_backend_runs_a_three_output_network(tmp_path: Path) -> None:
    topology = Topology((12, 2, 3))
    summary = run_sim(
        SimConfig(topology=topology, backend="numpy", test_images=6, out_dir=tmp_path),
        log=lambda s: None,
    )
    _check_run(tmp_path, topology, summary)
    assert summary["accuracy"] is not None and summary["test_images"] == 6


@pytest.mark.slow
@pytest.mark.spice
def test_ngspice_programs_and_infers_all_144_devices_of_16_8_2(tmp_path: Path) -> None:
    topology = Topology((16, 8, 2))
    summary = run_sim(
        SimConfig(topology=topology, backend="ngspice", out_dir=tmp_path), log=lambda s: None
    )
    _check_run(tmp_path, topology, summary)
    assert summary["devices_failed"] <= topology.n_dev // 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--topology", "9,3"], "three layer widths"),
        (["--topology", "9,0,1"], "≥ 1"),
        (["--topology", "300,300,1"], "register map addresses at most"),
        (["--topology", "10,3,1"], "N_IN = R·C"),
        (["--topology", "9,3,1", "--devices", "30"], "indices 0..29"),
    ],
)
def test_bad_shapes_are_named_errors(args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cosim.cli", "sim", *args, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_config_rejects_a_dataset_that_does_not_fit() -> None:
    with pytest.raises(UsageError, match="digits"):
        SimConfig(topology=Topology((9, 3, 1)), dataset="digits").validate()
