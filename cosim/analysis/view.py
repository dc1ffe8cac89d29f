"""The curated GTKWave view of a co-simulation run (``training.gtkw``).

Built from the harness contract, not from a list of names: the network's shape from the
analog devices in the file (:func:`cosim.analysis.selected.topology_of`), the phase names
from the register header (``PHASE_*`` of ``hdl/xbar_regs.vh``), the device names from
:class:`cosim.topology.Topology`.  It shows, in groups:

* **control** — ``phase`` by name (translate filter ``phase.txt``), ``start``, ``busy``,
  ``done``, ``cur_dev`` by device name (``devices.txt``), ``sel``, ``adc_sample``, ``v_prog``;
* **selected device** — which device is selected, and its V, I, x, G (derived traces,
  :mod:`cosim.analysis.selected`): one set of rows follows programming across all devices;
* optionally one named device's own V, I, x, G;
* **neurons** — ``h0`` … and ``out`` by name;
* **supplies** — the programming bus's V and I, the op-amp rails' currents;
* **inputs** (closed) — the input DACs.

Analog rows are several rows tall and drawn as steps.  The view opens on the first
programmed device's first write–verify cycle; a named marker (GTKWave has 26) marks the start
of each device's programming.  The filter files are written beside the save file; every path
in it is relative.  The same rows go to a Surfer command file (``training.sucl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cosim.analysis.selected import QUANTITIES, SELECTED, selected_index, topology_of
from cosim.harness.contract import contract
from cosim.harness.regmap import load_register_map
from cosim.topology import DEFAULT, Topology
from cosim.waves.columns import header_of, read_columns
from cosim.waves.gtkw import Group, Row, View, write_gtkw, write_translate_filter
from cosim.waves.read import UnknownSignalError, closest_names
from cosim.waves.surfer import write_surfer_commands

__all__ = ["PHASE_FILTER", "DEVICE_FILTER", "Timeline", "phase_names", "scan", "write_view"]

PHASE_FILTER = "phase.txt"
DEVICE_FILTER = "devices.txt"
_LABEL = {"v": "V", "i": "I", "x": "x", "g": "G"}
_HEIGHT = {"v": 4, "i": 4, "x": 3, "g": 4}


def phase_names() -> dict[int, str]:
    """Phase code → name (``2 → "WRITE"``) from the ``PHASE_*`` constants of the register map."""
    regs = load_register_map()
    return {v: k[len("PHASE_") :] for k, v in regs.values.items() if k.startswith("PHASE_")}


@dataclass
class Timeline:
    """When things happen in a run (seconds), from the phase and select signals.

    Attributes:
        starts: per device index, the time its select bit first rose (programming start).
        first_cycle: ``(start, end)`` of the first write–verify cycle of the first programmed
            device: from its first write or erase pulse to the end of the read that follows.
        t_end: end of the recording.
    """

    starts: dict[int, float] = field(default_factory=dict)
    first_cycle: tuple[float, float] | None = None
    t_end: float = 0.0


def scan(vcd_path: str | Path, *, top: str = "xbar_top") -> Timeline:
    """Find programming starts and the first write–verify cycle (from two signals)."""
    cols = read_columns(vcd_path)
    names = cols.header.by_name()
    phase, sel = names.get(f"{top}.phase"), names.get(f"{top}.sel")
    if phase is None or sel is None:
        return Timeline()
    timeline = Timeline(t_end=cols.t_end * cols.header.tick_s)
    codes = {name: code for code, name in phase_names().items()}
    pulse = {codes.get("WRITE"), codes.get("ERASE")} - {None}
    read = codes.get("READ")
    tick = cols.header.tick_s
    index = {ident: k for k, ident in enumerate(cols.ids)}
    rows = cols.rows_of([index[phase.id], index[sel.id]])
    cur_phase: int | None = None
    pulse_at: float | None = None
    seen_read = False
    values = zip(cols.t[rows].tolist(), cols.ident[rows].tolist(), cols.texts(rows), strict=True)
    for t, k, text in values:
        if cols.ids[k] == sel.id:
            dev = selected_index(text)
            if dev is not None and dev not in timeline.starts:
                timeline.starts[dev] = t * tick
            continue
        new = int(text, 2) if text and text.strip("01") == "" else None
        if timeline.first_cycle is None and timeline.starts:
            if pulse_at is None and new in pulse:
                pulse_at = t * tick
            elif pulse_at is not None and new == read:
                seen_read = True
            elif pulse_at is not None and seen_read and cur_phase == read:
                timeline.first_cycle = (pulse_at, t * tick)
        cur_phase = new
    return timeline


def write_view(
    vcd_path: str | Path,
    gtkw_path: str | Path,
    *,
    device: str | None = None,
    top: str = "xbar_top",
    scope: str = "analog",
    scan_vcd: str | Path | None = None,
) -> Path:
    """Write the curated save file and its translate filters beside it.

    Args:
        vcd_path: the merged VCD (or FST) the view shows.
        gtkw_path: the save file to write (``phase.txt`` and ``devices.txt`` go beside it).
        device: also show this device's own traces.
        scan_vcd: a smaller file with the same ``phase``/``sel`` changes (the digital dump) to
            find the window and markers in; default ``vcd_path``.

    Raises:
        UnknownSignalError: ``device`` is not a device in the file.
    """
    vcd_path, gtkw_path = Path(vcd_path), Path(gtkw_path)
    names = set(header_of(vcd_path).by_name())
    topo = topology_of(names, scope)
    devices = topo.device_names if topo is not None else ()
    if device is not None and device not in devices:
        raise UnknownSignalError(
            f"{vcd_path}: no device {device!r} in scope {scope!r}; "
            + (topo.describe_names() if topo else "the file records no devices")
            + f"; closest: {closest_names(device, devices, 4)}"
        )
    here = gtkw_path.parent
    write_translate_filter(here / PHASE_FILTER, {k: v for k, v in phase_names().items()})
    write_translate_filter(here / DEVICE_FILTER, dict(enumerate(devices)))
    timeline = scan(scan_vcd or vcd_path, top=top)
    window = timeline.first_cycle
    if window is not None:
        pad = 0.15 * (window[1] - window[0])
        window = (max(0.0, window[0] - pad), window[1] + pad)
    elif timeline.t_end > 0:
        window = (0.0, timeline.t_end)
    markers = [
        (t, devices[k] if k < len(devices) else f"device {k}")
        for k, t in sorted(timeline.starts.items(), key=lambda kv: kv[1])
    ]
    view = View(
        groups=_groups(topo, top, scope, device),
        window_s=window,
        markers=markers,
        comment=f"cosim: {vcd_path.name}" + (f", device {device}" if device else ""),
    )
    write_surfer_commands(vcd_path, gtkw_path.with_suffix(".sucl"), view)
    return write_gtkw(vcd_path, gtkw_path, view)


def _groups(topo: Topology | None, top: str, scope: str, device: str | None) -> list[Group]:
    c = contract(topo or DEFAULT)  # the harness's port names
    control = [
        Row(f"{top}.{c.phase}", c.phase, "dec", translate=PHASE_FILTER),
        Row(f"{top}.{c.start}", c.start, "bin"),
        Row(f"{top}.{c.busy}", c.busy, "bin"),
        Row(f"{top}.{c.done}", c.done, "bin"),
        Row(f"{top}.{c.cur_dev}", c.cur_dev, "dec", translate=DEVICE_FILTER),
        Row(f"{top}.{c.select}", c.select, "hex"),
        Row(f"{top}.{c.strobe}", c.strobe, "bin"),
        Row(f"{top}.{c.prog_dac}", c.prog_dac, "real", analog_rows=3),
    ]
    sel = f"{scope}.{SELECTED}"
    selected = [Row(f"{sel}.dev", "device", "dec", translate=DEVICE_FILTER)]
    selected += [Row(f"{sel}.{q}", _LABEL[q], "real", _HEIGHT[q]) for q in QUANTITIES]
    groups = [Group("control", control), Group("selected device", selected)]
    if device is not None:
        own = [Row(f"{scope}.{device}.{q}", _LABEL[q], "real", _HEIGHT[q]) for q in QUANTITIES]
        groups.append(Group(f"device {device}", own))
    if topo is not None:
        neurons = [Row(f"{scope}.neuron.{n}.v", n, "real", 3) for n in topo.neuron_names]
        groups.append(Group("neurons", neurons))
    supplies = [
        Row(f"{scope}.supply.prog.v", "prog V", "real", 3),
        Row(f"{scope}.supply.prog.i", "prog I", "real", 3),
        Row(f"{scope}.supply.vdd.i", "vdd I", "real", 2),
        Row(f"{scope}.supply.vss.i", "vss I", "real", 2),
    ]
    groups.append(Group("supplies", supplies))
    if topo is not None:
        inputs = [Row(f"{scope}.supply.{n}.v", n, "real", 2) for n in topo.input_names]
        groups.append(Group("inputs", inputs, closed=True))
    return groups
