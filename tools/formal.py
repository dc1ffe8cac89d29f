#!/usr/bin/env python3
"""Formal checks of hdl/xbar_ctrl.v (properties in hdl/formal/xbar_ctrl_props.vh).

Tools: Debian's `yosys` package only -- `yosys` (front end, `sim` replay) and the bundled
`yosys-abc` (`bmc3` bounded model checking, `ind` k-induction, `pdr`).  No SMT solver: with
`yosys-smtbmc` + z3 4.8 the 3-device model did not finish 12 BMC steps in 200 s, and
Debian's boolector 1.5 answers `unknown` in incremental mode (see docs/controller.md).

    tools/formal.py [--root DIR] [--topology 2,1,1] [--out DIR] MODE [--depth N] [--k K]
                    [--live] [--props-only]

MODE
  bmc    every assertion holds for the first N cycles (N = --depth, default 24)
  prove  every assertion holds in every reachable state: k-induction (--engine kind,
         default: base case `bmc3` to K+1 cycles, inductive step `ind` over K frames) or
         `pdr` (--engine pdr, --timeout seconds)
  cover  every c_* cover wire is reached within --depth cycles
--live adds the FORMAL_LIVE assumptions (responsive ADC, short widths, MAX_PULSES <= 1) and
the bounded-liveness assertions (every run ends within F_RUN_MAX cycles of START);
--props-only drops the a_* invariants (they serve the induction; non-vacuity runs want the
p_* property a broken RTL violates to be the one reported).

A failing check replays the counterexample with `yosys sim`, which names every assertion
the trace violates; it leaves <out>/cex.vcd and <out>/cex.gtkw and prints one line
    FAIL <mode> <topology>: <property>[, <property> ...] at step <k>; cex <path>
An inductive step that fails (no counterexample from reset, but no proof either) prints
    UNKNOWN <mode> <topology>: not <K>-inductive ...
Exit status: 0 pass, 1 property failed / unproven / cover unreached, 2 usage or tool error.
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


def build(args: argparse.Namespace, out: Path) -> tuple[Path, Path]:
    """Elaborate with the properties; write design.il (for replay) and model.aig/.aim."""
    root, mode = args.root.resolve(), args.mode
    n_in, n_hid, n_out = args.topology
    defines = "-D FORMAL_LIVE " if args.live else ""
    defines += "-D FORMAL_COVER " if mode == "cover" else ""
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
    if args.props_only:
        # non-vacuity runs: only the p_* properties (the a_* invariants would fail first)
        front.append("delete t:$assert n:a_* %i")
    if mode == "cover":
        # reachability only: the covers are the assertions cover_* (their negations)
        front.append("delete t:$assert n:cover_* %d")
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
    name = args.mode + ("-live" if args.live else "")  # prove-live, bmc-live
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for f in ("cex.aiw", "cex.vcd", "cex.gtkw"):
        (out / f).unlink(missing_ok=True)
    t0 = time.monotonic()
    design, aim = build(args, out)
    depth = args.depth
    if depth is None:
        depth = 24

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

    if args.mode == "prove" and args.engine == "pdr":
        text = abc(
            out, f"pdr -T {int(args.timeout)}; write_cex -a {out / 'cex.aiw'}", args.timeout + 60
        )
        if "Property proved" in text:
            print(
                f"PASS {name} {tname}: every assertion holds in every reachable state "
                f"(pdr, {time.monotonic() - t0:.0f} s)"
            )
            return 0
        if "was asserted in frame" not in text:
            print(
                f"UNKNOWN {name} {tname}: pdr gave no proof within {args.timeout:.0f} s "
                f"(see {out / 'abc.log'})"
            )
            return 1
    elif args.mode == "prove":
        # k-induction: no failure in the first K+1 cycles from reset (base case), and K
        # consecutive cycles satisfying every assertion are always followed by one that does
        k = args.k
        text = abc(out, f"bmc3 -F {k + 1}; write_cex -a {out / 'cex.aiw'}", args.timeout)
        if "was asserted in frame" not in text:
            t_base = time.monotonic() - t0
            step = abc(out, f"orpos; strash; ind -F {k} -T {int(args.timeout)}", args.timeout + 60)
            dt = time.monotonic() - t0
            if "Networks are equivalent" in step:
                label = "bounded liveness + safety" if args.live else "every assertion"
                print(
                    f"PASS {name} {tname}: {label} holds in every reachable state "
                    f"(k-induction, k = {k}; {dt:.0f} s, base case {t_base:.0f} s)"
                )
                return 0
            print(
                f"UNKNOWN {name} {tname}: not {k}-inductive -- no counterexample from reset "
                f"within {k + 1} cycles, no proof either (a property needs a stronger a_* "
                f"invariant or a larger --k; {dt:.0f} s, see {out / 'abc.log'})"
            )
            return 1
    else:
        text = abc(out, f"bmc3 -F {depth}; write_cex -a {out / 'cex.aiw'}", args.timeout)
        if "was asserted in frame" not in text:
            label = "bounded liveness + safety" if args.live else "every assertion"
            print(
                f"PASS {name} {tname}: {label} holds for {depth} steps "
                f"({time.monotonic() - t0:.0f} s)"
            )
            return 0
    frame = int(re.search(r"was asserted in frame (\d+)", text).group(1))
    failed = replay(out, design, aim, frame)
    names = ", ".join(failed) if failed else "(replay named no assertion; see replay.log)"
    print(
        f"FAIL {name} {tname}: {names} at step {frame}; cex {out / 'cex.vcd'} "
        f"(gtkwave {out / 'cex.vcd'} {out / 'cex.gtkw'})"
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["bmc", "prove", "cover"])
    ap.add_argument("--live", action="store_true", help="FORMAL_LIVE: bounded liveness")
    ap.add_argument(
        "--props-only", action="store_true", help="check the p_* properties only (no a_*)"
    )
    ap.add_argument("--topology", type=topology, default=(9, 3, 1), help="N_IN,N_HID,N_OUT")
    ap.add_argument("--depth", type=int, default=None, help="BMC / cover depth (cycles)")
    ap.add_argument("--k", type=int, default=4, help="k-induction depth (prove, live)")
    ap.add_argument("--engine", choices=["kind", "pdr"], default="kind", help="prove engine")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per solver call")
    ap.add_argument("--root", type=Path, default=REPO, help="tree holding hdl/ (mutants)")
    ap.add_argument("--out", type=Path, default=None, help="work directory")
    args = ap.parse_args(argv)
    if args.out is None:
        mode = args.mode + ("-live" if args.live else "")
        args.out = REPO / "build" / "formal" / f"{mode}-{'_'.join(map(str, args.topology))}"
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
