"""Set-up: tools/setup.sh finds what it needs by function (not by package name) and repairs a
half-made virtualenv instead of trusting it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SETUP = ROOT / "tools" / "setup.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, "-c", f"set -euo pipefail; source {SETUP}; {script}"],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env},
    )  # fmt: skip


def test_missing_tools_are_named_as_packages(tmp_path: Path) -> None:
    """No ld, cc, make, git on PATH and a Python without ensurepip: all five are installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("awk", "dirname", "grep", "paste", "sed"):  # what the script itself runs
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    no_venv = tmp_path / "python-without-venv"
    no_venv.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S -c 'raise SystemExit(1)'\n")
    no_venv.chmod(0o755)
    res = _bash("base_missing", PATH=str(bin_dir), PYTHON=str(no_venv))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["python3-venv", "binutils", "gcc", "make", "git"]
    assert _bash("base_missing", PYTHON=sys.executable).stdout.split() == []


@pytest.mark.slow
def test_half_made_venv_is_repaired(tmp_path: Path) -> None:
    """A venv left with bin/python but no pip (python3-venv was missing) is made again."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert subprocess.run([venv / "bin" / "python", "-m", "pip", "--version"]).returncode != 0
    res = subprocess.run(
        [BASH, str(SETUP)], capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "VENV": str(venv), "PYTHON": sys.executable},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "repairing" in res.stdout
    check = [venv / "bin" / "python", "-c", "import pip, cosim"]
    assert subprocess.run(check, capture_output=True).returncode == 0
