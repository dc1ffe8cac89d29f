"""Training time, energy and pulse counts measured from a VCD (one pass over its changes).

Any VCD works — the merged co-simulation file, an analog-only file written by
:class:`cosim.waves.AnalogVcdWriter`, or a digital-only Icarus dump:

* **training time**: first rise of the start signal → first rise of the done signal after it
  (defaults ``xbar_top.start`` / ``xbar_top.done``; any full dotted name may be given).
* **device energy**: for every direct sub-scope of ``scope`` (default ``analog``) that has both
  ``v`` and ``i`` — other than ``supply`` and the derived ``selected`` — ∫ v·i dt.
  **Whole-circuit energy**: Σ over ``<scope>.supply.<name>`` of ∫ v·i dt.  Integrals use VCD
  hold semantics: a value holds until its next change, so the product is piecewise constant
  and is integrated exactly as recorded (docs/energy.md: why a trapezoid would be wrong here).
* **by phase** (if ``<top>.phase`` exists, ``<top>`` being the start signal's scope): energy
  and time per controller phase; **pulses**: entries into reset/write/erase while the device's
  ``<top>.sel`` bit is high (and reads: entries into the read phase while it is high).
* final ``x`` (and ``g`` if recorded) per device.

The file is read whole into NumPy columns (:mod:`cosim.waves.columns`); the control signals
are replayed change by change, the ``v``/``i`` changes integrated with array operations
(:mod:`cosim.analysis.integrate`) to the same floating-point sums as a loop over the changes.
Memory: the file's bytes and ~100 bytes per change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cosim.analysis.integrate import Cuts, integrate
from cosim.analysis.report import DeviceReport, Report, json_safe, note_non_finite
from cosim.analysis.selected import SELECTED
from cosim.errors import UsageError
from cosim.harness.contract import contract
from cosim.harness.regmap import load_register_map, phase_names
from cosim.topology import DEFAULT, Topology, TopologyError
from cosim.waves.columns import KIND_REAL, Columns, read_columns
from cosim.waves.read import UnknownSignalError, VcdHeader, VcdVar, closest_names

__all__ = [
    "PHASES",
    "WINDOWS",
    "DeviceReport",
    "Report",
    "json_safe",
    "measure",
]

#: Controller phase codes (``xbar_top.phase``) → names (``PHASE_*`` of ``hdl/xbar_regs.vh``).
PHASES: dict[int, str] = phase_names()

#: A record longer than this (simulated seconds) is reported as suspicious.
ABSURD_END_S = 86400.0


#: Allowed values of ``measure(window=…)``.
WINDOWS = ("all", "training")
_REGS = load_register_map()
_PROGRAM = (_REGS["PHASE_RESET"], _REGS["PHASE_WRITE"], _REGS["PHASE_ERASE"])
_READ = _REGS["PHASE_READ"]
_UNKNOWN = "unknown"
#: Sub-scopes of the analog scope that are not devices: the supplies, and the derived traces
#: of whichever device is selected (a copy, never counted twice).
_NOT_DEVICES = frozenset({"supply", SELECTED})


def _select_bits(
    devices: list[str], topology: Topology | None, notes: list[str]
) -> list[int | None]:
    """Select bit of every recorded device (None: not a crossbar device), from ``topology``,
    else from the recorded device names (a complete network), else the default network's
    bits (said in ``notes``)."""
    if topology is None:
        try:
            topology = Topology.from_device_names(devices)
        except TopologyError:
            topology = DEFAULT
            if any(DEFAULT.parse_device(d) is not None for d in devices):
                notes.append(
                    "the recorded devices are not a complete network: select bits of the "
                    f"default {DEFAULT} network assumed for pulse counts"
                )
    return [topology.parse_device(d) for d in devices]


def _is_high(value: float | str) -> bool:
    return isinstance(value, str) and "1" in value


def _find(header: VcdHeader, name: str, what: str, required: bool) -> VcdVar | None:
    var = header.by_name().get(name)
    if var is None and required:
        names = [v.name for v in header.vars]
        raise UnknownSignalError(
            f"{header.path}: no {what} signal {name!r}; closest existing: "
            f"{closest_names(name, names)} ({len(names)} signals in all)"
        )
    return var


def _digital(var: VcdVar | None, what: str, bits: int, explicit: bool) -> VcdVar | None:
    """``var`` if it is a digital signal (of ``bits`` bits if > 0); else an error if the
    user named it, or None (treated as absent) for a default name."""
    if var is None:
        return None
    problem = ""
    if var.is_real or var.type == "string":
        problem = f"is a {var.type} signal; {what} must be a digital (logic) signal"
    elif bits and var.size != bits:
        problem = f"has {var.size} bits; {what} must be a {bits}-bit signal"
    if not problem:
        return var
    if explicit:
        raise UsageError(f"--{what} {var.name!r} {problem}")
    return None


def _elements(header: VcdHeader, scope: str) -> tuple[list[str], list[str]]:
    """(device names, supply names) under ``scope`` that have both ``v`` and ``i``."""
    names = header.by_name()
    prefix = scope + "."
    devices: set[str] = set()
    supplies: set[str] = set()
    for n in names:
        if not n.startswith(prefix) or not n.endswith(".v"):
            continue
        parts = n[len(prefix) :].split(".")
        if len(parts) == 2 and parts[0] not in _NOT_DEVICES and n[:-2] + ".i" in names:
            devices.add(parts[0])
        elif len(parts) == 3 and parts[0] == "supply" and n[:-2] + ".i" in names:
            supplies.add(parts[1])
    return sorted(devices), sorted(supplies)


def measure(
    vcd_path: str | Path,
    *,
    start: str | None = None,
    done: str | None = None,
    scope: str = "analog",
    phase: str | None = None,
    sel: str | None = None,
    window: str = "all",
    topology: Topology | None = None,
    columns: Columns | None = None,
) -> Report:
    """Measure training time, energy and pulses from ``vcd_path`` in one pass.

    Args:
        vcd_path: any VCD file.
        start: full dotted name of the start signal (default ``xbar_top.start``).
        done: full dotted name of the done signal (default ``xbar_top.done``).
        scope: analog scope whose sub-scopes are devices and ``supply``.
        phase: phase marker (default ``<scope of start>.phase``; optional).
        sel: one-hot device select (default ``<scope of start>.sel``; optional).
        window: ``"all"`` (energy, phase times and pulses over the whole recording) or
            ``"training"`` (only from the first rise of start to the rise of done).
        topology: the network whose select bits the devices are on (default: recovered from
            the recorded device names).
        columns: the file already read (:func:`cosim.waves.columns.read_columns`).

    Raises:
        VcdNotFoundError, VcdFormatError: unreadable VCD.
        UnknownSignalError: an explicitly named signal is not in the VCD (or the default
            start/done signals are missing from a VCD without analog data).
    """
    if window not in WINDOWS:
        raise UsageError(f"unknown window {window!r}; allowed: {', '.join(WINDOWS)}")
    path = Path(vcd_path)
    cols = columns if columns is not None else read_columns(path)
    header = cols.header
    tick_s = header.tick_s
    notes: list[str] = []

    devices, supplies = _elements(header, scope)
    has_analog = bool(devices or supplies)
    harness = contract()
    start_name = start or harness.vcd_name(harness.start)
    done_name = done or harness.vcd_name(harness.done)
    explicit = start is not None or done is not None or not has_analog
    v_start = _find(header, start_name, "start", explicit)
    v_done = _find(header, done_name, "done", explicit)
    if v_start is None or v_done is None:
        notes.append(f"no {start_name}/{done_name} in the VCD: training time not measured")
    top = start_name.rsplit(".", 1)[0] if "." in start_name else ""
    v_phase = _find(header, phase or f"{top}.phase", "phase", phase is not None)
    v_sel = _find(header, sel or f"{top}.sel", "sel", sel is not None)
    if v_start is not None and v_start is v_done:
        raise UsageError(
            f"start and done are the same signal {v_start.name!r}: the training time runs "
            "from the rise of start to the rise of another signal, done"
        )
    v_start = _digital(v_start, "start", 1, explicit)
    v_done = _digital(v_done, "done", 1, explicit)
    v_phase = _digital(v_phase, "phase", 0, phase is not None)
    v_sel = _digital(v_sel, "sel", 0, sel is not None)
    if not has_analog:
        notes.append(f"no analog scope {scope!r} with v and i signals: energy not measured")
    elif v_phase is None:
        notes.append("no phase marker: energy by phase not measured")

    # Roles by identifier: 0 v, 1 i, 2 x, 3 g (element index e); 4 start, 5 done, 6 phase,
    # 7 sel.  An identifier may carry several roles (aliases in Icarus dumps).
    names = header.by_name()
    elements = [f"{scope}.{d}" for d in devices] + [f"{scope}.supply.{s}" for s in supplies]
    n_el = len(elements)
    roles: dict[str, list[tuple[int, int]]] = {}
    for e, base in enumerate(elements):
        for kind, q in enumerate(("v", "i", "x", "g")):
            var = names.get(f"{base}.{q}")
            if var is not None:
                roles.setdefault(var.id, []).append((kind, e))
    # Pseudo-elements n_real + d integrate i² of device d (its current as both "v" and "i"):
    # the energy of a linear series path R is R·∫i² dt.
    n_real = n_el
    for d, dev in enumerate(devices):
        var = names.get(f"{scope}.{dev}.i")
        if var is not None:
            roles.setdefault(var.id, []).extend(((0, n_real + d), (1, n_real + d)))
    n_el = n_real + len(devices)
    for kind, var in ((4, v_start), (5, v_done), (6, v_phase), (7, v_sel)):
        if var is not None:
            roles.setdefault(var.id, []).append((kind, -1))
    # One (kind, index) per identifier; kind 8: several roles, listed in aliased[index].
    aliased = [r for r in roles.values() if len(r) > 1]
    role_of: dict[str, tuple[int, int]] = {}
    for ident, r in roles.items():
        role_of[ident] = r[0] if len(r) == 1 else (8, aliased.index(r))

    # Control changes (start, done, phase, sel) replayed in file order; they cut the energy
    # integration and choose its bucket: 0 outside the window, then the phases by name.
    bucket_of: dict[str, int] = {}
    phase_name = PHASES[0] if v_phase is not None else "all"
    in_window = window == "all"
    bucket = bucket_of.setdefault(phase_name, len(bucket_of) + 1) if in_window else 0
    first_bucket = bucket
    cut_row: list[int] = []
    cut_t: list[int] = []
    cut_b: list[int] = []
    sw_row: list[int] = []
    sw_b: list[int] = []
    phase_t0 = 0
    time_by_phase: dict[str, int] = {}
    entries: dict[str, int] = {}
    pending_entry: int | None = None
    sel_bits = 0
    dev_bits = _select_bits(devices, topology, notes)
    on_bit: dict[int, list[int]] = {}
    for d, k in enumerate(dev_bits):
        if k is not None:
            on_bit.setdefault(k, []).append(d)
    pulses: list[dict[str, int]] = [{} for _ in devices]
    reads = [0] * len(devices)
    start_high = done_high = False
    t_start: int | None = None
    t_done: int | None = None

    def close_block() -> None:
        nonlocal pending_entry
        if pending_entry is not None:
            code, pending_entry = pending_entry, None
            label = PHASES[code]
            bits = sel_bits
            while bits:
                low = bits & -bits
                for d in on_bit.get(low.bit_length() - 1, ()):
                    if code == _READ:
                        reads[d] += 1
                    else:
                        pulses[d][label] = pulses[d].get(label, 0) + 1
                bits ^= low

    def flush_all(r: int, t: int) -> None:
        """A cut: every element's energy and the phase time are brought up to ``t``."""
        nonlocal phase_t0
        cut_row.append(r)
        cut_t.append(t)
        cut_b.append(bucket)
        if in_window and v_phase is not None:
            time_by_phase[phase_name] = time_by_phase.get(phase_name, 0) + t - phase_t0
        phase_t0 = t

    def switch(r: int, new: int) -> None:
        nonlocal bucket
        bucket = new
        sw_row.append(r)
        sw_b.append(new)

    def set_window(r: int, t: int, inside: bool) -> None:
        nonlocal in_window
        flush_all(r, t)
        in_window = inside
        switch(r, bucket_of.setdefault(phase_name, len(bucket_of) + 1) if inside else 0)

    def other(kind: int, e: int, r: int, t: int, value: Any) -> None:
        nonlocal start_high, done_high, t_start, t_done, phase_name
        nonlocal pending_entry, sel_bits
        if kind == 4:
            high = _is_high(value)
            if high and not start_high and t_start is None:
                t_start = t
                if window == "training":
                    set_window(r, t, True)
            start_high = high
        elif kind == 5:
            high = _is_high(value)
            if high and not done_high and t_start is not None and t_done is None:
                t_done = t
                if window == "training":
                    set_window(r, t, False)
            done_high = high
        elif kind == 6:
            try:
                code = int(value, 2)
            except ValueError:
                code = -1
            new_name = PHASES.get(code, _UNKNOWN if code < 0 else f"phase{code}")
            if new_name == phase_name:
                return
            flush_all(r, t)
            phase_name = new_name
            if in_window:
                switch(r, bucket_of.setdefault(phase_name, len(bucket_of) + 1))
                entries[phase_name] = entries.get(phase_name, 0) + 1
                if code in _PROGRAM or code == _READ:
                    pending_entry = code
        elif kind == 7:
            try:
                sel_bits = int(value, 2)
            except ValueError:
                sel_bits = 0
        elif kind == 8:
            for kind2, e2 in aliased[e]:
                other(kind2, e2, r, t, value)

    index = {ident: k for k, ident in enumerate(cols.ids)}
    n_ids = len(cols.ids)
    control = [index[i] for i, rs in roles.items() if any(kind >= 4 for kind, _ in rs)]
    c_rows = cols.rows_of(control)
    t_block = 0
    for row, t, k, text in zip(
        c_rows.tolist(),
        cols.t[c_rows].tolist(),
        cols.ident[c_rows].tolist(),
        cols.texts(c_rows),
        strict=True,
    ):
        if t != t_block:
            close_block()
            t_block = t
        kind, e = role_of[cols.ids[k]]
        other(kind, e, row, t, text)
    n_changes = len(cols)
    t_last_change = int(cols.t[-1]) if n_changes else 0
    close_block()
    t_end = cols.t_end
    flush_all(n_changes, t_end)

    # The elements' v and i: one entry per (change, role), integrated with NumPy.
    vi: dict[int, list[tuple[int, int]]] = {}
    xg: list[list[Any]] = [[None] * n_el, [None] * n_el]  # floats (strings if not real)
    xg_ids = [index[i] for i, rs in roles.items() if any(2 <= kind <= 3 for kind, _ in rs)]
    xg_rows = cols.rows_of(xg_ids)
    last_row = np.full(n_ids, -1, np.int64)
    np.maximum.at(last_row, cols.ident[xg_rows], xg_rows)
    final: list[tuple[int, int, int]] = []  # (kind, element, row) of the last x and g
    for ident, rs in roles.items():
        k = index[ident]
        for kind, e in rs:
            if kind <= 1:
                vi.setdefault(k, []).append((kind, e))
            elif kind <= 3 and last_row[k] >= 0:
                final.append((kind, e, int(last_row[k])))
    last_values = _values(cols, np.array([r for _, _, r in final], np.int64))
    for (kind, e, _), value in zip(final, last_values, strict=True):
        xg[kind - 2][e] = value
    n_roles = np.zeros(n_ids, np.int64)
    role_kind: list[int] = []
    role_el: list[int] = []
    role_at = np.zeros(n_ids, np.int64)
    for k, rs in vi.items():
        n_roles[k] = len(rs)
        role_at[k] = len(role_kind)
        role_kind += [kind for kind, _ in rs]
        role_el += [e for _, e in rs]
    rows = np.flatnonzero(n_roles[cols.ident] > 0)
    values = cols.reals(rows)
    per = n_roles[cols.ident[rows]]
    which = np.repeat(role_at[cols.ident[rows]] - (np.cumsum(per) - per), per) + np.arange(
        int(per.sum())
    )
    entry_rows = np.repeat(rows, per)
    cuts = Cuts(
        row=np.array(cut_row, np.int64),
        t=np.array(cut_t, np.int64),
        bucket=np.array(cut_b, np.int64),
        switch_row=np.array(sw_row, np.int64),
        switch_bucket=np.array(sw_b, np.int64),
        first_bucket=first_bucket,
    )
    energy = integrate(
        np.array(role_el, np.int64)[which],
        np.array(role_kind, np.int64)[which] == 1,
        entry_rows,
        cols.t[entry_rows],
        np.repeat(values, per),
        cuts,
        n_el,
        len(bucket_of) + 1,
    )
    buckets = {name: energy[b].tolist() for name, b in bucket_of.items()}
    if window == "training" and t_start is None:
        notes.append("window 'training': no rise of the start signal, nothing measured")
    elif window == "training" and t_done is None:
        notes.append("window 'training': done never rose, measured up to the end of the file")

    if t_end * tick_s > ABSURD_END_S or (t_last_change > 0 and t_end > 1000 * t_last_change):
        notes.append(
            f"warning: the record ends at {t_end * tick_s:.4g} s, after changes up to "
            f"{t_last_change * tick_s:.4g} s: an absurd final time stamp? energies and phase "
            "times integrate the held values up to it"
        )
    report = Report(
        vcd=str(path), window=window, t_end_s=t_end * tick_s, n_changes=n_changes, notes=notes
    )
    if t_start is not None:
        report.t_start_s = t_start * tick_s
    if t_done is not None:
        report.t_done_s = t_done * tick_s
        report.training_time_s = (t_done - t_start) * tick_s  # type: ignore[operator]
    elif v_start is not None and v_done is not None:
        notes.append("no start → done sequence in the VCD: training time not measured")
    report.time_by_phase_s = {k: n * tick_s for k, n in time_by_phase.items()}
    report.phase_entries = entries
    if not has_analog:
        return report
    n_dev = len(devices)
    for d, name in enumerate(devices):
        by_phase = {k: b[d] * tick_s for k, b in buckets.items()}
        report.devices[name] = DeviceReport(
            energy_J=sum(by_phase.values()),
            energy_by_phase_J=by_phase,
            pulses=sum(pulses[d].values()),
            pulses_by_phase=dict(pulses[d]),
            reads=reads[d],
            x=xg[0][d],
            g_S=xg[1][d],
            i2_A2s=sum(b[n_real + d] for b in buckets.values()) * tick_s,
        )
    report.energy_by_phase_J = {k: sum(b[:n_dev]) * tick_s for k, b in buckets.items()}
    report.energy_device_J = sum(report.energy_by_phase_J.values()) if n_dev else None
    for s, name in enumerate(supplies):
        report.supplies[name] = sum(b[n_dev + s] for b in buckets.values()) * tick_s
    n_sup = len(supplies)
    if supplies:
        report.energy_supply_by_phase_J = {
            k: sum(b[n_dev : n_dev + n_sup]) * tick_s for k, b in buckets.items()
        }
        report.energy_J = sum(report.supplies.values())
    else:
        notes.append(f"no {scope}.supply.* signals: whole-circuit energy not measured")
    note_non_finite(report)
    return report


def _values(cols: Columns, rows: Any) -> list[float | str]:
    """Values of ``rows``: floats for real variables, else the VCD strings."""
    real = cols.id_kind[cols.ident[rows]] == KIND_REAL
    texts = cols.texts(rows)
    return [float(x) if r else x for x, r in zip(texts, real.tolist(), strict=True)]
