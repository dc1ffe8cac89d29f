"""Tests of cosim.learn.data: dataset, deterministic split, input-noise statistics."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import UsageError
from cosim.learn import data


def test_dataset_classes_distinct_and_balanced() -> None:
    ds = data.make_dataset()
    assert np.unique(ds.x, axis=0).shape[0] == len(ds)
    assert np.count_nonzero(ds.y == 1) == np.count_nonzero(ds.y == 0)
    protos, labels = data.prototypes()
    assert set(np.unique(ds.x)) <= {0, 1}
    for p, label in zip(protos, labels, strict=True):
        hit = np.flatnonzero((ds.x == p).all(axis=1))
        assert hit.size == 1 and ds.y[hit[0]] == label
    # every distortion is one flip away from its prototype
    dist = np.abs(ds.x - protos[ds.origin]).sum(axis=1)
    assert np.array_equal(dist, (ds.flipped >= 0).astype(int))


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    ds = data.make_dataset()
    tr1, te1 = data.split(ds, seed=3)
    tr2, te2 = data.split(ds, seed=3)
    assert np.array_equal(te1.x, te2.x) and np.array_equal(tr1.x, tr2.x)
    _, te3 = data.split(ds, seed=4)
    assert not np.array_equal(te1.x, te3.x)
    assert len(tr1) + len(te1) == len(ds)
    rows = {r.tobytes() for r in tr1.x}
    assert not any(r.tobytes() in rows for r in te1.x)
    assert np.count_nonzero(te1.y == 1) == np.count_nonzero(te1.y == 0)
    assert np.all(te1.flipped >= 0)  # prototypes stay in training
    with pytest.raises(UsageError, match="test_fraction"):
        data.split(ds, test_fraction=1.0)


@pytest.mark.parametrize("kind", ["gaussian", "uniform"], ids=["gauss", "uniform"])
def test_input_noise_statistics(kind: data.NoiseKind) -> None:
    v_read = 0.1
    level = 0.2
    v = np.full(200_000, 0.5)  # far from 0 V: clipping does not act
    a = data.add_input_noise(v, level, v_read_V=v_read, rng=np.random.default_rng(1), kind=kind)
    b = data.add_input_noise(v, level, v_read_V=v_read, rng=np.random.default_rng(1), kind=kind)
    assert np.array_equal(a, b)
    noise = a - v
    expected_sd = level * v_read if kind == "gaussian" else level * v_read / np.sqrt(3)
    assert abs(noise.mean()) < 5 * expected_sd / np.sqrt(v.size)
    assert noise.std() == pytest.approx(expected_sd, rel=0.01)
    if kind == "uniform":
        assert noise.max() <= level * v_read and noise.min() >= -level * v_read


def test_input_noise_clips_at_zero_and_rejects_bad_input() -> None:
    v = data.to_voltages(np.zeros(10_000), 0.1)
    out = data.add_input_noise(v, 0.3, v_read_V=0.1, rng=np.random.default_rng(0))
    assert out.min() == 0.0 and out.max() > 0.0
    with pytest.raises(UsageError, match="allowed"):
        data.add_input_noise(v, 0.1, v_read_V=0.1, rng=np.random.default_rng(0), kind="pink")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=">= 0"):
        data.add_input_noise(v, -0.1, v_read_V=0.1, rng=np.random.default_rng(0))
