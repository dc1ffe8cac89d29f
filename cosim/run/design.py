"""``cosim run DESIGN.toml``: build a design's HDL, run its cocotb tests in lockstep, post-process.

The tests call :func:`cosim.bench.design.start` (which reads ``$COSIM_DESIGN`` and writes to
``$COSIM_OUT``). Afterwards the digital VCD (dumped by a generated ``cosim_dump`` module) and
the analog VCD are merged into ``<name>.vcd``, a ``<name>.gtkw`` shows the design's ports and
the recorded analog quantities, and ``run.json`` collects the test results, the lockstep's
statistics and (where supplies are declared) the energy per supply.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vcd.gtkw import GTKWFlag, GTKWSave

from cosim.circuit.va import compile_va
from cosim.design.file import Design, load_design
from cosim.errors import CosimError
from cosim.run.sim import SimFailed, cocotb_env, execute_in_groups, failures
from cosim.waves.merge import merge_vcds
from cosim.waves.read import read_header

__all__ = ["run_design"]

DUMP_MODULE = "cosim_dump"


def _dump_module(path: Path, toplevel: str, vcd: Path) -> Path:
    path.write_text(
        f"module {DUMP_MODULE};\n"
        f'  initial begin $dumpfile("{vcd}"); $dumpvars(0, {toplevel}); end\n'
        "endmodule\n"
    )
    return path


def _gtkw(vcd: Path, gtkw: Path, design: Design) -> Path:
    """Digital ports of the toplevel first, then the recorded analog quantities."""
    names = read_header(vcd).by_name()
    top = f"{design.toplevel}."
    digital = sorted(n for n in names if n.startswith(top) and n.count(".") == 1)
    analog = sorted(n for n in names if n.startswith("analog."))
    with open(gtkw, "w") as fh:
        save = GTKWSave(fh)
        save.dumpfile(str(vcd))
        save.zoom_markers(-20.0)
        with save.group("digital"):
            for name in digital:
                save.trace(name)
        with save.group("analog"):
            for name in analog:
                save.trace(name, datafmt="real", extraflags=GTKWFlag.analog_step)
    return gtkw


def run_design(
    design_file: str | Path,
    out_dir: str | Path,
    *,
    test_module: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run a design's cocotb tests in lockstep; return (and write) ``run.json``.

    Raises:
        DesignError: bad design file (before anything is built).
        SimFailed: a test failed; the waveforms so far are kept and merged.
    """
    from cocotb_tools.runner import get_runner

    design = load_design(design_file)
    module = test_module or design.test_module
    if not module:
        raise SimFailed(f"{design.path}: no test module: give --test-module or design.test_module")
    out = Path(out_dir).resolve()
    build = out / "hdl"
    build.mkdir(parents=True, exist_ok=True)
    for va in design.verilog_a:
        compile_va(va)  # compile errors surface here, before the simulation
    digital, analog = out / "digital.vcd", out / "analog.vcd"
    for stale in (digital, analog, out / "energy.json", out / "bridge.json", out / "run.json"):
        stale.unlink(missing_ok=True)
    dump = _dump_module(build / f"{DUMP_MODULE}.v", design.toplevel, digital)
    log(f"cosim run: {design.name} ({design.path}) → {out}")
    runner = get_runner("icarus")
    execute_in_groups(runner)  # Ctrl-C reaches only this process, which stops vvp (and its threads)
    try:
        runner.build(
            sources=[*design.hdl, dump],
            hdl_toplevel=design.toplevel,
            build_dir=build,
            build_args=["-s", DUMP_MODULE],
            timescale=("1ns", "1ps"),
            waves=False,
            log_file=build / "build.log",
        )
    except (SystemExit, subprocess.CalledProcessError) as exc:
        raise SimFailed(f"building the HDL failed: {exc} (log: {build / 'build.log'})") from None
    env = {"COSIM_DESIGN": str(design.path), "COSIM_OUT": str(out), **cocotb_env(module)}
    results = build / "results.xml"
    results.unlink(missing_ok=True)
    old_suffix = os.environ.get("SIM_CMD_SUFFIX")
    os.environ["SIM_CMD_SUFFIX"] = "-vcd"  # the dump module's VCD (see cosim.run.sim)
    # cocotb's runner passes sys.path on as PYTHONPATH: the test module sits next to the design
    sys.path.insert(0, str(design.directory))
    t0 = time.perf_counter()
    try:
        runner.test(
            hdl_toplevel=design.toplevel,
            test_module=module,
            build_dir=build,
            test_dir=build,
            extra_env=env,
            waves=False,
            results_xml=str(results),
        )
    except (SystemExit, subprocess.CalledProcessError):
        pass  # a failed test or a simulator that died: the results file says (or is missing)
    finally:
        sys.path.remove(str(design.directory))
        if old_suffix is None:
            os.environ.pop("SIM_CMD_SUFFIX", None)
        else:
            os.environ["SIM_CMD_SUFFIX"] = old_suffix
    wall_s = time.perf_counter() - t0
    if not results.exists():
        raise SimFailed(
            f"the simulator did not run or the tests did not load; see the log ({build})"
        )
    failed = failures(results)
    merged: str | None = None
    if digital.exists():
        try:
            vcd = out / f"{design.name}.vcd"
            if analog.exists():
                merge_vcds(digital, analog, vcd, partial=bool(failed))
            else:  # nothing recorded on the analog side
                shutil.copyfile(digital, vcd)
            _gtkw(vcd, out / f"{design.name}.gtkw", design)
            merged = str(vcd)
        except CosimError as exc:
            if not failed:
                raise
            merged = f"not merged ({exc})"
    bridge = out / "bridge.json"
    energy = out / "energy.json"
    report: dict[str, Any] = {
        "design": design.name,
        "design_file": str(design.path),
        "test_module": module,
        "failures": failed,
        "wall_time_s": wall_s,
        "vcd": merged,
        "bridge": json.loads(bridge.read_text()) if bridge.exists() else None,
        "energy": json.loads(energy.read_text()) if energy.exists() else None,
    }
    (out / "run.json").write_text(json.dumps(report, indent=2) + "\n")
    if failed:
        raise SimFailed(f"{design.name}: " + "; ".join(failed) + f" (waveforms: {merged})")
    stats = report["bridge"] or {}
    log(
        f"  passed in {wall_s:.1f} s: {stats.get('syncs', 0)} syncs, "
        f"{stats.get('points', 0)} analog points; waveforms {merged}"
    )
    if report["energy"]:
        log(f"  energy {report['energy']['total_J']:.4g} J (run.json, energy.json)")
    return report
