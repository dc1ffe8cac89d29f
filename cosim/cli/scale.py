"""``cosim scale``: a real dataset on a large crossbar — training and twin Monte Carlo on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def _levels(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected levels like 0,0.05,0.1") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cosim scale``."""
    from cosim.run.scale import ScaleConfig

    d = ScaleConfig()
    p = subparsers.add_parser(
        "scale",
        help="train a large network (default 64,16,10 on digits) and run twin trials on Dask",
        description=(
            "Noise-aware training of the circuit model for a topology and dataset (default the "
            "8x8 digits on 64,16,10 = 1184 devices) with its float reference, then Monte Carlo "
            "trials of the programmed chip with the write-verify twin (device-to-device spread, "
            "cycle-to-cycle noise, conductance error levels, input noise) on Dask workers; "
            "writes scale.json."
        ),
    )
    p.add_argument("--card", default=d.card, help=f"device card (default {d.card})")
    p.add_argument("--topology", default=d.topology, help=f"N_IN,N_HID,N_OUT ({d.topology})")
    p.add_argument("--dataset", default=d.dataset, help=f"patterns or digits ({d.dataset})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default {d.seed})")
    p.add_argument("--trials", type=int, default=d.n_trials, help=f"trials ({d.n_trials})")
    p.add_argument("--workers", type=int, default=d.workers, help=f"Dask workers ({d.workers})")
    p.add_argument(
        "--g-errors",
        type=_levels,
        default=d.g_errors,
        help="conductance-error levels, comma-separated (default "
        + ",".join(str(e) for e in d.g_errors)
        + ")",
    )
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train even when the weight cache holds these weights (and time the training)",
    )
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    p.add_argument("--out", type=Path, default=Path("scale_out"), help="output directory")


def run(args: argparse.Namespace) -> int:
    """Run ``cosim scale``."""
    from cosim.run.scale import ScaleConfig, run_scale

    cfg = ScaleConfig(
        card=args.card,
        topology=args.topology,
        dataset=args.dataset,
        seed=args.seed,
        n_trials=args.trials,
        workers=args.workers,
        g_errors=args.g_errors,
        train_cache=not args.retrain,
    )
    res = run_scale(cfg, args.out, scheduler=args.scheduler, log=print)
    print(f"float reference: {res['float_reference']}")
    for level, a in res["accuracy_vs_g_error"].items():
        print(f"  g_error {level}: accuracy {a['mean']:.4f} ± {a['sd']:.4f} (n = {a['n']})")
    cached = " (weights from the cache)" if res["train_cached"] else ""
    print(f"training {res['train_s']:.1f} s{cached}, twin trials {res['twin_s']:.1f} s")
    print(f"→ {args.out}")
    return 0
