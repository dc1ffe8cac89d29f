"""VCD reading: legal layout variants accepted, non-finite samples reported (always valid JSON),
absurd time stamps warned, signals of the wrong kind refused, standard input and pipes read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RunCli

from cosim.waves.read import iter_vcd

HEADER = """$timescale 1 ns $end
$scope module xbar_top $end
$var wire 1 ! start $end
$var wire 1 " done $end
$var wire 3 # phase $end
$upscope $end
$scope module analog $end
$scope module supply $end
$scope module vdd $end
$var real 64 $ v $end
$var real 64 % i $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
"""

ONE_PER_LINE = """#0
$dumpvars
0!
0"
b000 #
r1.2 $
r0.001 %
$end
#10
1!
b010 #
#1000
1"
b000 #
#2000
"""

VARIANTS = """#0 $dumpvars 0! 0" b000 # r1.2 $ r0.001 % $end
   #10
\t1! b010 #
$comment several
  lines $end
#1000 1" b000 #
#2000
"""


def _changes(path: Path) -> list:
    it = iter_vcd(path)
    next(it)
    return list(it)


def _no_constant(name: str) -> None:
    raise AssertionError(f"invalid JSON token {name}")


def test_layout_variants_read_like_one_change_per_line(tmp_path: Path) -> None:
    a, b = tmp_path / "a.vcd", tmp_path / "b.vcd"
    a.write_text(HEADER + ONE_PER_LINE)
    b.write_text(HEADER + VARIANTS)
    assert _changes(b) == _changes(a)
    assert len(_changes(a)) == 10  # 9 changes and the end marker


def test_malformed_is_still_an_error_with_file_and_line(cosim: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.vcd"
    bad.write_text(HEADER + ONE_PER_LINE + "1 zz\n")
    line = cosim("report", str(bad)).one_line_error()
    assert f"{bad}:" in line and "malformed VCD line" in line


def test_nan_sample_gives_valid_json_with_null_and_a_note(cosim: RunCli, tmp_path: Path) -> None:
    vcd = tmp_path / "sample.vcd"
    vcd.write_text(HEADER + ONE_PER_LINE.replace("#1000\n", "#500\nrnan %\n#1000\n"))
    res = cosim("report", str(vcd), "--json")
    assert res.status == 0, res.err
    report = json.loads(res.out, parse_constant=_no_constant)  # NaN/Infinity are not JSON
    assert report["energy_J"] is None and report["supplies"]["vdd"] is None
    assert any("non-finite" in n and "supplies.vdd" in n for n in report["notes"])
    table = cosim("report", str(vcd)).out
    body = table.splitlines()[1:]  # the first line names the file
    assert not any(re.search(r"\bnan\b", line) for line in body) and "non-finite" in table


def test_absurd_final_time_stamp_is_warned(cosim: RunCli, tmp_path: Path) -> None:
    vcd = tmp_path / "late.vcd"
    # 2e14 ns: two days and a half of simulated time
    vcd.write_text(HEADER + ONE_PER_LINE.replace("#2000\n", "#2000\n#200000000000000\n"))
    res = cosim("report", str(vcd), "--json")
    assert res.status == 0 and any("absurd" in n for n in json.loads(res.out)["notes"])
    # beyond 18 digits (the readers' 64-bit ticks): a one-line error naming the file
    vcd.write_text(HEADER + ONE_PER_LINE.replace("#2000\n", "#2000\n#200000000000000000000\n"))
    line = cosim("report", str(vcd), "--json").one_line_error()
    assert str(vcd) in line and "18 digits" in line
    normal = tmp_path / "ok.vcd"
    normal.write_text(HEADER + ONE_PER_LINE)
    assert not any(
        "absurd" in n for n in json.loads(cosim("report", str(normal), "--json").out)["notes"]
    )


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("--phase", "analog.supply.vdd.v"), "real signal"),
        (("--start", "xbar_top.phase"), "3 bits"),
        (("--start", "xbar_top.start", "--done", "xbar_top.start"), "same signal"),
    ],
    ids=["phase-real", "start-multibit", "start-is-done"],
)
def test_wrong_kind_of_signal_is_refused(cosim: RunCli, tmp_path: Path, args, expect) -> None:
    vcd = tmp_path / "run.vcd"
    vcd.write_text(HEADER + ONE_PER_LINE)
    assert expect in cosim("report", str(vcd), *args).one_line_error()


def test_report_and_plot_read_standard_input_and_pipes(cosim: RunCli, tmp_path: Path) -> None:
    text = (HEADER + ONE_PER_LINE).encode()
    res = cosim("report", "-", "--json", stdin=text)
    assert res.status == 0, res.err
    assert json.loads(res.out)["training_time_s"] == pytest.approx(990e-9)
    bad = cosim("report", "-", "--start", "nope.start", stdin=text).one_line_error()
    assert "<stdin>" in bad and "cosim-stdin" not in bad
    # a pipe given as a file name, as in `cosim report <(zcat run.vcd.gz)`
    script = (
        "import subprocess, sys\n"
        f"src = subprocess.Popen(['cat', {str(tmp_path / 'p.vcd')!r}], stdout=subprocess.PIPE)\n"
        "sys.exit(subprocess.run([sys.executable, '-m', 'cosim.cli', 'report',\n"
        "    f'/dev/fd/{src.stdout.fileno()}'], pass_fds=[src.stdout.fileno()]).returncode)\n"
    )
    (tmp_path / "p.vcd").write_bytes(text)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, cwd=ROOT, timeout=120, check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"training time" in proc.stdout


def test_plot_out_without_extension_is_refused_not_renamed(cosim: RunCli, tmp_path: Path) -> None:
    vcd = tmp_path / "run.vcd"
    vcd.write_text(HEADER + ONE_PER_LINE)
    line = cosim("plot", str(vcd), "--programming", "--out", str(tmp_path / "DIR")).one_line_error()
    assert "unknown file type" in line and ".png" in line
    (tmp_path / "d").mkdir()
    assert (
        "is a directory"
        in cosim("plot", str(vcd), "--programming", "--out", str(tmp_path / "d")).one_line_error()
    )
