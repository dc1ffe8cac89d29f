"""Run the full co-simulation: build the HDL, run the cocotb bench in ``vvp``, post-process.

``cosim sim`` (and ``make sim``) call :func:`run_sim`.  The bench itself (the host program that
programs the 30 devices and runs inference) is :mod:`cosim.simbench`; it runs inside Icarus's
``vvp`` process and reads its configuration from the JSON file named by ``COSIM_SIM_CONFIG``.
Afterwards this process merges the digital VCD (Icarus) and the analog VCD (pyvcd) into
``training.vcd``, writes ``training.gtkw`` and computes ``summary.json`` **from the merged
waveforms** through :mod:`cosim.metrics`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cosim.errors import CosimError, UsageError

__all__ = ["SimConfig", "SimFailed", "ROOT", "hdl_sources", "run_sim", "BACKENDS"]

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("ngspice", "numpy")
HDL_TOPLEVEL = "xbar_top"
DUMP_MODULE = "xbar_dump"


class SimFailed(CosimError):
    """The co-simulation ran but a check failed or a simulator error ended it."""


@dataclass
class SimConfig:
    """What one co-simulation run does (every field has a command-line option).

    Attributes:
        card: device card name or path (``va_models/cards/<name>.toml``).
        reset_pulse: apply the initial reset pulse before programming each device.
        seed: seed of every random draw (device variation, input noise).
        backend: analog backend, ``ngspice`` (Verilog-A in libngspice) or ``numpy`` (twin).
        out_dir: where the VCD, save file and summary go.
        input_noise: Gaussian input noise during inference, σ relative to the input swing.
        devices: indices of the devices to program (default: all 30).
        test_images: how many test images to infer (default: the whole test set).
        tmax_s: ngspice's largest time step (default: the card's longest pulse, see
            ``docs/timing.md``; the bridge stops ngspice exactly at every edge anyway).
        t_step_wait_s: host/microcontroller latency simulated after every verify read (s),
            a whole number of clock periods (``REG_STEP_WAIT``, docs/controller.md); 0 = none.
        dump_all: dump the whole HDL hierarchy (clock and controller internals) into the
            digital VCD, not only the harness ports (much larger on long runs).
    """

    card: str = "Cr"
    reset_pulse: bool = True
    seed: int = 1
    backend: str = "ngspice"
    out_dir: Path = field(default_factory=lambda: ROOT / "build" / "sim")
    input_noise: float = 0.05
    devices: tuple[int, ...] | None = None
    test_images: int | None = None
    tmax_s: float | None = None
    t_step_wait_s: float = 0.0
    dump_all: bool = False

    def analog_tmax_s(self) -> float:
        """TMAX of the analog run: ``tmax_s`` or the card's longest pulse."""
        if self.tmax_s is not None:
            return self.tmax_s
        from cosim.devices import load_card

        op = load_card(self.card).operation
        return max(op.t_write_s, op.t_erase_s, op.t_reset_s, op.t_read_s)

    def validate(self) -> None:
        """Raise :class:`UsageError` for any bad field, before anything is simulated."""
        from cosim.devices import load_card
        from cosim.network import N_DEVICES

        load_card(self.card)  # unknown card → CardError listing the known ones
        if self.backend not in BACKENDS:
            raise UsageError(f"backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if not 0.0 <= self.input_noise <= 1.0:
            raise UsageError(f"input_noise {self.input_noise!r}: allowed range is 0..1")
        if self.devices is not None:
            bad = [k for k in self.devices if not 0 <= k < N_DEVICES]
            if bad or not self.devices:
                raise UsageError(f"devices {list(self.devices)!r}: indices 0..{N_DEVICES - 1}")
        if self.test_images is not None and self.test_images < 0:
            raise UsageError(f"test_images {self.test_images!r}: must be >= 0")
        if self.tmax_s is not None and not self.tmax_s > 0:
            raise UsageError(f"tmax_s {self.tmax_s!r}: must be > 0 s")
        if not self.t_step_wait_s >= 0.0:  # also rejects NaN
            raise UsageError(f"t_step_wait_s {self.t_step_wait_s!r}: must be >= 0 s")
        from cosim.program import default_harness

        # whole clock periods, < 2**32 cycles: the bench's register conversion, checked now
        default_harness().cycles(self.t_step_wait_s, "t_step_wait_s", 0, 2**32 - 1)

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (paths as strings)."""
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["devices"] = None if self.devices is None else list(self.devices)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimConfig:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["out_dir"] = Path(data["out_dir"])
        if data.get("devices") is not None:
            data["devices"] = tuple(data["devices"])
        return cls(**data)


def hdl_sources() -> list[Path]:
    """The synthesizable controller and the behavioural harness, in compile order."""
    return sorted((ROOT / "hdl").glob("*.v")) + sorted((ROOT / "hdl" / "behav").glob("*.v"))


def _build(build_dir: Path) -> Any:
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    runner.build(
        sources=hdl_sources(),
        hdl_toplevel=HDL_TOPLEVEL,
        includes=[ROOT],
        build_dir=build_dir,
        build_args=["-s", DUMP_MODULE],
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
) -> Path:
    """Build the HDL and run a cocotb test module in ``vvp``; returns the results XML path.

    The digital VCD is dumped by the ``xbar_dump`` module to ``vcd_path``.  cocotb's Icarus
    runner passes ``-none`` (no dump) unless waves are on, and waves mean FST; the public
    ``SIM_CMD_SUFFIX`` variable appends ``-vcd`` after it, which wins.
    """
    build_dir.mkdir(parents=True, exist_ok=True)
    try:
        runner = _build(build_dir)
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
            hdl_toplevel=HDL_TOPLEVEL,
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


def _failures(results_xml: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    failures = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for bad in list(case.iter("failure")) + list(case.iter("error")):
            failures.append(f"{case.get('name')}: {bad.get('message') or bad.text or 'failed'}")
    return failures


def run_sim(config: SimConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run one co-simulation and return the summary (also written to ``summary.json``).

    Raises:
        UsageError: bad configuration (before anything runs).
        SimFailed: the bench failed; the VCD written so far is kept and merged.
    """
    from cosim import summary as summary_mod
    from cosim.va import compile_va, model_path

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
        "cosim.simbench",
        extra_env={"COSIM_SIM_CONFIG": str(cfg_path)},
        vcd_path=digital,
        testcase="training_run",
        dump_all=config.dump_all,
    )
    wall_s = time.perf_counter() - t0
    failures = _failures(results)
    try:
        merged: Path | str | None = summary_mod.merge_outputs(out)
    except CosimError as exc:  # a crashed run may leave an unreadable dump: report both
        if not failures:
            raise
        merged = f"not merged ({exc}); digital.vcd and analog.vcd are kept in {out}"
    if failures:
        raise SimFailed(
            "co-simulation failed: " + "; ".join(failures) + f" (waveforms so far: {merged})"
        )
    summary = summary_mod.summarize(out, wall_s=wall_s)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(summary_mod.human(summary))
    return summary
