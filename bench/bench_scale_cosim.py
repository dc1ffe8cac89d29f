"""Benchmark: the whole co-simulation at scale (Icarus + cocotb + ngspice), through ``cosim sim``.

Run: ``.venv/bin/python bench/bench_scale_cosim.py [MODE] [options]`` (default ``compare``; ``make
bench`` runs that), each side by side in one run:

``compare [--topology 16,8,2]``
    the partitioned ngspice backend against the full netlist on one design, card and seed:
    final conductances of every device (relative; the bound held is 0.1 %), write-verify pulse
    counts, final read codes and flags per device, neuron codes and classes per test image,
    energies, and the wall time of both runs.  Default 9→3→1 (about 2 min for both runs on an
    idle 2-core machine); ``16,8,2`` (144 devices) is the mid-size check.
``cost [--every 20]``
    wall time per programmed device of the co-simulation (the ``program`` phase of
    ``host.json``'s ``wall_s``): 9→3→1 with the full netlist and partitioned (all 30
    devices), and 64→16→10 on digits, partitioned, every ``--every``-th of its 1184 devices.
    Prints the ratios 1184 : 30 (target ≤ 2).
``engines [--every 10] [--test-images 40] [--repeat 2]``
    the two lockstep engines on the NumPy backend, side by side, alternating: the cocotb bridge
    and monitors (``COSIM_SYNC=python``) against the compiled ones (the default), on 64→16→10
    digits programming every ``--every``-th device.  Prints the CPU and wall time of each run,
    the ratios of the medians, and checks that both give the same ``training.vcd``,
    ``summary.json`` and ``coverage.json``.
``whole [--backend numpy]``
    the whole 64→16→10 digits run, partitioned (or with the NumPy twin as the analog side):
    program all 1184 devices and infer the test split.  Prints the wall time per phase, the
    CPU time, peak RSS (of ``cosim sim`` and ``vvp``), the VCD size and the accuracy (target:
    10 min with ngspice, 1 min with NumPy; 2 GB, 1 GB).

Each run's outputs stay in ``--out`` (default a new temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cosim.harness.contract import default_harness
from cosim.topology import Topology
from cosim.twin import infer, program

FULL, PART = "ngspice", "ngspice-partitioned"
BIG = "64,16,10"


def run_sim(out: Path, *options: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``cosim sim --out OUT OPTIONS`` (with ``env`` added to the environment): wall time, CPU,
    peak RSS and the run's JSON outputs."""
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--out", str(out), *options]
    shown = [o if len(o) < 40 else f"{o[:20]}…({o.count(',') + 1} items)" for o in options]
    print(" ".join([*(f"{k}={v}" for k, v in (env or {}).items()), "$ cosim sim", *shown]))
    t0 = time.perf_counter()
    with open(out.parent / f"{out.name}.log", "w") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime  # cosim sim and the children it waited for (vvp)
    if status != 0:
        raise SystemExit(f"cosim sim failed ({status}); see {out}.log")
    vcd = out / "training.vcd"
    run = {
        "wall_s": wall,
        "cpu_s": cpu,
        "max_rss_MB": usage.ru_maxrss / 1024,  # the largest of cosim sim and vvp
        "vcd_MB": vcd.stat().st_size / 1e6,
        "summary": json.loads((out / "summary.json").read_text()),
        "host": json.loads((out / "host.json").read_text()),
        "config": json.loads((out / "config.json").read_text()),
    }
    print(f"  {wall:.1f} s wall, phases {_phases(run)}", flush=True)
    return run


def _phases(run: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in run["host"]["wall_s"].items())


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def compare(full: dict[str, Any], part: dict[str, Any]) -> dict[str, float]:
    """Differences of the partitioned run ``part`` from the full-netlist run ``full``."""
    sf, sp = full["summary"], part["summary"]
    hf, hp = full["host"], part["host"]
    names = list(sf["devices"])
    g_f = np.array([sf["devices"][n]["g_final_S"] for n in names])
    g_p = np.array([sp["devices"][n]["g_final_S"] for n in names])
    e_f = np.array([sf["devices"][n]["energy_J"] for n in names])
    e_p = np.array([sp["devices"][n]["energy_J"] for n in names])
    codes = np.abs(np.subtract(hp["final_codes"], hf["final_codes"]))
    inf_f, inf_p = hf["inferences"], hp["inferences"]
    nrn_f = np.array([i["h_codes"] + i["out_codes"] for i in inf_f])
    nrn_p = np.array([i["h_codes"] + i["out_codes"] for i in inf_p])
    return {
        "devices": len(names),
        "g_final_max_rel": float(np.max(np.abs(g_p - g_f) / g_f)),
        "pulses_differ": int(np.sum(np.array(hp["pulses_register"]) != hf["pulses_register"])),
        "flags_differ": int(np.sum(np.array(hp["flags_ok"]) != hf["flags_ok"])),
        "final_code_max_abs": int(codes.max()),
        "images": len(inf_f),
        "classes_differ": sum(a["class"] != b["class"] for a, b in zip(inf_f, inf_p, strict=True)),
        "neuron_code_max_abs": int(np.abs(nrn_p - nrn_f).max()) if nrn_f.size else 0,
        "energy_device_max_rel": float(np.max(np.abs(e_p - e_f) / np.maximum(e_f, 1e-300))),
        "energy_device_total_rel": _rel(sp["energy_device_J"], sf["energy_device_J"]),
        "energy_total_rel": _rel(sp["energy_J"], sf["energy_J"]),
        "accuracy_full": _chip_accuracy(full),
        "accuracy_partitioned": _chip_accuracy(part),
        "analog_decision_full": sf["accuracy"],
        "analog_decision_partitioned": sp["accuracy"],
    }


def _chip_accuracy(run: dict[str, Any]) -> float:
    """Accuracy of the controller's class (``REG_INF_CLASS``, the arg-max of the ADC codes).

    The summary's ``accuracy`` is decided from the output neurons' analog voltages at the
    ADC sample; the two differ where outputs tie in codes (e.g. two saturated outputs: the
    controller takes the lower index)."""
    inf = run["host"]["inferences"]
    return sum(i["class"] == i["label"] for i in inf) / max(len(inf), 1)


def _compare(args: argparse.Namespace, base: Path) -> None:
    common = ["--topology", args.topology, "--card", args.card, "--seed", str(args.seed)]
    full = run_sim(base / "full", "--backend", FULL, *common)
    part = run_sim(base / "partitioned", "--backend", PART, *common)
    diff = compare(full, part)
    print(f"\n{args.topology}, card {args.card}, seed {args.seed}: {diff['devices']} devices")
    w_f, w_p = full["wall_s"], part["wall_s"]
    print(f"wall time: full {w_f:.1f} s, partitioned {w_p:.1f} s (x{w_f / w_p:.2f})")
    for key, value in diff.items():
        print(f"  {key:26s} {value:.3g}" if isinstance(value, float) else f"  {key:26s} {value}")


def _per_device(run: dict[str, Any]) -> float:
    return float(run["host"]["wall_s"]["program"]) / len(run["host"]["devices"])


def _cost(args: argparse.Namespace, base: Path) -> None:
    common = ["--card", args.card, "--seed", str(args.seed)]
    small = {
        kind: run_sim(base / f"30-{kind}", "--backend", kind, *common) for kind in (FULL, PART)
    }
    picks = ",".join(str(k) for k in range(0, 1184, args.every or 20))
    big = run_sim(
        base / "1184-partitioned",
        *("--backend", PART, "--topology", BIG, "--dataset", "digits", *common),
        *("--devices", picks, "--test-images", "1"),
    )
    per = {f"9,3,1 {kind}": _per_device(run) for kind, run in small.items()}
    per[f"{BIG} {PART} ({len(big['host']['devices'])} of 1184)"] = _per_device(big)
    print(f"\nwall time per programmed device, card {args.card}, seed {args.seed}:")
    for name, value in per.items():
        print(f"  {name:48s} {1e3 * value:8.1f} ms")
    b = _per_device(big)
    print(
        f"  ratio 1184 partitioned : 30 full        = {b / per[f'9,3,1 {FULL}']:.2f} (target <= 2)"
    )
    print(f"  ratio 1184 partitioned : 30 partitioned = {b / per[f'9,3,1 {PART}']:.2f}")


def predictions(run: dict[str, Any]) -> dict[str, float]:
    """Accuracies on the run's own input codes: the twin (programmed from card and seed
    alone) and the float reference (ideal target conductances), both through the same ADCs
    and controller decision (:mod:`cosim.twin.infer`)."""
    cfg, inf = run["config"], run["host"]["inferences"]
    topo = Topology(tuple(cfg["topology"]))
    twin = program.crossbar_twin(cfg["card"], cfg["seed"], topology=topo, dataset=cfg["dataset"])
    g_twin = twin.program().g_S
    codes, labels = [i["in_codes"] for i in inf], np.array([i["label"] for i in inf])
    harness = default_harness()
    out = {}
    for name, g in (("twin", g_twin), ("float reference", twin.xbar.g_target_S)):
        classes = np.array(infer.predict_classes(twin.xbar, g, codes, harness))
        out[name] = float(np.mean(classes == labels))
        out[f"{name}: images classed as the chip did"] = float(
            np.mean(classes == [i["class"] for i in inf])
        )
    return out


def _engines(args: argparse.Namespace, base: Path) -> None:
    every = args.every or 10
    picks = ",".join(str(k) for k in range(0, 1184, every))
    options = ("--backend", "numpy", "--topology", BIG, "--dataset", "digits", "--devices", picks)
    options += ("--test-images", str(args.test_images or 40), "--seed", str(args.seed))
    runs: dict[str, list[dict[str, Any]]] = {"python": [], "auto": []}
    for k in range(args.repeat):
        for engine, kept in runs.items():
            env = {"COSIM_SYNC": engine}
            kept.append(run_sim(base / f"{engine}-{k}", *options, "--card", args.card, env=env))
    print(f"\n{BIG} digits, numpy, every {every}th device, card {args.card}, seed {args.seed}:")
    for engine, kept in runs.items():
        got = {r["host"]["bridge_engine"] for r in kept}
        cpu = ", ".join(f"{r['cpu_s']:.1f}" for r in kept)
        wall = ", ".join(f"{r['wall_s']:.1f}" for r in kept)
        print(f"  COSIM_SYNC={engine:6s} bridge {'/'.join(got)}: CPU {cpu} s; wall {wall} s")
    for what in ("cpu_s", "wall_s"):
        med = {e: float(np.median([r[what] for r in kept])) for e, kept in runs.items()}
        print(f"  median {what}: compiled / cocotb = {med['auto'] / med['python']:.3f}")
    a, b = (base / "python-0", base / "auto-0")
    same = [
        name
        for name in ("training.vcd", "coverage.json")
        if (a / name).read_bytes() == (b / name).read_bytes()
    ]
    sa, sb = (dict(runs[e][0]["summary"]) for e in ("python", "auto"))
    for s in (sa, sb):
        s.pop("wall_time_s"), s.pop("vcd")
    verdict = "equal" if sa == sb else "DIFFERS"
    print(f"  identical: {', '.join(same) or 'nothing'}; summary.json {verdict}")


def _whole(args: argparse.Namespace, base: Path) -> None:
    images = () if args.test_images is None else ("--test-images", str(args.test_images))
    run = run_sim(
        base / "whole",
        *("--backend", args.backend, "--topology", BIG, "--dataset", "digits"),
        *("--card", args.card, "--seed", str(args.seed), *images),
    )
    s, host = run["summary"], run["host"]
    target = 60 if args.backend == "numpy" else 600
    print(f"\n{BIG} digits, {args.backend}, card {args.card}, seed {args.seed}:")
    print(f"  wall {run['wall_s']:.1f} s ({_phases(run)}); target {target} s")
    session, events = host["cpu_s"]["session"], host["bridge_events"]
    print(
        f"  CPU {run['cpu_s']:.1f} s; in vvp from the bridge's start {session:.1f} s over "
        f"{events} bridge wakes ({1e3 * session / max(events, 1):.2f} ms each)"
    )
    print(f"  peak RSS {run['max_rss_MB']:.0f} MB (target 2048); VCD {run['vcd_MB']:.0f} MB (1000)")
    print(
        f"  {s['devices_programmed']} devices, {s['devices_failed']} failed, "
        f"{s['pulses_total']} pulses; accuracy {_chip_accuracy(run):.1%} on {s['test_images']} "
        f"images (decided from the analog outputs: {s['accuracy']:.1%})"
    )
    for name, value in predictions(run).items():
        print(f"  {name}: {value:.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "mode", nargs="?", default="compare", choices=("compare", "cost", "engines", "whole")
    )
    ap.add_argument("--topology", default="9,3,1", help="compare: the design (default 9,3,1)")
    ap.add_argument(
        "--every", type=int, default=None, help="cost/engines: every N-th of 1184 (20/10)"
    )
    ap.add_argument("--test-images", type=int, default=None, help="whole/engines: infer only N")
    ap.add_argument("--repeat", type=int, default=2, help="engines: runs of each")
    ap.add_argument("--backend", default=PART, choices=(PART, "numpy"), help="whole: analog side")
    ap.add_argument("--card", default="Cr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="bench_scale_cosim-"))
    base.mkdir(parents=True, exist_ok=True)
    modes = {"compare": _compare, "cost": _cost, "engines": _engines, "whole": _whole}
    modes[args.mode](args, base)
    print(f"runs kept in {base}")


if __name__ == "__main__":
    main()
