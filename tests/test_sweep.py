"""Tests of cosim.run.sweep and ``cosim reproduce``: determinism, resume, programming, outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from cosim.cli import reproduce
from cosim.errors import UsageError
from cosim.harness.contract import default_harness
from cosim.harness.policy import verify_window
from cosim.run import sweep
from cosim.twin import program

TINY = sweep.SweepConfig(
    cards=("Cr",),
    train_levels=(0.0, 0.1),
    g_error_levels=(0.0, 0.2),
    input_levels=(0.1,),
    n_trials=30,
    chunk_trials=10,
    n_repeats=3,
    train_steps=300,
    g_error_kinds=("uniform",),
    device_pool=32,
)


def _run(out: Path, **kw) -> dict:
    return sweep.run_sweep(TINY, out, jobs=2, processes=False, **kw)


def _points_from_chunks(out: Path, cfg: dict) -> dict[tuple, tuple[int, float, float, float]]:
    """Per grid point ``(card, train, kind, error, input)``: trials, mean and 95 % interval
    recomputed from the chunk files alone (NumPy, mean ± 1.96·s/√n clipped to [0, 1]);
    ``cfg`` is the sweep configuration (levels by grid index)."""
    accs: dict[tuple, list[float]] = {}
    for path in sorted((out / "chunks").glob("*.json")):
        key = json.loads(path.read_text())["key"]
        c, t, g, e, n, _ = (int(part[1:]) for part in key.split("_"))
        at = (
            cfg["cards"][c], cfg["train_levels"][t], cfg["g_error_kinds"][g],
            cfg["g_error_levels"][e], cfg["input_levels"][n],
        )  # fmt: skip
        accs.setdefault(at, []).extend(json.loads(path.read_text())["acc"])
    ref = {}
    for at, values in accs.items():
        a = np.array(values)
        half = 1.96 * a.std(ddof=1) / np.sqrt(a.size)
        ref[at] = (a.size, a.mean(), max(a.mean() - half, 0.0), min(a.mean() + half, 1.0))
    return ref


def _check_points(summary: dict, out: Path) -> dict[tuple, float]:
    """Every point of ``summary`` equals the recomputation from the chunks; returns the means."""
    ref = _points_from_chunks(out, summary["config"])
    assert len(ref) == len(summary["points"])
    means = {}
    for p in summary["points"]:
        at = (p["card"], p["train_noise"], p["g_error_kind"], p["g_error"], p["input_noise"])
        n, mean, lo, hi = ref[at]
        assert p["n_trials"] == n
        assert p["acc_mean"] == pytest.approx(mean, abs=1e-12)
        assert p["ci95"] == pytest.approx([lo, hi], abs=1e-12)
        means[at] = mean
    return means


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
    name = "c0_t1_g0_e1_n0_k2.json"
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
    _check_points(ref, tmp_path / "a")
    p_err = [p for p in ref["points"] if p["g_error"] > 0]
    assert any(p["ci95"][1] > p["ci95"][0] for p in p_err)  # the error really varies


def test_a_programming_group_equals_its_chunks_run_alone(tmp_path: Path) -> None:
    """The Dask task unit: chunks sharing card, training level and trial range are programmed
    once (with tables built by another task) and give exactly the single-chunk results."""
    chunks = sweep.plan(TINY, tmp_path)
    group = [c for c in chunks if (c.card, c.i_train, c.index) == (0, 1, 2)]
    assert len(group) == 2 and group[0].i_error != group[1].i_error
    twin = sweep.card_twin(TINY, "Cr")
    assert sweep.run_chunks(group, twin) == [sweep.run_chunk(c) for c in group]
    with pytest.raises(UsageError, match="must share card, training level and index"):
        sweep.run_chunks([chunks[0], chunks[-1]])


def test_other_configuration_in_same_directory_is_refused(tmp_path: Path) -> None:
    sweep.plan(TINY, tmp_path)
    other = sweep.SweepConfig(**{**TINY.__dict__, "n_trials": 40})
    with pytest.raises(sweep.SweepError, match=r"other inputs — changed: config \(n_trials\)"):
        sweep.plan(other, tmp_path)


def test_reproduce_quick_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    reproduce.add_parser(parser.add_subparsers())
    out = tmp_path / "rep"
    args = parser.parse_args(
        ["reproduce", "--quick", "--trials", "20", "--out", str(out), "--json", "--flip", "none"]
    )
    assert args.run(args) == 0
    summary = json.loads(capsys.readouterr().out)
    acc = json.loads((out / "accuracy.json").read_text())
    assert acc["complete"] and len(acc["points"]) == 3 * 27 * 2
    means = _check_points(acc, out)
    # the headline numbers are the documented grid points (train, error, input noise)
    for card in ("W", "Cr", "C"):
        head = summary["cards"][card]
        assert head["acc_clean"] == means[(card, 0.0, "uniform", 0.0, 0.0)]
        assert head["acc_noisy_untrained"] == means[(card, 0.0, "uniform", 0.1, 0.1)]
        assert head["acc_noisy_trained"] == means[(card, 0.1, "uniform", 0.1, 0.1)]
        # docs/reproduction.md: noise costs the untrained network accuracy (measured with 100
        # trials: clean 97-98 %, 20 % Gaussian error + 20 % input noise far lower), and
        # noise-aware training wins it back (+5.4 to +7.7 % at 10/10 %)
        worst = means[(card, 0.0, "gaussian", 0.2, 0.2)]
        assert worst < head["acc_clean"] - 0.03, (card, worst, head["acc_clean"])
        assert head["acc_noisy_trained"] > head["acc_noisy_untrained"], (card, head)
    assert summary["acc_clean"] == summary["cards"]["Cr"]["acc_clean"]
    assert {p["g_error_kind"] for p in acc["points"]} == {"uniform", "gaussian"}
    assert set(acc["programming"]) == {
        f"{c}@{t:g}" for c in ("W", "Cr", "C") for t in (0, 0.1, 0.2)
    }
    for card in ("W", "Cr", "C"):
        for kind in ("heatmap", "curves"):
            png = out / f"{kind}_{card}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Cr |" in (out / "reproduction.md").read_text()


def _targets(card: str) -> np.ndarray:
    spec, gb_min, gb_max = sweep.card_spec(card)
    gb = np.linspace(gb_min, gb_max, 30)
    return 1.0 / (1.0 / gb - spec.r_infer_path_ohm)


def test_sweep_programming_uses_the_co_simulation_setup() -> None:
    """Codes, tolerance and scheme of the sweep's programming are the co-simulation bench's:
    a sweep with one nominal device, no C2C noise and the crossbar's targets programs exactly
    like the crossbar twin of nominal devices."""
    cfg = sweep.SweepConfig(cards=("Cr",), d2d=False, c2c=False, device_pool=1)
    twin = program.crossbar_twin("Cr", 1)
    out = sweep.program_trials(cfg, "Cr", twin.xbar.g_target_S, 3, np.random.default_rng(0))
    assert out.pulses.shape == (3, 30)
    assert (out.pulses == out.pulses[0]).all()  # no randomness left
    ok = out.ok[0]
    _, codes = program.card_program_setup(
        twin.xbar.card, twin.xbar.spec, twin.xbar.g_target_S, default_harness()
    )
    np.testing.assert_array_equal(codes, twin.target_codes)
    sch = twin.setup.scheme
    window = np.array(
        [verify_window(int(c), sch.tolerance_codes, sch.tolerance_shift) for c in codes]
    )
    assert ok.mean() > 0.9
    assert (np.abs(out.codes[0][ok] - codes[ok]) <= window[ok]).all()


@pytest.mark.parametrize("card", ["W", "Cr", "C"], ids=["W", "Cr", "C"])
def test_d2d_and_c2c_noise_spread_the_programmed_conductances(card: str) -> None:
    g_t = _targets(card)
    base = dict(cards=(card,), device_pool=64)
    spread = {}
    for d2d, c2c in ((False, False), (True, False), (False, True)):
        cfg = sweep.SweepConfig(**base, d2d=d2d, c2c=c2c)
        a = sweep.program_trials(cfg, card, g_t, 40, np.random.default_rng(5))
        b = sweep.program_trials(cfg, card, g_t, 40, np.random.default_rng(5))
        np.testing.assert_array_equal(a.g_S, b.g_S)  # same seed, same result
        spread[(d2d, c2c)] = float(np.std(a.g_S / g_t, axis=0).mean())
    assert spread[(False, False)] < 1e-12
    assert spread[(True, False)] > 0.0
    assert spread[(False, True)] > 0.0


def test_bad_error_kind_is_refused() -> None:
    with pytest.raises(UsageError, match="g_error_kinds"):
        sweep.SweepConfig(g_error_kinds=("lognormal",)).validate()  # type: ignore[arg-type]


def test_read_noise_option_reaches_the_sweep_and_lowers_accuracy(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    reproduce.add_parser(parser.add_subparsers())
    args = parser.parse_args(["reproduce", "--read-noise", "0.3", "--out", str(tmp_path)])
    assert args.read_noise == 0.3
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce", "--read-noise", "1.5"])
    cfg = sweep.SweepConfig(**{**TINY.__dict__, "train_levels": (0.0,), "g_error_levels": (0.0,)})
    quiet = sweep.run_chunk(sweep.plan(cfg, tmp_path / "a")[0])
    noisy_cfg = sweep.SweepConfig(**{**cfg.__dict__, "read_noise": 0.3})
    noisy = sweep.run_chunk(sweep.plan(noisy_cfg, tmp_path / "b")[0])
    assert np.mean(noisy["acc"]) < np.mean(quiet["acc"])
    with pytest.raises(UsageError, match="read_noise"):
        sweep.SweepConfig(read_noise=-0.1).validate()


def test_existing_scheduler_gives_the_same_results(tmp_path: Path) -> None:
    """`--scheduler ADDRESS`: chunks run on a cluster we did not start, same numbers."""
    from distributed import LocalCluster

    ref = _run(tmp_path / "local")
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        remote = sweep.run_sweep(
            TINY, tmp_path / "remote", scheduler=cluster.scheduler_address, log=lambda _m: None
        )
    assert remote["points"] == ref["points"]
