"""Sweep resume safety: the manifest hashes every input (config, cards, dataset, code); a resume
with other inputs is refused naming them; chunk and weight files are validated on load."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import RunCli

from cosim.run import manifest, sweep

CFG = json.loads(json.dumps(asdict(sweep.quick_config())))


def test_same_inputs_resume(tmp_path: Path) -> None:
    manifest.prepare_manifest(tmp_path, CFG, ("Cr",))
    manifest.prepare_manifest(tmp_path, CFG, ("Cr",))  # no error


def test_other_config_is_refused_naming_the_field(tmp_path: Path) -> None:
    manifest.prepare_manifest(tmp_path, CFG, ("Cr",))
    with pytest.raises(sweep.SweepError, match=r"changed: config \(n_trials\)"):
        manifest.prepare_manifest(tmp_path, {**CFG, "n_trials": 7}, ("Cr",))


def test_edited_card_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same card name, other file contents (a card edited between two runs)."""
    from cosim.circuit.devices import load_card

    manifest.prepare_manifest(tmp_path, CFG, ("Cr",))
    edited = tmp_path / "Cr.toml"
    edited.write_bytes(load_card("Cr").path.read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(manifest, "load_card", lambda name: load_card(edited))
    with pytest.raises(sweep.SweepError, match="changed: card Cr"):
        manifest.prepare_manifest(tmp_path, CFG, ("Cr",))


def test_other_code_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest.prepare_manifest(tmp_path, CFG, ("Cr",))
    monkeypatch.setattr(manifest, "_code_hash", lambda: "0" * 64)
    with pytest.raises(sweep.SweepError, match="changed: code"):
        manifest.prepare_manifest(tmp_path, CFG, ("Cr",))


@pytest.mark.parametrize(
    "text", ["{not json", '{"config": {}}', "[]"], ids=["corrupt", "old", "list"]
)
def test_corrupt_or_old_manifest_is_a_named_error(cosim: RunCli, tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    line = cosim("reproduce", "--quick", "--out", str(tmp_path)).one_line_error()
    assert str(tmp_path / "manifest.json") in line


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"acc": [1.7, 0.5]}, "accuracy 1.7 outside"),
        ({"acc": [0.5]}, "list of 2"),
        ({"acc": [float("nan"), 0.5]}, "accuracy nan"),
        ({"key": "other"}, "key 'other'"),
        ({"pulses_mean": -1}, "pulses_mean"),
        ({"failed": 99}, "failed 99"),
    ],
    ids=["acc-range", "acc-shape", "acc-nan", "key", "pulses", "failed"],
)
def test_tampered_chunk_is_rejected(change: dict, why: str) -> None:
    good = {"key": "k", "acc": [0.25, 0.5], "pulses_mean": 3.0, "failed": 0}
    assert manifest.check_chunk(good, "k", 2, 30) is None
    problem = manifest.check_chunk({**good, **change}, "k", 2, 30)
    assert problem is not None and why in problem


def test_tampered_chunk_on_disk_is_recomputed_not_reported(tmp_path: Path) -> None:
    chunk = sweep.Chunk(0, 0, 0, 0, 0, 0, 2, {}, [], {})
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps({"key": chunk.key, "acc": [1.7, 0.5], "pulses_mean": 1, "failed": 0})
    )
    logged: list[str] = []
    assert sweep._load_chunk(path, chunk, logged.append) is None
    assert "accuracy 1.7 outside [0, 1]" in logged[0] and "recomputed" in logged[0]
    path.write_text("{cut")
    assert sweep._load_chunk(path, chunk, logged.append) is None and "unreadable" in logged[1]


def test_corrupt_weights_are_named() -> None:
    assert manifest.check_weights({"spec": {}, "g_dev_S": [1e-5] * 30, "n_clipped": 0}, 30) is None
    assert "30 conductances" in str(
        manifest.check_weights({"spec": {}, "g_dev_S": [], "n_clipped": 0}, 30)
    )
    assert "not trained weights" in str(manifest.check_weights([1, 2], 30))
