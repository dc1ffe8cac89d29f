"""Benchmark: per-device programming cost of ngspice, full netlist vs partitioned, 30 vs 1184.

Run: ``.venv/bin/python bench/bench_partitioned.py [--quick] [--card Cr] [--writes 6]``.

The analog side alone, driven by the lockstep protocol (``announce_edge`` → ``advance_to`` →
``mark_edge`` → ``set_controls``) with the controller's programming sequence for every device
(select, reset pulse, then ``--writes`` rounds of a read pulse with a sense sample and a write
pulse, the card's amplitudes, widths and gaps; deselect): the same pulses for every backend.
Measured side by side in one run, wall time per programmed device:

1. ``ngspice`` (one full netlist) on the 9→3→1 crossbar, 30 devices;
2. ``ngspice-partitioned`` on the same crossbar, 30 devices;
3. ``ngspice-partitioned`` on a 64→16→10 crossbar (1184 devices drawn from the card), every
   device (``--quick``: every 20th device, 60 devices).

Prints the per-device costs, the ratio 1184 : 30 (target ≤ 2) and the largest relative
difference of the final device states and sense readings between 1 and 2.  (The full
co-simulation with the Icarus controller at 1184 devices needs the parameterized HDL.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cosim.backends.partitioned import PartitionedNgspiceBackend
from cosim.circuit import mss
from cosim.circuit.devices import draw_variation, load_card
from cosim.circuit.va import compile_va, model_path
from cosim.crossbar import card_circuit, make_backend, make_crossbar
from cosim.spice.build import ENV_SYNC
from cosim.topology import Topology
from cosim.waves.write import AnalogVcdWriter


def _drive(backend: Any, devices: list[int], op: Any, writes: int) -> tuple[float, list[float]]:
    """Program ``devices`` in turn; returns the wall time and every sense reading."""
    t = [0.0]
    senses: list[float] = []

    def edge(dt: float, values: dict[str, float]) -> None:
        t[0] += dt
        if hasattr(backend, "announce_edge"):
            backend.announce_edge(t[0])
        backend.advance_to(t[0])
        backend.mark_edge(t[0])
        backend.set_controls(values)

    def pulse(v: float, width: float) -> None:
        edge(op.t_gap_s, {"vprog": v})
        edge(width, {"vprog": 0.0})

    t0 = time.perf_counter()
    for k in devices:
        edge(op.t_gap_s, {f"vsel{k}": 1.0})
        pulse(op.v_reset_V, op.t_reset_s)
        for _ in range(writes):
            edge(op.t_gap_s, {"vprog": op.v_read_V})
            edge(0.5 * op.t_read_s, {})
            senses.append(backend.sample()["sense"])
            edge(0.5 * op.t_read_s, {"vprog": 0.0})
            pulse(op.v_write_V, op.t_write_s)
        edge(op.t_gap_s, {f"vsel{k}": 0.0})
    backend.advance_to(t[0] + op.t_gap_s)
    return time.perf_counter() - t0, senses


def _large(card: Any, topo: Topology, seed: int, vcd: Path, tmax_s: float) -> Any:
    spec, _, _ = card_circuit(card)
    variation = draw_variation(card, topo.n_dev, seed)
    params = mss.MSSArrays.from_params(card.model, variation)
    supplies = ["vdd", "vss", "prog", *topo.input_names, *(f"inn{i}" for i in range(topo.n_in))]
    writer = AnalogVcdWriter(vcd, topo.device_names, supplies, topo.neuron_names, conductance=True)

    def no_full(x: np.ndarray, **_: Any) -> Any:
        raise RuntimeError("the programming bench never infers")

    osdi = compile_va(model_path("mss.va")), compile_va(model_path("neuron.va"))
    return PartitionedNgspiceBackend(
        spec=spec,
        topology=topo,
        model_params=card.model.va_params(),
        instance_params=[variation.instance_params(k) for k in range(topo.n_dev)],
        params=params,
        x0=np.full(topo.n_dev, float(card.x0)),
        full_netlist=no_full,
        osdi=osdi,
        writer=writer,
        tmax_s=tmax_s,
    )


def main() -> None:
    # the foreground engine, as cosim sim uses for this backend (cosim.run.sim._engine_env)
    os.environ.setdefault(ENV_SYNC, "python")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--card", default="Cr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--writes", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="60 of the 1184 devices")
    args = ap.parse_args()
    card = load_card(args.card)
    op = card.operation
    tmax = max(op.t_write_s, op.t_erase_s, op.t_reset_s, op.t_read_s)
    xb = make_crossbar(card, args.seed)
    small = list(range(30))
    big = Topology((64, 16, 10))
    big_devices = list(range(0, big.n_dev, 20)) if args.quick else list(range(big.n_dev))
    per: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        runs: dict[str, tuple[Any, list[float]]] = {}
        for kind in ("ngspice", "ngspice-partitioned"):
            be = make_backend(xb, kind, d / f"{kind}.vcd", tmax_s=tmax)
            wall, senses = _drive(be, small, op, args.writes)
            runs[kind] = (be.states(), senses)
            be.close()
            per[f"{kind} 30"] = wall / len(small)
        be = _large(card, big, args.seed, d / "big.vcd", tmax)
        wall, _ = _drive(be, big_devices, op, args.writes)
        per[f"ngspice-partitioned {big.n_dev}"] = wall / len(big_devices)
        stats = be.stats.extra
        be.close()
        vcd_mb = (d / "big.vcd").stat().st_size / 1e6
    x_full, s_full = runs["ngspice"]
    x_part, s_part = runs["ngspice-partitioned"]
    dx = float(np.max(np.abs(x_part - x_full) / np.maximum(np.abs(x_full), 1e-12)))
    ds = float(np.max(np.abs(np.subtract(s_part, s_full)) / np.maximum(np.abs(s_full), 1e-12)))
    print(f"card {args.card}, {args.writes} read+write rounds per device (+ reset pulse)")
    for name, value in per.items():
        print(f"  {name:>28} devices: {1e3 * value:8.1f} ms per device")
    ratio = per[f"ngspice-partitioned {big.n_dev}"] / per["ngspice 30"]
    print(f"  ratio partitioned {big.n_dev} : full 30 = {ratio:.2f} (target <= 2)")
    part_ratio = per[f"ngspice-partitioned {big.n_dev}"] / per["ngspice-partitioned 30"]
    print(f"  ratio partitioned {big.n_dev} : partitioned 30 = {part_ratio:.2f}")
    print(f"  {len(big_devices)} of {big.n_dev} devices programmed; partitions {stats}")
    print(f"  analog VCD of the {big.n_dev}-device run: {vcd_mb:.1f} MB")
    print(f"  partitioned vs full, 30 devices: max relative difference of final states {dx:.2e}")
    print(f"  and of the {len(s_full)} sense readings {ds:.2e}")


if __name__ == "__main__":
    main()
