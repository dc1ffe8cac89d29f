"""Run the full co-simulation: build the HDL, run the cocotb bench in ``vvp``, post-process.

``cosim sim`` (and ``make sim``) call :func:`run_sim`.  The bench itself (the host program that
programs the 30 devices and runs inference) is :mod:`cosim.bench.training`; it runs inside Icarus's
``vvp`` process and reads its configuration from the JSON file named by ``COSIM_SIM_CONFIG``.
Afterwards this process merges the digital VCD (Icarus) and the analog VCD (pyvcd) into
``training.vcd``, writes ``training.gtkw`` and computes ``summary.json`` **from the merged
waveforms** through :mod:`cosim.analysis.metrics`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cosim.analysis import summary as summary_mod
from cosim.circuit.va import compile_va, model_path
from cosim.config import SimConfig
from cosim.errors import CosimError
from cosim.harness.contract import Contract, contract
from cosim.resources import hdl_dir
from cosim.topology import DEFAULT, Topology

__all__ = ["SimFailed", "failures", "hdl_sources", "run_bench", "run_sim"]


class SimFailed(CosimError):
    """The co-simulation ran but a check failed or a simulator error ended it."""


def hdl_sources() -> list[Path]:
    """The synthesizable controller and the behavioural harness, in compile order."""
    hdl = hdl_dir()
    return sorted(hdl.glob("*.v")) + sorted((hdl / "behav").glob("*.v"))


def _build(build_dir: Path, harness: Contract) -> Any:
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    runner.build(
        sources=hdl_sources(),
        hdl_toplevel=harness.toplevel,
        includes=[hdl_dir().parent],
        parameters=harness.hdl_parameters(),
        build_dir=build_dir,
        build_args=["-s", harness.dump_module],
        timescale=("1ns", "1ps"),
        waves=False,
        log_file=build_dir / "build.log",
    )
    return runner


def run_bench(
    build_dir: Path,
    test_module: str,
    *,
    extra_env: dict[str, str],
    vcd_path: Path,
    testcase: str | None = None,
    dump_all: bool = False,
    topology: Topology = DEFAULT,
) -> Path:
    """Build the HDL and run a cocotb test module in ``vvp``; returns the results XML path.

    The digital VCD is dumped by the ``xbar_dump`` module to ``vcd_path``.  cocotb's Icarus
    runner passes ``-none`` (no dump) unless waves are on, and waves mean FST; the public
    ``SIM_CMD_SUFFIX`` variable appends ``-vcd`` after it, which wins.
    """
    build_dir.mkdir(parents=True, exist_ok=True)
    harness = contract(topology)
    try:
        runner = _build(build_dir, harness)
    except SystemExit as exc:  # cocotb's runner exits on a missing tool or a compile error
        raise SimFailed(
            f"building the HDL failed: {exc} (log: {build_dir / 'build.log'})"
        ) from None
    old = os.environ.get("SIM_CMD_SUFFIX")
    os.environ["SIM_CMD_SUFFIX"] = "-vcd"
    results = build_dir / "results.xml"
    results.unlink(missing_ok=True)
    try:
        runner.test(
            hdl_toplevel=harness.toplevel,
            test_module=test_module,
            testcase=testcase,
            build_dir=build_dir,
            test_dir=build_dir,
            plusargs=[f"+vcd={vcd_path}", *(["+dump_all"] if dump_all else [])],
            extra_env=extra_env,
            waves=False,
            results_xml=str(results),
        )
    except SystemExit:
        # cocotb's runner exits when a test failed; the results file says which and why.
        if not results.exists():
            raise SimFailed(f"the simulator did not run; see the log above ({build_dir})") from None
    finally:
        if old is None:
            os.environ.pop("SIM_CMD_SUFFIX", None)
        else:
            os.environ["SIM_CMD_SUFFIX"] = old
    return results


def failures(results_xml: Path) -> list[str]:
    """The failed or errored test cases of a cocotb results file, one line each."""
    import xml.etree.ElementTree as ET

    found = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for bad in list(case.iter("failure")) + list(case.iter("error")):
            found.append(f"{case.get('name')}: {bad.get('message') or bad.text or 'failed'}")
    return found


def run_sim(config: SimConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run one co-simulation and return the summary (also written to ``summary.json``).

    Raises:
        UsageError: bad configuration (before anything runs).
        SimFailed: the bench failed; the VCD written so far is kept and merged.
    """

    config.validate()
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    for name in ("mss.va", "neuron.va"):
        compile_va(model_path(name))  # compile errors surface here, before the simulation
    cfg_path = out / "config.json"
    cfg_path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    digital, analog = out / "digital.vcd", out / "analog.vcd"
    stale_files = ("training.vcd", "training.gtkw", "summary.json", "host.json", "stimulus.json")
    for stale in (digital, analog, *(out / name for name in stale_files)):
        stale.unlink(missing_ok=True)
    log(
        f"cosim sim: card {config.card}, reset pulse {'on' if config.reset_pulse else 'off'}, "
        f"seed {config.seed}, backend {config.backend} → {out}"
    )
    t0 = time.perf_counter()
    results = run_bench(
        out / "hdl",
        "cosim.bench.training",
        extra_env={"COSIM_SIM_CONFIG": str(cfg_path)},
        vcd_path=digital,
        testcase="training_run",
        dump_all=config.dump_all,
        topology=config.topology,
    )
    wall_s = time.perf_counter() - t0
    failed = failures(results)
    try:
        merged: Path | str | None = summary_mod.merge_outputs(out)
    except CosimError as exc:  # a crashed run may leave an unreadable dump: report both
        if not failed:
            raise
        merged = f"not merged ({exc}); digital.vcd and analog.vcd are kept in {out}"
    if failed:
        raise SimFailed(
            "co-simulation failed: " + "; ".join(failed) + f" (waveforms so far: {merged})"
        )
    summary = summary_mod.write_summary(out, wall_s=wall_s)
    log(summary_mod.human(summary))
    return summary
