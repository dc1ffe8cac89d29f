"""Benchmark: analog VCD writing, VCD reading (pyvcd tokenize vs cosim.waves) and metrics.

Generates a synthetic training-like VCD (30 devices × v/i/x, 4 supplies, 4 neurons: ~150
values per point, written with :class:`cosim.waves.AnalogVcdWriter`), then measures, in one
run and side by side: pyvcd's ``vcd.reader.tokenize``, :func:`cosim.waves.iter_vcd` and
:func:`cosim.analysis.metrics.measure`, in value changes per second.

Usage: ``.venv/bin/python bench/bench_metrics.py [--points 20000] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cosim.analysis.metrics import measure
from cosim.waves.read import iter_vcd
from cosim.waves.write import AnalogVcdWriter

DEVICES = [f"w1_{i}_{j}" for i in range(9) for j in range(3)] + [f"w2_{j}" for j in range(3)]
SUPPLIES = ["vdd", "vss", "prog", "in0"]
NEURONS = ["h0", "h1", "h2", "out"]


def generate(path: Path, n_points: int, seed: int = 1) -> float:
    """Write the synthetic VCD; returns the writer's values per second."""
    rng = np.random.default_rng(seed)
    names = [f"{d}.{q}" for d in DEVICES for q in ("v", "i", "x")]
    names += [f"supply.{s}.{q}" for s in SUPPLIES for q in ("v", "i")]
    names += [f"neuron.{n}.v" for n in NEURONS]
    data = rng.normal(size=(n_points, len(names))).tolist()
    t0 = time.perf_counter()
    with AnalogVcdWriter(path, DEVICES, SUPPLIES, NEURONS) as writer:
        for k, row in enumerate(data):
            writer.write(k * 1e-9, dict(zip(names, row, strict=True)))
    return n_points * len(names) / (time.perf_counter() - t0)


def rate(fn, path: Path) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    n = fn(path)
    return n / (time.perf_counter() - t0), n


def count_pyvcd(path: Path) -> int:
    from vcd.reader import TokenKind, tokenize

    with open(path, "rb") as fh:
        return sum(
            1
            for tok in tokenize(fh)
            if tok.kind is TokenKind.CHANGE_SCALAR
            or tok.kind is TokenKind.CHANGE_REAL
            or tok.kind is TokenKind.CHANGE_VECTOR
        )


def count_cosim(path: Path) -> int:
    it = iter_vcd(path)
    next(it)
    return sum(1 for _ in it) - 1  # minus the end marker


def run_measure(path: Path) -> int:
    return measure(path).n_changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--keep", type=Path, default=None, help="directory to keep the VCD in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "bench_metrics.vcd"
        w = generate(path, args.points)
        size_MB = path.stat().st_size / 1e6
        print(f"file: {path.name}, {size_MB:.1f} MB, {args.points} points")
        print(f"AnalogVcdWriter.write : {w / 1e6:6.2f} M values/s")
        r_py, n_py = rate(count_pyvcd, path)
        r_co, n_co = rate(count_cosim, path)
        r_me, n_me = rate(run_measure, path)
        assert n_py == n_co == n_me, (n_py, n_co, n_me)
        print(f"pyvcd tokenize        : {r_py / 1e6:6.2f} M changes/s ({n_py} changes)")
        print(f"waves.read.iter_vcd   : {r_co / 1e6:6.2f} M changes/s  ({r_co / r_py:.1f}x pyvcd)")
        print(f"metrics.measure       : {r_me / 1e6:6.2f} M changes/s  ({r_me / r_py:.1f}x pyvcd)")


if __name__ == "__main__":
    main()
