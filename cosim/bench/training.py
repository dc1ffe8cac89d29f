"""The cocotb bench of a full run: the host program that trains the crossbar on chip.

Runs inside Icarus's ``vvp`` (cocotb test module).  Configuration comes from the JSON file
named by ``COSIM_SIM_CONFIG`` (written by :func:`cosim.run.sim.run_sim`); ``COSIM_ANALOG``
(``ngspice``/``numpy``) overrides the backend.  The bench plays the host microcontroller:

1. builds the crossbar (card, seeded device variation, trained target weights);
2. starts the lockstep bridge and the protocol monitors;
3. configures the pulse scheme and programs all devices by write-verify;
4. runs inference on the test images with seeded input noise;
5. checks: every device within tolerance or flagged; protocol monitors silent; each inferred
   class equals the NumPy reference of the network as programmed (where the reference is not
   within the decision margin);
6. writes ``host.json`` (targets, labels, per-inference codes) next to the waveforms.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cosim.bench import coverage, host, monitors
from cosim.bench.lockstep import Bridge, resolve
from cosim.bench.watch import Signal, Watch, flush_all
from cosim.config import SimConfig
from cosim.crossbar import decide, make_backend, make_crossbar
from cosim.harness import converters, policy
from cosim.harness.contract import contract
from cosim.learn import data, datasets
from cosim.twin.infer import class_threshold
from cosim.twin.program import card_program_setup, sense_gain_ohm

__all__ = ["training_run", "digital_replay", "DECISION_MARGIN_V"]

#: Reference outputs closer than this to the decision level are not required to match (V).
DECISION_MARGIN_V = 0.05


def _config() -> Any:

    path = os.environ.get("COSIM_SIM_CONFIG")
    if path:
        cfg = SimConfig.from_json(json.loads(Path(path).read_text()))
    else:  # the Makefile flow: options as environment variables
        devices = os.environ.get("COSIM_DEVICES", "")
        images = os.environ.get("COSIM_TEST_IMAGES", "")
        cfg = SimConfig(
            card=os.environ.get("COSIM_CARD", "Cr"),
            reset_pulse=os.environ.get("COSIM_RESET", "on") == "on",
            seed=int(os.environ.get("COSIM_SEED", "1")),
            out_dir=Path(os.environ.get("COSIM_OUT", "sim_build")).resolve(),
            devices=tuple(int(k) for k in devices.split(",")) if devices else None,
            test_images=int(images) if images else None,
            backend=os.environ.get("COSIM_ANALOG", "ngspice"),
        )
        cfg.validate()
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        # As cosim sim writes it: `cosim merge` summarizes the run from it.
        (cfg.out_dir / "config.json").write_text(json.dumps(cfg.to_json(), indent=2) + "\n")
    return cfg


def _test_images(cfg: Any) -> tuple[np.ndarray, np.ndarray]:
    _, test = datasets.train_test(cfg.topology, cfg.dataset)
    n = len(test) if cfg.test_images is None else min(cfg.test_images, len(test))
    return test.x[:n], test.y[:n]


def _eta(done: int, total: int, t0: float) -> str:
    """``"12 s, ETA 30 s"``: wall time since ``t0`` and the remaining time at this rate."""
    spent = time.monotonic() - t0
    if not done:
        return f"{spent:.0f} s wall"
    return f"{spent:.0f} s wall, ETA {spent / done * (total - done):.0f} s"


async def _progress(dut: Any, devices: list[int], log: Any, active: list[bool]) -> None:
    t0, n, order = time.monotonic(), len(devices), {k: i for i, k in enumerate(devices)}

    def on_device(_: float, v: Mapping[str, float]) -> None:
        k = int(v["cur_dev"])
        if active[0] and v["busy"] == 1 and k in order:
            log.info(
                "programming device %d (%d of %d; %s)", k, order[k] + 1, n, _eta(order[k], n, t0)
            )

    await Watch(dut, [Signal("cur_dev"), Signal("busy", on=None)], on_device).run()


def _cocotb_test(func: Any) -> Any:
    import cocotb

    return cocotb.test()(func)


def _with_sense_gain(xbar: Any, hp: Any) -> Any:
    """The crossbar with the sense-amplifier gain set for the DUT's sense ADC
    (:func:`cosim.twin.program.sense_gain_ohm`)."""
    from dataclasses import replace

    r_sense = sense_gain_ohm(xbar.card, xbar.spec, hp)
    return replace(xbar, spec=replace(xbar.spec, r_sense_ohm=r_sense))


async def _host_session(dut: Any, cfg: Any, xbar: Any, states: Any) -> dict[str, Any]:
    """What the host microcontroller does: configure, program, check, infer.

    Args:
        states: callable returning the analog devices' states after programming (for the
            NumPy reference of the programmed network), or None to skip that check.

    Returns:
        the host record (targets, flags, counters, inferences) for ``host.json``.
    """
    import cocotb

    log = dut._log
    xhost = host.XbarHost(dut)
    hp = xhost.params
    op = xbar.card.operation
    # Codes, window and scheme exactly as the algorithm-level twin derives them.
    setup, code_array = card_program_setup(
        xbar.card,
        xbar.spec,
        xbar.g_target_S,
        hp,
        reset_pulse=cfg.reset_pulse,
        t_step_wait_s=cfg.t_step_wait_s,
    )
    codes = [int(c) for c in code_array]
    scheme = setup.scheme
    tol = scheme.tolerance_codes
    await xhost.reset()
    registers = await xhost.configure(scheme)
    cocotb.start_soon(monitors.monitor_one_hot_sel(dut))
    cocotb.start_soon(monitors.monitor_pulses(dut, xhost.widths_cycles, xhost.regs))
    devices = list(range(len(codes))) if cfg.devices is None else list(cfg.devices)
    programming = [True]
    cocotb.start_soon(_progress(dut, devices, log, programming))
    log.info(
        "programming %d devices (card %s, reset pulse %s, window max(%d, target >> %d) codes)",
        len(devices),
        xbar.card.name,
        "on" if cfg.reset_pulse else "off",
        tol,
        scheme.tolerance_shift,
    )
    t_program = time.monotonic()
    result = await xhost.program({k: codes[k] for k in devices}, mask=devices, timeout_s=60.0)
    programming[0] = False
    wall = {"program": time.monotonic() - t_program}
    names = xbar.topology.device_names
    failed = [names[k] for k in devices if result.failed[k]]
    log.info(
        "programmed: %d ok, %d failed%s; %d write/erase pulses + %d reset pulses",
        sum(result.ok),
        result.n_failed,
        f" ({', '.join(failed)})" if failed else "",
        sum(result.pulses),
        len(devices) if cfg.reset_pulse else 0,
    )
    for k in devices:
        win = policy.verify_window(codes[k], tol, scheme.tolerance_shift)
        ok_window = abs(result.codes[k] - codes[k]) <= win
        assert result.ok[k] == ok_window or result.failed[k], (
            f"device {k}: flag ok={result.ok[k]} failed={result.failed[k]} but code "
            f"{result.codes[k]} vs target {codes[k]} ± {win}"
        )
        assert result.ok[k] or result.failed[k], f"device {k} neither ok nor failed"

    g_prog = None if states is None else xbar.conductance(states())
    images, labels = _test_images(cfg)
    rng = np.random.default_rng(cfg.seed)
    thr = class_threshold(xbar, hp)
    inferences: list[dict[str, Any]] = []
    mismatches = []
    t_infer, every = time.monotonic(), max(1, len(images) // 10)
    for n, (img, label) in enumerate(zip(images, labels, strict=True)):
        if n and n % every == 0:
            log.info(
                "inference: image %d of %d (%s)", n + 1, len(images), _eta(n, len(images), t_infer)
            )
        v = data.add_input_noise(
            data.to_voltages(img, op.v_read_V), cfg.input_noise, v_read_V=op.v_read_V, rng=rng
        )
        in_codes = [hp.in_dac.volts_to_code(float(vi)) for vi in v]
        res = await xhost.infer(in_codes, settle_s=op.t_read_s, class_threshold=thr)
        record: dict[str, Any] = {
            "label": int(label),
            "class": res.class_index,
            "out_codes": list(res.out_codes),
            "h_codes": list(res.h_codes),
            "in_codes": in_codes,
        }
        if g_prog is not None:
            v_applied = np.array([hp.in_dac.code_to_volts(c) for c in in_codes])
            _, y_ref = xbar.reference_outputs(g_prog, v_applied)
            y = np.atleast_1d(np.asarray(y_ref, dtype=float))
            ref_class, margin = decide(xbar.spec, y)
            record["ref_class"] = ref_class
            record["y_ref_V"] = y.tolist()
            if res.class_index != ref_class and margin >= DECISION_MARGIN_V:
                mismatches.append((n, res.class_index, ref_class, y.tolist()))
        inferences.append(record)
    wall["infer"] = time.monotonic() - t_infer
    log.info(
        "inference: %d of %d correct",
        sum(i["class"] == i["label"] for i in inferences),
        len(inferences),
    )
    assert not mismatches, f"inference differs from the NumPy reference: {mismatches}"
    return {
        "card": xbar.card.name,
        "seed": cfg.seed,
        "reset_pulse": cfg.reset_pulse,
        "backend": cfg.backend,
        "devices": devices,
        "target_codes": codes,
        "tolerance": tol,
        "tolerance_shift": scheme.tolerance_shift,
        "g_target_S": xbar.g_target_S.tolist(),
        "r_sense_ohm": xbar.spec.r_sense_ohm,
        "flags_ok": list(result.ok),
        "flags_failed": list(result.failed),
        "pulses_register": list(result.pulses),
        "final_codes": list(result.codes),
        "inferences": inferences,
        "registers": registers,
        "wall_s": wall,
    }


def _write_coverage(log: Any, cfg: Any, cov: coverage.Coverage, rec: dict[str, Any]) -> None:
    """``coverage.json`` of the run (failures and classes from the host record)."""
    cov.failed(sum(bool(rec["flags_failed"][k]) for k in rec["devices"]))
    cov.inferred(i["class"] for i in rec["inferences"])
    n_out = cfg.topology.n_out
    settings = coverage.CoverageSettings.from_registers(
        rec["registers"], n_classes=2 if n_out == 1 else n_out, n_images=len(rec["inferences"])
    )
    report = cov.report(settings)
    (cfg.out_dir / "coverage.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    log.info("%s", cov.summary_line(report))


@_cocotb_test
async def training_run(dut: Any) -> None:
    """Program all devices by write-verify, then infer the test set with input noise."""
    import cocotb

    cfg = _config()
    t_setup = time.monotonic()
    xbar = make_crossbar(cfg.card, cfg.seed, cfg.topology, cfg.dataset)
    xbar = _with_sense_gain(xbar, converters.HarnessParams.from_dut(dut))
    backend = make_backend(
        xbar,
        cfg.backend,
        cfg.out_dir / "analog.vcd",
        tmax_s=cfg.analog_tmax_s(),
        record=cfg.recorded_devices(),
    )
    bridge = Bridge(dut, backend, contract(cfg.topology).port_map())
    cocotb.start_soon(bridge.run())
    cov = coverage.Coverage()
    cocotb.start_soon(coverage.collect(dut, contract(cfg.topology), cov))
    cpu0 = time.process_time()
    try:
        t_setup = time.monotonic() - t_setup

        def states() -> Any:  # the backend as far as the HDL has gone
            bridge.flush()
            return backend.states()

        host_json = await _host_session(dut, cfg, xbar, states)
        host_json["wall_s"] = {"setup": t_setup, **host_json["wall_s"]}
        flush_all()  # the monitors and coverage have seen every change up to now
        _write_coverage(dut._log, cfg, cov, host_json)
        bridge.stop()
        thread_cpu_s = getattr(backend, "analog_thread_cpu_s", 0.0)
        backend.close()  # flushes the last analog points
        host_json["bridge_events"] = bridge.events
        host_json["bridge_engine"] = bridge.engine
        host_json["backend_stats"] = {
            "syncs": backend.stats.syncs,
            "points": backend.stats.points,
            "samples": backend.stats.samples,
        }
        # CPU (s, run-specific): the whole process from the bridge's start to the end of the
        # session; ngspice's thread; the bridge's VPI callbacks; writing the analog VCD
        host_json["cpu_s"] = {
            "session": time.process_time() - cpu0,
            "analog_thread": thread_cpu_s,
            "callbacks": bridge.callback_cpu_s,
            "analog_vcd": backend.stats.extra.get("flush_cpu_s", 0.0),
        }
        (cfg.out_dir / "host.json").write_text(json.dumps(host_json, indent=1) + "\n")
    finally:
        bridge.stop()
        backend.close()
        record = {
            "stimulus": [[t, values] for t, values in bridge.stimulus],
            "samples": [[t, values] for t, values in bridge.samples],
        }
        (cfg.out_dir / "stimulus.json").write_text(json.dumps(record) + "\n")


@_cocotb_test
async def digital_replay(dut: Any) -> None:
    """The same host session with no analog simulator: the ADC values recorded by a previous
    ``training_run`` (``$COSIM_REPLAY`` = its ``stimulus.json``) are replayed at each sample.

    This is the digital half of the lockstep-overhead benchmark (``bench/bench_cosim.py``).
    """
    import cocotb
    from cocotb.triggers import RisingEdge

    path = os.environ.get("COSIM_REPLAY")
    if not path:
        raise RuntimeError("COSIM_REPLAY must name the stimulus.json of a training run")
    samples = json.loads(Path(path).read_text())["samples"]
    cfg = _config()
    xbar = _with_sense_gain(
        make_crossbar(cfg.card, cfg.seed, cfg.topology, cfg.dataset),
        converters.HarnessParams.from_dut(dut),
    )
    samples_to = contract(cfg.topology).port_map().samples
    ports = {resolve(dut, s.hdl): s.quantity for s in samples_to}

    async def replay() -> None:
        for _, values in samples:
            await RisingEdge(dut.adc_sample)
            for handle, quantity in ports.items():
                handle.value = values[quantity]

    cocotb.start_soon(replay())
    await _host_session(dut, cfg, xbar, None)
