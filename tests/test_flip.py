"""Pixel-flip noise and its Bayes ceiling (:mod:`cosim.learn.flip`), and the seed-resolved
pixel-flip study (:mod:`cosim.run.flipstudy`, ``cosim reproduce --flip``)."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from cosim.circuit import network
from cosim.cli import reproduce
from cosim.errors import UsageError
from cosim.learn import data, flip, train
from cosim.run import flipreport, flipstudy, sweep


def _ceiling_by_loops(p: float) -> float:
    """The Bayes ceiling written out the slow way (independent of :func:`flip.joint`)."""
    protos, labels = data.prototypes()
    total = 0.0
    for bits in itertools.product((0, 1), repeat=9):
        x = np.array(bits)
        per_class = [0.0, 0.0]
        for proto, c in zip(protos, labels, strict=True):
            d = int(np.sum(x != proto))
            per_class[c] += p**d * (1 - p) ** (9 - d) / len(protos)
        total += max(per_class)
    return total


@pytest.mark.parametrize("p", [0.0, 0.05, 0.1, 0.15, 0.3, 0.5])
def test_ceiling_matches_a_direct_enumeration(p: float) -> None:
    _, prob = flip.joint(p)
    assert prob.sum() == pytest.approx(1.0, abs=1e-12)
    assert flip.bayes_ceiling(p) == pytest.approx(_ceiling_by_loops(p), abs=1e-12)


def test_ceiling_edges_and_monotone() -> None:
    assert flip.bayes_ceiling(0.0) == pytest.approx(1.0)
    assert flip.bayes_ceiling(0.5) == pytest.approx(0.5)
    c = [flip.bayes_ceiling(p) for p in np.linspace(0, 0.5, 11)]
    assert all(a > b for a, b in itertools.pairwise(c))


def test_expected_accuracy_of_bayes_rule_is_the_ceiling_and_sampling_agrees() -> None:
    p = 0.1
    images, prob = flip.joint(p)
    bayes = prob.argmax(axis=0)
    assert float(flip.expected_accuracy(bayes, p)) == pytest.approx(flip.bayes_ceiling(p))
    assert float(flip.expected_accuracy(np.zeros(512, int), p)) == pytest.approx(0.5)
    # a drawn test set scored by the Bayes rule estimates the same number
    test = flip.sample_flip_set(p, 4000, np.random.default_rng(3))
    index = (test.x.astype(int) << np.arange(9)).sum(axis=1)
    est = float(np.mean(bayes[index] == test.y))
    assert est == pytest.approx(flip.bayes_ceiling(p), abs=0.006)
    assert abs(test.flipped.mean() / 9 - p) < 0.003
    again = flip.sample_flip_set(p, 4000, np.random.default_rng(3))
    assert np.array_equal(again.x, test.x)
    assert (images[index] == test.x).all()


@pytest.mark.parametrize("noise", [0.0, 0.3, 1.0])
def test_float_network_never_beats_the_ceiling(noise: float) -> None:
    spec, gb_min, gb_max = sweep.card_spec("Cr")
    tr, _ = data.split(data.make_dataset())
    w = train.train(spec, tr, gb_min, gb_max, train.TrainConfig(noise=noise, steps=300, seed=1))
    g1, g2 = network.weights_to_conductances(spec, w.w1, w.w2)
    images = flip.all_images(9)
    _, y = network.forward(spec, g1, g2, data.to_voltages(images, spec.v_read_V))
    pred = network.classify(spec, y)
    for p in (0.02, 0.05, 0.1, 0.15, 0.25):
        acc = float(flip.expected_accuracy(pred, p))
        assert 0.0 <= acc <= flip.bayes_ceiling(p) + 1e-12


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(UsageError, match="0..0.5"):
        flip.bayes_ceiling(0.7)
    with pytest.raises(UsageError, match="512"):
        flip.expected_accuracy(np.zeros(10, int), 0.1)
    with pytest.raises(UsageError, match="1..16"):
        flip.all_images(17)
    with pytest.raises(UsageError, match="include 0"):
        flipstudy.FlipConfig(train_levels=(0.1,)).validate()
    with pytest.raises(UsageError, match="unknown choice"):
        flipstudy.FlipConfig(error_on=("weight",)).validate()


_TINY = flipstudy.FlipConfig(
    cards=("Cr",),
    targets=("card", "reachable"),
    train_levels=(0.0, 0.3),
    train_seeds=(0, 1),
    g_error_levels=(0.0, 0.2),
    n_trials=6,
    train_steps=150,
    device_pool=8,
)


def test_study_point_respects_ceiling_and_shares_programming() -> None:
    res = flipstudy.run_point(_TINY, "Cr", "card", 0.3, 0)
    for p in _TINY.flip_levels:
        ceil = flip.bayes_ceiling(p)
        assert res["float"][f"{p:g}"] <= ceil + 1e-12
        for where in ("device", "branch"):
            for e in ("0", "0.2"):
                assert 0.4 < res["acc"][where][e][f"{p:g}"] <= ceil + 1e-12
        # error 0: both definitions see the same programmed crossbars
        assert res["acc"]["device"]["0"][f"{p:g}"] == res["acc"]["branch"]["0"][f"{p:g}"]
    # a 20 % error on the branch hurts more than on the device (diluted by the path)
    assert res["acc"]["branch"]["0.2"]["0.1"] < res["acc"]["device"]["0.2"]["0.1"]
    again = flipstudy.run_point(_TINY, "Cr", "card", 0.3, 0)
    assert again == res


def test_dilution_is_the_path_divider() -> None:
    d = flipstudy.dilution("Cr")
    spec, _, _ = sweep.card_spec("Cr")
    assert d["r_path_ohm"] == spec.r_infer_path_ohm
    assert 0.0 < d["at_g_max"] < d["at_g_min"] < 1.0
    assert d["at_g_max"] == pytest.approx(1.0 / (1.0 + d["r_path_ohm"] * 1.5e-4))


def test_study_summary_is_over_seeds_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "flip"
    s = flipstudy.run_flip_study(_TINY, out)
    assert len(list((out / "runs").glob("*.json"))) == 2 * 2 * 2
    pt = flipreport.find(
        s, card="Cr", targets="card", train_noise=0.3, error_on="branch", g_error=0.2, flip_p=0.1
    )
    assert pt is not None and pt["acc"]["n"] == 2 and len(pt["gain_by_seed"]) == 2
    assert pt["acc"]["q25"] <= pt["acc"]["median"] <= pt["acc"]["q75"] <= pt["bayes"]
    base = flipreport.find(
        s, card="Cr", targets="card", train_noise=0.0, error_on="branch", g_error=0.2, flip_p=0.1
    )
    assert base is not None and base["gain_vs_untrained"]["median"] == 0.0
    md = flipreport.flip_markdown(s)
    assert "ceiling 97.0%" in md and "| 30% |" in md
    assert json.loads(json.dumps(flipreport.compact(s)))["n_train_seeds"] == 2
    # rerun: everything from disk, identical summary; other configuration refused
    assert flipstudy.run_flip_study(_TINY, out) == s
    with pytest.raises(sweep.SweepError, match="other inputs"):
        flipstudy.run_flip_study(flipstudy.FlipConfig(cards=("W",)), out)


@pytest.mark.slow
def test_reproduce_quick_json_has_pixel_flip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    reproduce.add_parser(parser.add_subparsers())
    args = parser.parse_args(["reproduce", "--quick", "--out", str(tmp_path / "r"), "--json"])
    assert args.run(args) == 0
    got = json.loads(capsys.readouterr().out)
    assert 0.0 <= got["acc_clean"] <= 1.0
    pf = got["pixel_flip"]
    assert pf["n_train_seeds"] >= 5
    assert pf["bayes_ceiling"]["0.1"] == pytest.approx(flip.bayes_ceiling(0.1))
    for pt in pf["points"]:
        assert pt["acc"]["max"] <= pt["bayes"] + 1e-12
