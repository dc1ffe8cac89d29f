"""``cosim device``: drive one memristor with a sine, DC or pulse source and record V, I, x.

Two engines solve the same circuit (source → optional series resistor → device):
``ngspice`` (libngspice with the compiled Verilog-A model ``mss_memristor``) and ``numpy``
(the twin, :mod:`cosim.circuit.mss`).  The CSV has the header ``time_s,v_V,i_A,x`` (device voltage,
device current, state) with one row per ngspice accepted time point, or per point of the twin's
grid (the source breakpoints plus a uniform grid of step ``TMAX``).

Pulse trains are piecewise linear: pulse k starts at ``k·PERIOD``, rises in ``t_edge``, holds
``V`` until ``WIDTH`` after its start, and falls in ``t_edge`` (``t_edge = WIDTH/100``, at most
10 ns); both engines use the same breakpoints.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.backends.protocol import check_physical
from cosim.circuit import mss
from cosim.cli.common import PLOT_SUFFIXES, parse_quantity, quantity
from cosim.errors import UsageError
from cosim.run.outdir import atomic_file, check_output_file

__all__ = [
    "Source",
    "add_parser",
    "run",
    "parse_source",
    "tmax_s",
    "netlist",
    "run_ngspice",
    "run_numpy",
    "write_csv",
    "write_png",
]

ENGINES = ("ngspice", "numpy")
_MODEL_NAMES: tuple[str, ...] = ("r_on", "r_off", "v_on", "v_off", "tau", "t_eff", "phi")
_MODEL_NAMES += ("alpha_f", "alpha_r", "beta_f", "beta_r")


@dataclass(frozen=True)
class Source:
    """A drive waveform: ``kind`` is ``sine``, ``dc`` or ``pulse``; numbers in SI units."""

    kind: str
    amplitude_V: float
    freq_Hz: float = 0.0
    width_s: float = 0.0
    period_s: float = 0.0
    count: int = 0
    points: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_pwl(cls, t_s: ArrayLike, v_V: ArrayLike) -> Source:
        """An arbitrary piecewise-linear source (``kind == "pwl"``) from breakpoints."""
        t, v = np.asarray(t_s, dtype=float), np.asarray(v_V, dtype=float)
        if t.ndim != 1 or t.shape != v.shape or t.size < 2 or np.any(np.diff(t) < 0):
            raise UsageError("PWL source needs matching 1-D arrays, times non-decreasing")
        return cls("pwl", 0.0, points=tuple(zip(t.tolist(), v.tolist(), strict=True)))

    @property
    def edge_s(self) -> float:
        """Rise/fall time of a pulse (s)."""
        return min(self.width_s / 100.0, 10e-9)

    def pwl(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Breakpoints ``(t_s, v_V)`` of a pulse train (starting and ending at 0 V) or PWL."""
        if self.kind == "pwl":
            arr = np.array(self.points, dtype=float)
            return arr[:, 0], arr[:, 1]
        e, w, v = self.edge_s, self.width_s, self.amplitude_V
        starts = np.arange(self.count) * self.period_s
        t = np.stack([starts, starts + e, starts + w, starts + w + e], axis=1).ravel()
        vals = np.tile([0.0, v, v, 0.0], self.count)
        return t, vals

    def value(self, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Source voltage at times ``t_s``."""
        t = np.asarray(t_s, dtype=float)
        if self.kind == "sine":
            return self.amplitude_V * np.sin(2.0 * math.pi * self.freq_Hz * t)
        if self.kind == "dc":
            return np.full_like(t, self.amplitude_V)
        tp, vp = self.pwl()
        return np.interp(t, tp, vp)

    def spice(self) -> str:
        """The ngspice source specification."""
        if self.kind == "sine":
            return f"SIN(0 {self.amplitude_V!r} {self.freq_Hz!r})"
        if self.kind == "dc":
            return f"DC {self.amplitude_V!r}"
        tp, vp = self.pwl()
        pairs = [f"{float(t)!r} {float(v)!r}" for t, v in zip(tp, vp, strict=True)]
        rows = [" ".join(pairs[i : i + 6]) for i in range(0, len(pairs), 6)]
        return "PWL(\n+ " + "\n+ ".join(rows) + " )"


def _numbers(text: str, option: str, units: tuple[str, ...]) -> list[float]:
    """Comma-separated numbers, each with an optional SI prefix and its unit (``0.5V,100Hz``,
    ``1.2,5us,20us,10``); ``""`` in ``units`` is a plain count."""
    parts = text.split(",")
    if len(parts) != len(units):
        raise UsageError(f"{option} takes {len(units)} comma-separated numbers, got {text!r}")
    try:
        return [
            parse_quantity(part, unit) if unit else float(part)
            for part, unit in zip(parts, units, strict=True)
        ]
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def parse_source(
    sine: str | None, dc: str | None, pulse: str | None, t_stop_s: float | None = None
) -> Source:
    """Build a :class:`Source` from exactly one of the option strings.

    Raises:
        UsageError: none or several given, wrong count of numbers, or non-positive widths.
    """
    given = [name for name, val in (("--sine", sine), ("--dc", dc), ("--pulse", pulse)) if val]
    if len(given) != 1:
        raise UsageError(f"give exactly one of --sine, --dc, --pulse (got {given or 'none'})")
    if sine:
        amp, freq = _numbers(sine, "--sine AMP_V,FREQ_HZ", ("V", "Hz"))
        if freq <= 0:
            raise UsageError(f"--sine: frequency must be > 0 Hz, got {freq}")
        return Source("sine", amp, freq_Hz=freq)
    if dc:
        (v,) = _numbers(dc, "--dc V", ("V",))
        return Source("dc", v)
    assert pulse is not None
    v, width, period, count = _numbers(
        pulse, "--pulse V,WIDTH_S,PERIOD_S,COUNT", ("V", "s", "s", "")
    )
    if width <= 0 or period <= width * 1.02 or count < 1 or count != int(count):
        raise UsageError(
            "--pulse needs WIDTH_S > 0, PERIOD_S > 1.02·WIDTH_S and an integer COUNT >= 1, "
            f"got {pulse!r}"
        )
    return Source("pulse", v, width_s=width, period_s=period, count=int(count))


def tmax_s(source: Source, t_stop_s: float) -> float:
    """Maximum time step (s).

    1/400 of a sine period; 1/10 of a pulse width; for a PWL source 1/10 of the shortest
    segment longer than 1e-4·t_stop (edges are shorter); for DC t_stop/1000.  Never more than
    t_stop/200.
    """
    if source.kind == "sine":
        step = 1.0 / (400.0 * source.freq_Hz)
    elif source.kind == "pulse":
        step = source.width_s / 10.0
    elif source.kind == "pwl":
        tp, _ = source.pwl()
        gaps = np.diff(tp)
        step = float(np.min(gaps[gaps > 1e-4 * t_stop_s], initial=t_stop_s)) / 10.0
    else:
        step = t_stop_s / 1000.0
    return min(step, t_stop_s / 200.0)


def _model_line(card: Any) -> str:
    params = " ".join(f"{n}={float(getattr(card.model, n))!r}" for n in _MODEL_NAMES)
    return f".model mssdev mss_memristor {params}"


def netlist(card: Any, source: Source, t_stop_s: float, x0: float, r_series_ohm: float) -> str:
    """The ngspice netlist: ``Vsrc src 0`` → ``Rs`` (if > 0) → ``N1 dev 0`` (mss_memristor)."""
    top = "src" if r_series_ohm > 0 else "dev"
    lines = ["* cosim device", f"Vsrc {top} 0 {source.spice()}"]
    if r_series_ohm > 0:
        lines.append(f"Rs src dev {r_series_ohm!r}")
    lines += [f"N1 dev 0 mssdev x0={x0!r}", _model_line(card)]
    step = tmax_s(source, t_stop_s)
    lines += [".save v(dev) i(vsrc) v(n1#x)", f".tran {step!r} {t_stop_s!r} 0 {step!r}", ".end"]
    return "\n".join(lines)


def run_ngspice(
    card: Any, source: Source, t_stop_s: float, x0: float, r_series_ohm: float
) -> mss.Trajectory:
    """Simulate with libngspice and the compiled Verilog-A model; every accepted point."""
    from cosim.circuit import va
    from cosim.spice.ngspice import NgSpice

    osdi = va.compile_va(va.model_path("mss"))
    with NgSpice() as spice:
        spice.load_osdi(osdi)
        spice.load_circuit(netlist(card, source, t_stop_s, x0, r_series_ohm))
        spice.run()
        t = spice.vector("time")
        v = spice.vector("v(dev)")
        i = -spice.vector("i(vsrc)")
        x = spice.vector("v(n1#x)")
    return mss.Trajectory(time_s=t, v_V=v, i_A=i, x=x)


def run_numpy(
    card: Any,
    source: Source,
    t_stop_s: float,
    x0: float,
    r_series_ohm: float,
    t_s: NDArray[np.float64] | None = None,
) -> mss.Trajectory:
    """Simulate with the twin on ``t_s`` (default: breakpoints plus a uniform TMAX grid)."""
    if t_s is None:
        n = int(math.ceil(t_stop_s / tmax_s(source, t_stop_s))) + 1
        t_s = np.linspace(0.0, t_stop_s, n)
        if source.kind in ("pulse", "pwl"):
            tp, _ = source.pwl()
            t_s = np.union1d(t_s, tp[tp <= t_stop_s])
    p = mss.MSSArrays.from_params(card.model)
    return mss.simulate(p, x0, t_s, source.value(t_s), r_series_ohm)


def write_csv(path: Path, traj: mss.Trajectory) -> None:
    """Write ``time_s,v_V,i_A,x`` rows."""
    data = np.column_stack([traj.time_s, traj.v_V, traj.i_A, traj.x])
    np.savetxt(path, data, delimiter=",", header="time_s,v_V,i_A,x", comments="", fmt="%.12g")


def write_png(path: Path, traj: mss.Trajectory, title: str) -> None:
    """Draw the I-V loop and x(t) side by side (matplotlib, Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax_iv, ax_x = fig.subplots(1, 2)
    ax_iv.plot(traj.v_V, traj.i_A * 1e6, lw=1)
    ax_iv.set(xlabel="device voltage (V)", ylabel="device current (µA)", title="I-V")
    ax_iv.grid(True, alpha=0.3)
    ax_x.plot(traj.time_s * 1e3, traj.x, lw=1)
    ax_x.set(xlabel="time (ms)", ylabel="state x", title="x(t)", ylim=(-0.02, 1.02))
    ax_x.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)


def _state(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"state x0 must lie in [0, 1], got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``cosim device`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "device",
        help="drive one memristor (sine, DC or pulses) with ngspice or the NumPy twin",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sine", metavar="AMP_V,FREQ_HZ", help="sine source")
    src.add_argument("--dc", metavar="V", help="constant source")
    src.add_argument("--pulse", metavar="V,WIDTH_S,PERIOD_S,COUNT", help="pulse train")
    p.add_argument(
        "--card", required=True, help="device card name (va_models/cards/NAME.toml) or .toml path"
    )
    p.add_argument(
        "--t-stop",
        type=quantity("s", minimum=0.0, strict=True),
        required=True,
        metavar="TIME",
        help="simulated time (e.g. 40ms)",
    )
    p.add_argument("--x0", type=_state, default=None, help="initial state (default: card's x0)")
    p.add_argument(
        "--series-ohm",
        type=quantity("ohm", minimum=0.0),
        default=0.0,
        metavar="R",
        help="series resistor (e.g. 10k; default 0)",
    )
    p.add_argument("--engine", choices=ENGINES, required=True)
    p.add_argument("--csv", type=Path, default=None, metavar="OUT.csv", help="write the samples")
    p.add_argument("--png", type=Path, default=None, metavar="OUT.png", help="draw I-V and x(t)")


def run(args: argparse.Namespace) -> int:
    """Execute ``cosim device``; returns the exit status (0).

    Raises:
        UsageError: bad option values or an unknown card (the message lists the known ones).
        cosim.errors.CosimError: simulator failures (from :mod:`cosim.spice.ngspice`).
    """
    from cosim.circuit import devices

    if args.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {args.engine!r}")
    t_stop = float(args.t_stop)
    if not (t_stop > 0 and math.isfinite(t_stop)):
        raise UsageError(f"--t-stop must be > 0 s, got {args.t_stop}")
    r_series = float(args.series_ohm)
    if not (r_series >= 0 and math.isfinite(r_series)):
        raise UsageError(f"--series-ohm must be >= 0 Ω, got {args.series_ohm}")
    source = parse_source(args.sine, args.dc, args.pulse)
    outputs = [path for path in (args.csv, args.png) if path is not None]
    if not outputs:
        raise UsageError("give --csv OUT.csv and/or --png OUT.png (where to write the result)")
    if args.csv is not None:
        check_output_file(args.csv, "--csv", (".csv",))
    if args.png is not None:
        check_output_file(args.png, "--png", PLOT_SUFFIXES)
    for path in outputs:  # nothing is created outside the named files
        if not path.expanduser().parent.is_dir():
            raise UsageError(f"{path}: directory {path.parent} does not exist")
    card = devices.load_card(args.card)  # a name or a .toml path; errors list the known cards
    x0 = float(card.x0) if args.x0 is None else float(args.x0)
    if not 0.0 <= x0 <= 1.0:
        raise UsageError(f"--x0 must lie in [0, 1], got {x0}")
    points = estimated_points(source, t_stop)
    if points > MAX_POINTS:
        raise UsageError(
            f"--t-stop {t_stop:g} s with this source needs about {points:.3g} time points "
            f"(step {tmax_s(source, t_stop):.3g} s, about {points * 32 / 1e9:.3g} GB); allowed: "
            f"at most {MAX_POINTS:.0e} — shorten --t-stop or lower the frequency"
        )
    if args.engine == "ngspice":
        traj = run_ngspice(card, source, t_stop, x0, r_series)
    else:
        traj = run_numpy(card, source, t_stop, x0, r_series)
    # a diverging model (state far outside [0, 1], non-finite values) is an error, not a CSV
    check_physical(traj.time_s, {"device.x": traj.x, "device.v": traj.v_V}, args.engine)
    if args.csv is not None:
        with atomic_file(args.csv) as tmp:
            write_csv(tmp, traj)
    if args.png is not None:
        with atomic_file(args.png) as tmp:
            write_png(tmp, traj, f"{card.name} ({args.engine})")
    print(summary_line(card.name, args.engine, traj))
    print("wrote " + ", ".join(str(path) for path in outputs))
    return 0


def summary_line(card: str, engine: str, traj: mss.Trajectory) -> str:
    """One line: what ran and what came out (points, peak |V| and |I|, x first → last)."""
    i_peak = float(np.max(np.abs(traj.i_A))) if traj.i_A.size else 0.0
    v_peak = float(np.max(np.abs(traj.v_V))) if traj.v_V.size else 0.0
    return (
        f"{card} ({engine}): {traj.time_s.size} points over {traj.time_s[-1] * 1e3:.4g} ms; "
        f"|V| ≤ {v_peak:.4g} V, |I| ≤ {i_peak * 1e6:.4g} µA; "
        f"x {traj.x[0]:.4f} → {traj.x[-1]:.4f}"
    )


#: Largest number of time points ``cosim device`` accepts (4 doubles each in memory).
MAX_POINTS = 10**7


def estimated_points(source: Source, t_stop_s: float) -> float:
    """Time points of a run: ``t_stop / TMAX`` plus the source's breakpoints."""
    extra = 4 * source.count if source.kind == "pulse" else len(source.points)
    return t_stop_s / tmax_s(source, t_stop_s) + extra
