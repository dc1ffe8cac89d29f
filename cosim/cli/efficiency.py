"""``cosim efficiency``: training time and energy per card, with and without the reset pulse."""

from __future__ import annotations

import argparse
from pathlib import Path

from cosim.cli.common import add_run_options, finite_float, positive_int
from cosim.run.outdir import check_output_dir

__all__ = ["add_parser", "run"]


def _cards(text: str) -> tuple[str, ...]:
    cards = tuple(part.strip() for part in text.split(",") if part.strip())
    if not cards:
        raise argparse.ArgumentTypeError(f"{text!r}: expected card names like W,Cr,C")
    return cards


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cosim efficiency``."""
    from cosim.run.efficiency import RESET_CHOICES, StudyConfig

    d = StudyConfig()
    p = subparsers.add_parser(
        "efficiency",
        help="training time and energy per device card, with and without the reset pulse",
        description=(
            "Run the full programming co-simulation for each card with and without the initial "
            "reset pulse (each run its own process, --jobs at a time), measure time and energy "
            "from each run's VCD, and write efficiency.json, efficiency.md and efficiency.png."
        ),
    )
    p.add_argument(
        "--cards",
        type=_cards,
        default=d.cards,
        help=f"comma-separated card names or TOML paths (default {','.join(d.cards)})",
    )
    p.add_argument(
        "--reset",
        choices=RESET_CHOICES,
        default=d.reset,
        help="runs with the initial reset pulse on, off, or both (default both)",
    )
    p.add_argument(
        "--jobs", type=positive_int, default=d.jobs, help=f"parallel runs (default {d.jobs})"
    )
    p.add_argument("--out", type=Path, default=d.out_dir, help=f"study directory ({d.out_dir})")
    add_run_options(p, backend=d.backend, seed=d.seed)
    p.add_argument(
        "--t-verify-s",
        type=finite_float,
        default=d.t_verify_s,
        help=(
            "simulate this host/microcontroller latency (s, whole clock periods) after every "
            "verify read in every run (cosim sim --t-step-wait-s; default 0: none)"
        ),
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="do not simulate: re-measure the run directories already in --out",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``cosim efficiency``; exit status 1 if any run failed (the others still complete)."""
    from cosim.run.efficiency import StudyConfig, run_study

    config = StudyConfig(
        cards=args.cards,
        reset=args.reset,
        backend=args.backend,
        jobs=args.jobs,
        out_dir=check_output_dir(args.out),
        seed=args.seed,
        devices=args.devices,
        test_images=args.test_images,
        t_verify_s=args.t_verify_s,
    )
    results = run_study(config, simulate=not args.no_run)
    print((config.out_dir / "efficiency.md").read_text(), end="")
    print(f"written: {config.out_dir}/efficiency.{{json,md,png}}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"failed: {r.card} reset {'on' if r.reset_pulse else 'off'}: {r.error}")
    return 1 if failed else 0
