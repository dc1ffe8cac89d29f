"""The ``cosim`` command: one sub-command per module under :mod:`cosim.cli`.

Each command module exposes ``add_parser(subparsers)`` and ``run(args) -> int``.  One error
path for all of them (:func:`main`): every failure is one ``cosim: error: …`` line on stderr
naming the file, field or option and what is allowed, with exit status 2 for bad input
(usage, files, options) and 1 for a simulation that ran and failed; no traceback unless
``--debug`` is given.  SIGINT (Ctrl-C) and SIGTERM stop a command within seconds (exit status
130 and 143); results already on disk are never removed by a failed or interrupted run.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

from cosim import __version__
from cosim.errors import CosimError, Interrupted

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
    "scale",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="cosim",
        description="Mixed-signal co-simulation of memristor neural networks that learn on chip.",
    )
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the Python traceback of an error (accepted anywhere on the command line)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"cosim.cli.{name}")
        before = set(sub.choices)
        module.add_parser(sub)
        for added in set(sub.choices) - before:
            sub.choices[added].set_defaults(run=module.run)
            _plain_help(sub.choices[added])
    return parser


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum=signum)


def _install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (SIGINT stays ignored if it was)."""
    old: dict[int, object] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current == signal.SIG_IGN:
            continue  # a background job (`cosim … &`, nohup) keeps ignoring Ctrl-C
        old[signum] = current
        signal.signal(signum, _raise_interrupted)
    return old


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"cosim: error: {message}", file=sys.stderr)


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Help texts as plain text: docstring markup removed; a description is not %-formatted
    by argparse, so its ``%%`` becomes ``%`` (option help keeps ``%%``, which prints ``%``)."""
    from cosim.cli.common import plain_text

    if parser.description:
        parser.description = (plain_text(parser.description) or "").replace("%%", "%")
    for action in parser._actions:
        action.help = plain_text(action.help)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_in
    args_in = [a for a in args_in if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(args_in)
    old = _install_signal_handlers()
    try:
        return int(args.run(args))
    except CosimError as exc:
        _report(str(exc), debug)
        return int(getattr(exc, "exit_status", 1))
    except Interrupted as exc:
        if debug:
            traceback.print_exc()
        name = "terminated" if exc.signum == signal.SIGTERM else "interrupted"
        detail = f": {exc}" if str(exc) else ""
        print(f"cosim: {name}{detail}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("cosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cosim report … | head`
        sys.stderr.close()
        return 0
    except MemoryError:
        _report("out of memory: the request is too large for this machine", debug)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _report(f"{where}{exc.strerror or exc}", debug)
        return 1
    except Exception as exc:  # a bug: still one line, the traceback with --debug
        _report(
            f"internal error ({type(exc).__name__}: {exc}); run again with --debug for the "
            "traceback and please report it",
            debug,
        )
        return 1
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
