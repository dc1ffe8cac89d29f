"""``cosim run``: bring your own design — build, run its cocotb tests in lockstep, merge waves.

The design file (TOML) names the HDL, the SPICE deck, the Verilog-A models and the port map;
see docs/bridge.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from cosim.run.design import run_design

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``cosim run`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "run",
        help="run a design file's cocotb tests with its SPICE deck in lockstep",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("design", metavar="DESIGN.toml", help="design file (docs/bridge.md)")
    p.add_argument("--test-module", default=None, help="cocotb test module (default: the file's)")
    p.add_argument("--out", default="build/run", help="output directory (default build/run)")


def run(args: argparse.Namespace) -> int:
    """Run the command; exit status 0 when every test passed."""
    run_design(args.design, args.out, test_module=args.test_module)
    return 0
