"""``cosim plot``: waveforms from a VCD as a PNG (matplotlib, Agg canvas).

* ``--device NAME``: the device's V, I, x and G over time (steps: VCD values hold until their
  next change), by default over the device's own programming window (first select to last
  deselect), with the controller phases shaded; with a ``summary.json`` beside the VCD, the
  target conductance, the verify window (the ADC-code window through the read path) and a
  FAILED mark.
* ``--programming``: every device's conductance ``g`` (or state ``x`` if no ``g`` was
  recorded) over time, each labelled with its name.

Axes carry SI prefixes (µs, mS); ``--t-start``/``--t-stop`` take units (``40ms``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cosim.analysis.metrics import PHASES
from cosim.analysis.selected import selected_index, topology_of
from cosim.cli.common import PLOT_SUFFIXES, quantity
from cosim.errors import UsageError
from cosim.harness.policy import verify_window
from cosim.run.outdir import atomic_file, check_output_file
from cosim.waves.read import VcdHeader, closest_names, read_header, read_traces, seekable_vcd

__all__ = ["add_parser", "device_window", "plot_device", "plot_programming", "run"]

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
    p.add_argument(
        "--t-start",
        type=quantity("s", minimum=0.0),
        default=None,
        metavar="TIME",
        help="left end of the time axis, e.g. 500us (default: --device: the device's own "
        "programming window; --programming: 0)",
    )
    p.add_argument(
        "--t-stop",
        type=quantity("s", minimum=0.0),
        default=None,
        metavar="TIME",
        help="right end of the time axis, e.g. 40ms (default: as --t-start)",
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


def _si_axes(axes: Sequence[Any], units: Sequence[str]) -> None:
    """SI-prefixed tick labels (``µs``, ``mS``) on every y axis and the shared time axis."""
    from matplotlib.ticker import EngFormatter

    for ax, unit in zip(axes, units, strict=True):
        ax.yaxis.set_major_formatter(EngFormatter(unit=unit, places=None, sep=" "))
    axes[-1].xaxis.set_major_formatter(EngFormatter(unit="s", sep=" "))


def _select_windows(
    vcd_path: str | Path, top: str, names: Mapping[str, Any]
) -> dict[int, tuple[float, float]]:
    """Per device index: first time its select bit rose and last time it fell (s)."""
    sel = f"{top}.sel"
    if sel not in names:
        return {}
    traces, t_end_s = read_traces(vcd_path, [sel])
    windows: dict[int, tuple[float, float]] = {}
    current: int | None = None
    for t, value in zip(*traces[sel], strict=True):
        k = selected_index(value)
        if current is not None and k != current:
            windows[current] = (windows[current][0], t)
        if k is not None and k != current:
            windows[k] = (windows.get(k, (t, t))[0], t_end_s)
        current = k
    return windows


def device_window(
    vcd_path: str | Path, device: str, *, scope: str = "analog", top: str = "xbar_top"
) -> tuple[float, float] | None:
    """A device's programming window (s): from its select bit's first rise to its last fall
    (the end of the file while still selected); None if it was never selected."""
    names = read_header(vcd_path).by_name()
    topo = topology_of(names, scope)
    k = topo.parse_device(device) if topo is not None else None
    return None if k is None else _select_windows(vcd_path, top, names).get(k)


def _limits(
    t_start: float | None, t_stop: float | None, default: tuple[float, float] | None
) -> tuple[float, float] | None:
    if t_start is None and t_stop is None and default is not None:
        t0, t1 = default
        pad = 0.03 * (t1 - t0)
        return max(0.0, t0 - pad), t1 + pad
    if t_start is None and t_stop is None:
        return None
    lo = 0.0 if t_start is None else t_start
    hi = default[1] if t_stop is None and default else t_stop
    if hi is not None and hi <= lo:
        raise UsageError(f"--t-stop ({hi:g} s) must lie after --t-start ({lo:g} s)")
    return lo, hi if hi is not None else lo + 1.0


def _run_summary(vcd_path: str | Path) -> dict[str, Any]:
    """The ``summary.json`` and ``host.json`` of a run, when beside the VCD ({} otherwise)."""
    here = Path(vcd_path).parent
    out: dict[str, Any] = {}
    for name in ("summary", "host"):
        path = here / f"{name}.json"
        if path.is_file():
            try:
                out[name] = json.loads(path.read_text())
            except ValueError:
                continue
    return out


def plot_device(
    vcd_path: str | Path,
    device: str,
    out: str | Path,
    *,
    scope: str = "analog",
    top: str = "xbar_top",
    t_start: float | None = None,
    t_stop: float | None = None,
) -> Path:
    """PNG of one device's V, I, x and G with the phases shaded.

    The time axis spans ``t_start``…``t_stop`` (s), by default the device's own programming
    window (from its first select to its last deselect; the whole file if it was never
    selected).  With the run's ``summary.json``/``host.json`` beside the VCD the G panel shows
    the target, the verify window and, for a device the controller flagged failed, a FAILED
    mark.

    Raises:
        UsageError: no such device (message lists the devices of ``scope``), or a bad window.
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
        (q, label, unit)
        for q, label, unit in (("v", "V", "V"), ("i", "I", "A"), ("x", "x", ""), ("g", "G", "S"))
        if f"{scope}.{device}.{q}" in names
    ]
    wanted = [f"{scope}.{device}.{q}" for q, _, _ in quantities]
    phase = f"{top}.phase"
    has_phase = phase in names
    traces, t_end_s = read_traces(vcd_path, wanted + ([phase] if has_phase else []))
    run = _run_summary(vcd_path)
    info = run.get("summary", {}).get("devices", {}).get(device, {})
    limits = _limits(t_start, t_stop, device_window(vcd_path, device, scope=scope, top=top))
    topo = topology_of(names, scope)
    k = topo.parse_device(device) if topo is not None else None
    spans = _phase_spans(*traces[phase], t_end_s) if has_phase else []
    fig, axes = _figure(len(quantities))
    for ax, (q, label, _) in zip(axes, quantities, strict=True):
        t, vals = traces[f"{scope}.{device}.{q}"]
        _steps(ax, t, vals, t_end_s, color="k", lw=0.8)
        ax.set_ylabel(label)
        seen: set[str] = set()
        for t0, t1, name in spans:
            if limits is not None and (t1 < limits[0] or t0 > limits[1]):
                continue
            ax.axvspan(
                t0,
                t1,
                color=_PHASE_COLORS[name],
                alpha=0.15,
                lw=0,
                label=None if name in seen or ax is not axes[0] else name,
            )
            seen.add(name)
        if q == "g" and "g_target_S" in info:
            _target_band(ax, info["g_target_S"], run, k)
    if spans:
        axes[0].legend(loc="upper right", fontsize="small", ncols=len(_PHASE_COLORS))
    title = f"{device} — {Path(vcd_path).name}"
    if info.get("programmed") and not info.get("ok", True):
        title += "  —  FAILED (flagged by the controller)"
        for ax in axes:
            ax.set_facecolor("#fff0f0")
    axes[0].set_title(title, color="tab:red" if "FAILED" in title else "black")
    if limits is not None:
        axes[-1].set_xlim(*limits)
        for ax, (q, _, _) in zip(axes, quantities, strict=True):
            _autoscale_y(ax, traces[f"{scope}.{device}.{q}"], limits)
    _si_axes(axes, [unit for _, _, unit in quantities])
    axes[-1].set_xlabel("time")
    out = Path(out)
    fig.savefig(out, dpi=110)
    return out


def _target_band(ax: Any, g_target: float, run: Mapping[str, Any], k: int | None) -> None:
    """The target conductance and the verify window: the ADC-code window ``±w`` around the
    target code is a read-current window ``I_t·(1 ± w/code)``, i.e. conductances with
    ``1/G = (R + 1/G_t)/(1 ± w/code) − R`` through the read path ``R`` (``read_path_ohm``)."""
    ax.axhline(g_target, color="tab:green", lw=1.0, ls="--", label="target")
    host, r_path = run.get("host", {}), run.get("summary", {}).get("read_path_ohm")
    codes = host.get("target_codes")
    if k is not None and codes and k < len(codes) and codes[k] > 0 and r_path is not None:
        tol, shift = int(host.get("tolerance", 0)), int(host.get("tolerance_shift", 0))
        rel = verify_window(int(codes[k]), tol, shift) / codes[k]
        a = float(r_path) + 1.0 / g_target
        lo, hi = (1.0 / (a / (1.0 + s * rel) - float(r_path)) for s in (-1.0, 1.0))
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, lw=0, label="verify window")
    ax.legend(loc="lower right", fontsize="small")


def _autoscale_y(
    ax: Any, trace: tuple[list[float], list[Any]], limits: tuple[float, float]
) -> None:
    """Fit the y axis to the part of the trace inside the time window (and the target)."""
    t, vals = trace
    inside = [float(v) for tk, v in zip(t, vals, strict=True) if limits[0] <= tk <= limits[1]]
    before = [float(v) for tk, v in zip(t, vals, strict=True) if tk < limits[0]][-1:]
    ys = inside + before
    lo, hi = ax.get_ylim()
    for line in ax.get_lines()[1:]:  # target lines
        ys += [float(y) for y in line.get_ydata()]
    if ys:
        lo, hi = min(ys), max(ys)
        pad = 0.08 * (hi - lo) or 0.05 * abs(hi) or 1e-12
        ax.set_ylim(lo - pad, hi + pad)


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
    top: str = "xbar_top",
    targets: Mapping[str, float] | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
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
    fig.set_size_inches(11, fig.get_size_inches()[1] + 1.0)
    windows = _select_windows(vcd_path, top, names)
    topo = topology_of(names, scope)
    for name in wanted:
        t, vals = traces[name]
        layer = "tab:blue" if ".w1_" in name else "tab:red"
        _steps(axes[0], t, vals, t_end_s, color=layer, lw=0.7, alpha=0.8)
        device = name.split(".")[-2]
        k = topo.parse_device(device) if topo is not None else None
        if t and k in windows:
            # The name of each programmed device where its programming ends.
            t_label = windows[k][1]
            y = float(vals[max(0, sum(tk <= t_label for tk in t) - 1)])
            axes[0].annotate(
                device,
                (t_label, y),
                fontsize=6,
                color=layer,
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
            )
        if device in targets and t:
            g_t = targets[device]
            axes[0].axhline(g_t, color=layer, lw=0.4, ls=":", alpha=0.5)
            err = [abs(float(v) / g_t - 1.0) + 1e-5 for v in vals]
            _steps(axes[1], t, err, t_end_s, color=layer, lw=0.7, alpha=0.8)
    axes[0].set_ylabel("G" if q == "g" else "state x")
    title = f"programming of {len(wanted)} devices (blue: layer 1, red: layer 2)"
    if targets:
        title += "; dotted: targets"
        axes[1].set_yscale("log")
        axes[1].set_ylabel("|G/G_target − 1|")
    axes[0].set_title(title)
    limits = _limits(t_start, t_stop, None)
    if limits is not None:
        axes[-1].set_xlim(*limits)
    from matplotlib.ticker import EngFormatter, PercentFormatter

    axes[0].yaxis.set_major_formatter(EngFormatter(unit="S" if q == "g" else "", sep=" "))
    if targets:
        axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[-1].xaxis.set_major_formatter(EngFormatter(unit="s", sep=" "))
    axes[-1].set_xlabel("time")
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
        window = {"t_start": args.t_start, "t_stop": args.t_stop}
        if args.programming:
            plot_programming(vcd, tmp, scope=args.scope, top=args.top, **window)
        else:
            plot_device(vcd, args.device, tmp, scope=args.scope, top=args.top, **window)
    print(out_path)
    return 0
