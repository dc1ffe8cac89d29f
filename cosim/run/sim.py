"""Run the full co-simulation: build the HDL, run the cocotb bench in ``vvp``, post-process.

``cosim sim`` (and ``make sim``) call :func:`run_sim`.  The bench itself (the host program that
programs the 30 devices and runs inference) is :mod:`cosim.bench.training`; it runs inside Icarus's
``vvp`` process and reads its configuration from the JSON file named by ``COSIM_SIM_CONFIG``.
Afterwards this process merges the digital VCD (Icarus) and the analog VCD (pyvcd) into
``training.vcd``, writes ``training.gtkw`` and computes ``summary.json`` **from the merged
waveforms** through :mod:`cosim.analysis.metrics`.

The run writes into a fresh temporary directory next to ``--out`` under a lock
(:class:`cosim.run.outdir.RunDir`): earlier results in ``--out`` are replaced only when the run
succeeded, a failed or interrupted run keeps its files as ``<out>.partial``, and a second run
into the same ``--out`` is refused while the first one runs.  ``iverilog`` and ``vvp`` run in
their own process group (:mod:`cosim.run.child`), terminated with this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from cosim.analysis import summary as summary_mod
from cosim.analysis.metrics import json_safe
from cosim.circuit.va import compile_va, model_path
from cosim.config import WARN_WAIT_CYCLES, SimConfig
from cosim.errors import CosimError, Interrupted
from cosim.harness.contract import Contract, contract
from cosim.resources import hdl_dir
from cosim.run.child import run_in_group
from cosim.run.outdir import RunDir
from cosim.spice.build import ENV_SYNC
from cosim.topology import DEFAULT, Topology

__all__ = ["SimFailed", "execute_in_groups", "failures", "hdl_sources", "run_bench", "run_sim"]


class SimFailed(CosimError):
    """The co-simulation ran but a check failed or a simulator error ended it."""


def hdl_sources(hdl: Path | None = None) -> list[Path]:
    """The synthesizable controller and the behavioural harness, in compile order (of the
    package's ``hdl/``, or of another copy of it)."""
    hdl = hdl_dir() if hdl is None else hdl
    return sorted(hdl.glob("*.v")) + sorted((hdl / "behav").glob("*.v"))


def _execute_cmds(
    self: Any, cmds: Sequence[Sequence[str]], cwd: Any, stdout: TextIO | None = None
) -> None:
    """cocotb's command loop, with every tool in its own process group (see cosim.run.child)."""
    for cmd in cmds:
        stderr = None if stdout is None else subprocess.STDOUT
        status = run_in_group(cmd, cwd=cwd, env=self.env, stdout=stdout, stderr=stderr)
        if status != 0:
            raise subprocess.CalledProcessError(status, list(cmd))


def execute_in_groups(runner: Any) -> None:
    """Make a cocotb runner start every tool in its own process group (see cosim.run.child)."""
    runner._execute_cmds = types.MethodType(_execute_cmds, runner)


def _build(build_dir: Path, harness: Contract) -> Any:
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    execute_in_groups(runner)
    runner.build(
        sources=hdl_sources(),
        hdl_toplevel=harness.toplevel,
        includes=[hdl_dir().parent],
        parameters=harness.topology.hdl_parameters(),
        build_dir=build_dir,
        build_args=["-s", harness.dump_module],
        timescale=("1ns", "1ps"),
        waves=False,
        log_file=build_dir / "build.log",
    )
    return runner


def cocotb_env(test_module: str) -> dict[str, str]:
    """Environment for ``vvp`` running ``test_module``: pytest's assertion rewriting (cocotb
    applies it to every module imported, ``*.py``, by default) only for the test module
    itself.  Rewriting NumPy, SciPy and scikit-learn on import cost ~30 s of a run's start.
    A value the user set in the environment wins."""
    name = test_module.rsplit(".", 1)[-1] + ".py"
    return {
        "COCOTB_REWRITE_ASSERTION_FILES": os.environ.get("COCOTB_REWRITE_ASSERTION_FILES", name)
    }


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
    except (SystemExit, subprocess.CalledProcessError) as exc:
        # cocotb's runner exits on a missing tool; a compile error fails the command
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
            extra_env={**cocotb_env(test_module), **extra_env},
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
    """Run one co-simulation into ``config.out_dir`` and return the summary (``summary.json``).

    Earlier results in ``config.out_dir`` are replaced only if this run succeeds; a failed or
    interrupted run leaves them untouched and keeps its own files in ``<out>.partial``.

    Raises:
        UsageError: bad configuration (before anything runs), or another run holds the
            output directory.
        SimFailed: the bench failed; the VCD written so far is kept (merged) in the partial
            directory.
        Interrupted: SIGINT/SIGTERM; the simulators were stopped, partial files kept.
    """

    config.validate()
    for name in ("mss.va", "neuron.va"):
        compile_va(model_path(name))  # compile errors surface here, before the simulation
    wait = config.wait_cycles_estimate()
    if wait > WARN_WAIT_CYCLES:
        log(
            f"cosim sim: warning: t_step_wait_s {config.t_step_wait_s:g} s makes the run simulate "
            f"at least {wait:.3g} clock cycles of host wait: it may take long"
        )
    with RunDir(config.out_dir) as rundir:
        try:
            summary = _run_in(rundir, config, log)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", 2)
            raise Interrupted(_kept(rundir), signum) from None
        except CosimError as exc:
            if rundir.keep_partial:
                exc.args = (f"{exc}; {_kept(rundir)}",)
            raise
        rundir.commit()
    log(summary_mod.human(summary))
    return summary


def _kept(rundir: RunDir) -> str:
    earlier = f"earlier results in {rundir.out} untouched" if rundir.out.exists() else ""
    if rundir.keep_partial:
        return "; ".join(filter(None, [f"partial outputs kept in {rundir.partial}", earlier]))
    return earlier or "nothing written"


def _engine_env(config: SimConfig) -> dict[str, str]:
    """The partitioned backend runs on the foreground (pure-Python) ngspice engine unless the
    user chose one (``COSIM_SYNC``): it loads a circuit per programmed device, and the
    compiled helper's thread hand-offs and restarts cost ~40× per device there (6.2 s vs
    0.15 s at 1184 devices on the loaded 2-core machine, ``bench/bench_partitioned.py``)."""
    if config.backend != "ngspice-partitioned" or ENV_SYNC in os.environ:
        return {}
    return {ENV_SYNC: "python"}


def _run_in(rundir: RunDir, final: SimConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """The run itself, writing into ``rundir.tmp``; returns the summary."""
    out = rundir.tmp
    config = dataclasses.replace(final, out_dir=out)
    cfg_path = out / "config.json"  # the bench in vvp reads this run's own copy
    cfg_path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    digital = out / "digital.vcd"
    log(
        f"cosim sim: card {config.card}, reset pulse {'on' if config.reset_pulse else 'off'}, "
        f"seed {config.seed}, backend {config.backend} → {final.out_dir}"
    )
    t0 = time.perf_counter()
    rundir.keep_partial = True
    try:
        results = run_bench(
            out / "hdl",
            "cosim.bench.training",
            extra_env={"COSIM_SIM_CONFIG": str(cfg_path), **_engine_env(config)},
            vcd_path=digital,
            testcase="training_run",
            dump_all=config.dump_all,
            topology=config.topology,
        )
    except KeyboardInterrupt:
        _merge_quietly(out)
        raise
    wall_s = time.perf_counter() - t0
    failed = failures(results)
    try:
        merged: Path | str | None = summary_mod.merge_outputs(out)
    except CosimError as exc:  # a crashed run may leave an unreadable dump: report both
        if not failed:
            raise
        merged = f"not merged ({exc}); digital.vcd and analog.vcd are kept"
    if failed:
        raise SimFailed(
            "co-simulation failed: " + "; ".join(failed) + f" (waveforms so far: {merged})"
        )
    summary = summary_mod.summarize(out, wall_s=wall_s)
    summary["vcd"] = str(final.out_dir / "training.vcd")  # where it will be after the swap
    summary, _ = json_safe(summary)  # JSON has no NaN
    cfg_path.write_text(json.dumps(final.to_json(), indent=2) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary


def _merge_quietly(out: Path) -> None:
    """Merge what an interrupted run wrote (best effort: the files may be cut anywhere)."""
    try:
        summary_mod.merge_outputs(out)
    except (CosimError, OSError, ValueError):
        pass
