"""``cosim sim``: the full co-simulation (what ``make sim`` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cosim.cli.common import add_run_options, finite_float, quantity, topology_widths

__all__ = ["add_parser", "run"]


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from 'on', 'off')")
    return text == "on"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cosim sim``."""
    from cosim.config import SimConfig

    d = SimConfig()
    p = subparsers.add_parser(
        "sim",
        help="co-simulate on-chip programming of a memristor crossbar and inference",
        description=(
            "Run the Verilog controller (Icarus) and the analog crossbar (ngspice with the "
            "Verilog-A models, or the NumPy twin) in lockstep under cocotb: program every "
            "device by write-verify, infer the test images with input noise, and write "
            "training.vcd, training.gtkw and summary.json."
        ),
    )
    p.add_argument(
        "--card", default=d.card, help=f"device card name or TOML path (default {d.card})"
    )
    p.add_argument(
        "--reset",
        type=_on_off,
        default=d.reset_pulse,
        metavar="{on,off}",
        help="initial reset pulse before programming each device (default on)",
    )
    p.add_argument("--out", type=Path, default=Path("build/sim"), help="output directory")
    p.add_argument(
        "--input-noise",
        type=finite_float,
        default=d.input_noise,
        help=f"input noise σ relative to the input swing (default {d.input_noise})",
    )
    p.add_argument(
        "--t-step-wait-s",
        type=quantity("s", minimum=0.0),
        default=d.t_step_wait_s,
        metavar="TIME",
        help=(
            "host/microcontroller latency simulated after every verify read (e.g. 5ms; whole "
            f"clock periods; default {d.t_step_wait_s:g}: none)"
        ),
    )
    add_run_options(p, backend=d.backend, seed=d.seed)
    p.add_argument(
        "--topology",
        type=topology_widths,
        default=str(d.topology),
        metavar="N_IN,N_HID,N_OUT",
        help="layer widths of the network (default 9,3,1, the paper's 30-device crossbar)",
    )
    p.add_argument(
        "--dump-all",
        action="store_true",
        help="dump the whole HDL hierarchy (clock, controller internals) into the VCD",
    )
    p.add_argument(
        "--dataset",
        default=d.dataset,
        help="task: patterns (3x3 for 9 inputs) or digits (needs 64,N_HID,10; default patterns)",
    )
    p.add_argument(
        "--record",
        default=d.record,
        metavar="PATTERN",
        help=(
            "device names (fnmatch, comma-separated, e.g. 'w1_0_*,w2_1') recorded in every "
            "phase by --backend ngspice-partitioned (default: each device only while selected)"
        ),
    )
    p.add_argument(
        "--fst",
        action="store_true",
        help="also write training.fst (FST, through GTKWave's vcd2fst)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``cosim sim``."""
    from cosim.config import SimConfig
    from cosim.run.sim import run_sim

    config = SimConfig(
        card=args.card,
        reset_pulse=args.reset,
        seed=args.seed,
        backend=args.backend,
        out_dir=args.out.resolve(),
        input_noise=args.input_noise,
        topology=args.topology,
        devices=args.devices,
        test_images=args.test_images,
        dump_all=args.dump_all,
        t_step_wait_s=args.t_step_wait_s,
        dataset=args.dataset,
        record=args.record,
    )
    run_sim(config)
    if args.fst:
        from cosim.waves.fst import write_fst

        print(f"FST: {write_fst(config.out_dir / 'training.vcd', config.out_dir / 'training.fst')}")
    return 0
