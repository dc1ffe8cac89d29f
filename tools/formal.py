#!/usr/bin/env python3
"""Formal checks of hdl/xbar_ctrl.v (properties in hdl/formal/xbar_ctrl_props.vh).

Tools: Debian's `yosys` package only -- `yosys` (front end, `sim` replay) and the bundled
`yosys-abc` (`bmc3` bounded model checking, `pdr` unbounded proof).  No SMT solver: with
`yosys-smtbmc` + z3 4.8 the 3-device model did not finish step 0 in 10 minutes here.

    tools/formal.py [--root DIR] [--topology 2,1,1] [--out DIR] MODE [--depth N]

MODE
  bmc    every assertion holds for the first N cycles (N = --depth, default 24)
  prove  every assertion holds in every reachable state (abc pdr; --timeout seconds)
  live   bounded liveness (FORMAL_LIVE assumptions): every run ends within its bound;
         BMC to --depth (default: long enough for one run started at once)
  cover  every c_* cover wire is reached within --depth cycles

A failing check replays the counterexample with `yosys sim`, which names every assertion
the trace violates; it leaves <out>/cex.vcd and <out>/cex.gtkw and prints one line
    FAIL <mode> <topology>: <property>[, <property> ...] at step <k>; cex <path>
Exit status: 0 pass, 1 property failed / cover unreached, 2 usage or tool error.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class ToolError(RuntimeError):
    pass


def run(cmd: list[str], cwd: Path, log: Path, timeout: float) -> str:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{cmd[0]} timed out after {timeout:.0f} s (log: {log})") from None
    out = proc.stdout + proc.stderr
    log.write_text(out)
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-15:])
        raise ToolError(f"{cmd[0]} failed (exit {proc.returncode}, log {log}):\n{tail}")
    return out


def topology(text: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+),(\d+),(\d+)", text)
    if not m or min(int(g) for g in m.groups()) < 1:
        raise argparse.ArgumentTypeError(f"topology {text!r} is not N_IN,N_HID,N_OUT (each >= 1)")
    n_in, n_hid, n_out = (int(g) for g in m.groups())
    return n_in, n_hid, n_out


def live_bound(n_in: int, n_hid: int, n_out: int) -> int:
    """F_RUN_MAX of the props file (one run, FORMAL_LIVE assumptions) plus the start."""
    n_dev = n_in * n_hid + n_hid * n_out
    pulse, maxp = 2 + 2 + 2 + 1, 1
    read = pulse + 2 + 2
    return 4 + n_dev * (2 + pulse + (maxp + 1) * read + maxp * pulse) + 4


def build(root: Path, topo: tuple[int, int, int], mode: str, out: Path) -> tuple[Path, Path]:
    """Elaborate with the properties; write design.il (for replay) and model.aig/.aim."""
    n_in, n_hid, n_out = topo
    defines = {"live": "-D FORMAL_LIVE ", "cover": "-D FORMAL_COVER "}.get(mode, "")
    front = [
        f"read_verilog -sv -formal {defines}-I{root} {root / 'hdl' / 'xbar_ctrl.v'}",
        f"chparam -set N_IN {n_in} -set N_HID {n_hid} -set N_OUT {n_out} xbar_ctrl",
        "prep -top xbar_ctrl",
        "memory_map",
        "opt -fast",
        "async2sync",
        "dffunmap",
        "delete t:$cover",
    ]
    if mode == "cover":
        # reachability only: the covers are the assertions cover_* (their negations)
        front.append("delete t:$assert n:p_* %i")
    front.append(f"write_rtlil {out / 'design.il'}")
    run(["yosys", "-q", "-p", "; ".join(front)], out, out / "yosys.log", 600)
    aiger(out, out / "design.il", [])
    return out / "design.il", out / "model.aim"


def aiger(out: Path, design: Path, drop: list[str]) -> None:
    """AIGER model of design.il without the assertions named in drop."""
    script = [f"read_rtlil {design}"]
    script += [f"delete t:$assert n:{name} %i" for name in drop]
    script += [
        "delete -output",
        "techmap",
        "opt_clean",
        "abc -g AND -fast",
        "opt_clean",
        f"write_aiger -zinit -no-startoffset -map {out / 'model.aim'} {out / 'model.aig'}",
    ]
    run(["yosys", "-q", "-p", "; ".join(script)], out, out / "yosys-aiger.log", 600)


def abc(out: Path, command: str, timeout: float) -> str:
    script = f"read_aiger {out / 'model.aig'}; fold; strash; {command}"
    return run(["yosys-abc", "-c", script], out, out / "abc.log", timeout)


GTKW_SIGNALS = (  # names as `yosys sim` writes them (no bit ranges)
    "rst_n host_we host_addr host_wdata state phase busy done cur_dev sel pulse_on "
    "pulse_code adc_sample adc_valid npulse cnt"
).split()


def replay(out: Path, design: Path, aim: Path, frames: int) -> list[str]:
    """Replay cex.aiw with yosys sim: VCD + the names of the violated assertions."""
    vcd = out / "cex.vcd"
    script = (
        f"read_rtlil {design}; sim -clock clk -r {out / 'cex.aiw'} -map {aim} "
        f"-n {frames + 1} -vcd {vcd} -q"
    )
    proc = subprocess.run(["yosys", "-p", script], cwd=out, capture_output=True, text=True)
    (out / "replay.log").write_text(proc.stdout + proc.stderr)
    failed = []
    for m in re.finditer(r"Assert \S+?\.(\S+) \(", proc.stdout):
        if m.group(1) not in failed:
            failed.append(m.group(1))
    lines = ["[*] counterexample of tools/formal.py", f'[dumpfile] "{vcd}"']
    lines += [f"xbar_ctrl.{s}" for s in GTKW_SIGNALS]
    (out / "cex.gtkw").write_text("\n".join(lines) + "\n")
    return failed


def check(args: argparse.Namespace) -> int:
    topo = args.topology
    tname = ",".join(map(str, topo))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for f in ("cex.aiw", "cex.vcd", "cex.gtkw"):
        (out / f).unlink(missing_ok=True)
    t0 = time.monotonic()
    design, aim = build(args.root.resolve(), topo, args.mode, out)
    depth = args.depth
    if depth is None:
        depth = live_bound(*topo) if args.mode == "live" else 24

    if args.mode == "cover":
        # reach one cover (any), name every cover the trace reaches, drop those, repeat
        listing = run(
            ["yosys", "-p", f"read_rtlil {design}; select -list t:$assert"],
            out,
            out / "covers.log",
            120,
        )
        covers = sorted(set(re.findall(r"xbar_ctrl/(cover_\w+)", listing)))
        if not covers:
            raise ToolError("no cover_* assertions in the design (FORMAL_COVER not honoured?)")
        reached: dict[str, int] = {}
        while len(reached) < len(covers):
            text = abc(out, f"bmc3 -F {depth}; write_cex -a {out / 'cex.aiw'}", args.timeout)
            if "was asserted in frame" not in text:
                break
            frame = int(re.search(r"was asserted in frame (\d+)", text).group(1))
            hit = [n for n in replay(out, design, aim, frame) if n.startswith("cover_")]
            hit = [n for n in hit if n not in reached]
            if not hit:
                raise ToolError(f"cover trace at step {frame} reached no new cover (replay.log)")
            for n in hit:
                reached[n] = frame
            aiger(out, design, sorted(reached))
        missing = [c for c in covers if c not in reached]
        dt = time.monotonic() - t0
        for name in sorted(reached, key=reached.get):
            print(f"  reached {name} by step {reached[name]}")
        if missing:
            print(
                f"FAIL cover {tname}: unreached within {depth} steps: {', '.join(missing)} "
                f"({dt:.0f} s)"
            )
            return 1
        print(
            f"PASS cover {tname}: all {len(reached)} covers reached within {depth} steps "
            f"({dt:.0f} s)"
        )
        return 0

    if args.mode == "prove":
        text = abc(
            out, f"pdr -T {int(args.timeout)}; write_cex -a {out / 'cex.aiw'}", args.timeout + 60
        )
        if "Property proved" in text:
            print(
                f"PASS prove {tname}: every assertion holds in every reachable state "
                f"(pdr, {time.monotonic() - t0:.0f} s)"
            )
            return 0
        if "was asserted in frame" not in text:
            print(
                f"UNKNOWN prove {tname}: pdr gave no proof within {args.timeout:.0f} s "
                f"(see {out / 'abc.log'})"
            )
            return 1
    else:
        text = abc(out, f"bmc3 -F {depth}; write_cex -a {out / 'cex.aiw'}", args.timeout)
        if "was asserted in frame" not in text:
            label = "bounded liveness + safety" if args.mode == "live" else "every assertion"
            print(
                f"PASS {args.mode} {tname}: {label} holds for {depth} steps "
                f"({time.monotonic() - t0:.0f} s)"
            )
            return 0
    frame = int(re.search(r"was asserted in frame (\d+)", text).group(1))
    failed = replay(out, design, aim, frame)
    names = ", ".join(failed) if failed else "(replay named no assertion; see replay.log)"
    print(
        f"FAIL {args.mode} {tname}: {names} at step {frame}; cex {out / 'cex.vcd'} "
        f"(gtkwave {out / 'cex.vcd'} {out / 'cex.gtkw'})"
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["bmc", "prove", "live", "cover"])
    ap.add_argument("--topology", type=topology, default=(9, 3, 1), help="N_IN,N_HID,N_OUT")
    ap.add_argument("--depth", type=int, default=None, help="BMC / cover depth (cycles)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per solver call")
    ap.add_argument("--root", type=Path, default=REPO, help="tree holding hdl/ (mutants)")
    ap.add_argument("--out", type=Path, default=None, help="work directory")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = REPO / "build" / "formal" / f"{args.mode}-{'_'.join(map(str, args.topology))}"
    for tool in ("yosys", "yosys-abc"):
        if shutil.which(tool) is None:
            print(
                f"formal: {tool} not on PATH (Debian package yosys; tools/setup.sh)",
                file=sys.stderr,
            )
            return 2
    try:
        return check(args)
    except ToolError as exc:
        print(f"formal: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
