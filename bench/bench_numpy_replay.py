"""Benchmark: the NumPy backend alone, replaying a run's recorded stimulus, old code against new.

Run: ``.venv/bin/python bench/bench_numpy_replay.py [--run DIR] [--baseline REV] [--repeat N]``

A ``cosim sim --backend numpy`` run records every control change the bridge applied to the
analog side and every sample it took (``stimulus.json``).  This bench feeds that record to
:class:`cosim.backends.numpy.NumpyBackend` alone — ``advance_to``, ``mark_edge``,
``set_controls``, ``sample`` in the bridge's order (at one instant: the changes, then the
sample) — with no Icarus, cocotb or bridge, and measures the backend's CPU time per phase
(programming: before the first ``vinf`` pulse; inference: from it on).  The baseline is the
package as of git revision ``--baseline`` (extracted with ``git archive``), the candidate the
working tree; they run alternately in child processes (``--repeat`` rounds), so both see the
same machine load.  Printed: CPU per phase and side (best of the rounds), the ratio, and how
far the candidate's results are from the baseline's (samples handed to the HDL, final states
and conductances, the analog VCD line by line: the same time stamps and signals, values within
a relative bound).

Without ``--run`` the bench first records a stimulus with ``cosim sim --backend numpy`` (the
default 9→3→1 job; ``--topology 64,16,10 --dataset digits`` for the whole digits run).  The
bridge's wakes that change nothing are not in the record, so a replay has fewer syncs than the
run it comes from; old and new replay the same record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def worker(run: Path, out: Path) -> None:
    """Replay ``run``'s stimulus into the NumPy backend of the ``cosim`` on ``sys.path``."""
    from cosim.crossbar import make_backend, make_crossbar
    from cosim.topology import Topology

    cfg = json.loads((run / "config.json").read_text())
    host = json.loads((run / "host.json").read_text())
    xbar = make_crossbar(cfg["card"], cfg["seed"], Topology(tuple(cfg["topology"])), cfg["dataset"])
    xbar = replace(xbar, spec=replace(xbar.spec, r_sense_ohm=host["r_sense_ohm"]))
    rec = json.loads((run / "stimulus.json").read_text())
    events = sorted(
        [(t, 0, v) for t, v in rec["stimulus"]] + [(t, 1, v) for t, v in rec["samples"]],
        key=lambda e: (e[0], e[1]),
    )
    t_inf = min((t for t, k, v in events if k == 0 and v.get("vinf", 0.0) > 0.5), default=np.inf)
    backend = make_backend(xbar, "numpy", out / "analog.vcd", tmax_s=1e-6)
    cpu = {"program": 0.0, "infer": 0.0}
    count = {"program": 0, "infer": 0}
    samples = []
    for t, kind, values in events:
        phase = "program" if t < t_inf else "infer"
        c0 = time.process_time()
        backend.advance_to(t)
        if kind == 0:
            backend.mark_edge(t)
            backend.set_controls(values)
        else:
            samples.append(backend.sample())
        cpu[phase] += time.process_time() - c0
        count[phase] += 1
    c0 = time.process_time()
    states = backend.states()
    backend.close()
    cpu["close"] = time.process_time() - c0
    np.save(out / "states.npy", states)
    (out / "samples.json").write_text(json.dumps(samples))
    (out / "cpu.json").write_text(json.dumps({"cpu_s": cpu, "events": count}))


def record(out: Path, options: list[str]) -> Path:
    """A ``cosim sim --backend numpy`` run (its stimulus) in ``out``."""
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--backend", "numpy", "--out", str(out)]
    print("$ cosim sim --backend numpy " + " ".join(options), flush=True)
    subprocess.run([*cmd, *options], check=True, stdout=subprocess.DEVNULL)
    return out


def baseline_tree(rev: str, into: Path) -> Path:
    """The ``cosim`` package (and its data) as of git revision ``rev``, extracted under ``into``."""
    got = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "cosim", "hdl", "va_models"],
        capture_output=True,
    )
    if got.returncode:
        raise SystemExit(
            f"bench_numpy_replay: no baseline {rev!r} in {ROOT}: {got.stderr.decode()}"
        )
    archive = got.stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def replay(tree: Path, run: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(run), str(out)]
    subprocess.run(cmd, check=True, env=env, cwd=tree)
    result: dict[str, Any] = json.loads((out / "cpu.json").read_text())
    return result


def _vcd_changes(path: Path) -> tuple[dict[str, str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The ``real`` changes of an analog VCD: names by identifier, and per identifier its
    change times (ticks) and values (the last value of each tick: the one that holds)."""
    names: dict[str, str] = {}
    scope: list[str] = []
    ticks: list[int] = []
    idents: list[str] = []
    values: list[float] = []
    tick = 0
    with open(path) as fh:
        for line in fh:
            if line[0] == "r":
                value, ident = line.split()
                ticks.append(tick)
                idents.append(ident)
                values.append(float(value[1:]))
            elif line[0] == "#":
                tick = int(line[1:])
            elif line.startswith("$scope"):
                scope.append(line.split()[2])
            elif line.startswith("$upscope"):
                scope.pop()
            elif line.startswith("$var"):
                words = line.split()
                names[words[3]] = ".".join([*scope[1:], words[4]])
    order = np.lexsort((np.arange(len(ticks)), np.asarray(ticks), np.asarray(idents)))
    t, i, v = np.asarray(ticks)[order], np.asarray(idents)[order], np.asarray(values)[order]
    out = {}
    bounds = np.flatnonzero(i[1:] != i[:-1]) + 1
    for lo, hi in zip([0, *bounds.tolist()], [*bounds.tolist(), i.size], strict=True):
        tt, vv = t[lo:hi], v[lo:hi]
        last = np.append(tt[1:] != tt[:-1], True)  # the value that holds at each tick
        out[str(i[lo])] = (tt[last], vv[last])
    return names, out


def compare_waves(a: Path, b: Path) -> dict[str, float]:
    """Largest difference between two analog VCDs' held (step) waveforms, per variable kind
    (``v``, ``i``, ``x``, ``g``, ...), in units of the writer's deadband of that kind."""
    from cosim.waves.write import DEADBAND

    names_a, wa = _vcd_changes(a)
    names_b, wb = _vcd_changes(b)
    if names_a != names_b:
        return {"signals_differ": 1.0}
    worst: dict[str, float] = {}
    for ident, name in names_a.items():
        (ta, va), (tb, vb) = wa.get(ident, _EMPTY), wb.get(ident, _EMPTY)
        times = np.union1d(ta, tb)
        at_a = va[np.searchsorted(ta, times, "right") - 1] if ta.size else np.zeros(times.size)
        at_b = vb[np.searchsorted(tb, times, "right") - 1] if tb.size else np.zeros(times.size)
        kind = name.rsplit(".", 1)[-1]
        diff = float(np.max(np.abs(at_a - at_b), initial=0.0)) / DEADBAND.get(kind, 1.0)
        worst[kind] = max(worst.get(kind, 0.0), diff)
    return worst


_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0))


def compare(a: Path, b: Path, r_on: np.ndarray, r_off: np.ndarray) -> dict[str, Any]:
    """How far replay ``b``'s results are from ``a``'s."""
    xa, xb = np.load(a / "states.npy"), np.load(b / "states.npy")
    ga, gb = xa / r_on + (1 - xa) / r_off, xb / r_on + (1 - xb) / r_off
    sa = json.loads((a / "samples.json").read_text())
    sb = json.loads((b / "samples.json").read_text())
    worst_sample = max(
        (abs(u[k] - v[k]) / max(abs(u[k]), 1e-300) for u, v in zip(sa, sb, strict=True) for k in u),
        default=0.0,
    )
    identical = (a / "analog.vcd").read_bytes() == (b / "analog.vcd").read_bytes()
    return {
        "samples": len(sa),
        "samples_max_rel": worst_sample,
        "x_max_abs": float(np.max(np.abs(xa - xb))),
        "g_max_rel": float(np.max(np.abs(ga - gb) / ga)),
        "vcd_identical": identical,
        "waves_max_diff_in_deadbands": {}
        if identical
        else compare_waves(a / "analog.vcd", b / "analog.vcd"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, help="a cosim sim --backend numpy run directory")
    ap.add_argument("--baseline", default="d329341", help="git revision of the old code")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of old, new")
    ap.add_argument("--out", type=Path, help="where the replays go (default: a temp dir)")
    ap.add_argument("sim_options", nargs="*", help="cosim sim options when recording")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_numpy_replay."))
    out.mkdir(parents=True, exist_ok=True)
    run = args.run or record(out / "run", args.sim_options)
    old_tree = baseline_tree(args.baseline, Path(tempfile.mkdtemp(prefix="baseline.", dir=out)))
    load0 = os.getloadavg()
    best: dict[str, dict[str, float]] = {}
    for rnd in range(args.repeat):
        for side, tree in (("old", old_tree), ("new", ROOT)):
            res = replay(tree, run, out / f"{side}{rnd}")
            cpu = res["cpu_s"]
            print(
                f"round {rnd} {side}: programming {cpu['program']:.2f} s, inference "
                f"{cpu['infer']:.2f} s ({res['events']['program']} + {res['events']['infer']} "
                "events)",
                flush=True,
            )
            keep = best.setdefault(side, dict(cpu))
            for k, v in cpu.items():
                keep[k] = min(keep[k], v)
    load1 = os.getloadavg()
    from cosim.crossbar import make_crossbar
    from cosim.topology import Topology

    cfg = json.loads((run / "config.json").read_text())
    xbar = make_crossbar(cfg["card"], cfg["seed"], Topology(tuple(cfg["topology"])), cfg["dataset"])
    p = xbar.params.broadcast_flat(xbar.x0.shape)
    agree = compare(out / "old0", out / "new0", p.r_on, p.r_off)
    print(
        f"\nreplay of {run} ({cfg['topology']}), baseline {args.baseline}; load {load0[0]:.2f} "
        f"→ {load1[0]:.2f}; best of {args.repeat} round(s), CPU (s):"
    )
    for phase in ("program", "infer", "close"):
        o, n = best["old"][phase], best["new"][phase]
        print(f"  {phase:8s} old {o:8.2f}  new {n:8.2f}  ratio {o / max(n, 1e-9):5.2f}")
    total_o = sum(best["old"].values())
    total_n = sum(best["new"].values())
    print(f"  {'total':8s} old {total_o:8.2f}  new {total_n:8.2f}  ratio {total_o / total_n:5.2f}")
    print("agreement (new against old):", json.dumps(agree))
    print(f"replays kept in {out}")


if __name__ == "__main__":
    main()
