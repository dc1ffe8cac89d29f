"""Sub-commands of ``cosim`` (one module each: ``add_parser(subparsers)`` and ``run(args)``)."""

from __future__ import annotations

import argparse

__all__ = ["device_indices", "topology_widths", "add_run_options"]


def device_indices(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated device indices (``0,1,27``)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected indices like 0,1,27") from None


def topology_widths(text: str) -> object:
    """argparse type: layer widths ``N_IN,N_HID,N_OUT`` (a :class:`cosim.topology.Topology`)."""
    from cosim.topology import TopologyError, parse_topology

    try:
        return parse_topology(text)
    except TopologyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_run_options(p: argparse.ArgumentParser, *, backend: str, seed: int) -> None:
    """Options every co-simulation command shares: backend, seed, device subset, test images."""
    from cosim.config import BACKENDS

    p.add_argument(
        "--backend", choices=BACKENDS, default=backend, help=f"analog backend (default {backend})"
    )
    p.add_argument("--seed", type=int, default=seed, help=f"seed of all draws (default {seed})")
    p.add_argument(
        "--devices",
        type=device_indices,
        default=None,
        help="program only these device indices, e.g. 0,1,27 (default all)",
    )
    p.add_argument(
        "--test-images", type=int, default=None, help="infer only the first N test images"
    )
