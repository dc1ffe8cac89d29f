"""``cosim reproduce``: accuracy under non-idealities (arXiv 2408.14680, claims 4–6).

Runs the accuracy sweep of :mod:`cosim.run.sweep` (training noise × conductance error × input noise
for the W, Cr and C cards, Monte Carlo with 95 % intervals) on Dask, resumable in ``--out``,
then the seed-resolved pixel-flip study of :mod:`cosim.run.flipstudy` (exact accuracy under
pixel flips beside its Bayes ceiling, median and IQR over training seeds, conductance error on
the device and on the branch) in ``--out/flip``, and writes ``accuracy.json``, ``flip/flip.json``,
heat maps and curves (PNG) and ``reproduction.md`` (the paper's accuracy claims side by side
with ours) into the output directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cosim.run import flipreport, flipstudy, sweep
from cosim.run.outdir import check_output_dir

__all__ = ["add_parser", "run", "headline", "write_plots", "claims_markdown"]


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return v


def add_parser(subparsers: Any) -> None:
    """Register ``cosim reproduce`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "reproduce",
        help="accuracy vs training noise, conductance error and input noise (Monte Carlo, Dask)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--quick", action="store_true", help="small grid (levels 0/10/20 %%)")
    p.add_argument("--trials", type=_positive_int, default=None, help="trials per grid point")
    p.add_argument(
        "--read-noise",
        type=_fraction,
        default=None,
        metavar="LEVEL",
        help="relative read noise (sigma) of every conductance at every presentation (default 0)",
    )
    p.add_argument("--jobs", type=_positive_int, default=2, help="local Dask workers")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None, help="existing Dask scheduler")
    p.add_argument("--out", type=Path, default=Path("build/reproduce"), help="output directory")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument(
        "--flip",
        choices=("with", "only", "none"),
        default="with",
        help="pixel-flip study: after the Gaussian sweep (with, default), instead of it (only), "
        "or not at all (none)",
    )
    p.add_argument(
        "--flip-cards",
        default=None,
        metavar="CARDS",
        help="cards of the pixel-flip study, e.g. Cr (default: W,Cr,C; with --quick: Cr)",
    )
    p.add_argument(
        "--flip-targets",
        default=None,
        metavar="WINDOWS",
        help="target windows of the pixel-flip study: card, reachable or card,reachable "
        "(default both; with --quick: card)",
    )
    p.set_defaults(run=run)


def _point(
    summary: dict[str, Any], card: str, t: float, e: float, n: float, kind: str = "uniform"
) -> float | None:
    for p in summary["points"]:
        at = (p["card"], p["train_noise"], p["g_error_kind"], p["g_error"], p["input_noise"])
        if at == (card, t, kind, e, n):
            return float(p["acc_mean"])
    return None


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """Key numbers: per card clean, noisy-trained (10/10/10 %) and noisy-untrained (0/10/10 %).

    Conductance error uniform ±e (the first kind of the sweep when uniform is absent).  The Cr
    card's numbers are also given at the top level (``acc_clean`` …).
    """
    kinds = summary["config"]["g_error_kinds"]
    kind = "uniform" if "uniform" in kinds else kinds[0]
    out: dict[str, Any] = {"cards": {}, "g_error_kind": kind}
    for card in summary["config"]["cards"]:
        out["cards"][card] = {
            "acc_clean": _point(summary, card, 0.0, 0.0, 0.0, kind),
            "acc_noisy_trained": _point(summary, card, 0.1, 0.1, 0.1, kind),
            "acc_noisy_untrained": _point(summary, card, 0.0, 0.1, 0.1, kind),
        }
    if "Cr" in out["cards"]:
        out.update(out["cards"]["Cr"])
    return out


def write_plots(summary: dict[str, Any], out: Path) -> list[Path]:
    """Heat maps (conductance error × input noise, one panel per training noise) and curves.

    Uniform ±e conductance error (the first kind of the sweep when uniform is absent).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cfg = summary["config"]
    tl, el, nl = cfg["train_levels"], cfg["g_error_levels"], cfg["input_levels"]
    kind = "uniform" if "uniform" in cfg["g_error_kinds"] else cfg["g_error_kinds"][0]
    points = [p for p in summary["points"] if p["g_error_kind"] == kind]
    paths = []
    for card in cfg["cards"]:
        grid = np.full((len(tl), len(el), len(nl)), np.nan)
        for p in points:
            if p["card"] == card:
                grid[tl.index(p["train_noise"]), el.index(p["g_error"]),
                     nl.index(p["input_noise"])] = p["acc_mean"]  # fmt: skip
        fig, axes = plt.subplots(
            1, len(tl), figsize=(4.2 * len(tl) + 1.0, 4.0), squeeze=False, layout="constrained"
        )
        for k, ax in enumerate(axes[0]):
            im = ax.imshow(grid[k], origin="lower", vmin=0.5, vmax=1.0, cmap="viridis")
            # At most ~8 labelled ticks per axis, rotated: readable for any grid.
            xs, ys = range(0, len(nl), -(-len(nl) // 8)), range(0, len(el), -(-len(el) // 8))
            ax.set_xticks(list(xs), [f"{nl[i]:.0%}" for i in xs], rotation=45, fontsize=8)
            ax.set_yticks(list(ys), [f"{el[i]:.0%}" for i in ys], fontsize=8)
            if grid[k].size <= 64:  # small grids: the accuracy in each cell
                for (i, j), acc in np.ndenumerate(grid[k]):
                    if np.isfinite(acc):
                        color = "white" if acc < 0.75 else "black"
                        ax.text(
                            j, i, f"{acc:.0%}", ha="center", va="center", fontsize=7, color=color
                        )
            ax.set_xlabel("input noise")
            ax.set_ylabel("conductance error")
            ax.set_title(f"{card}, training noise {tl[k]:.0%}", fontsize=10)
        fig.colorbar(im, ax=axes[0].tolist(), label="accuracy", shrink=0.9)
        path = out / f"heatmap_{card}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
        n_mid = nl.index(0.1) if 0.1 in nl else 0
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for k, t in enumerate(tl):
            lo, hi = [], []
            for e in el:
                p = next(
                    q
                    for q in points
                    if (q["card"], q["train_noise"], q["g_error"], q["input_noise"])
                    == (card, t, e, nl[n_mid])
                )
                lo.append(p["ci95"][0])
                hi.append(p["ci95"][1])
            ax.plot(el, grid[k, :, n_mid], marker="o", label=f"train noise {t:.0%}")
            ax.fill_between(el, lo, hi, alpha=0.2)
        ax.set_xlabel("conductance error (relative)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{card}: input noise {nl[n_mid]:.0%} (95 % CI shaded)")
        ax.legend(fontsize=7)
        path = out / f"curves_{card}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def claims_markdown(summary: dict[str, Any]) -> str:
    """The paper's accuracy claims (PAPER.md rows 4–6) side by side with this sweep."""
    cfg = summary["config"]
    h = headline(summary)
    best = max(
        (p for p in summary["points"] if p["g_error"] > 0 and p["input_noise"] > 0),
        key=lambda p: p["acc_mean"],
        default=None,
    )
    rows = []
    for card, v in h["cards"].items():
        gain = None
        if v["acc_noisy_trained"] is not None and v["acc_noisy_untrained"] is not None:
            gain = v["acc_noisy_trained"] - v["acc_noisy_untrained"]
        rows.append(
            f"| {card} | {_fmt(v['acc_clean'])} | {_fmt(v['acc_noisy_untrained'])} | "
            f"{_fmt(v['acc_noisy_trained'])} | {'n/a' if gain is None else f'{gain:+.1%}'} |"
        )
    lines = [
        "### Sweep results (generated by `cosim reproduce`)",
        "",
        f"Trials per point: {cfg['n_trials']}; presentations per test pattern and trial: "
        f"{cfg['n_repeats']}; conductance error {h['g_error_kind']} in this table "
        f"(sweep: {', '.join(cfg['g_error_kinds'])}), input noise {cfg['input_noise_kind']}; "
        f"devices programmed by the write-verify twin (device-to-device spread "
        f"{'on' if cfg['d2d'] else 'off'}, cycle-to-cycle noise {'on' if cfg['c2c'] else 'off'}).",
        "",
        "| card | clean (0/0/0 %) | untrained (train 0 %, error 10 %, input 10 %) "
        "| noise-trained (10/10/10 %) | gain |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    prog = summary.get("programming", {})
    if prog:
        lines += [
            "| card @ training noise | mean write/erase pulses per device | devices failed |",
            "|---|---|---|",
            *(
                f"| {k} | {v['pulses_mean']:.1f} | {v['failed_fraction']:.2%} |"
                for k, v in prog.items()
            ),
            "",
        ]
    if best is not None:
        lines.append(
            f"Best accuracy with both conductance error and input noise present: "
            f"{best['acc_mean']:.1%} ({best['card']}, training noise {best['train_noise']:.0%}, "
            f"{best['g_error_kind']} error {best['g_error']:.0%}, "
            f"input noise {best['input_noise']:.0%})."
        )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run the sweep, write results and plots; print a JSON summary with ``--json``."""
    overrides: dict[str, Any] = {}
    if args.trials is not None:
        overrides["n_trials"] = args.trials
        overrides["chunk_trials"] = min(args.trials, 50)
    if args.read_noise is not None:
        overrides["read_noise"] = args.read_noise
    cfg = sweep.quick_config(**overrides) if args.quick else sweep.SweepConfig(**overrides)
    out: Path = check_output_dir(args.out)

    def log(msg: str) -> None:
        print(f"cosim reproduce: {msg}", file=sys.stderr, flush=True)

    fcfg = _flip_config(args)
    result: dict[str, Any] = {}
    md = ""
    if args.flip != "only":
        summary = sweep.run_sweep(cfg, out, jobs=args.jobs, scheduler=args.scheduler, log=log)
        plots = write_plots(summary, out)
        md += claims_markdown(summary)
        log(f"wrote {out / 'accuracy.json'}, {len(plots)} plots")
        result.update(headline(summary))
    if fcfg is not None:
        flip = flipstudy.run_flip_study(fcfg, out / "flip", log=log)
        md += "\n" + flipreport.flip_markdown(flip)
        log(f"wrote {out / 'flip' / 'flip.json'}")
        result["pixel_flip"] = flipreport.compact(flip)
    (out / "reproduction.md").write_text(md)
    log(f"wrote {out / 'reproduction.md'}")
    if args.json:
        print(json.dumps({**result, "out": str(out)}, indent=1))
    return 0


def _flip_config(args: argparse.Namespace) -> flipstudy.FlipConfig | None:
    if args.flip == "none":
        return None
    over: dict[str, Any] = {}
    if args.flip_cards:
        over["cards"] = tuple(c.strip() for c in args.flip_cards.split(",") if c.strip())
    if args.flip_targets:
        over["targets"] = tuple(t.strip() for t in args.flip_targets.split(",") if t.strip())
    fcfg = flipstudy.quick_flip_config(**over) if args.quick else flipstudy.FlipConfig(**over)
    fcfg.validate()
    for card in fcfg.cards:
        sweep.card_window(card)  # unknown card: UsageError naming the known ones
    return fcfg
