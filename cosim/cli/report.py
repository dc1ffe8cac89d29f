"""``cosim report``: training time, energy and pulses measured from a VCD file.

Works on any VCD: the merged co-simulation file, an analog-only or a digital-only one (see
:mod:`cosim.analysis.metrics` and docs/energy.md).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from cosim.analysis.metrics import WINDOWS, Report, measure
from cosim.waves.read import seekable_vcd

__all__ = ["add_parser", "format_table", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``cosim report`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "report",
        help="training time, energy and pulses from a VCD file",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "vcd", metavar="FILE.vcd", help="VCD file (merged, analog or digital; - for stdin)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--start", default=None, help="start signal, full dotted name (default xbar_top.start)"
    )
    p.add_argument(
        "--done", default=None, help="done signal, full dotted name (default xbar_top.done)"
    )
    p.add_argument(
        "--scope", default="analog", help="analog scope holding devices and supply (default analog)"
    )
    p.add_argument("--phase", default=None, help="phase marker (default: <scope of start>.phase)")
    p.add_argument(
        "--window",
        choices=WINDOWS,
        default="all",
        help="energy, phase times and pulses over the whole file (all, default) or only "
        "from start to done (training)",
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "— (non-finite)"
    if value == 0:
        return f"0 {unit}"
    prefixes = ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""))
    scale, prefix = prefixes[0]
    for s, pre in prefixes:
        if abs(value) >= s:
            scale, prefix = s, pre
    return f"{value / scale:.4g} {prefix}{unit}"


def _window(report: Report) -> str:
    """The span the energies, phase times and pulses cover, in words."""
    if report.window == "training" and report.t_start_s is not None:
        end = report.t_done_s if report.t_done_s is not None else report.t_end_s
        return f"training: {_fmt(report.t_start_s, 's')} → {_fmt(end, 's')} (start → done)"
    return (
        f"all: 0 → {_fmt(report.t_end_s, 's')} (the whole file; --window training: "
        "start → done only)"
    )


def format_table(report: Report) -> str:
    """A human-readable summary of ``report``."""
    lines = [
        f"VCD            {report.vcd}",
        f"end of record  {_fmt(report.t_end_s, 's')}  ({report.n_changes} value changes)",
        f"window         {_window(report)}",
        f"training time  {_fmt(report.training_time_s, 's')}",
        f"device energy  {_fmt(report.energy_device_J, 'J')}",
        f"circuit energy {_fmt(report.energy_J, 'J')}  (from supplies)",
    ]
    phases = list(dict.fromkeys([*report.time_by_phase_s, *report.energy_by_phase_J]))
    if phases:
        lines += ["", f"{'phase':8} {'time':>12} {'device E':>12} {'circuit E':>12} {'entries':>8}"]
        for ph in phases:
            lines.append(
                f"{ph:8} {_fmt(report.time_by_phase_s.get(ph), 's'):>12} "
                f"{_fmt(report.energy_by_phase_J.get(ph), 'J'):>12} "
                f"{_fmt(report.energy_supply_by_phase_J.get(ph), 'J'):>12} "
                f"{report.phase_entries.get(ph, 0):>8}"
            )
    if report.supplies:
        lines += ["", "supply   energy"]
        lines += [f"{name:8} {_fmt(e, 'J')}" for name, e in report.supplies.items()]
    if report.devices:
        lines += ["", f"{'device':8} {'energy':>12} {'pulses':>7} {'reads':>6} {'x':>8} {'g':>12}"]
        for name, d in report.devices.items():
            x = "—" if d.x is None else f"{d.x:.4f}"
            lines.append(
                f"{name:8} {_fmt(d.energy_J, 'J'):>12} {d.pulses:>7} {d.reads:>6} {x:>8} "
                f"{_fmt(d.g_S, 'S'):>12}"
            )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Execute ``cosim report``; returns 0.

    Raises:
        cosim.waves.VcdNotFoundError, cosim.waves.VcdFormatError,
        cosim.waves.UnknownSignalError: see :func:`cosim.analysis.metrics.measure`.
    """
    with seekable_vcd(args.vcd) as vcd:
        report = measure(
            vcd,
            start=args.start,
            done=args.done,
            scope=args.scope,
            phase=args.phase,
            window=args.window,
        )
    if str(args.vcd) == "-":
        report.vcd = "-"
    print(report.to_json() if args.json else format_table(report))
    return 0
