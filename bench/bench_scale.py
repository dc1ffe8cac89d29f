"""Benchmark: the digits on 1184 devices — training, twin trials on Dask, 30 vs 1184 devices.

Run: ``.venv/bin/python bench/bench_scale.py [--quick] [--out build/scale]`` (needs
scikit-learn for the digits).

Side by side in one run, for card Cr, seed 1:

1. ``cosim scale`` of 64 → 16 → 10 (1184 devices) on the 8×8 digits: noise-aware training
   (wall time), float reference (clean and with input noise), ``--trials`` Monte Carlo trials
   of the programmed chip with the write-verify twin on 2 Dask workers (wall time; target
   100 trials ≤ 2 min) at conductance errors 0–30 %;
2. the same for the paper's 9 → 3 → 1 (30 devices) on the 3×3 patterns, trained as
   ``cosim sim`` trains it;
3. the plot accuracy vs conductance error for 30 vs 1184 devices (``<out>/accuracy_vs_error.png``)
   and both results as JSON.

``--quick``: 20 trials, levels 0, 10, 30 %.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from cosim.run.scale import ScaleConfig, plot_accuracy_vs_error, run_scale


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("build/scale"))
    args = ap.parse_args()
    if importlib.util.find_spec("sklearn") is None:
        print("NOT RUN: the digits need scikit-learn, a cosim dependency (pip install -e .)")
        return 0
    levels = (0.0, 0.1, 0.3) if args.quick else (0.0, 0.05, 0.1, 0.2, 0.3)
    trials = 20 if args.quick else 100
    # both networks trained by their dataset's recipe (cosim.learn.recipe), as cosim sim
    # trains them; no weight cache, so that the training time is measured
    big = ScaleConfig(n_trials=trials, g_errors=levels, train_cache=False)
    small = ScaleConfig(
        topology="9,3,1", dataset="patterns", n_trials=trials, g_errors=levels, train_cache=False
    )
    results = []
    for name, cfg in (("1184", big), ("30", small)):
        res = run_scale(cfg, args.out / name)
        results.append(res)
        ref = res["float_reference"]
        print(
            f"{res['n_devices']:>5} devices ({cfg.dataset}): training {res['train_s']:.1f} s; "
            f"float reference clean {100 * ref['clean']:.1f} %, input noise "
            f"{cfg.input_noise:g} {100 * ref['noisy']:.1f} %; {cfg.n_trials} twin trials on "
            f"{cfg.workers} Dask workers {res['twin_s']:.1f} s"
        )
        for level, a in res["accuracy_vs_g_error"].items():
            print(
                f"        g_error {100 * float(level):4.0f} %: {100 * a['mean']:.1f} ± "
                f"{100 * a['sd']:.1f} % (n = {a['n']})"
            )
    t100 = results[0]["twin_s"] * 100 / big.n_trials
    scaled = "" if big.n_trials == 100 else f", scaled from {big.n_trials} trials"
    print(
        f"100 twin trials of 1184 devices ({len(levels)} error levels{scaled}) on "
        f"{big.workers} Dask workers: {t100:.1f} s (target <= 120 s)"
    )
    plot_accuracy_vs_error(results, args.out / "accuracy_vs_error.png")
    (args.out / "bench_scale.json").write_text(json.dumps(results, indent=1))
    print(f"plot: {args.out / 'accuracy_vs_error.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
