"""Full Cr training co-simulation and its lockstep overhead, measured side by side in one run.

    .venv/bin/python bench/bench_cosim.py [--card Cr] [--out build/bench/cosim]

1. the co-simulation (`cosim sim`, ngspice backend): wall time of the vvp process, simulated
   time, bridge syncs, accepted ngspice points;
2. ngspice alone: the same analog experiment from the recorded stimulus as PWL sources, one
   ``.tran`` with the same TMAX, no VCD;
3. Icarus alone: the same host session with the recorded ADC values replayed, no analog;
4. overhead ratio = (1) / ((2) + (3)).  Target ≤ 1.5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cosim.circuit.va import compile_va, model_path
from cosim.config import SimConfig
from cosim.crossbar import make_crossbar
from cosim.run.replay import load_record, pwl_netlist
from cosim.run.sim import run_bench, run_sim
from cosim.spice.ngspice import NgSpice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="Cr")
    parser.add_argument("--out", type=Path, default=Path("build", "bench", "cosim"))
    args = parser.parse_args()
    out = args.out.resolve()

    cfg = SimConfig(card=args.card, backend="ngspice", out_dir=out)
    t0 = time.perf_counter()
    summary = run_sim(cfg, log=lambda _m: None)
    total_s = time.perf_counter() - t0
    cosim_s = summary["wall_time_s"]
    host = json.loads((out / "host.json").read_text())
    record = load_record(out / "stimulus.json")
    t_end = max(t for t, _ in record["stimulus"] + record["samples"])

    # ngspice alone, same netlist and TMAX, stimulus as PWL.
    xbar = make_crossbar(cfg.card, cfg.seed)
    nl = xbar.netlist(compile_va(model_path("mss.va")), compile_va(model_path("neuron.va")))
    tmax = cfg.analog_tmax_s()
    text = pwl_netlist(nl, [(t, v) for t, v in record["stimulus"]], tmax_s=tmax)
    with NgSpice() as ng:
        for p in nl.osdi:
            ng.load_osdi(p)
        t1 = time.perf_counter()
        ng.load_circuit(text)
        ng.advance_to(t_end)
        spice_s = time.perf_counter() - t1
        spice_points = len(ng.vector("time"))

    # Icarus alone: the host session with the recorded ADC values.
    replay_dir = out / "replay"
    replay_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = replay_dir / "config.json"
    replay_cfg = SimConfig(card=args.card, backend="ngspice", out_dir=replay_dir)
    cfg_path.write_text(json.dumps(replay_cfg.to_json()))
    t2 = time.perf_counter()
    run_bench(
        replay_dir / "hdl",
        "cosim.bench.training",
        extra_env={"COSIM_SIM_CONFIG": str(cfg_path), "COSIM_REPLAY": str(out / "stimulus.json")},
        vcd_path=replay_dir / "digital.vcd",
        testcase="digital_replay",
    )
    icarus_s = time.perf_counter() - t2

    ratio = cosim_s / (spice_s + icarus_s)
    print(
        f"card {args.card}: simulated {summary['training_time_s'] * 1e3:.2f} ms of training, "
        f"{t_end * 1e3:.2f} ms in all"
    )
    print(
        f"  co-simulation (vvp, lockstep)   {cosim_s:8.2f} s   "
        f"({host['backend_stats']['syncs']} syncs, {host['backend_stats']['points']} "
        f"ngspice points, {host['bridge_events']} bridge wake-ups)"
    )
    print(f"  ngspice alone (PWL replay)      {spice_s:8.2f} s   ({spice_points} points)")
    print(f"  Icarus alone (ADC replay)       {icarus_s:8.2f} s")
    print(f"  lockstep overhead ratio         {ratio:8.2f}     (target <= 1.5)")
    print(f"  make-sim equivalent (all steps) {total_s:8.2f} s   (target < 120 s)")


if __name__ == "__main__":
    main()
