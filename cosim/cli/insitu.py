"""``cosim insitu``: in-situ Manhattan-rule training vs program-to-target (twin level)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cosim.cli.common import finite_float, quantity
from cosim.run.outdir import check_output_dir

__all__ = ["add_parser", "run"]

_COLUMNS = (
    ("card", "card", "{}"),
    ("seed", "seed", "{}"),
    ("insitu_clean", "in-situ acc", "{:.3f}"),
    ("insitu_noisy", "in-situ acc 10 %", "{:.3f}"),
    ("insitu_pulses", "in-situ pulses", "{}"),
    ("insitu_t_s", "in-situ t (ms)", "ms"),
    ("program_clean", "P2T acc", "{:.3f}"),
    ("program_noisy", "P2T acc 10 %", "{:.3f}"),
    ("program_pulses", "P2T pulses", "{}"),
    ("program_t_s", "P2T t (ms)", "ms"),
)


def _cards(text: str) -> tuple[str, ...]:
    cards = tuple(part.strip() for part in text.split(",") if part.strip())
    if not cards:
        raise argparse.ArgumentTypeError(f"{text!r}: expected card names like W,Cr,C")
    return cards


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cosim insitu``."""
    from cosim.run.insitu import InSituConfig

    d = InSituConfig()
    p = subparsers.add_parser(
        "insitu",
        help="in-situ training (Manhattan-rule pulses) vs program-to-target, per card",
        description=(
            "Train each card's crossbar in situ (forward pass on the circuit, one write or erase "
            "pulse per device whose loss gradient is large) and compare it with program-to-"
            "target by write-verify: test accuracy clean and with 10 %% input noise, pulses, "
            "estimated time.  NumPy twin, mean device model.  Writes DIR/insitu.json and "
            "DIR/insitu.png (accuracy vs pulses)."
        ),
    )
    p.add_argument("--cards", type=_cards, default=("W", "Cr", "C"), help="default W,Cr,C")
    p.add_argument(
        "--seeds", type=_positive_int, default=3, help="seeds 0..N-1 per card (default 3)"
    )
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help=f"default {d.epochs}")
    p.add_argument("--batch", type=_positive_int, default=d.batch, help=f"default {d.batch}")
    p.add_argument(
        "--threshold",
        type=finite_float,
        default=d.threshold,
        help=f"pulse a device when |grad| > THRESHOLD·max|grad| (default {d.threshold})",
    )
    p.add_argument(
        "--t-pulse-s",
        type=quantity("s", minimum=0.0, strict=True),
        default=d.t_pulse_s,
        metavar="TIME",
        help=f"write/erase pulse width (e.g. 5us; default {d.t_pulse_s} s)",
    )
    p.add_argument("--out", type=Path, default=Path("build/insitu"), help="output directory")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")


def _table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(title for _, title, _ in _COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in _COLUMNS) + "|"
    lines = [head, sep]
    for r in rows:
        cells = []
        for key, _, fmt in _COLUMNS:
            cells.append(f"{r[key] * 1e3:.1f}" if fmt == "ms" else fmt.format(r[key]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_png(path: Path, results: list[Any]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cards = sorted({r.card for r in results}, key=[r.card for r in results].index)
    fig = Figure(figsize=(4.2 * len(cards), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(cards), squeeze=False)[0]
    for ax, card in zip(axes, cards, strict=True):
        for r in (r for r in results if r.card == card):
            for method, curve, color in (
                ("in situ", r.insitu.curve, "tab:blue"),
                ("program-to-target", r.program.curve, "tab:orange"),
            ):
                ax.plot(
                    [p.pulses for p in curve],
                    [p.test_acc for p in curve],
                    color=color,
                    lw=1,
                    alpha=0.8,
                    label=method if r.seed == 0 else None,
                )
        ax.set(xlabel="pulses applied", ylabel="test accuracy (clean)", title=f"card {card}")
        # The whole range the curves span (a seed may start below chance), never clipped.
        lows = [
            p.test_acc
            for r in results
            if r.card == card
            for c in (r.insitu.curve, r.program.curve)
            for p in c
        ]
        ax.set_ylim(min([0.4, *lows]) - 0.02, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("In-situ (Manhattan rule) vs program-to-target, one line per seed")
    fig.savefig(path, dpi=110)


def run(args: argparse.Namespace) -> int:
    """Run ``cosim insitu``: table (or JSON) on stdout, insitu.json and insitu.png in --out."""
    from cosim.run.insitu import InSituConfig, compare

    cfg = InSituConfig(
        epochs=args.epochs, batch=args.batch, threshold=args.threshold, t_pulse_s=args.t_pulse_s
    )
    cfg.check()
    out: Path = check_output_dir(args.out)
    results = [
        compare(card, seed, epochs=args.epochs, config=cfg)
        for card in args.cards
        for seed in range(args.seeds)
    ]
    rows = [r.row() for r in results]
    doc = {
        "config": {
            "epochs": cfg.epochs,
            "batch": cfg.batch,
            "threshold": cfg.threshold,
            "t_pulse_s": cfg.t_pulse_s,
        },
        "runs": [
            {
                **row,
                "insitu_curve": [vars(p) for p in r.insitu.curve],
                "program_curve": [vars(p) for p in r.program.curve],
                "program_ok": int(r.program.ok.sum()),
            }
            for row, r in zip(rows, results, strict=True)
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "insitu.json").write_text(json.dumps(doc, indent=1) + "\n")
    _write_png(out / "insitu.png", results)
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    print(f"written: {out}/insitu.{{json,png}}")
    return 0
