"""Benchmark: NumPy twin vs ngspice-OSDI on the same pulse train, measured side by side.

30 devices of one card (seeded device-to-device variation) each receive 1000 identical write
pulses (the card's write amplitude and width, period twice the width) — once driven directly,
once through the card's series resistance.  ngspice solves one netlist with the 30 devices
(one PULSE source, ``.tran`` with TMAX = width/10, only the 30 state nodes saved); the twin
uses :func:`cosim.circuit.mss.pulse_train`.  Prints wall times, the speed ratio and the largest
difference of the final states.  Run: ``.venv/bin/python bench/bench_twin_vs_ngspice.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cosim.circuit import devices, mss, va
from cosim.spice.ngspice import NgSpice

MULT = ("m_r_on", "m_r_off", "m_v_on", "m_v_off", "m_tau")
MODEL = ("r_on", "r_off", "v_on", "v_off", "tau", "t_eff", "phi")
MODEL += ("alpha_f", "alpha_r", "beta_f", "beta_r")


def netlist(card, var, x0, v_V, width_s, period_s, n_pulses, rs_ohm):  # type: ignore[no-untyped-def]
    """One PULSE source, per device an optional series resistor and an mss_memristor."""
    edge = min(width_s / 100.0, 10e-9)
    t_stop = n_pulses * period_s
    lines = [
        "* bench twin vs ngspice",
        f"Vp src 0 PULSE(0 {v_V!r} 0 {edge!r} {edge!r} {width_s - edge!r} {period_s!r} {n_pulses})",
    ]
    params = " ".join(f"{n}={float(getattr(card.model, n))!r}" for n in MODEL)
    lines.append(f".model mssdev mss_memristor {params}")
    for k in range(x0.size):
        node = f"d{k}" if rs_ohm > 0 else "src"
        if rs_ohm > 0:
            lines.append(f"R{k} src d{k} {rs_ohm!r}")
        inst = " ".join(f"{m}={float(getattr(var, m)[k])!r}" for m in MULT)
        lines.append(f"N{k} {node} 0 mssdev x0={float(x0[k])!r} {inst}")
    step = width_s / 10.0
    saves = " ".join(f"v(n{k}#x)" for k in range(x0.size))
    lines += [f".save {saves}", f".tran {step!r} {t_stop!r} 0 {step!r}", ".end"]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--card", default="Cr")
    ap.add_argument("--devices", type=int, default=30)
    ap.add_argument("--pulses", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="twin runs (median time reported)")
    args = ap.parse_args()

    card = devices.load_card(args.card)
    op = card.operation
    var = devices.draw_variation(card, args.devices, args.seed)
    p = mss.MSSArrays.from_params(card.model, var)
    x0 = np.random.default_rng(args.seed).uniform(0.0, 0.3, args.devices)
    v, w = float(op.v_write_V), float(op.t_write_s)
    period = 2.0 * w
    osdi = va.compile_va(va.model_path("mss"))
    print(f"card {args.card}: {args.devices} devices x {args.pulses} pulses of {v} V / {w} s")
    worst_ratio = np.inf
    with NgSpice() as spice:
        spice.load_osdi(osdi)
        for rs in (0.0, float(op.r_series_ohm)):
            text = netlist(card, var, x0, v, w, period, args.pulses, rs)
            t0 = time.perf_counter()
            spice.load_circuit(text)
            spice.run()
            x_ng = np.array([spice.vector(f"v(n{k}#x)")[-1] for k in range(args.devices)])
            t_ng = time.perf_counter() - t0
            mss.pulse_train(p, x0, v, w, 4, t_gap_s=period - w, r_series_ohm=rs)  # warm-up
            runs = []
            for _ in range(args.repeat):  # the twin takes milliseconds: median of a few runs
                t0 = time.perf_counter()
                x_tw = mss.pulse_train(
                    p, x0, v, w, args.pulses, t_gap_s=period - w, r_series_ohm=rs
                )
                runs.append(time.perf_counter() - t0)
            t_tw = float(np.median(runs))
            ratio = t_ng / t_tw
            worst_ratio = min(worst_ratio, ratio)
            diff = float(np.max(np.abs(x_tw[-1] - x_ng)))
            print(
                f"  series {rs:>8.0f} Ohm: ngspice {t_ng:8.3f} s  twin {t_tw * 1e3:8.2f} ms  "
                f"ratio {ratio:7.1f}x  max|dx_final| {diff:.2e}  "
                f"x_final {x_ng.min():.3f}..{x_ng.max():.3f}"
            )
    print(f"speed ratio (worst case): {worst_ratio:.1f}x (target >= 100x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
