"""Benchmark: the write-verify twin against the co-simulation, and Monte Carlo trials on Dask.

Run: ``.venv/bin/python bench/bench_sweep.py [--card Cr] [--seed 1] [--trials 10000]``.

One *trial* = program all 30 devices of the 9→3→1 network by write-verify (reset pulse, the
controller's codes, tolerance and adaptive widths) and infer the whole test set with input
noise.  Measured side by side in one run:

1. the co-simulation of one trial (``cosim.run.sim.run_sim``: Icarus + cocotb + ngspice with the
   Verilog-A model, waveforms and summary included), wall time;
2. the twin of the same crossbar (:func:`cosim.twin.program.crossbar_twin`, same card, seed,
   variation, targets): one trial including building its step tables, and one trial with the
   tables built (what every further trial of a sweep costs);
3. ``--trials`` trials (device-to-device pool, cycle-to-cycle noise: the sweep's trial,
   :func:`cosim.run.sweep.program_trials`) split over 2 Dask worker processes, wall time with and
   without starting the cluster.

Prints the ratios.  ``--no-cosim`` skips step 1 (ratios then not printed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cosim.circuit import network
from cosim.learn import data, train
from cosim.run import sweep
from cosim.twin import program


def _infer(spec: network.CircuitSpec, g_dev: np.ndarray, rng: np.random.Generator, noise: float):
    """Accuracy of trials ``g_dev (n, 30)`` on the test set with Gaussian input noise."""
    _, test = data.split(data.make_dataset())
    gb = 1.0 / (spec.r_infer_path_ohm + 1.0 / g_dev)
    g1, g2 = network.split_layers(gb)
    return train.evaluate(
        spec,
        g1,
        g2,
        test,
        rng,
        train.NonIdealities(input_noise=noise),
        n_trials=g_dev.shape[0],
    )


def _twin_trial(card: str, seed: int, noise: float) -> tuple[float, float, Any]:
    t0 = time.perf_counter()
    twin = program.crossbar_twin(card, seed)
    t1 = time.perf_counter()
    out = twin.program(rng=np.random.default_rng(seed))
    _infer(twin.xbar.spec, out.g_S[None, :], np.random.default_rng(seed), noise)
    t2 = time.perf_counter()
    # again with the tables built: the cost of every further trial
    reps = 20
    for k in range(reps):
        out = twin.program(rng=np.random.default_rng(k))
        _infer(twin.xbar.spec, out.g_S[None, :], np.random.default_rng(k), noise)
    t3 = time.perf_counter()
    return t2 - t0, (t3 - t2) / reps, t1 - t0


def _mc_task(card: str, g_target_S: list[float], seed: int, n: int, noise: float) -> float:
    """``n`` sweep trials (pool tables built here, once per worker, as in a sweep)."""
    cfg = sweep.SweepConfig(cards=(card,))
    spec, _, _ = sweep.card_spec(card)
    rng = np.random.default_rng([seed, n])
    out = sweep.program_trials(cfg, card, g_target_S, n, rng)
    return float(_infer(spec, out.g_S, rng, noise).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--card", default="Cr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--noise", type=float, default=0.05, help="input noise (cosim sim default)")
    ap.add_argument("--no-cosim", action="store_true")
    args = ap.parse_args()

    t_cosim = None
    if not args.no_cosim:
        from cosim.config import SimConfig
        from cosim.run.sim import run_sim

        with tempfile.TemporaryDirectory() as tmp:
            cfg = SimConfig(
                card=args.card,
                seed=args.seed,
                backend="ngspice",
                input_noise=args.noise,
                out_dir=Path(tmp),
            )
            t0 = time.perf_counter()
            s = run_sim(cfg, log=lambda m: None)
            t_cosim = time.perf_counter() - t0
        print(
            f"co-simulation (Icarus + ngspice), 1 trial ({args.card}, seed {args.seed}, "
            f"{s['pulses_total']} pulses, {s['test_images']} inferences): {t_cosim:.2f} s"
        )

    t_first, t_next, t_tab = _twin_trial(args.card, args.seed, args.noise)
    g_target = program.crossbar_twin(args.card, args.seed).xbar.g_target_S.tolist()
    print(
        f"twin, same crossbar: 1 trial incl. step tables {t_first * 1e3:.1f} ms "
        f"(tables {t_tab * 1e3:.1f} ms); each further trial {t_next * 1e3:.2f} ms"
    )
    if t_cosim is not None:
        print(
            f"ratio co-simulation / twin: {t_cosim / t_next:,.0f}x per trial "
            f"({t_cosim / t_first:,.0f}x for a first trial including its tables)"
        )

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        t1 = time.perf_counter()
        half = args.trials // 2
        futs = [
            client.submit(_mc_task, args.card, g_target, args.seed + k, n, args.noise, pure=False)
            for k, n in enumerate((half, args.trials - half))
        ]
        acc = client.gather(futs)
        t2 = time.perf_counter()
    print(
        f"twin Monte Carlo on 2 Dask workers: {args.trials} trials in {t2 - t1:.2f} s "
        f"({t2 - t0:.2f} s with cluster start-up) = {args.trials / (t2 - t1):,.0f} trials/s; "
        f"mean accuracy {np.mean(acc):.3f}"
    )
    if t_cosim is not None:
        print(
            f"ratio: {args.trials} twin trials take {(t2 - t1) / t_cosim:.2f}x the time of "
            f"1 co-simulated trial"
        )


if __name__ == "__main__":
    main()
