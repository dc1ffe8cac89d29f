"""Outputs are never lost: a run writes into a temporary directory next to ``--out`` and swaps
it in only on success; a failed or interrupted run keeps ``<out>.partial``; a lock refuses a
second run into the same directory; single files are replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import RunCli

from cosim.errors import UsageError
from cosim.run.outdir import OutputBusyError, RunDir, atomic_file


def _earlier(out: Path) -> None:
    out.mkdir(parents=True)
    (out / "config.json").write_text("{}\n")
    (out / "summary.json").write_text('{"earlier": true}\n')


def test_success_replaces_the_earlier_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _earlier(out)
    (tmp_path / "out.partial").mkdir()
    with RunDir(out) as rd:
        (rd.tmp / "summary.json").write_text('{"new": true}\n')
        assert (out / "summary.json").read_text() == '{"earlier": true}\n'  # not yet
        rd.commit()
    assert (out / "summary.json").read_text() == '{"new": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["fail", "int"])
def test_failure_or_interrupt_keeps_earlier_results_and_a_partial(
    tmp_path: Path, error: BaseException
) -> None:
    out = tmp_path / "out"
    _earlier(out)
    with pytest.raises(type(error)), RunDir(out) as rd:
        rd.keep_partial = True
        (rd.tmp / "digital.vcd").write_text("$timescale 1 ps $end\n")
        raise error
    assert (out / "summary.json").read_text() == '{"earlier": true}\n'
    partial = tmp_path / "out.partial"
    assert (partial / "digital.vcd").exists()
    reason = (partial / "PARTIAL.txt").read_text()
    assert ("interrupted" if isinstance(error, KeyboardInterrupt) else "boom") in reason
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_failure_before_anything_ran_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError), RunDir(tmp_path / "out"):
        raise UsageError("bad")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_second_run_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    with RunDir(tmp_path / "out"), pytest.raises(OutputBusyError, match=f"process {os.getpid()}"):
        RunDir(tmp_path / "out").__enter__()


def test_cosim_sim_refuses_a_locked_directory(cosim: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _earlier(out)
    with RunDir(out):
        line = cosim(
            "sim", "--backend", "numpy", "--devices", "0", "--test-images", "1", "--out", str(out)
        ).one_line_error()
    assert "in use by another cosim run" in line and str(os.getpid()) in line
    assert (out / "summary.json").read_text() == '{"earlier": true}\n'


def test_atomic_file_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(OSError), atomic_file(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]
    with atomic_file(target) as tmp:
        assert tmp.suffix == ".png"
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_a_directory_that_is_not_a_run_is_never_replaced(cosim: RunCli, tmp_path: Path) -> None:
    home = tmp_path / "Documents"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    line = cosim(
        "sim", "--backend", "numpy", "--devices", "0", "--test-images", "1", "--out", str(home)
    ).one_line_error()
    assert "not an earlier run's directory" in line
    assert (home / "thesis.tex").read_text() == "precious" and len(list(tmp_path.iterdir())) == 2
