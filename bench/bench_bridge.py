"""The shared lockstep workload of issue 10, side by side: ngspice alone, ours, the exact ODE.

Workload: a 5x6 crossbar of behavioural (B-source) memristors between row and column nodes,
columns to ground through 100 ohm; a Verilog 1 MHz controller drives one row at a time at
1.0 V for one clock, N_PULSES pulses (1 ms); rows are ``external`` sources, columns come back
as ``real`` ports sampled on the falling clock edge; TMAX 1 us, ``uic``.

Printed, measured in this run:
- CPU (user+sys) of ngspice alone (rows as ideal PULSE sources, ``.tran`` only), and of ours
  (``cosim run`` of the workload's design file: Icarus + cocotb + bridge + ngspice) with both
  engines — ``python`` (cocotb triggers, ngspice in the foreground, ``COSIM_SYNC=python``) and
  ``c`` (the compiled bridge: VPI callbacks, ngspice's own thread) — each beyond start-up (a
  1-pulse run subtracted), and their ratios;
- CPU per sync (and the part of it in ngspice's thread), accepted analog points per sync;
- the sampled column voltages at the last pulse against an exact integration of the same
  ODE (SciPy DOP853, rtol 1e-12): max relative error;
- spicebind and cocotbext-ams when importable from ``$BENCH_VENV`` (a venv with them
  installed): see docs/bridge.md for what ran and why the others did not;
- the paper run's lockstep overhead with both engines (``bench_cosim.lockstep_overhead``).

Usage: ``python bench/bench_bridge.py [--pulses 1000] [--no-paper]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_cosim import lockstep_overhead, report
from scipy.integrate import solve_ivp

from cosim.run.design import run_design
from cosim.spice.ngspice import NgSpice

HERE = Path(__file__).resolve().parent / "bridge_workload"
ROWS, COLS = 5, 6
G_ON_S, G_OFF_S, MU = 1e-3, 1e-5, 1500.0  # conductance range; state drift per volt-second
R_COL_OHM = 100.0
T_CLK_S = 1e-6
T_FIRST_S = 0.5e-6  # first rising clock edge


def x0() -> np.ndarray:
    """Initial device states, deterministic."""
    k = np.arange(ROWS * COLS)
    return (0.2 + 0.6 * ((k * 5) % 7) / 6.0).reshape(ROWS, COLS)


def deck(pulse_sources: int | None = None) -> str:
    """The crossbar deck; rows ``external`` (lockstep) or PULSE sources for N pulses."""
    lines = ["shared workload: 5x6 B-source memristor crossbar"]
    lines.append(f".param gon={G_ON_S} goff={G_OFF_S} mu={MU}")
    for i in range(ROWS):
        if pulse_sources is None:
            lines.append(f"Vr{i} r{i} 0 dc 0 external")
        else:
            t_d = T_FIRST_S + i * T_CLK_S
            lines.append(
                f"Vr{i} r{i} 0 PULSE(0 1 {t_d!r} 1p 1p {T_CLK_S - 1e-12!r} {ROWS * T_CLK_S!r})"
            )
    for j in range(COLS):
        lines.append(f"Rc{j} c{j} 0 {R_COL_OHM}")
    ics = []
    for i in range(ROWS):
        for j in range(COLS):
            x = f"x{i}{j}"
            lines.append(f"Bd{i}{j} r{i} c{j} I=(gon*v({x})+goff*(1-v({x})))*(v(r{i})-v(c{j}))")
            lines.append(f"Bs{i}{j} 0 {x} I=mu*(v(r{i})-v(c{j}))")
            lines.append(f"Cx{i}{j} {x} 0 1")
            ics.append(f"v({x})={float(x0()[i, j])!r}")
    lines.append(".ic " + " ".join(ics))
    return "\n".join(lines) + "\n"


def design_toml(pulses: int) -> str:
    drives = "\n".join(
        f'[[drive]]\nhdl = "row_on"\nbit = {i}\nsource = "vr{i}"\nlevels = [0.0, 1.0]\n'
        for i in range(ROWS)
    )
    samples = "\n".join(
        f'[[sample]]\nhdl = "col{j}"\nnode = "c{j}"\nstrobe = "clk"\nedge = "falling"\n'
        for j in range(COLS)
    )
    return (
        f'[design]\nname = "workload"\ntoplevel = "bench_top"\nhdl = ["xbar_ctrl.v"]\n'
        f'deck = "workload.cir"\ntest_module = "test_workload"\n\n'
        f"[analog]\ntmax = 1e-6\nt_stop = {max(2e-3, (pulses + 2) * T_CLK_S)!r}\nuic = true\n\n"
        f"{drives}\n{samples}"
    )


def exact_columns(pulses: int) -> np.ndarray:
    """Column voltages at the middle of the last pulse, from the ODE (SciPy, tight)."""
    g_on, g_off = G_ON_S, G_OFF_S

    def columns(x: np.ndarray, v_row: np.ndarray) -> np.ndarray:
        g = g_on * x + g_off * (1.0 - x)
        return (g * v_row[:, None]).sum(0) / (1.0 / R_COL_OHM + g.sum(0))

    def rhs(_t: float, y: np.ndarray, v_row: np.ndarray) -> np.ndarray:
        x = y.reshape(ROWS, COLS)
        return (MU * (v_row[:, None] - columns(x, v_row)[None, :])).ravel()

    y = x0().ravel()
    zero = np.zeros(ROWS)
    # idle until the first edge: rows at 0 V, columns at 0 V: no drift
    for p in range(pulses):
        v_row = zero.copy()
        v_row[p % ROWS] = 1.0
        span = T_CLK_S if p < pulses - 1 else T_CLK_S / 2
        sol = solve_ivp(rhs, (0.0, span), y, args=(v_row,), method="DOP853", rtol=1e-12,
                        atol=1e-14)  # fmt: skip
        y = sol.y[:, -1]
    v_row = zero.copy()
    v_row[(pulses - 1) % ROWS] = 1.0
    return columns(y.reshape(ROWS, COLS), v_row)


def ngspice_alone(pulses: int) -> tuple[float, float]:
    """CPU of the ``.tran`` (s) and its accepted points, rows as ideal PULSE sources."""
    t_end = T_FIRST_S + pulses * T_CLK_S
    text = deck(pulses) + f".tran 1e-6 {t_end!r} 0 1e-6 uic\n.options reltol=1e-4\n.end\n"
    with NgSpice() as ng:
        ng.load_circuit(text)
        c0 = time.process_time()
        ng.run()
        cpu = time.process_time() - c0
        return cpu, float(len(ng.vector("time")))


def ours(pulses: int, work: Path, engine: str) -> dict:
    """Run the workload's design file with ``cosim run``; CPU of the simulator process.

    ``engine``: ``c`` (the compiled bridge) or ``python`` (``COSIM_SYNC=python``).
    """
    d = work / f"{engine}{pulses}"
    d.mkdir(parents=True)
    hdl = (HERE / "xbar_ctrl.v").read_text().replace("N_PULSES = 1000", f"N_PULSES = {pulses}")
    (d / "xbar_ctrl.v").write_text(hdl)
    shutil.copy(HERE / "test_workload.py", d / "test_workload.py")
    (d / "workload.cir").write_text(deck())
    (d / "design.toml").write_text(design_toml(pulses))
    old = os.environ.get("COSIM_SYNC")
    os.environ["COSIM_SYNC"] = "python" if engine == "python" else "c"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        report = run_design(d / "design.toml", d / "out", log=lambda _: None)
    finally:
        if old is None:
            os.environ.pop("COSIM_SYNC", None)
        else:
            os.environ["COSIM_SYNC"] = old
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cols = json.loads((d / "out" / "columns.json").read_text())
    if cols["engine"] != engine:
        raise RuntimeError(f"asked for the {engine} engine, ran {cols['engine']}: {cols}")
    return {"cpu_s": cpu, **cols, "wall_s": report["wall_time_s"]}


def spicebind(pulses: int, work: Path, venv: Path) -> dict | None:
    """The workload through spicebind's VPI module (Icarus, no cocotb); CPU of ``vvp``."""
    found = sorted(venv.glob("lib/python3*/site-packages/spicebind/spicebind_vpi.vpi"))
    if not found:
        return None
    d = work / f"sb{pulses}"
    d.mkdir(parents=True)
    hdl = (HERE / "xbar_ctrl.v").read_text().replace("N_PULSES = 1000", f"N_PULSES = {pulses}")
    (d / "xbar_ctrl.v").write_text(hdl)
    t_end = T_FIRST_S + (pulses + 2) * T_CLK_S
    (d / "sb.cir").write_text(
        deck() + f".options reltol=1e-4\n.tran 1e-6 {t_end!r} 0 1e-6 uic\n.end\n"
    )
    vvp = d / "sim.vvp"
    subprocess.run(
        ["iverilog", "-g2012", "-o", str(vvp), "-s", "spicebind_top", str(d / "xbar_ctrl.v")],
        check=True,
    )
    env = {**os.environ, "SPICE_NETLIST": str(d / "sb.cir"), "VCC": "1.0"}
    env["HDL_INSTANCE"] = "spicebind_top.u_analog"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        ["vvp", "-M", str(found[0].parent), "-m", "spicebind_vpi", str(vvp)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in out.stdout.splitlines() if x.startswith("COLS"))
    return {"cpu_s": cpu, "wall_s": wall, "columns_V": [float(v) for v in line.split()[1:]]}


def _ours_line(name: str, n_run: dict, one: dict, exact: np.ndarray, alone_cpu: float) -> float:
    """Print one engine's figures; return its CPU beyond start-up.

    CPU beyond start-up: the whole simulator process (every thread) from the bridge's start to
    its stop, measured inside it, minus the same for a 1-pulse run. (The process CPU of a
    1000-pulse run minus a 1-pulse run, as for spicebind, moves by ±0.3 s with the machine's
    load for our 1.5-2 s start-up; it is printed for reference.)
    """
    cpu = n_run["lockstep_cpu_s"] - one["lockstep_cpu_s"]
    whole = n_run["cpu_s"] - one["cpu_s"]
    syncs = n_run["syncs"] - one["syncs"]
    points = n_run["points"] - one["points"]
    thread = n_run["analog_thread_cpu_s"] - one["analog_thread_cpu_s"]
    callbacks = n_run["callback_cpu_s"] - one["callback_cpu_s"]
    err = np.abs(np.array(n_run["columns_V"]) - exact) / np.abs(exact)
    print(f"ours, {name}: {cpu:.3f} s CPU beyond start-up (whole process minus a 1-pulse "
          f"run: {whole:.3f} s; start-up {one['cpu_s']:.2f} s), {syncs} syncs, "
          f"{points} points")  # fmt: skip
    print(f"  ours / ngspice alone          = {cpu / alone_cpu:.2f}   (target <= 2)")
    print(f"  CPU per sync                  = {1e6 * cpu / syncs:.0f} us   (target <= 50)")
    if thread > 0:
        print(f"    of which ngspice's thread {1e6 * thread / syncs:.0f} us, the simulator's "
              f"thread in the bridge's callbacks {1e6 * callbacks / syncs:.0f} us")  # fmt: skip
    print(f"  accepted points per sync      = {points / syncs:.2f}   (target <= 1.5)")
    print(f"  column voltages vs exact ODE  = {100 * err.max():.4f} % max   (target <= 0.05 %)")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pulses", type=int, default=1000)
    parser.add_argument(
        "--venv",
        default=os.environ.get("BENCH_VENV", "/tmp/bridge-benchvenv"),
        help="venv with spicebind installed (pip install spicebind; needs libngspice0-dev)",
    )
    parser.add_argument(
        "--paper",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the paper run's lockstep overhead (bench_cosim, both engines)",
    )
    args = parser.parse_args()
    n = args.pulses
    cpu_model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.machine())  # fmt: skip
    print(f"machine: {cpu_model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    cpu_alone, pts_alone = ngspice_alone(n)
    cpu_alone_1, _ = ngspice_alone(1)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        for engine in ("python", "c"):
            runs[engine] = (ours(n, Path(tmp), engine), ours(1, Path(tmp), engine))
        sb_n = spicebind(n, Path(tmp), Path(args.venv))
        sb_1 = spicebind(1, Path(tmp), Path(args.venv))
    exact = exact_columns(n)
    alone_cpu = cpu_alone - cpu_alone_1
    print(f"workload: {n} pulses, 5x6 crossbar, TMAX 1 us, uic, reltol 1e-4")
    print(f"ngspice alone (ideal PULSE rows): {alone_cpu:.3f} s CPU beyond start-up, "
          f"{pts_alone:.0f} points, {1e6 * alone_cpu / pts_alone:.0f} us per point")  # fmt: skip
    cpu = {}
    for engine, name in (("python", "python engine (cocotb bridge, foreground ngspice)"),
                         ("c", "compiled (VPI callbacks, ngspice's thread)")):  # fmt: skip
        cpu[engine] = _ours_line(name, *runs[engine], exact, alone_cpu)
    cols_c, cols_py = (np.array(runs[e][0]["columns_V"]) for e in ("c", "python"))
    print(f"  compiled vs python engine: columns within "
          f"{np.abs(cols_c - cols_py).max() / np.abs(cols_py).max():.1e} (relative), "
          f"CPU ratio {cpu['c'] / cpu['python']:.2f}")  # fmt: skip
    if sb_n is None or sb_1 is None:
        print(f"  spicebind: not installed in {args.venv} (see --venv)")
    else:
        sb_cpu = sb_n["cpu_s"] - sb_1["cpu_s"]
        sb_err = np.abs(np.array(sb_n["columns_V"]) - exact) / np.abs(exact)
        print(f"spicebind (VPI, no cocotb): {sb_cpu:.3f} s CPU beyond start-up "
              f"(start-up {sb_1['cpu_s']:.2f} s, wall {sb_n['wall_s']:.2f} s), "
              f"columns vs exact {100 * sb_err.max():.4f} % max")  # fmt: skip
        for engine in ("python", "c"):
            print(f"  ours ({engine}) / spicebind    = {cpu[engine] / max(sb_cpu, 1e-9):.1f}   "
                  "(target <= 2)")  # fmt: skip
    print("  cocotbext-ams: not run (threshold pins only: no real column ports; docs/bridge.md)")
    if args.paper:
        with tempfile.TemporaryDirectory(prefix="bench-paper-") as tmp:
            for engine in ("python", "c"):
                report(lockstep_overhead("Cr", Path(tmp) / engine, engine))


if __name__ == "__main__":
    main()
