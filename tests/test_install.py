"""The package installs from a wheel into a fresh virtualenv and runs outside the checkout.

Slow (it builds a wheel and installs every dependency into a new venv): `make test-all` or
`pytest -m slow tests/test_install.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.spice
def test_wheel_in_fresh_venv_runs_a_simulation_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(wheels)],
        tmp_path,
    )
    (wheel,) = wheels.glob("cosim-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COSIM_BUILD_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    site = _run([str(py), "-c", "import cosim, sys; print(cosim.__file__)"], work).strip()
    assert not site.startswith(str(REPO)), f"cosim imported from the checkout: {site}"
    out = work / "run"
    _run(
        [
            str(env_dir / "bin" / "cosim"),
            "sim",
            "--devices",
            "0",
            "--test-images",
            "1",
            "--out",
            str(out),
        ],
        work,
        env,
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["devices_programmed"] == 1 and summary["test_images"] == 1
    assert summary["topology"] == [9, 3, 1] and summary["n_devices"] == 30
    # build artefacts went to the user cache, none into site-packages
    pkg = Path(site).parent
    assert not list(pkg.rglob("*.osdi")), "compiled OSDI inside the installed package"
    assert list((tmp_path / "cache" / "cosim").rglob("*.osdi")), "no OSDI in the user cache"
    # the compiled lockstep helper was built from the installed sources, into the user cache
    if shutil.which("cc"):
        assert list((tmp_path / "cache" / "cosim").rglob("synchelper-*.so")), "no sync helper"
        assert json.loads((out / "host.json").read_text())["bridge_engine"] == "c"
