"""The README's commands work as written (the quick start is executed, not just read)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
COSIM = [sys.executable, "-m", "cosim.cli"]


def _commands(prefix: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


def test_quick_start_names_the_two_make_targets() -> None:
    assert {"make sim", "make test"} <= set(_commands("make"))
    dry = subprocess.run(["make", "-n", "sim", "test"], cwd=REPO, text=True, capture_output=True)
    assert dry.returncode == 0, dry.stderr
    assert "tools/setup.sh" in dry.stdout and "cosim sim" in dry.stdout and "pytest" in dry.stdout


@pytest.mark.spice
def test_readme_device_command_runs(tmp_path: Path) -> None:
    (line,) = _commands("cosim device")
    args = shlex.split(line)[1:]
    done = subprocess.run([*COSIM, *args], cwd=tmp_path, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr
    csv = (tmp_path / "iv.csv").read_text().splitlines()
    assert csv[0] == "time_s,v_V,i_A,x" and len(csv) > 100
    assert (tmp_path / "iv.png").stat().st_size > 0


@pytest.mark.parametrize(
    "command", ["sim", "device", "report", "plot", "efficiency", "reproduce", "insitu"]
)
def test_every_documented_command_has_help(command: str) -> None:
    done = subprocess.run([*COSIM, command, "--help"], text=True, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert "usage: cosim " + command in done.stdout
