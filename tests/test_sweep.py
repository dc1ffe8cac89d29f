"""Tests of cosim.sweep and ``cosim reproduce``: determinism, resume, outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cosim import sweep
from cosim.commands import reproduce

TINY = sweep.SweepConfig(
    cards=("Cr",),
    train_levels=(0.0, 0.1),
    g_error_levels=(0.0, 0.2),
    input_levels=(0.1,),
    n_trials=30,
    chunk_trials=10,
    n_repeats=3,
    train_steps=300,
)


def _run(out: Path, **kw) -> dict:
    return sweep.run_sweep(TINY, out, jobs=2, processes=False, **kw)


def test_interrupted_sweep_resumes_to_identical_results(tmp_path: Path) -> None:
    ref = _run(tmp_path / "ref")
    assert ref["complete"] and len(ref["points"]) == 4
    assert all(p["n_trials"] == 30 for p in ref["points"])
    # stop midway, then delete one finished chunk file, then resume
    part = _run(tmp_path / "cut", stop_after=5)
    assert part == {"complete": False, "done": 5}
    files = sorted((tmp_path / "cut" / "chunks").glob("*.json"))
    assert 5 <= len(files) < 12
    files[0].unlink()
    resumed = _run(tmp_path / "cut")
    assert resumed["points"] == ref["points"]
    # the saved file of a chunk equals the reference run's
    name = "c0_t1_e1_n0_k2.json"
    assert (tmp_path / "cut" / "chunks" / name).read_text() == (
        tmp_path / "ref" / "chunks" / name
    ).read_text()


def test_noise_is_seeded_by_grid_point_not_order(tmp_path: Path) -> None:
    ref = _run(tmp_path / "a")
    chunks = sweep.plan(TINY, tmp_path / "a")
    again = [sweep.run_chunk(c) for c in reversed(chunks)]
    on_disk = {c.key: json.loads((tmp_path / "a" / "chunks" / f"{c.key}.json").read_text())
               for c in chunks}  # fmt: skip
    assert all(r == on_disk[r["key"]] for r in again)
    p_err = [p for p in ref["points"] if p["g_error"] > 0]
    assert all(p["ci95"][0] <= p["acc_mean"] <= p["ci95"][1] for p in ref["points"])
    assert any(p["ci95"][1] > p["ci95"][0] for p in p_err)  # the error really varies


def test_other_configuration_in_same_directory_is_refused(tmp_path: Path) -> None:
    sweep.plan(TINY, tmp_path)
    other = sweep.SweepConfig(**{**TINY.__dict__, "n_trials": 40})
    with pytest.raises(sweep.SweepError, match="another sweep configuration"):
        sweep.plan(other, tmp_path)


def test_reproduce_quick_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    reproduce.add_parser(parser.add_subparsers())
    out = tmp_path / "rep"
    args = parser.parse_args(
        ["reproduce", "--quick", "--trials", "20", "--out", str(out), "--json"]
    )
    assert args.run(args) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("acc_clean", "acc_noisy_trained", "acc_noisy_untrained"):
        assert 0.0 <= summary[key] <= 1.0
    acc = json.loads((out / "accuracy.json").read_text())
    assert acc["complete"] and len(acc["points"]) == 3 * 27
    for card in ("W", "Cr", "C"):
        for kind in ("heatmap", "curves"):
            png = out / f"{kind}_{card}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Cr |" in (out / "reproduction.md").read_text()
