"""``cosim merge``: finish a bench run — merged VCD, GTKWave view, summary (and FST).

What ``cosim sim`` does after the simulator, for a run made another way: cocotb's Makefile
flow (``make -C tests/sim/xbar`` calls it), or a run that was interrupted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cosim merge``."""
    p = subparsers.add_parser(
        "merge",
        help="merge a bench's digital and analog VCDs; write training.gtkw and summary.json",
        description=(
            "Merge digital.vcd and analog.vcd of a bench run into training.vcd (with the "
            "selected-device traces), write the GTKWave view training.gtkw and, when the bench "
            "finished (host.json), summary.json. This is what 'cosim sim' does after the "
            "simulator; the cocotb Makefile flow (make -C tests/sim/xbar) runs it."
        ),
    )
    p.add_argument("out", type=Path, help="the run's directory (digital.vcd, analog.vcd, …)")
    p.add_argument("--fst", action="store_true", help="also write training.fst")


def run(args: argparse.Namespace) -> int:
    """Run ``cosim merge``."""
    from cosim.analysis.summary import human, merge_outputs, write_summary
    from cosim.errors import UsageError
    from cosim.waves.fst import write_fst

    out: Path = args.out
    merged = merge_outputs(out)
    if merged is None:
        raise UsageError(f"{out}: no digital.vcd or analog.vcd to merge")
    print(f"waveforms: {merged} (view: {out / 'training.gtkw'})")
    if (out / "host.json").exists():
        print(human(write_summary(out)))
    else:
        print(f"no summary: {out / 'host.json'} is missing (the bench did not finish)")
    if args.fst:
        print(f"FST: {write_fst(merged, out / 'training.fst')}")
    return 0
