"""Memory and speed of load-run-remove cycles through cosim.spice.ngspice in one process.

Prints the resident set size before and after N cycles (load an RC netlist, run a
transient, copy a vector out, remove the circuit and its plots) and the cycles per second;
then the same for lockstep cycles (20 ``advance_to`` syncs, removed while paused).
The requirement: 1,000 cycles grow RSS by less than 20 MB.

Run: ``.venv/bin/python bench/bench_ngspice_leak.py [cycles]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cosim.spice.ngspice import NgSpice

NETLIST = """leak bench RC
V1 in 0 pulse(0 1 0 1n 1n 5u 10u)
R1 in out 1k
C1 out 0 1n
.tran 10n 20u 0 100n
.end"""


def rss_MB() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status")


def cycle(ng: NgSpice) -> float:
    """One load-run-remove cycle; returns the final output voltage (V)."""
    ng.load_circuit(NETLIST)
    ng.run()
    v_out_V = float(ng.vector("v(out)")[-1])
    ng.remove_circuit()
    return v_out_V


def lockstep_cycle(ng: NgSpice) -> float:
    """Load, advance in lockstep (ngspice's thread with the compiled helper), remove while
    paused (the thread is let go); returns the output voltage at the last sync (V)."""
    ng.load_circuit(NETLIST)
    for k in range(1, 21):
        ng.advance_to(k * 0.5e-6)
    v_out_V = ng.latest("v(out)")
    ng.remove_circuit()
    return v_out_V


def main(cycles: int = 1000) -> None:
    """Run ``cycles`` cycles of each kind after a short warm-up; print RSS growth and speed."""
    with NgSpice() as ng:
        print(f"sync engine: {ng.sync_engine} ({ng.sync_reason})")
        for name, one in (("load-run-remove", cycle), ("load-lockstep-remove", lockstep_cycle)):
            for _ in range(20):  # warm-up: first-use allocations are not leaks
                one(ng)
            before_MB = rss_MB()
            start_s = time.perf_counter()
            for _ in range(cycles):
                one(ng)
            elapsed_s = time.perf_counter() - start_s
            growth_MB = rss_MB() - before_MB
            print(f"{name}: {cycles} cycles, RSS {before_MB:.1f} -> {before_MB + growth_MB:.1f} MB")
            print(f"  growth per 1000 cycles: {growth_MB * 1000.0 / cycles:.2f} MB (limit 20 MB)")
            print(f"  speed: {cycles / elapsed_s:.0f} cycles/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
