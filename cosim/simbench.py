"""The cocotb bench of a full run: the host program that trains the crossbar on chip.

Runs inside Icarus's ``vvp`` (cocotb test module).  Configuration comes from the JSON file
named by ``COSIM_SIM_CONFIG`` (written by :func:`cosim.sim.run_sim`); ``COSIM_ANALOG``
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
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "training_run",
    "digital_replay",
    "pulse_scheme",
    "verify_tolerance",
    "DECISION_MARGIN_V",
]

#: Reference outputs closer than this to the decision level are not required to match (V).
DECISION_MARGIN_V = 0.05
#: Relative verify window ``REG_TOL_SHIFT``: half-width ``target >> 5`` = 3.125 % of the target.
TOLERANCE_SHIFT = 5
#: Floor of the verify window (``REG_TOL``, sense-ADC codes) for small target codes.
TOLERANCE_FLOOR_CODES = 1
MAX_PULSES = 200


def verify_tolerance(target_codes: Any) -> int:
    """The ``REG_TOL`` value (codes) for these target codes: the floor of the relative window.

    The window of device k is ``controller.verify_window(code_k, tol, TOLERANCE_SHIFT)``, i.e.
    ``max(TOLERANCE_FLOOR_CODES, code_k >> TOLERANCE_SHIFT)``: every device ends within
    3.125 % of its target read code, whatever the spread of the targets (one absolute window
    sized on the smallest target left the largest ones a window too narrow to hit).

    Raises:
        UsageError: no target codes.
    """
    from cosim.errors import UsageError

    if len(target_codes) == 0:
        raise UsageError("verify_tolerance: no target codes given")
    return TOLERANCE_FLOOR_CODES


def pulse_scheme(
    card: Any,
    reset_enabled: bool,
    tolerance_codes: int,
    t_step_wait_s: float = 0.0,
    tolerance_shift: int = TOLERANCE_SHIFT,
) -> Any:
    """The controller's pulse scheme for a card (from its ``[operation]`` table).

    Adaptive write-verify is on: at every direction reversal of a device the write and erase
    widths halve, down to one clock period of the harness (1 µs), see docs/controller.md.
    ``t_step_wait_s`` is the host/MCU latency after every verify read (``REG_STEP_WAIT``).
    The verify window is relative (``REG_TOL_SHIFT = tolerance_shift``) with ``REG_TOL =
    tolerance_codes`` as its floor (:func:`cosim.controller.verify_window`).
    """
    from cosim.controller import PulseScheme

    op = card.operation
    return PulseScheme(
        v_write_V=op.v_write_V,
        t_write_s=op.t_write_s,
        v_erase_V=op.v_erase_V,
        t_erase_s=op.t_erase_s,
        v_reset_V=op.v_reset_V,
        t_reset_s=op.t_reset_s,
        v_read_V=op.v_read_V,
        t_read_s=op.t_read_s,
        t_read_sample_s=op.t_read_s / 2,
        t_gap_s=op.t_gap_s,
        reset_enabled=reset_enabled,
        tolerance_codes=tolerance_codes,
        max_pulses=MAX_PULSES,
        adaptive=True,
        t_min_pulse_s=1e-6,
        t_step_wait_s=t_step_wait_s,
        tolerance_shift=tolerance_shift,
    )


def _config() -> Any:
    from cosim.sim import SimConfig

    path = os.environ.get("COSIM_SIM_CONFIG")
    if path:
        cfg = SimConfig.from_json(json.loads(Path(path).read_text()))
    else:  # the Makefile flow: options as environment variables
        cfg = SimConfig(
            card=os.environ.get("COSIM_CARD", "Cr"),
            reset_pulse=os.environ.get("COSIM_RESET", "on") == "on",
            seed=int(os.environ.get("COSIM_SEED", "1")),
            out_dir=Path(os.environ.get("COSIM_OUT", "sim_build")).resolve(),
        )
        cfg.validate()
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
    cfg.backend = os.environ.get("COSIM_ANALOG", cfg.backend)
    return cfg


def _test_images(cfg: Any) -> tuple[np.ndarray, np.ndarray]:
    from cosim import data

    _, test = data.split(data.make_dataset())
    n = len(test) if cfg.test_images is None else min(cfg.test_images, len(test))
    return test.x[:n], test.y[:n]


async def _progress(dut: Any, n: int, log: Any, active: list[bool]) -> None:
    from cocotb.triggers import ValueChange

    while active[0]:
        await ValueChange(dut.cur_dev)
        if active[0] and int(dut.busy.value):
            log.info("programming device %d of %d", int(dut.cur_dev.value) + 1, n)


def _cocotb_test(func: Any) -> Any:
    import cocotb

    return cocotb.test()(func)


def _with_sense_gain(xbar: Any, hp: Any) -> Any:
    """The crossbar with the sense-amplifier gain set for the DUT's sense ADC
    (:func:`cosim.program.sense_gain_ohm`)."""
    from dataclasses import replace

    from cosim.program import sense_gain_ohm

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

    from cosim import controller, data, monitors
    from cosim.program import card_program_setup

    log = dut._log
    host = controller.XbarHost(dut)
    hp = host.params
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
    await host.reset()
    await host.configure(scheme)
    cocotb.start_soon(monitors.monitor_one_hot_sel(dut))
    cocotb.start_soon(monitors.monitor_pulses(dut, host.widths_cycles, host.regs))
    devices = list(range(len(codes))) if cfg.devices is None else list(cfg.devices)
    programming = [True]
    cocotb.start_soon(_progress(dut, len(codes), log, programming))
    log.info(
        "programming %d devices (card %s, reset pulse %s, window max(%d, target >> %d) codes)",
        len(devices),
        xbar.card.name,
        "on" if cfg.reset_pulse else "off",
        tol,
        scheme.tolerance_shift,
    )
    result = await host.program({k: codes[k] for k in devices}, mask=devices, timeout_s=60.0)
    programming[0] = False
    log.info(
        "programmed: %d ok, %d failed, %d pulses",
        sum(result.ok),
        result.n_failed,
        sum(result.pulses),
    )
    for k in devices:
        win = controller.verify_window(codes[k], tol, scheme.tolerance_shift)
        ok_window = abs(result.codes[k] - codes[k]) <= win
        assert result.ok[k] == ok_window or result.failed[k], (
            f"device {k}: flag ok={result.ok[k]} failed={result.failed[k]} but code "
            f"{result.codes[k]} vs target {codes[k]} ± {win}"
        )
        assert result.ok[k] or result.failed[k], f"device {k} neither ok nor failed"

    g_prog = None if states is None else xbar.conductance(states())
    images, labels = _test_images(cfg)
    rng = np.random.default_rng(cfg.seed)
    thr = hp.neuron_adc.quantize(0.5 * xbar.spec.v_o_max_V)
    inferences: list[dict[str, Any]] = []
    mismatches = []
    for n, (img, label) in enumerate(zip(images, labels, strict=True)):
        v = data.add_input_noise(
            data.to_voltages(img, op.v_read_V), cfg.input_noise, v_read_V=op.v_read_V, rng=rng
        )
        in_codes = [hp.in_dac.volts_to_code(float(vi)) for vi in v]
        res = await host.infer(in_codes, settle_s=op.t_read_s, class_threshold=thr)
        record: dict[str, Any] = {
            "label": int(label),
            "class": res.class_bit,
            "out_code": res.out_code,
            "h_codes": list(res.h_codes),
            "in_codes": in_codes,
        }
        if g_prog is not None:
            v_applied = np.array([hp.in_dac.code_to_volts(c) for c in in_codes])
            _, y_ref = xbar.reference_outputs(g_prog, v_applied)
            record["ref_class"] = int(y_ref > 0.5 * xbar.spec.v_o_max_V)
            record["y_ref_V"] = float(y_ref)
            near = abs(float(y_ref) - 0.5 * xbar.spec.v_o_max_V) < DECISION_MARGIN_V
            if res.class_bit != record["ref_class"] and not near:
                mismatches.append((n, res.class_bit, record["ref_class"], float(y_ref)))
        inferences.append(record)
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
    }


@_cocotb_test
async def training_run(dut: Any) -> None:
    """Program all devices by write-verify, then infer the test set with input noise."""
    import cocotb

    from cosim import controller
    from cosim.bridge import Bridge
    from cosim.crossbar import make_backend, make_crossbar

    cfg = _config()
    xbar = make_crossbar(cfg.card, cfg.seed)
    xbar = _with_sense_gain(xbar, controller.HarnessParams.from_dut(dut))
    backend = make_backend(
        xbar, cfg.backend, cfg.out_dir / "analog.vcd", tmax_s=cfg.analog_tmax_s()
    )
    bridge = Bridge(dut, backend)
    cocotb.start_soon(bridge.run())
    try:
        host_json = await _host_session(dut, cfg, xbar, backend.states)
        bridge.stop()
        backend.close()  # flushes the last analog points
        host_json["bridge_events"] = bridge.events
        host_json["backend_stats"] = {
            "syncs": backend.stats.syncs,
            "points": backend.stats.points,
            "samples": backend.stats.samples,
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

    from cosim import controller
    from cosim.bridge import INPUT_REALS
    from cosim.crossbar import make_crossbar

    path = os.environ.get("COSIM_REPLAY")
    if not path:
        raise RuntimeError("COSIM_REPLAY must name the stimulus.json of a training run")
    samples = json.loads(Path(path).read_text())["samples"]
    cfg = _config()
    xbar = _with_sense_gain(
        make_crossbar(cfg.card, cfg.seed), controller.HarnessParams.from_dut(dut)
    )

    async def replay() -> None:
        for _, values in samples:
            await RisingEdge(dut.adc_sample)
            for port, quantity in INPUT_REALS.items():
                getattr(dut, port).value = values[quantity]

    cocotb.start_soon(replay())
    await _host_session(dut, cfg, xbar, None)
