"""Sub-commands of ``cosim`` (one module each: ``add_parser(subparsers)`` and ``run(args)``)."""

from __future__ import annotations

import argparse

__all__ = ["device_indices", "add_run_options", "finite_float", "positive_int", "seed_int"]

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def finite_float(text: str) -> float:
    """argparse type: a finite number (``inf``/``nan`` are refused)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed, an integer in 0..2**32-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in 0..{2**32 - 1}, got {text!r}")
    return value


def device_indices(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated device indices (``0,1,27``)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected indices like 0,1,27") from None


def add_run_options(p: argparse.ArgumentParser, *, backend: str, seed: int) -> None:
    """Options every co-simulation command shares: backend, seed, device subset, test images."""
    from cosim.config import BACKENDS

    p.add_argument(
        "--backend", choices=BACKENDS, default=backend, help=f"analog backend (default {backend})"
    )
    p.add_argument(
        "--seed", type=seed_int, default=seed, help=f"seed of all draws (default {seed})"
    )
    p.add_argument(
        "--devices",
        type=device_indices,
        default=None,
        help="program only these device indices, e.g. 0,1,27 (default all 30)",
    )
    p.add_argument(
        "--test-images", type=_count, default=None, help="infer only the first N test images"
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value
