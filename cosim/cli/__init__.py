"""The ``cosim`` command: one sub-command per module under :mod:`cosim.cli`.

Each command module exposes ``add_parser(subparsers)`` and ``run(args) -> int``.  Errors that
derive from :class:`cosim.errors.CosimError` are printed as one line and give exit status 2
(bad input) — nothing already written to disk is removed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cosim import __version__
from cosim.errors import CosimError

__all__ = ["main", "build_parser"]

#: Sub-command modules, in the order ``cosim --help`` lists them.
COMMANDS = (
    "sim",
    "run",
    "merge",
    "device",
    "report",
    "plot",
    "efficiency",
    "reproduce",
    "insitu",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="cosim",
        description="Mixed-signal co-simulation of memristor neural networks that learn on chip.",
    )
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"cosim.cli.{name}")
        before = set(sub.choices)
        module.add_parser(sub)
        for added in set(sub.choices) - before:
            sub.choices[added].set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CosimError as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cosim report … | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
