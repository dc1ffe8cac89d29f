"""Post-processing of a co-simulation run: merged VCD, GTKWave save file, ``summary.json``.

Every figure in the summary is computed from the merged waveforms through
:mod:`cosim.analysis.metrics` (time, energy, pulses, final states) and from the ADC samples
recorded in
them (accuracy).  ``host.json`` (written by the bench) only contributes what the host *chose*
— the card, the seed, the target conductances and the labels of the test images — and what it
read over the bus that the waveforms do not hold: the controller's class per image
(``REG_INF_CLASS``, the arg-max of the ADC codes), for ``accuracy_controller``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cosim.analysis import metrics
from cosim.analysis.selected import selected_device_signals
from cosim.analysis.view import write_view
from cosim.circuit import mss
from cosim.circuit.devices import load_card
from cosim.circuit.network import CircuitSpec
from cosim.config import SimConfig
from cosim.crossbar import card_circuit, decide, device_params
from cosim.harness.contract import contract
from cosim.harness.regmap import load_register_map
from cosim.topology import DEFAULT, Topology
from cosim.waves.columns import Columns, forget, read_columns
from cosim.waves.merge import merge_vcds

__all__ = ["merge_outputs", "summarize", "write_summary", "human", "inference_classes"]

#: Phases whose pulses the controller counts per device (REG_PCOUNT): write and erase.
_PROGRAM = ("write", "erase")


def merge_outputs(out: Path) -> Path | None:
    """Merge ``digital.vcd`` and ``analog.vcd`` into ``training.vcd`` with the selected-device
    traces, and write the curated view ``training.gtkw`` (+ its filter files).

    Works on partial files (a run that failed midway): whatever was written is merged.
    Returns the merged VCD, or None when there is nothing to merge.
    """

    digital, analog = out / "digital.vcd", out / "analog.vcd"
    merged = out / "training.vcd"
    inputs = [p for p in (digital, analog) if p.exists() and p.stat().st_size > 0]
    if not inputs:
        return None
    if len(inputs) == 2:
        merge_vcds(digital, analog, merged, partial=True, derive=selected_device_signals)
    else:
        merged.write_bytes(inputs[0].read_bytes())
    write_view(merged, out / "training.gtkw", scan_vcd=inputs[0])
    return merged


def inference_classes(
    vcd: Path,
    spec: CircuitSpec,
    topology: Topology = DEFAULT,
    *,
    columns: Columns | None = None,
) -> list[int]:
    """Class decided at each ADC sample taken during inference, from the output neuron traces
    (:func:`cosim.crossbar.decide`).  ``columns``: the file already read."""

    cols = columns if columns is not None else read_columns(vcd)
    header = cols.header
    outputs = [f"analog.neuron.{name}.v" for name in topology.output_names]
    harness = contract(topology)
    strobe, phase = (header.find(harness.vcd_name(n)) for n in (harness.strobe, harness.phase))
    index = {ident: k for k, ident in enumerate(cols.ids)}
    phase_infer = load_register_map()["PHASE_INFER"]

    out_ids = [header.find(name).id for name in outputs]
    rows = cols.rows_by_ident(sorted({index[i] for i in (strobe.id, phase.id, *out_ids)}))

    def trace(ident: str) -> tuple[NDArray[np.int64], list[str]]:
        r = rows[index[ident]]
        return cols.t[r], cols.texts(r)

    # Samples: rising edges of the strobe (from any state but high) while the phase is
    # INFER.  At equal times the analog values and the phase are applied before the sample
    # edge is judged: each is looked up as its last change at or before the edge.
    t_s, s_val = trace(strobe.id)
    t_p, p_val = trace(phase.id)
    high = [v == "1" for v in s_val]
    rises = [k for k, h in enumerate(high) if h and (k == 0 or not high[k - 1])]
    at = t_s[rises]
    codes = [int(v, 2) if v.strip("01") == "" else -1 for v in p_val]
    k_p = np.searchsorted(t_p, at, "right") - 1
    infer = [(codes[k] if k >= 0 else 0) == phase_infer for k in k_p.tolist()]
    at = at[np.array(infer, dtype=bool)] if at.size else at
    volts = np.zeros((at.size, len(outputs)))
    for j, ident in enumerate(out_ids):
        r = rows[index[ident]]
        k = np.searchsorted(cols.t[r], at, "right") - 1
        values = cols.reals(r)
        volts[:, j] = np.where(k >= 0, values[np.maximum(k, 0)] if values.size else 0.0, 0.0)
    return [decide(spec, row)[0] for row in volts]


def summarize(out: Path, *, wall_s: float | None = None) -> dict[str, Any]:
    """The run's summary from ``training.vcd`` (and the host's choices in ``host.json``)."""

    vcd = out / "training.vcd"
    host = json.loads((out / "host.json").read_text())
    # The card and topology as configured (a TOML path may carry a built-in card's name).
    config = SimConfig.from_json(json.loads((out / "config.json").read_text()))
    topology = config.topology
    cols = read_columns(vcd)  # read once: the measurements and the inference classes
    report = metrics.measure(vcd, window="training", topology=topology, columns=cols)
    card = load_card(config.card)
    spec, _, _ = card_circuit(card)
    _, params = device_params(card, host["seed"], topology)
    names = topology.device_names
    x_final = np.array([report.devices[n].x for n in names], dtype=float)
    g_final = mss.conductance(params, x_final)
    labels = [inf["label"] for inf in host["inferences"]]
    classes = inference_classes(vcd, spec, topology, columns=cols)
    if len(classes) != len(labels):
        raise ValueError(f"{vcd}: {len(classes)} inference samples, host ran {len(labels)}")
    correct = sum(int(c == y) for c, y in zip(classes, labels, strict=True))
    chip = [inf["class"] for inf in host["inferences"]]
    programmed = set(host["devices"])
    devices: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(names):
        dev = report.devices[name]
        devices[name] = {
            "g_target_S": float(host["g_target_S"][k]),
            "g_final_S": float(g_final[k]),
            "error_rel": float(g_final[k] / host["g_target_S"][k] - 1.0),
            "x_final": float(x_final[k]),
            "pulses": int(dev.pulses),
            "pulses_by_phase": dict(dev.pulses_by_phase),
            "reads": int(dev.reads),
            "energy_J": float(dev.energy_J),
            "programmed": k in programmed,
            "ok": bool(host["flags_ok"][k]),
        }
    # Energy split (docs/energy.md): devices; their series paths (resistor + switches, linear,
    # so R·∫i²); the rest — neurons, supplies, drivers — is peripheral.
    device_J = report.energy_device_J or 0.0
    series_J = spec.r_read_path_ohm * sum(report.devices[n].i2_A2s for n in names)
    summary: dict[str, Any] = {
        "card": host["card"],
        "reset_pulse": bool(host["reset_pulse"]),
        "seed": host["seed"],
        "backend": host["backend"],
        "topology": list(topology.widths),
        "n_devices": topology.n_dev,
        "training_time_s": report.training_time_s,
        "energy_J": report.energy_J,
        "energy_device_J": report.energy_device_J,
        "energy_series_J": series_J,
        "read_path_ohm": float(spec.r_read_path_ohm),
        "energy_peripheral_J": (
            None if report.energy_J is None else report.energy_J - device_J - series_J
        ),
        "energy_by_phase_J": report.energy_by_phase_J,
        "pulses_total": int(sum(d["pulses"] for d in devices.values())),
        "pulses_write_erase": int(
            sum(d["pulses_by_phase"].get(ph, 0) for d in devices.values() for ph in _PROGRAM)
        ),
        "pulses_reset": int(sum(d["pulses_by_phase"].get("reset", 0) for d in devices.values())),
        "failed_devices": [n for n, d in devices.items() if d["programmed"] and not d["ok"]],
        "devices_programmed": len(programmed),
        "devices_failed": int(sum(d["programmed"] and not d["ok"] for d in devices.values())),
        "accuracy": correct / len(labels) if labels else None,
        "accuracy_controller": (
            sum(int(c == y) for c, y in zip(chip, labels, strict=True)) / len(labels)
            if labels
            else None
        ),
        "accuracy_meaningful": len(programmed) == len(names),
        "by_layer": _by_layer(devices, topology),
        "test_images": len(labels),
        "vcd": str(vcd),
        "devices": devices,
    }
    if wall_s is not None:
        summary["wall_time_s"] = wall_s
    forget()  # the columns the merge handed on: the post-processing is over
    return summary


def _by_layer(devices: dict[str, dict[str, Any]], topology: Topology) -> dict[str, Any]:
    """Devices, pulses and device energy of each layer (``"1"``: inputs → hidden, ``"2"``)."""
    names = topology.device_names
    out: dict[str, Any] = {}
    for layer, sl in zip(("1", "2"), topology.layers, strict=True):
        rows = [devices[n] for n in names[sl]]
        out[layer] = {
            "devices": len(rows),
            "pulses": int(sum(d["pulses"] for d in rows)),
            "energy_device_J": float(sum(d["energy_J"] for d in rows)),
        }
    return out


def write_summary(out: Path, *, wall_s: float | None = None) -> dict[str, Any]:
    """:func:`summarize` the run in ``out`` and write ``summary.json`` there."""

    summary = summarize(out, wall_s=wall_s)
    path = out / "summary.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # an interrupted write leaves the earlier summary whole
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def _accuracy_text(summary: dict[str, Any]) -> str:
    if summary["accuracy"] is None:
        return "no test images"
    text = f"{summary['accuracy']:.1%} on {summary['test_images']} test images"
    if summary.get("accuracy_controller") is not None:
        text += f" (controller's class: {summary['accuracy_controller']:.1%})"
    if not summary.get("accuracy_meaningful", True):
        n, total = summary["devices_programmed"], len(summary["devices"])
        text += f" (not meaningful: only {n} of {total} devices programmed)"
    return text


def human(summary: dict[str, Any]) -> str:
    """A short human-readable summary."""

    def fmt(value: float | None, unit: str, scale: float = 1.0) -> str:
        return "n/a" if value is None else f"{value * scale:.4g} {unit}"

    ok = [d for d in summary["devices"].values() if d["programmed"] and d["ok"]]
    worst = max((abs(d["error_rel"]) for d in ok), default=float("nan"))
    rows = [
        ("window", "training (start → done)"),
        ("training time", fmt(summary["training_time_s"], "ms", 1e3)),
        ("energy, whole circuit", fmt(summary["energy_J"], "mJ", 1e3)),
        ("  memristors", fmt(summary["energy_device_J"], "µJ", 1e6)),
        ("  series R + switches", fmt(summary["energy_series_J"], "µJ", 1e6)),
        ("  peripherals", fmt(summary["energy_peripheral_J"], "mJ", 1e3)),
        (
            "pulses",
            f"{summary['pulses_write_erase']} write/erase + {summary['pulses_reset']} reset "
            f"on {summary['devices_programmed']} devices",
        ),
        *(
            (
                f"  layer {layer}",
                f"{row['pulses']} pulses on {row['devices']} devices, "
                + fmt(row["energy_device_J"], "µJ", 1e6),
            )
            for layer, row in summary.get("by_layer", {}).items()
        ),
        ("flagged failed", ", ".join(summary["failed_devices"]) or "none"),
        ("worst |G/G_target − 1|", f"{worst:.2%} (devices flagged ok)"),
        ("accuracy", _accuracy_text(summary)),
    ]
    if "wall_time_s" in summary:
        rows.append(("wall time", f"{summary['wall_time_s']:.1f} s"))
    rows.append(("waveforms", summary["vcd"]))
    head = (
        f"card {summary['card']}, reset pulse {'on' if summary['reset_pulse'] else 'off'}, "
        f"backend {summary['backend']}"
    )
    return "\n".join([head, *(f"  {label:<24}{value}" for label, value in rows)])
