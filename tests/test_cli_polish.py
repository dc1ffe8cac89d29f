"""CLI polish: plain-text help, unit suffixes, `cosim device` output rules (issue 11)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cosim.cli import COMMANDS, build_parser, main
from cosim.cli.common import parse_quantity, quantity


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("40ms", "s", 0.04),
        ("40 ms", "s", 0.04),
        ("4e-2", "s", 0.04),
        ("5us", "s", 5e-6),
        ("5µs", "s", 5e-6),
        ("10k", "ohm", 1e4),
        ("10kohm", "ohm", 1e4),
        ("10 kΩ", "ohm", 1e4),
        ("1meg", "ohm", 1e6),
        ("1.2V", "V", 1.2),
        ("-0.5", "V", -0.5),
        ("1kHz", "Hz", 1e3),
    ],
)
def test_quantities_take_si_prefixes_and_units(text: str, unit: str, value: float) -> None:
    assert parse_quantity(text, unit) == value


@pytest.mark.parametrize("text", ["", "ms", "40 mss", "4V", "1e999", "ten"])
def test_bad_quantities_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="number"):
        parse_quantity(text, "s")


def test_quantity_bounds() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="> 0"):
        quantity("s", minimum=0.0, strict=True)("0")
    assert quantity("s", minimum=0.0)("0") == 0.0


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        for markup in ("``", ":mod:", ":func:", ":class:", "%%"):
            assert markup not in text, (command, markup)


def test_device_png_alone_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "iv.png"
    argv = ["device", "--card", "Cr", "--sine", "0.5V,100Hz", "--t-stop", "20ms"]
    assert main([*argv, "--engine", "numpy", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert png.stat().st_size > 0 and "Cr (numpy):" in out and "points over 20 ms" in out
    assert str(png) in out


def test_device_creates_no_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nonexist" / "x.csv"
    argv = ["device", "--card", "Cr", "--dc", "0.1", "--t-stop", "1ms", "--engine", "numpy"]
    assert main([*argv, "--csv", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.parent.exists()
    assert main(argv) == 2  # no output named: an error, not a silent run
    assert "--csv" in capsys.readouterr().err
