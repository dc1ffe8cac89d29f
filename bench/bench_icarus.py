"""Icarus's own cost of the harness (controller + behavioural DACs/ADCs), before and after.

    .venv/bin/python bench/bench_icarus.py [--baseline REV] [--topologies 9,3,1 64,16,10]
                                          [--idle-ms 100] [--devices 200] [--images 10]
                                          [--repeats 5] [--instructions]

Plain ``vvp``, no cocotb and no analog side: ``bench/icarus_workload/drive.v`` is compiled as
a third root beside ``xbar_top`` and ``xbar_dump`` and drives the host bus itself (a toy device
model answers the verify reads).  For each topology, the HDL of this checkout and the HDL of
``--baseline`` (a git revision, default the commit before the Icarus work of issue 9) are
built the same way and run alternately:

1. **idle**: reset, then ``--idle-ms`` of simulated time with nothing to do (1 MHz clock):
   cost per 100 ms simulated;
2. **program + infer**: ``--devices`` devices (at most all) programmed by write-verify, then
   ``--images`` inferences: cost per programmed device and per write/erase pulse (the host's
   target and mask writes included).

Both without ``vvp``'s start-up: a third run that only resets and configures the controller
is subtracted.  The cost is ``vvp``'s CPU time (user + system), the least of ``--repeats``
runs: on a shared machine, and in a virtual machine that bills stolen time to the running
process, the noise only adds (the same build varied by 1.5x between runs here).  With
``--instructions`` it is the number of instructions ``vvp`` executes, counted by valgrind's
callgrind (one run each, exact and independent of the load; ~20x slower, so use a shorter
workload, e.g. ``--idle-ms 10 --devices 40``).

Prints the figures side by side with the ratio baseline / now, and whether the default VCD
dumps (``xbar_dump``'s list) of both builds are identical byte for byte after the header.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from cosim.run.sim import hdl_sources
from cosim.topology import Topology, parse_topology

REPO = Path(__file__).resolve().parents[1]
DRIVE = Path(__file__).resolve().parent / "icarus_workload" / "drive.v"
# main before the one clocked process for the input registers, the state-guarded flag
# vectors and the ADC that sleeps between conversions
BASELINE = "82c76df"


def baseline_tree(rev: str, dest: Path) -> Path | None:
    """``hdl/`` of git revision ``rev`` unpacked under ``dest``; None if git cannot give it."""
    try:
        data = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", rev, "hdl"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"baseline {rev}: not available from git ({exc}); measuring this checkout only")
        return None
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def build(root: Path, topo: Topology, out: Path) -> Path:
    """Compile the harness of the tree ``root`` (its ``hdl/``) with the stimulus root."""
    sources = hdl_sources(root / "hdl")
    params = topo.hdl_parameters()
    n_nrn = topo.n_hid + topo.n_out
    cmd = ["iverilog", "-g2012", "-o", str(out), "-I", str(root)]
    cmd += ["-s", "xbar_top", "-s", "xbar_dump", "-s", "drive"]
    cmd += [f"-Pxbar_top.{k}={v}" for k, v in params.items()]
    cmd += [f"-Pdrive.N_IN={topo.n_in}", f"-Pdrive.N_NRN={n_nrn}", f"-Pdrive.N_DEV={topo.n_dev}"]
    subprocess.run([*cmd, *map(str, sources), str(DRIVE)], check=True, timeout=300)
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(vvp: Path, vcd: Path, plusargs: list[str], count: bool) -> tuple[float, dict[str, float]]:
    """Cost of one ``vvp`` run (CPU seconds, or instructions with ``count``) and the numbers
    of its ``drive:`` line."""
    cmd = ["vvp", "-n", str(vvp), f"+vcd={vcd}", *plusargs, "-vcd"]
    if count:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
    c0 = _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    cost = _children_cpu() - c0
    m = re.search(r"drive: (.*)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"vvp {vvp.name} failed: {(proc.stdout + proc.stderr)[-500:]}")
    if count:
        counted = re.search(r"Collected : (\d+)", proc.stderr)
        if not counted:
            raise RuntimeError(f"callgrind printed no count: {proc.stderr[-500:]}")
        cost = float(counted.group(1))
    numbers = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    return cost, numbers


def _same_dump(a: Path, b: Path) -> bool:
    """Identical VCD bodies (the header carries the date)."""
    body = [p.read_bytes() for p in (a, b)]
    return all(x.split(b"$end", 3)[-1] == body[0].split(b"$end", 3)[-1] for x in body)


def measure(topo: Topology, trees: dict[str, Path], tmp: Path, args: argparse.Namespace) -> None:
    """Build every tree for ``topo``, run both workloads alternately, print the table."""
    tag = str(topo).replace(",", "_")
    vvps = {
        name: build(root, topo, tmp / f"{i}_{tag}.vvp")
        for i, (name, root) in enumerate(trees.items())
    }
    workloads = {
        "start": [],  # reset and the host's set-up writes only: subtracted from the others
        "idle": [f"+idle_ms={args.idle_ms}"],
        "program": [f"+devices={min(args.devices, topo.n_dev)}", f"+images={args.images}"],
    }
    cpu: dict[tuple[str, str], list[float]] = {}
    info: dict[tuple[str, str], dict[str, float]] = {}
    for _ in range(1 if args.instructions else args.repeats):
        for work, plusargs in workloads.items():
            for i, (name, vvp) in enumerate(vvps.items()):
                s, numbers = run(vvp, tmp / f"{i}_{tag}_{work}.vcd", plusargs, args.instructions)
                cpu.setdefault((name, work), []).append(s)
                info[(name, work)] = numbers
    names = list(vvps)
    what = "instructions (callgrind)" if args.instructions else f"CPU, least of {args.repeats}"
    print(f"\n{topo} ({topo.n_dev} devices), vvp {what}:")
    rows = []
    for name in names:
        start = min(cpu[(name, "start")])
        idle = (min(cpu[(name, "idle")]) - start) * 100.0 / args.idle_ms
        prog = min(cpu[(name, "program")]) - start
        n = info[(name, "program")]
        rows.append((name, idle, prog / max(n["devices"], 1), prog / max(n["pulses"], 1), n))
    # seconds, ms, us; or instructions: G, M, k
    units = ("G", "M", "k", 1e-9) if args.instructions else ("s", "ms", "us", 1.0)
    for name, idle, per_dev, per_pulse, n in rows:
        idle, per_dev, per_pulse = (x * units[3] for x in (idle, per_dev, per_pulse))
        print(
            f"  {name:22s} idle {idle:6.3f} {units[0]} per 100 ms   program+infer "
            f"{per_dev * 1e3:7.2f} {units[1]} per device, {per_pulse * 1e6:4.0f} {units[2]} per "
            f"pulse ({n['devices']:.0f} devices, "
            f"{n['pulses']:.0f} pulses, {n['images']:.0f} images, {n['t_ns'] / 1e6:.2f} ms "
            "simulated)"
        )
    if len(rows) == 2:
        (_, i0, d0, _, n0), (_, i1, d1, _, n1) = rows
        same = all(
            _same_dump(tmp / f"0_{tag}_{w}.vcd", tmp / f"1_{tag}_{w}.vcd") for w in workloads
        )
        print(
            f"  ratio baseline / now   idle {i0 / i1:5.1f}x   program+infer {d0 / d1:5.1f}x   "
            f"same pulses: {n0 == n1}   same default VCD dumps: {same}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"git revision (default {BASELINE})")
    parser.add_argument("--topologies", nargs="+", default=["9,3,1", "64,16,10"])
    parser.add_argument("--idle-ms", type=float, default=100.0)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench_icarus_") as tmp_name:
        tmp = Path(tmp_name)
        trees = {"now": REPO}
        base = baseline_tree(args.baseline, tmp / "baseline")
        if base is not None:
            trees = {f"baseline {args.baseline}": base, "now": REPO}
        for text in args.topologies:
            topo = parse_topology(text)
            measure(topo, trees, tmp, args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
