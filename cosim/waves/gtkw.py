"""GTKWave save files (``.gtkw``): a generic view of a VCD — groups of named rows, tall analog
rows drawn as steps, translate filters, a time window and named markers.

What the rows *are* is decided by the caller (the crossbar's curated view is
:mod:`cosim.analysis.view`); this module only knows GTKWave's format.  Every path written into
the save file is relative to the save file's directory, so the output directory can move: open
it with ``gtkwave <dir>/<name>.gtkw`` from anywhere (GTKWave resolves a relative dump file
against the save file's location).  Rows naming signals the VCD does not have are left out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vcd.gtkw import GTKWFlag, GTKWSave, make_translation_filter

from cosim.waves.columns import header_of
from cosim.waves.read import VcdHeader, VcdVar

__all__ = ["Group", "Row", "View", "write_gtkw", "write_translate_filter"]

#: GTKWave has 26 named markers, ``A`` … ``Z``.
MAX_NAMED_MARKERS = 26
#: Width in pixels of the wave area of the window the save file asks for (1500 wide).
_WAVE_PX = 1150
#: GTKWave's zoom ``z`` shows ``2**-z / 200`` time units per pixel (measured on GTKWave
#: 3.3.118: zooms -16.4, -20 and -24 gave 459, 5.1e3 and 8.4e4 ps per pixel on a 1 ps VCD).
_ZOOM_UNITS = 200.0


@dataclass(frozen=True)
class Row:
    """One trace row.

    Attributes:
        name: full dotted VCD name (``xbar_top.phase``, ``analog.neuron.h0.v``).
        label: alias shown instead of the name (default: the name).
        fmt: GTKWave data format: ``bin``, ``dec``, ``hex``, ``signed`` or ``real``.
        analog_rows: > 0 draws the trace as an analog step plot that many rows tall.
        translate: translate filter file (a path relative to the save file) mapping values to
            names, e.g. phase codes to ``WRITE``.
    """

    name: str
    label: str | None = None
    fmt: str = "hex"
    analog_rows: int = 0
    translate: str | None = None


@dataclass(frozen=True)
class Group:
    """A named, collapsible group of rows."""

    name: str
    rows: Sequence[Row]
    closed: bool = False


@dataclass(frozen=True)
class View:
    """What a save file shows.

    Attributes:
        groups: the rows, in groups, top to bottom.
        window_s: ``(start, stop)`` of the initial view in seconds (None: from 0, GTKWave's
            default zoom).
        markers: ``(time_s, name)`` named markers (GTKWave keeps the first 26).
        comment: a line for the file's header.
    """

    groups: Sequence[Group]
    window_s: tuple[float, float] | None = None
    markers: Sequence[tuple[float, str]] = field(default_factory=tuple)
    comment: str = ""


def write_translate_filter(path: str | Path, names: Mapping[int, str], fmt: str = "dec") -> Path:
    """A GTKWave translate filter file: one ``<value> <name>`` line per entry.

    ``fmt`` must be the data format of the rows that use it (``dec`` here).
    """
    path = Path(path)
    text = make_translation_filter(sorted(names.items()), datafmt=fmt)
    path.write_text(text + "\n")
    return path


def write_gtkw(vcd_path: str | Path, gtkw_path: str | Path, view: View) -> Path:
    """Write a GTKWave save file showing ``view`` of ``vcd_path`` (any VCD or FST file).

    Returns:
        ``gtkw_path`` as a :class:`~pathlib.Path`.
    """
    vcd_path, gtkw_path = Path(vcd_path), Path(gtkw_path)
    header = header_of(vcd_path)
    names = header.by_name()
    here = gtkw_path.resolve().parent
    with open(gtkw_path, "w") as fh:
        save = GTKWSave(fh)
        if view.comment:
            save.comment(view.comment)
        save.dumpfile(_relative(vcd_path, here), abspath=False)
        save.savefile(gtkw_path.name, abspath=False)
        start, zoom = _zoom(header, view.window_s)
        save.timestart(start)
        save.size(1500, 900)
        markers = list(view.markers)[:MAX_NAMED_MARKERS]
        letters = "abcdefghijklmnopqrstuvwxyz"
        ticks = {letters[k]: round(t / header.tick_s) for k, (t, _) in enumerate(markers)}
        save.zoom_markers(zoom, -1, **ticks)
        for k, (_, label) in enumerate(markers):
            fh.write(f"[markername] {letters[k].upper()}{label}\n")
        save.signals_width(240)
        save.sst_expanded(False)
        tops = sorted({v.name.split(".", 1)[0] for v in header.vars})
        for top in tops:
            save.treeopen(f"{top}.")
        for group in view.groups:
            present = [(row, names[row.name]) for row in group.rows if row.name in names]
            if not present:
                continue
            with save.group(group.name, closed=group.closed):
                for row, var in present:
                    _row(save, row, var)
    return gtkw_path


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start)


def _zoom(header: VcdHeader, window_s: tuple[float, float] | None) -> tuple[int, float]:
    """``[timestart]`` (ticks) and GTKWave's zoom (log2 of pixels per tick) for a window."""
    if window_s is None:
        return 0, 0.0
    t0, t1 = window_s
    start = max(0, round(t0 / header.tick_s))
    span = max(1.0, (t1 - t0) / header.tick_s)
    return start, -math.log2(_ZOOM_UNITS * span / _WAVE_PX)


def _row(save: GTKWSave, row: Row, var: VcdVar) -> None:
    flags = GTKWFlag.none
    fmt = row.fmt
    if row.analog_rows > 0:
        flags = GTKWFlag.analog_step | GTKWFlag.analog_fullscale
        fmt = "real" if var.is_real else fmt
    save.trace(
        row.name + var.range,
        alias=row.label,
        datafmt=fmt,
        extraflags=flags,
        translate_filter_file=row.translate,
    )
    for _ in range(row.analog_rows - 1):
        save.blank(analog_extend=True)
