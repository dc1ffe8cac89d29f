"""Interrupts on real processes: SIGINT (a terminal's Ctrl-C, sent to the process group) and
SIGTERM stop a command within seconds, inside ngspice's callbacks too; the ``vvp`` child of
``cosim sim`` is terminated with it (also when cosim is SIGKILLed); earlier results survive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, RunCli, process_exists, signal_cosim

pytestmark = pytest.mark.spice


def _started(t0: float, seconds: float) -> bool:
    return time.monotonic() - t0 > seconds


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_device_ngspice_run_stops_within_seconds(tmp_path: Path, signum: int) -> None:
    """The signal arrives while libngspice runs a long transient (inside its C call)."""
    csv = tmp_path / "iv.csv"
    csv.write_text("earlier result\n")
    marker = tmp_path / "started"
    args = [
        "device", "--sine", "0.5,1000", "--t-stop", "20", "--engine", "ngspice",
        "--card", "Cr", "--csv", str(csv),
    ]  # fmt: skip
    t0 = time.monotonic()
    res, _ = signal_cosim(args, signum, when=lambda: _started(t0, 6.0))
    assert res.status == 128 + signum, res.err
    assert res.seconds < 5.0, res.seconds
    assert "Traceback" not in res.err and "Exception ignored" not in res.err, res.err
    assert csv.read_text() == "earlier result\n"
    assert not marker.exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``cosim sim`` (NumPy twin, one device): the earlier results to protect."""
    out = tmp_path_factory.mktemp("sim") / "out"
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--backend", "numpy", "--devices", "0"]
    cmd += ["--test-images", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return out


def _rerun(out: Path, signum: int) -> tuple[object, float]:
    before = (out / "summary.json").read_text()
    pattern = str(out.parent / f".{out.name}.tmp-")
    args = ["sim", "--backend", "numpy", "--devices", "0", "--test-images", "1", "--seed", "2"]
    res, _ = signal_cosim([*args, "--out", str(out)], signum, when=lambda: process_exists(
        f"+vcd={pattern}"
    ))  # fmt: skip
    deadline = time.monotonic() + 3.0
    while process_exists(pattern) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_exists(pattern), "a vvp of the interrupted run is still alive"
    assert (out / "summary.json").read_text() == before  # earlier results untouched
    json.loads((out / "summary.json").read_text())
    partial = out.parent / f"{out.name}.partial"
    assert (partial / "PARTIAL.txt").exists() and (partial / "config.json").exists()
    assert not list(out.parent.glob(f".{out.name}.tmp-*"))
    return res, res.seconds  # type: ignore[attr-defined]


@pytest.mark.sim
def test_sim_sigterm_stops_vvp_and_keeps_earlier_results(finished_run: Path) -> None:
    res, seconds = _rerun(finished_run, signal.SIGTERM)
    assert res.status == 143 and seconds < 5.0, (res.status, seconds)  # type: ignore[attr-defined]
    assert "partial outputs kept in" in res.err and "Traceback" not in res.err  # type: ignore[attr-defined]


@pytest.mark.sim
@pytest.mark.slow
def test_sim_sigint_stops_vvp_and_keeps_earlier_results(finished_run: Path) -> None:
    res, seconds = _rerun(finished_run, signal.SIGINT)
    assert res.status == 130 and seconds < 5.0, (res.status, seconds)  # type: ignore[attr-defined]


@pytest.mark.sim
@pytest.mark.slow
def test_sim_sigkill_leaves_no_orphan_vvp(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the guard process in vvp's group kills it."""
    out = tmp_path / "out"
    pattern = str(tmp_path / ".out.tmp-")
    args = ["sim", "--backend", "numpy", "--devices", "0", "--test-images", "1"]
    res, _ = signal_cosim([*args, "--out", str(out)], signal.SIGKILL, when=lambda: process_exists(
        f"+vcd={pattern}"
    ))  # fmt: skip
    assert res.status == -signal.SIGKILL
    deadline = time.monotonic() + 10.0
    while process_exists(pattern) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_exists(pattern), "vvp survived its parent's SIGKILL"
    assert not out.exists()


@pytest.mark.slow
def test_reproduce_ctrl_c_prints_no_worker_tracebacks(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    args = ["reproduce", "--quick", "--trials", "20", "--out", str(out)]
    res, _ = signal_cosim(args, signal.SIGINT, when=lambda: (out / "manifest.json").exists())
    assert res.status == 130, res.err
    assert res.seconds < 10.0, res.seconds
    assert "Traceback" not in res.err and "cosim: interrupted" in res.err, res.err


def test_ngspice_sigint_test_passes_when_started_with_sigint_ignored(cosim: RunCli) -> None:
    """`make test &` and nohup start the tests with SIGINT ignored; the test must not care."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "test_ngspice.py"), "-k", "ctrl_c or ignored"],
        capture_output=True, timeout=300, check=False, cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode()[-3000:]


@pytest.mark.sim
@pytest.mark.slow
def test_efficiency_sigterm_terminates_its_cosim_sim_children(tmp_path: Path) -> None:
    """The study waits for its runs in worker threads; SIGTERM of the study still reaches
    them (and through them their vvp)."""
    out = tmp_path / "eff"
    args = ["efficiency", "--cards", "Cr", "--reset", "on", "--backend", "numpy", "--devices"]
    args += ["0", "--test-images", "1", "--jobs", "1", "--out", str(out)]
    res, _ = signal_cosim(args, signal.SIGTERM, when=lambda: process_exists(f"+vcd={out}/."))
    assert res.status == 143, res.err
    deadline = time.monotonic() + 8.0
    while process_exists(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_exists(str(out)), "a run of the study survived it"
