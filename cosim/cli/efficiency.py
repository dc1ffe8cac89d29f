"""``cosim efficiency``: training time and energy per card, with and without the reset pulse.

``--model cosim`` (default) runs the programming co-simulation per card × reset (× seed with
``--seeds``); ``--model twin`` estimates the same figures with the write-verify twin
(:mod:`cosim.run.progcost`) over many seeds, reset widths, start states and target windows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cosim.cli.common import add_run_options, finite_float, positive_int
from cosim.run.outdir import check_output_dir

__all__ = ["add_parser", "run"]


def _cards(text: str) -> tuple[str, ...]:
    cards = tuple(part.strip() for part in text.split(",") if part.strip())
    if not cards:
        raise argparse.ArgumentTypeError(f"{text!r}: expected card names like W,Cr,C")
    return cards


def seed_list(text: str) -> tuple[int, ...]:
    """argparse type: seeds as ``1,2,5`` or ranges ``1-10`` (mixed: ``1-3,7``)."""
    seeds: list[int] = []
    try:
        for part in (q.strip() for q in text.split(",")):
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if part[0] != "-" else (part, "")
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seeds like 1-10 or 1,2,5") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is listed twice")
    return tuple(seeds)


def _words(allowed: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def parse(text: str) -> tuple[str, ...]:
        got = tuple(part.strip() for part in text.split(",") if part.strip())
        bad = [w for w in got if w not in allowed]
        if bad or not got:
            raise argparse.ArgumentTypeError(f"{text!r}: allowed values {','.join(allowed)}")
        return got

    return parse


def _widths_ms(text: str) -> tuple[float, ...]:
    try:
        widths = tuple(float(part) * 1e-3 for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected widths like 0,0.5,5,50,200") from None
    if any(not 0.0 <= w <= 1.0 for w in widths):
        raise argparse.ArgumentTypeError(f"{text!r}: widths must lie in 0..1000 ms")
    return widths


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
        "--seeds",
        type=seed_list,
        default=None,
        help="several seeds, e.g. 1-10: every run once per seed (out/seed-<s>/), tables with "
        "median and interquartile range over seeds (overrides --seed)",
    )
    p.add_argument(
        "--model",
        choices=("cosim", "twin"),
        default="cosim",
        help="cosim: simulate every run (default); twin: estimate time and energy with the "
        "write-verify twin (fast, many seeds; options below)",
    )
    twin = p.add_argument_group("twin model (--model twin)")
    twin.add_argument(
        "--reset-widths-ms",
        type=_widths_ms,
        default=(0.0, 0.5e-3, 5e-3, 50e-3, 200e-3),
        help="reset widths to compare, 0 = omitted (default 0,0.5,5,50,200)",
    )
    twin.add_argument(
        "--starts",
        type=_words(("hrs", "previous")),
        default=("hrs", "previous"),
        help="start states: hrs (as fabricated), previous (left by programming other targets)",
    )
    twin.add_argument(
        "--targets",
        type=_words(("card", "reachable")),
        default=("card", "reachable"),
        help="target windows: card (as the co-simulation), reachable (shrunk to the population)",
    )
    twin.add_argument(
        "--calibrate",
        nargs=2,
        metavar=("CARD", "SECONDS"),
        default=None,
        help="also report the MCU wait per read that makes CARD (reset omitted) take SECONDS, "
        "per seed, and what the first and the median seed's wait imply",
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="do not simulate: re-measure the run directories already in --out",
    )


def _run_twin(args: argparse.Namespace) -> int:
    from cosim.errors import UsageError
    from cosim.run import costreport, progcost

    if args.no_run:
        raise UsageError("--no-run applies to --model cosim only")
    cal_card, cal_s = None, None
    if args.calibrate is not None:
        cal_card = args.calibrate[0]
        try:
            cal_s = float(args.calibrate[1])
        except ValueError:
            raise UsageError(f"--calibrate {args.calibrate[1]!r}: expected seconds") from None
        if cal_card not in args.cards or not cal_s > 0:
            raise UsageError("--calibrate: card must be one of --cards and SECONDS > 0")
    seeds = args.seeds if args.seeds is not None else (args.seed,)
    config = progcost.CostConfig(
        cards=args.cards,
        seeds=seeds,
        reset_widths_s=args.reset_widths_ms,
        starts=args.starts,
        targets=args.targets,
    )
    config.validate()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = progcost.run_costs(config, log=print, jobs=args.jobs)
    summary = costreport.summarize_costs(rows, cal_card, cal_s)
    data = {"config": progcost.config_dict(config), "rows": rows, "summary": summary}
    (out / "cost_twin.json").write_text(json.dumps(data, indent=1) + "\n")
    md = costreport.costs_markdown(summary)
    (out / "cost_twin.md").write_text(md)
    print(md, end="")
    print(f"written: {out}/cost_twin.{{json,md}}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``cosim efficiency``; exit status 1 if any run failed (the others still complete)."""
    from cosim.run.efficiency import StudyConfig, run_study

    if args.model == "twin":
        return _run_twin(args)
    config = StudyConfig(
        cards=args.cards,
        reset=args.reset,
        backend=args.backend,
        jobs=args.jobs,
        out_dir=check_output_dir(args.out),
        seed=args.seed,
        seeds=args.seeds,
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
