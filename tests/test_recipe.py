"""cosim.learn.recipe: one training configuration per dataset, and the weight cache."""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from cosim.circuit.devices import load_card
from cosim.crossbar import card_circuit, make_crossbar
from cosim.errors import UsageError
from cosim.learn import datasets, recipe, train
from cosim.run.scale import ScaleConfig, train_network
from cosim.topology import DEFAULT, Topology


@pytest.fixture(scope="module")
def window():
    return card_circuit(load_card("Cr"))


def test_recipes_are_per_dataset_and_unknown_datasets_are_named() -> None:
    digits = recipe.train_config("digits", 7)
    assert (digits.batch, digits.n_copies, digits.t_loss_V, digits.seed) == (128, 8, 0.2, 7)
    patterns = recipe.train_config("patterns", 7)
    assert patterns.batch == 0 and patterns.noise == digits.noise == recipe.TRAINING_NOISE
    with pytest.raises(UsageError, match=r"no training recipe for dataset 'mnist'; known: \["):
        recipe.train_config("mnist", 1)


def test_cosim_sim_and_cosim_scale_program_the_same_targets() -> None:
    """The crossbar the co-simulation programs and the network `cosim scale` studies come from
    one recipe: identical target conductances (and a fresh training gives them again)."""
    xbar = make_crossbar("Cr", 1, DEFAULT, "patterns")
    net = train_network(ScaleConfig(topology="9,3,1", dataset="patterns", train_cache=False))
    assert not net.cached and net.train_s > 0
    assert net.train_config == dataclasses.asdict(recipe.train_config("patterns", 1))
    np.testing.assert_array_equal(net.g_dev_S, xbar.g_target_S)


def test_the_cache_returns_what_training_returns(tmp_path: Path, window) -> None:
    spec, lo, hi = window
    first = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 3, cache=tmp_path)
    again = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 3, cache=tmp_path)
    fresh = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 3, cache=False)
    assert not first.cached and again.cached and not fresh.cached
    assert again.key == first.key and again.train_s == first.train_s
    for a in (again, fresh):
        np.testing.assert_array_equal(a.weights.w1, first.weights.w1)
        np.testing.assert_array_equal(a.weights.w2, first.weights.w2)
    assert [p.name for p in tmp_path.iterdir()] == [f"{first.key}.npz"]
    # a damaged file is trained again and replaced
    (tmp_path / f"{first.key}.npz").write_bytes(b"not a zip")
    repaired = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 3, cache=tmp_path)
    assert not repaired.cached
    np.testing.assert_array_equal(repaired.weights.w1, first.weights.w1)
    assert recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 3, cache=tmp_path).cached


def test_the_key_covers_what_determines_the_weights(window) -> None:
    spec, lo, hi = window
    tr, _ = datasets.train_test(DEFAULT)
    cfg = recipe.train_config("patterns", 1)
    base = recipe.weights_key(spec, lo, hi, DEFAULT, tr, cfg)
    assert base == recipe.weights_key(spec, lo, hi, DEFAULT, tr, cfg)
    other_spec = dataclasses.replace(spec, r_f1_ohm=spec.r_f1_ohm * 1.001)
    other_tr = dataclasses.replace(tr, x=tr.x[::-1].copy())
    variants = [
        recipe.weights_key(spec, lo, hi, DEFAULT, tr, dataclasses.replace(cfg, seed=2)),
        recipe.weights_key(spec, lo, hi, DEFAULT, tr, dataclasses.replace(cfg, steps=1499)),
        recipe.weights_key(spec, lo, hi * 1.001, DEFAULT, tr, cfg),
        recipe.weights_key(other_spec, lo, hi, DEFAULT, tr, cfg),
        recipe.weights_key(spec, lo, hi, Topology((9, 4, 1)), tr, cfg),
        recipe.weights_key(spec, lo, hi, DEFAULT, other_tr, cfg),
    ]
    assert len({base, *variants}) == 1 + len(variants)


def _train_into(folder: str) -> tuple[str, bytes]:
    spec, lo, hi = card_circuit(load_card("Cr"))
    tw = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 5, cache=Path(folder))
    return tw.key, tw.weights.w1.tobytes() + tw.weights.w2.tobytes()


def test_concurrent_runs_share_one_complete_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_train_into, [str(tmp_path)] * 4)
    assert len(set(results)) == 1
    key = results[0][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.npz"]  # no temporary left
    spec, lo, hi = card_circuit(load_card("Cr"))
    hit = recipe.trained_weights(spec, lo, hi, DEFAULT, "patterns", 5, cache=tmp_path)
    assert hit.cached and hit.weights.w1.tobytes() + hit.weights.w2.tobytes() == results[0][1]


def test_training_is_bit_for_bit_reproducible_with_the_digits_recipe(window) -> None:
    """Two trainings with the digits recipe (few steps) give the same weights; another seed not."""
    spec, lo, hi = window
    topo = Topology((64, 16, 10))
    tr, _ = datasets.train_test(topo, "digits")
    cfg = dataclasses.replace(recipe.train_config("digits", 1), steps=30)
    a = train.train(spec, tr, lo, hi, cfg, topo)
    b = train.train(spec, tr, lo, hi, cfg, topo)
    c = train.train(spec, tr, lo, hi, dataclasses.replace(cfg, seed=2), topo)
    assert np.array_equal(a.w1, b.w1) and not np.array_equal(a.w1, c.w1)
