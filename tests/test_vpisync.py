"""The compiled lockstep bridge (cosim.spice.vpisync, vpisync.c) against the Python engines.

Real Icarus, cocotb and libngspice: the SAR ADC example run three ways — the compiled bridge
(VPI callbacks, ngspice's own thread), the cocotb bridge with ngspice's thread
(``COSIM_SYNC=thread``) and the pure-Python engine (``COSIM_SYNC=python``: cocotb bridge,
foreground ``resume``).  Same sync points and the same solver inputs: the compiled bridge must
reproduce the threaded cocotb bridge bit for bit and the pure-Python engine within rounding.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cosim.run.design import run_design
from cosim.spice.ngspice import NgSpice
from cosim.spice.vpisync import VpiBridge, VpiBridgeError, unavailable

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sar_adc" / "design.toml"
NEEDS_CC = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler for the helper")


@NEEDS_CC
def test_outside_a_simulator_the_bridge_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIM_SYNC", "c")
    with NgSpice(private_copy=True) as ng:
        assert ng.sync_engine == "c", ng.sync_reason
        why = unavailable(ng)
        assert why is not None and "vpi_handle_by_name" in why
        ng.load_circuit(["rc", "V1 in 0 external", "R1 in out 1k", "C1 out 0 1n", ".tran 1n 1u"])
        ng.set_source("v1", 1.0)
        with pytest.raises(VpiBridgeError, match="not inside a simulator"):
            VpiBridge(ng, {"out": "v(out)"}, {}, 0.0)


@NEEDS_CC
def test_many_external_sources_come_from_the_helpers_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """~2400 sources (a 1184-device crossbar's select lines and inputs) fit the helper's table
    and are found by ngspice's name pointer: each node follows its own source."""
    monkeypatch.setenv("COSIM_SYNC", "c")
    n = 2500
    deck = ["many sources"]
    for k in range(n):
        deck += [f"V{k} n{k} 0 dc 0 external", f"R{k} n{k} 0 1k"]
    deck += [".tran 1n 10u"]
    with NgSpice(private_copy=True) as ng:
        assert ng.sync_engine == "c", ng.sync_reason
        ng.load_circuit(deck)
        for k in range(n):
            ng.set_source(f"v{k}", 1e-3 * k)
        ng.advance_to(1e-6)
        for k in (0, 511, 512, 1999, n - 1):
            assert ng.latest(f"v(n{k})") == pytest.approx(1e-3 * k, abs=1e-12), k
        ng.set_source(f"v{n - 1}", -1.0)
        ng.advance_to(2e-6)
        assert ng.latest(f"v(n{n - 1})") == pytest.approx(-1.0)


@pytest.mark.sim
@pytest.mark.spice
@NEEDS_CC
def test_engines_agree_on_the_sar_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = {}
    for engine in ("c", "thread", "python"):
        monkeypatch.setenv("COSIM_SYNC", engine)
        report = run_design(EXAMPLE, tmp_path / engine, log=lambda _: None)
        assert report["failures"] == []
        runs[engine] = report
    bridge = {e: r["bridge"] for e, r in runs.items()}
    assert bridge["c"]["engine"] == "c", bridge["c"]["engine_reason"]
    assert bridge["thread"]["engine"] == bridge["python"]["engine"] == "python"
    assert bridge["thread"]["sync_engine"] == "c" and bridge["python"]["sync_engine"] == "python"
    for e in ("thread", "python"):  # the same sync points and samples
        for key in ("syncs", "samples", "events"):
            assert bridge[e][key] == bridge["c"][key], (e, key)
    # the compiled bridge and the cocotb bridge on ngspice's thread: bit for bit
    assert bridge["thread"]["points"] == bridge["c"]["points"]
    assert runs["thread"]["energy"] == runs["c"]["energy"]
    # the foreground engine re-enters ngspice's transient at each sync (docs/bridge.md)
    ref = runs["python"]["energy"]["energy_J"]
    for supply, value in runs["c"]["energy"]["energy_J"].items():
        assert value == pytest.approx(ref[supply], rel=1e-6, abs=1e-18), supply


EVERY_SYNC = Path(__file__).resolve().parent / "data" / "every_sync" / "design.toml"


@pytest.mark.sim
@pytest.mark.spice
@NEEDS_CC
def test_every_sync_samples_deadband_hysteresis_and_gain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples without a strobe (a node with a deadband, a logic input through hysteresis, a
    branch current) and a drive with gain, read by the cocotb test between the syncs."""
    seen = {}
    for engine in ("c", "thread", "python"):
        monkeypatch.setenv("COSIM_SYNC", engine)
        report = run_design(EVERY_SYNC, tmp_path / engine, log=lambda _: None)
        assert report["failures"] == []
        seen[engine] = json.loads((tmp_path / engine / "seen.json").read_text())
    assert seen["c"]["engine"] == "c", seen["c"]["engine_reason"]
    assert seen["c"]["syncs"] == seen["python"]["syncs"] == 41  # one per drive change
    assert seen["c"]["samples"] == seen["c"]["syncs"]  # every sync samples
    assert seen["c"]["seen"] == seen["thread"]["seen"]  # bit for bit
    assert seen["c"]["points"] == seen["thread"]["points"]
    values = np.array(seen["c"]["seen"])
    v_out, hi, i_src = values[:, 0], values[:, 1], values[:, 2]
    assert v_out.max() > 0.5 and hi.max() == 1 and hi[0] == 0  # hysteresis crossed 0.5 V
    # the source current is (v_out - 2 v_drv) / 1 kOhm: negative while charging
    assert i_src.min() < -1e-4 and np.all(i_src <= 0)
    # the foreground engine's `resume` changes the steps; the 1 mV deadband then writes at
    # other syncs: within three deadbands
    np.testing.assert_allclose(values, np.array(seen["python"]["seen"]), rtol=0, atol=3e-3)
