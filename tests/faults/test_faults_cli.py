"""Bad input on the command line: one ``cosim: error:`` line naming the option/file/field and
what is allowed, exit status 2, no traceback (``--debug`` shows it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import RunCli

from cosim.resources import cards_dir

SIM = ("sim", "--backend", "numpy", "--devices", "0", "--test-images", "1")


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("--seed", "-5"), "--seed"),
        (("--seed", "4294967296"), "--seed"),
        (("--t-step-wait-s", "inf"), "--t-step-wait-s"),
        (("--t-step-wait-s", "nan"), "--t-step-wait-s"),
        (("--input-noise", "nan"), "--input-noise"),
        (("--test-images", "-1"), "--test-images"),
        (("--devices", "0,x"), "--devices"),
    ],
    ids=["seed-neg", "seed-big", "wait-inf", "wait-nan", "noise-nan", "images-neg", "devices"],
)
def test_sim_bad_numbers_are_usage_errors(cosim: RunCli, tmp_path: Path, args, expect) -> None:
    res = cosim(*SIM, "--out", str(tmp_path / "o"), *args)
    assert res.status == 2 and expect in res.err and "Traceback" not in res.err
    assert not (tmp_path / "o").exists()


def test_absurd_host_wait_is_refused_with_the_estimate(cosim: RunCli, tmp_path: Path) -> None:
    line = cosim(*SIM, "--out", str(tmp_path / "o"), "--t-step-wait-s", "4000").one_line_error()
    assert "t_step_wait_s 4000" in line and "clock cycles" in line and "at most" in line


@pytest.mark.parametrize("where", ["file", "under-file", "card-dir", "card-missing"])
def test_sim_bad_paths(cosim: RunCli, tmp_path: Path, where: str) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    out, card = tmp_path / "o", "Cr"
    if where == "file":
        out = f
    elif where == "under-file":
        out = f / "o"
    elif where == "card-dir":
        card = str(tmp_path)
    else:
        card = str(tmp_path / "nope.toml")
    line = cosim(*SIM, "--out", str(out), "--card", card).one_line_error()
    want = {
        "file": "exists and is not a directory",
        "under-file": "is a file, not a directory",
        "card-dir": "is a directory",
        "card-missing": "does not exist",
    }[where]
    assert want in line


DEVICE = ("device", "--sine", "0.5,100", "--t-stop", "0.02", "--engine", "numpy")


def test_device_accepts_a_card_path(cosim: RunCli, tmp_path: Path) -> None:
    card = tmp_path / "Cr.toml"
    shutil.copy(cards_dir() / "Cr.toml", card)
    res = cosim(*DEVICE, "--card", str(card), "--csv", str(tmp_path / "iv.csv"))
    assert res.status == 0, res.err
    assert (tmp_path / "iv.csv").read_text().startswith("time_s,v_V,i_A,x")


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (("--csv", "{dir}"), "is a directory"),
        (("--csv", "{dir}/iv.txt"), "unknown file type '.txt'"),
        (("--csv", "{file}/iv.csv"), "not a directory"),
        (("--csv", "{dir}/iv.csv", "--png", "{dir}/iv.jpg"), "allowed: .png, .pdf, .svg"),
        (("--csv", "{dir}/iv.csv", "--card", "{dir}"), "is a directory"),
        (("--csv", "{dir}/iv.csv", "--card", "Nope"), "known cards"),
    ],
    ids=["csv-dir", "csv-ext", "csv-under-file", "png-ext", "card-dir", "card-name"],
)
def test_device_bad_outputs_and_cards(cosim: RunCli, tmp_path: Path, extra, expect) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    args = [a.format(dir=tmp_path, file=f) for a in extra]
    if "--card" not in args:
        args += ["--card", "Cr"]
    line = cosim(*DEVICE, *args).one_line_error()
    assert expect in line


def test_device_impossible_request_is_refused_with_the_estimate(
    cosim: RunCli, tmp_path: Path
) -> None:
    line = cosim(
        "device", "--sine", "1,1e9", "--t-stop", "10", "--engine", "numpy", "--card", "Cr",
        "--csv", str(tmp_path / "iv.csv"),
    ).one_line_error()  # fmt: skip
    assert "time points" in line and "GB" in line and "--t-stop" in line


def test_empty_verilog_a_model_is_named(cosim: RunCli, tmp_path: Path) -> None:
    va = tmp_path / "va"
    va.mkdir()
    (va / "mss.va").write_text("")
    line = cosim(
        "device", "--dc", "0.1", "--t-stop", "1e-3", "--engine", "ngspice", "--card", "Cr",
        "--csv", str(tmp_path / "iv.csv"), env={"COSIM_VA_PATH": str(va)}, process=True,
    ).one_line_error()  # fmt: skip
    assert "mss.va" in line and "defines no module" in line


def test_debug_shows_the_traceback(cosim: RunCli, tmp_path: Path) -> None:
    res = cosim("--debug", *DEVICE, "--card", "Nope", "--csv", str(tmp_path / "iv.csv"))
    assert res.status == 2 and "Traceback" in res.err and "cosim: error:" in res.err
    res = cosim(*DEVICE, "--card", "Nope", "--csv", str(tmp_path / "iv.csv"), "--debug")
    assert res.status == 2 and "Traceback" in res.err


def test_other_commands_check_out_up_front(cosim: RunCli, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    for cmd in (("reproduce", "--quick"), ("insitu",), ("efficiency", "--no-run")):
        line = cosim(*cmd, "--out", str(f / "o")).one_line_error()
        assert "is a file, not a directory" in line, cmd
