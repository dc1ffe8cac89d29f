"""Benchmark: the post-processing of a bench run (VCD merge, view, summary), old code vs new.

What ``cosim sim`` does after ``vvp`` ends: ``merge_outputs`` (``digital.vcd`` + ``analog.vcd``
→ ``training.vcd`` with the selected-device traces, ``training.gtkw``) and ``summarize``
(``summary.json`` from ``training.vcd``).  Both are run on the same source files by a baseline
revision of the package (``git archive``, default the main commit before the text-copy merge)
and by this tree, alternately, each in its own process; the outputs must be the same byte for
byte.  Prints wall and CPU time per step, side by side, and their ratios.

Usage: ``.venv/bin/python bench/bench_post.py [RUN_DIR] [--baseline REV] [--repeat N]``.
``RUN_DIR`` is a ``cosim sim`` output directory (``digital.vcd``, ``analog.vcd``, ``host.json``,
``config.json``); without it a 9→3→1 NumPy-backend run with 20 test images is made first.
For the 64→16→10 figures of docs/performance.md: a ``cosim sim --backend numpy --topology
64,16,10 --dataset digits`` output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
#: main before the post-processing work of issue 9 (pyvcd re-encoding, three passes).
BASELINE = "d329341"
SOURCES = ("digital.vcd", "analog.vcd", "host.json", "config.json")
OUTPUTS = ("training.vcd", "training.gtkw", "training.sucl", "summary.json")

DRIVER = """
import json, sys, time
from pathlib import Path
from cosim.analysis import summary as S
from cosim.analysis.metrics import json_safe
out = Path(sys.argv[1])
times = {}
def step(name, fn):
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    times[name] = (time.perf_counter() - w, time.process_time() - c)
    return result
step("merge_outputs", lambda: S.merge_outputs(out))
summary = step("summarize", lambda: S.summarize(out))
(out / "summary.json").write_text(json.dumps(json_safe(summary)[0], indent=2) + "\\n")
print(json.dumps(times))
"""


def tree(rev: str, dest: Path) -> Path:
    """The package at ``rev`` (its files only) in ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def once(code: Path, sources: Path, work: Path) -> tuple[dict[str, tuple[float, float]], dict]:
    """Post-process a copy of ``sources`` in ``work`` with the package in ``code``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in SOURCES:
        shutil.copy(sources / name, work / name)
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(work)],
        env=env,
        cwd=work,  # not the caller's directory: it would come first on sys.path
        check=True,
        capture_output=True,
    )
    times = json.loads(proc.stdout.decode().splitlines()[-1])
    outputs = {name: (work / name).read_bytes() for name in OUTPUTS}
    return times, outputs


def make_run(dest: Path) -> Path:
    out = dest / "run"
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--backend", "numpy", "--test-images", "20"]
    print("$ cosim sim --backend numpy --test-images 20", flush=True)
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a cosim sim output directory")
    parser.add_argument("--baseline", default=BASELINE, help=f"git revision (default {BASELINE})")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-post-") as tmp:
        base = Path(tmp)
        run = args.run or make_run(base)
        for name in SOURCES:
            if not (run / name).is_file():
                raise SystemExit(f"{run}: no {name} (a cosim sim output directory is needed)")
        old_code = tree(args.baseline, base / "baseline")
        sides = {"baseline": old_code, "this tree": ROOT}
        size = sum((run / n).stat().st_size for n in ("digital.vcd", "analog.vcd")) / 1e6
        print(f"{run}: digital + analog VCD {size:.1f} MB; baseline {args.baseline}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
        times: dict[str, list[dict[str, tuple[float, float]]]] = {s: [] for s in sides}
        outputs: dict[str, dict] = {}
        for _ in range(args.repeat):
            for side, code in sides.items():  # alternately: the same load for both
                t, outputs[side] = once(code, run, base / "work")
                times[side].append(t)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        print(
            f"{'step (median of ' + str(args.repeat) + ')':<26}{'baseline':>20}{'this tree':>20}"
            f"{'ratio':>8}"
        )
        for step in ("merge_outputs", "summarize"):
            row = [median(t[step][0] for t in times[s]) for s in sides]
            cpu = [median(t[step][1] for t in times[s]) for s in sides]
            print(
                f"{step:<26}{row[0]:>9.2f} s ({cpu[0]:5.2f} CPU)"
                f"{row[1]:>9.2f} s ({cpu[1]:5.2f} CPU){row[0] / row[1]:>7.1f}×"
            )
        total = [median(sum(w for w, _ in t.values()) for t in times[s]) for s in sides]
        print(
            f"{'both':<26}{total[0]:>9.2f} s{'':12}{total[1]:>9.2f} s{'':12}"
            f"{total[0] / total[1]:>7.1f}×"
        )
        same = [n for n in OUTPUTS if outputs["baseline"][n] == outputs["this tree"][n]]
        differ = [n for n in OUTPUTS if n not in same]
        print(f"identical outputs: {', '.join(same) or 'none'}")
        if differ:
            raise SystemExit(f"outputs differ: {', '.join(differ)}")


if __name__ == "__main__":
    main()
