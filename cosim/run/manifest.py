"""A sweep directory's manifest: what its results depend on, checked before a resume.

``<out>/manifest.json`` holds the sweep configuration and a SHA-256 of every input that
changes results: the configuration itself, each device card's file contents, the dataset
(inputs and labels) and the code (every ``cosim`` source file, the Verilog-A models and the
cards directory).  Resuming into a directory whose manifest differs is refused, naming what
differs, so an interrupted sweep never mixes results of different inputs.  Chunk files are
validated when loaded (key, shapes, accuracy in [0, 1], finite statistics); an invalid chunk
is recomputed, not trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cosim.circuit.devices import load_card
from cosim.errors import CosimError
from cosim.learn import data
from cosim.resources import va_models_dir

__all__ = [
    "SweepError",
    "check_chunk",
    "check_weights",
    "input_hashes",
    "load_json",
    "prepare_manifest",
]

#: Version of the manifest layout.
FORMAT = 2


class SweepError(CosimError):
    """A sweep directory is inconsistent: other inputs, or an unreadable manifest."""

    exit_status = 2


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def _code_hash() -> str:
    """SHA-256 over the package's Python sources and the Verilog-A models and cards."""
    pkg = Path(__file__).resolve().parents[1]
    files = sorted(pkg.rglob("*.py")) + sorted(va_models_dir().rglob("*.*"))
    parts: list[bytes] = []
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts:
            parts += [f.name.encode(), f.read_bytes()]
    return _sha(*parts)


def input_hashes(config: Mapping[str, Any], cards: tuple[str, ...]) -> dict[str, str]:
    """``{input: sha256}`` of everything a sweep's results depend on."""
    ds = data.make_dataset()
    hashes = {"config": _sha(json.dumps(config, sort_keys=True).encode())}
    for card in cards:
        hashes[f"card {card}"] = _sha(load_card(card).path.read_bytes())
    hashes["dataset"] = _sha(
        np.ascontiguousarray(ds.x).tobytes(), np.ascontiguousarray(ds.y).tobytes()
    )
    hashes["code"] = _code_hash()
    return hashes


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False))
    os.replace(tmp, path)


def prepare_manifest(out: Path, config: Mapping[str, Any], cards: tuple[str, ...]) -> None:
    """Write ``out/manifest.json``, or check that the one there has the same inputs.

    Raises:
        SweepError: unreadable manifest, or one with other inputs (named in the message).
    """
    manifest = out / "manifest.json"
    inputs = input_hashes(config, cards)
    mine = {"format": FORMAT, "config": dict(config), "inputs": inputs}
    if not manifest.exists():
        _write_json(manifest, mine)
        return
    try:
        theirs = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SweepError(
            f"{manifest}: unreadable ({exc}); the sweep cannot be resumed safely — use another "
            "--out directory or delete this one"
        ) from None
    if not isinstance(theirs, dict) or theirs.get("format") != FORMAT:
        raise SweepError(
            f"{manifest}: written by another cosim version (no input hashes); use another "
            "--out directory or delete this one"
        )
    old = theirs.get("inputs", {})
    changed = [k for k in inputs if old.get(k) != inputs[k]]
    changed += [k for k in old if k not in inputs]
    if changed:
        details = []
        for key in changed:
            if key == "config":
                conf = theirs.get("config", {})
                fields = sorted(k for k in {*conf, *config} if conf.get(k) != config.get(k))
                details.append(f"config ({', '.join(fields) or 'values'})")
            else:
                details.append(key)
        raise SweepError(
            f"{manifest}: the sweep there was run with other inputs — changed: "
            f"{'; '.join(details)}; resuming would mix results. Use another --out directory "
            "or delete this one to start over"
        )


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_chunk(got: Any, key: str, n_trials: int, n_devices: int) -> str | None:
    """Why a loaded chunk is invalid, or None if it is valid."""
    if not isinstance(got, dict):
        return "not a JSON object"
    if got.get("key") != key:
        return f"key {got.get('key')!r} instead of {key!r}"
    acc = got.get("acc")
    if not isinstance(acc, list) or len(acc) != n_trials:
        return f"'acc' must be a list of {n_trials} accuracies"
    bad = [a for a in acc if not (_finite(a) and 0.0 <= a <= 1.0)]
    if bad:
        return f"accuracy {bad[0]!r} outside [0, 1]"
    pulses = got.get("pulses_mean")
    if not _finite(pulses) or pulses < 0:  # type: ignore[operator]
        return f"pulses_mean {pulses!r} must be a finite number >= 0"
    failed = got.get("failed")
    limit = n_trials * n_devices
    if isinstance(failed, bool) or not isinstance(failed, int) or not 0 <= failed <= limit:
        return f"failed {failed!r} must be an integer in 0..{limit}"
    return None


def check_weights(wt: Any, n_devices: int) -> str | None:
    """Why cached trained weights are invalid, or None if they are valid."""
    if not isinstance(wt, dict) or not {"spec", "g_dev_S", "n_clipped"} <= set(wt):
        return "not trained weights (keys spec, g_dev_S, n_clipped)"
    g = wt["g_dev_S"]
    if not isinstance(g, list) or len(g) != n_devices:
        return f"g_dev_S must list {n_devices} conductances"
    if not all(_finite(v) and v > 0 for v in g):
        return "g_dev_S must be finite conductances > 0"
    return None if isinstance(wt["spec"], dict) else "spec must be an object"


def load_json(path: Path, log: Callable[[str], None]) -> Any | None:
    """The JSON in ``path``, or None (logged) if it is unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log(f"{path}: unreadable ({exc}): recomputed")
        return None
