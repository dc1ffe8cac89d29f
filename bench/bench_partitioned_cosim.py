"""Benchmark: the partitioned ngspice backend against the full netlist, whole co-simulation.

Run: ``.venv/bin/python bench/bench_partitioned_cosim.py [--topology 16,8,2] [--card Cr]
[--seed 1] [--test-images N] [--out DIR]``.

Runs ``cosim sim`` twice on the same design, card and seed — the Icarus controller and the
cocotb host with ``--backend ngspice`` (one full netlist) and ``--backend ngspice-partitioned``
— one after the other in this process's run, and compares what the controller and the
summary report:

* final conductances of every device (relative; the bound held is 0.1 %),
* write-verify pulse counts, final read codes and ok/failed flags per device,
* inference neuron codes and classes per test image,
* energies (devices, whole circuit) and the simulated programming time,
* wall time of each run and their ratio.

The default topology is the paper's 9→3→1 (about 2 min for both runs on an idle 2-core
machine); ``--topology 16,8,2`` (144 devices) is the mid-size check (the full netlist takes
several times longer there: that is the point of partitioning).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("ngspice", "ngspice-partitioned")


def _run(kind: str, args: argparse.Namespace, out: Path) -> tuple[float, dict[str, Any]]:
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--backend", kind, "--out", str(out)]
    cmd += ["--topology", args.topology, "--card", args.card, "--seed", str(args.seed)]
    if args.test_images is not None:
        cmd += ["--test-images", str(args.test_images)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    host = json.loads((out / "host.json").read_text())
    return wall, {"summary": summary, "host": host}


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
        "accuracy_full": sf["accuracy"],
        "accuracy_partitioned": sp["accuracy"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default="9,3,1")
    ap.add_argument("--card", default="Cr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-images", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="keep both runs here")
    args = ap.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="bench_partitioned_cosim-"))
    runs: dict[str, tuple[float, dict[str, Any]]] = {}
    for kind in BACKENDS:
        print(f"cosim sim --topology {args.topology} --backend {kind} ...", flush=True)
        runs[kind] = _run(kind, args, base / kind)
        print(f"  {runs[kind][0]:.1f} s wall", flush=True)
    diff = compare(runs["ngspice"][1], runs["ngspice-partitioned"][1])
    (w_full, _), (w_part, _) = runs["ngspice"], runs["ngspice-partitioned"]
    print(f"\n{args.topology}, card {args.card}, seed {args.seed}: {diff['devices']} devices")
    print(f"wall time: full {w_full:.1f} s, partitioned {w_part:.1f} s (x{w_full / w_part:.2f})")
    for key, value in diff.items():
        print(f"  {key:26s} {value:.3g}" if isinstance(value, float) else f"  {key:26s} {value}")
    print(f"runs kept in {base}")


if __name__ == "__main__":
    main()
