"""``cosim plot``: waveforms from a VCD as a PNG (matplotlib, Agg canvas).

* ``--device NAME``: the device's V, I and x over time (steps: VCD values hold until their
  next change), with the controller phases shaded when ``<top>.phase`` exists.
* ``--programming``: every device's conductance ``g`` (or state ``x`` if no ``g`` was
  recorded) over time.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cosim.analysis.metrics import PHASES
from cosim.cli.common import PLOT_SUFFIXES
from cosim.errors import UsageError
from cosim.run.outdir import atomic_file, check_output_file
from cosim.waves.read import VcdHeader, closest_names, read_header, read_traces, seekable_vcd

__all__ = ["add_parser", "plot_device", "plot_programming", "run"]

_PHASE_COLORS = {
    "reset": "tab:red",
    "write": "tab:green",
    "erase": "tab:orange",
    "read": "tab:blue",
    "infer": "tab:purple",
}


def add_parser(subparsers: Any) -> None:
    """Register ``cosim plot`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "plot",
        help="plot a device's V, I, x or all devices' programming from a VCD",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "vcd", metavar="FILE.vcd", help="VCD file with an analog scope (- for standard input)"
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--device", help="device name, e.g. w1_0_0")
    what.add_argument(
        "--programming", action="store_true", help="all devices' conductance (or x) vs time"
    )
    p.add_argument("--out", type=Path, required=True, help="output PNG")
    p.add_argument("--scope", default="analog", help="analog scope (default analog)")
    p.add_argument("--top", default="xbar_top", help="digital top scope (default xbar_top)")


def _devices(header: VcdHeader, scope: str) -> list[str]:
    names = header.by_name()
    prefix = scope + "."
    return sorted(
        {
            n[len(prefix) :].split(".")[0]
            for n in names
            if n.startswith(prefix) and n.count(".") == scope.count(".") + 2
        }
        - {"supply", "neuron", "selected"}
    )


def _phase_spans(
    t_s: Sequence[float], values: Sequence[Any], t_end_s: float
) -> list[tuple[float, float, str]]:
    spans = []
    for k, (t0, val) in enumerate(zip(t_s, values, strict=True)):
        t1 = t_s[k + 1] if k + 1 < len(t_s) else t_end_s
        try:
            name = PHASES.get(int(val, 2), "")
        except ValueError:
            continue
        if name in _PHASE_COLORS and t1 > t0:
            spans.append((t0, t1, name))
    return spans


def _figure(n_rows: int) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.2 * n_rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _steps(ax: Any, t_s: list[float], vals: list[Any], t_end_s: float, **kw: Any) -> None:
    if t_s:
        ax.step([*t_s, t_end_s], [*vals, vals[-1]], where="post", **kw)


def plot_device(
    vcd_path: str | Path,
    device: str,
    out: str | Path,
    *,
    scope: str = "analog",
    top: str = "xbar_top",
) -> Path:
    """PNG of one device's V, I and x (phases shaded when the VCD has ``<top>.phase``).

    Raises:
        UnknownSignalError: no such device (message lists the devices of ``scope``).
    """
    header = read_header(vcd_path)
    devices = _devices(header, scope)
    if device not in devices:
        raise UsageError(
            f"{vcd_path}: no device {device!r} under {scope!r}; devices: "
            f"{closest_names(device, devices) if devices else 'none'}"
        )
    names = header.by_name()
    quantities = [
        (q, label)
        for q, label in (("v", "V (V)"), ("i", "I (A)"), ("x", "x"), ("g", "G (S)"))
        if f"{scope}.{device}.{q}" in names
    ]
    wanted = [f"{scope}.{device}.{q}" for q, _ in quantities]
    phase = f"{top}.phase"
    has_phase = phase in names
    traces, t_end_s = read_traces(vcd_path, wanted + ([phase] if has_phase else []))
    spans = _phase_spans(*traces[phase], t_end_s) if has_phase else []
    fig, axes = _figure(len(quantities))
    for ax, (q, label) in zip(axes, quantities, strict=True):
        t, vals = traces[f"{scope}.{device}.{q}"]
        _steps(ax, t, vals, t_end_s, color="k", lw=0.8)
        ax.set_ylabel(label)
        seen: set[str] = set()
        for t0, t1, name in spans:
            ax.axvspan(
                t0,
                t1,
                color=_PHASE_COLORS[name],
                alpha=0.15,
                lw=0,
                label=None if name in seen or ax is not axes[0] else name,
            )
            seen.add(name)
    if spans:
        axes[0].legend(loc="upper right", fontsize="small", ncols=len(_PHASE_COLORS))
    axes[0].set_title(f"{device} — {Path(vcd_path).name}")
    axes[-1].set_xlabel("time (s)")
    out = Path(out)
    fig.savefig(out, dpi=110)
    return out


def _targets_beside(vcd_path: str | Path) -> dict[str, float]:
    """Target conductances from the ``summary.json`` of a ``cosim sim`` run, if beside the VCD."""
    summary = Path(vcd_path).with_name("summary.json")
    if not summary.is_file():
        return {}
    devices = json.loads(summary.read_text()).get("devices", {})
    return {n: d["g_target_S"] for n, d in devices.items() if d.get("programmed", True)}


def plot_programming(
    vcd_path: str | Path,
    out: str | Path,
    *,
    scope: str = "analog",
    targets: Mapping[str, float] | None = None,
) -> Path:
    """PNG of every device's conductance (``g``, or state ``x`` if no ``g``) over time.

    With target conductances (default: from a ``summary.json`` beside the VCD) a second panel
    shows each device's relative error ``|G/G_target − 1|``, converging into the verify window.

    Raises:
        UsageError: the VCD has no devices under ``scope``.
    """
    header = read_header(vcd_path)
    names = header.by_name()
    devices = _devices(header, scope)
    q = "g" if any(f"{scope}.{d}.g" in names for d in devices) else "x"
    wanted = [f"{scope}.{d}.{q}" for d in devices if f"{scope}.{d}.{q}" in names]
    if not wanted:
        raise UsageError(f"{vcd_path}: no device with 'g' or 'x' under scope {scope!r}")
    traces, t_end_s = read_traces(vcd_path, wanted)
    targets = dict(_targets_beside(vcd_path) if targets is None else targets)
    if q != "g":
        targets = {}
    fig, axes = _figure(2 if targets else 1)
    for name in wanted:
        t, vals = traces[name]
        layer = "tab:blue" if ".w1_" in name else "tab:red"
        _steps(axes[0], t, vals, t_end_s, color=layer, lw=0.7, alpha=0.8)
        device = name.split(".")[-2]
        if device in targets and t:
            g_t = targets[device]
            axes[0].axhline(g_t, color=layer, lw=0.4, ls=":", alpha=0.5)
            err = [abs(float(v) / g_t - 1.0) * 100 + 1e-3 for v in vals]
            _steps(axes[1], t, err, t_end_s, color=layer, lw=0.7, alpha=0.8)
    axes[0].set_ylabel("G (S)" if q == "g" else "state x")
    title = f"programming of {len(wanted)} devices (blue: layer 1, red: layer 2)"
    if targets:
        title += "; dotted: targets"
        axes[1].set_yscale("log")
        axes[1].set_ylabel("|G/G_target − 1| (%)")
    axes[0].set_title(title)
    axes[-1].set_xlabel("time (s)")
    out = Path(out)
    fig.savefig(out, dpi=110)
    return out


def run(args: argparse.Namespace) -> int:
    """Execute ``cosim plot``; returns 0 and prints the path of the file written.

    ``FILE.vcd`` may be ``-`` (standard input) or a pipe; ``--out`` must end in .png, .pdf
    or .svg, and an earlier file of that name is replaced only once the new one is complete.
    """
    out_path = check_output_file(args.out, "--out", PLOT_SUFFIXES)
    with seekable_vcd(args.vcd) as vcd, atomic_file(out_path) as tmp:
        if args.programming:
            plot_programming(vcd, tmp, scope=args.scope)
        else:
            plot_device(vcd, args.device, tmp, scope=args.scope, top=args.top)
    print(out_path)
    return 0
