"""cosim.run.scale: training at size, twin trials (the Dask path) and the named errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosim.learn.datasets import DatasetError
from cosim.run.scale import ScaleConfig, run_scale, train_network, trial_chunk

SMALL = ScaleConfig(
    topology="16,8,2",
    dataset="patterns",
    n_trials=4,
    chunk_trials=2,
    g_errors=(0.0, 0.3),
)


def test_a_topology_that_does_not_fit_the_dataset_is_named() -> None:
    with pytest.raises(DatasetError, match="e.g. --topology 64,16,10"):
        ScaleConfig(topology="9,3,1", dataset="digits").validate()


def test_trial_chunk_is_seeded_and_conductance_error_costs_accuracy() -> None:
    net = train_network(SMALL)
    assert net.g_dev_S.shape == (16 * 8 + 8 * 2,)
    assert 0.5 < net.float_ref["clean"] <= 1.0
    a = trial_chunk(SMALL, net.spec, net.g_dev_S, 0, 3)
    b = trial_chunk(SMALL, net.spec, net.g_dev_S, 0, 3)
    c = trial_chunk(SMALL, net.spec, net.g_dev_S, 1, 3)
    assert a == b and a["acc"] != c["acc"]
    clean, noisy = (np.mean(a["acc"][repr(e)]) for e in SMALL.g_errors)
    assert len(a["acc"]["0.0"]) == 3 and a["pulses_mean"] > 0
    assert noisy <= clean


@pytest.mark.slow  # starts a Dask cluster (~30 s quiet, minutes on a loaded machine)
def test_run_scale_on_dask_writes_valid_json(tmp_path: Path) -> None:
    res = run_scale(SMALL, tmp_path)
    assert (tmp_path / "scale.json").is_file()
    acc = res["accuracy_vs_g_error"]
    assert set(acc) == {"0.0", "0.3"} and acc["0.0"]["n"] == SMALL.n_trials
    assert res["n_devices"] == 144 and res["twin_s"] > 0


def test_sim_config_names_a_dataset_or_record_pattern_that_does_not_fit(capsys) -> None:
    from cosim.cli import main
    from cosim.config import SimConfig
    from cosim.errors import UsageError

    with pytest.raises(DatasetError, match="needs N_IN = 64"):
        SimConfig(dataset="digits").validate()
    with pytest.raises(UsageError, match="names no device"):
        SimConfig(record="w9_*").validate()
    assert SimConfig(record="w1_0_*, w2_1").recorded_devices() == (0, 1, 2, 28)
    assert main(["sim", "--dataset", "digits", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "e.g. --topology 64,16,10" in err[0]
