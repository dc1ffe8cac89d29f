"""Full Cr training co-simulation and its lockstep overhead, measured side by side in one run.

    .venv/bin/python bench/bench_cosim.py [--card Cr] [--out build/bench/cosim] [--engine c]

1. the co-simulation (`cosim sim`, ngspice backend): wall time of the vvp process, simulated
   time, bridge syncs, accepted ngspice points;
2. ngspice alone: the same analog experiment from the recorded stimulus as PWL sources, one
   ``.tran`` with the same TMAX, no VCD;
3. Icarus alone: the same host session with the recorded ADC values replayed, no analog;
4. overhead ratio = (1) / ((2) + (3)), in wall time and in CPU time (the CPU of the child
   processes: iverilog and vvp; in-process for ngspice alone).  Target ≤ 1.2 (issue 10).

``--engine``: ``c`` (the compiled bridge, default where it builds) or ``python``
(``COSIM_SYNC=python``: the cocotb bridge and the foreground engine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from cosim.circuit.va import compile_va, model_path
from cosim.config import SimConfig
from cosim.crossbar import make_crossbar
from cosim.run.replay import load_record, pwl_netlist
from cosim.run.sim import run_bench, run_sim
from cosim.spice.ngspice import NgSpice


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def lockstep_overhead(card: str, out: Path, engine: str) -> dict[str, Any]:
    """Run the co-simulation and its two halves alone; times, CPU and counts."""
    old = os.environ.get("COSIM_SYNC")
    os.environ["COSIM_SYNC"] = "python" if engine == "python" else "auto"
    try:
        cfg = SimConfig(card=card, backend="ngspice", out_dir=out)
        c0, t0 = _children_cpu(), time.perf_counter()
        summary = run_sim(cfg, log=lambda _m: None)
        total_s = time.perf_counter() - t0
        cosim_cpu = _children_cpu() - c0
        host = json.loads((out / "host.json").read_text())
        record = load_record(out / "stimulus.json")
        t_end = max(t for t, _ in record["stimulus"] + record["samples"])

        # ngspice alone, same netlist and TMAX, stimulus as PWL.
        xbar = make_crossbar(cfg.card, cfg.seed)
        nl = xbar.netlist(compile_va(model_path("mss.va")), compile_va(model_path("neuron.va")))
        text = pwl_netlist(nl, [(t, v) for t, v in record["stimulus"]], tmax_s=cfg.analog_tmax_s())
        with NgSpice() as ng:
            for p in nl.osdi:
                ng.load_osdi(p)
            t1, p1 = time.perf_counter(), time.process_time()
            ng.load_circuit(text)
            ng.advance_to(t_end)
            spice_s = time.perf_counter() - t1
            spice_cpu = time.process_time() - p1
            spice_points = len(ng.vector("time"))

        # Icarus alone: the host session with the recorded ADC values.
        replay_dir = out / "replay"
        replay_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = replay_dir / "config.json"
        replay_cfg = SimConfig(card=card, backend="ngspice", out_dir=replay_dir)
        cfg_path.write_text(json.dumps(replay_cfg.to_json()))
        c2, t2 = _children_cpu(), time.perf_counter()
        run_bench(
            replay_dir / "hdl",
            "cosim.bench.training",
            extra_env={
                "COSIM_SIM_CONFIG": str(cfg_path),
                "COSIM_REPLAY": str(out / "stimulus.json"),
            },
            vcd_path=replay_dir / "digital.vcd",
            testcase="digital_replay",
        )
        icarus_s = time.perf_counter() - t2
        icarus_cpu = _children_cpu() - c2
    finally:
        if old is None:
            os.environ.pop("COSIM_SYNC", None)
        else:
            os.environ["COSIM_SYNC"] = old
    return {
        "engine": engine,
        "summary": summary,
        "t_end_s": t_end,
        "cosim_s": summary["wall_time_s"],
        "cosim_cpu_s": cosim_cpu,
        "total_s": total_s,
        "syncs": host["backend_stats"]["syncs"],
        "points": host["backend_stats"]["points"],
        "events": host["bridge_events"],
        "spice_s": spice_s,
        "spice_cpu_s": spice_cpu,
        "spice_points": spice_points,
        "icarus_s": icarus_s,
        "icarus_cpu_s": icarus_cpu,
        "ratio": summary["wall_time_s"] / (spice_s + icarus_s),
        "ratio_cpu": cosim_cpu / (spice_cpu + icarus_cpu),
    }


def report(r: dict[str, Any]) -> None:
    s = r["summary"]
    print(
        f"engine {r['engine']}: simulated {s['training_time_s'] * 1e3:.2f} ms of training, "
        f"{r['t_end_s'] * 1e3:.2f} ms in all"
    )
    print(
        f"  co-simulation (vvp, lockstep)   {r['cosim_s']:8.2f} s wall "
        f"{r['cosim_cpu_s']:8.2f} s CPU   ({r['syncs']} syncs, {r['points']} ngspice points, "
        f"{r['events']} bridge wake-ups)"
    )
    print(
        f"  ngspice alone (PWL replay)      {r['spice_s']:8.2f} s wall "
        f"{r['spice_cpu_s']:8.2f} s CPU   ({r['spice_points']} points)"
    )
    print(
        f"  Icarus alone (ADC replay)       {r['icarus_s']:8.2f} s wall "
        f"{r['icarus_cpu_s']:8.2f} s CPU"
    )
    print(
        f"  lockstep overhead ratio         {r['ratio']:8.2f} wall {r['ratio_cpu']:8.2f} CPU"
        "   (target <= 1.2)"
    )
    print(f"  make-sim equivalent (all steps) {r['total_s']:8.2f} s   (target < 120 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="Cr")
    parser.add_argument("--out", type=Path, default=Path("build", "bench", "cosim"))
    parser.add_argument("--engine", choices=("c", "python"), default="c")
    args = parser.parse_args()
    report(lockstep_overhead(args.card, args.out.resolve(), args.engine))


if __name__ == "__main__":
    main()
