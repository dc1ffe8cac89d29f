"""Twin cost study (:mod:`cosim.run.progcost`), its seed-resolved summary
(:mod:`cosim.run.costreport`), target windows (:mod:`cosim.run.targets`), spreads over seeds
(:mod:`cosim.run.spread`) and ``cosim efficiency --seeds/--model twin``."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from cosim.circuit import mss
from cosim.circuit.devices import draw_variation, load_card
from cosim.cli import efficiency as cmd
from cosim.errors import UsageError
from cosim.run import costreport, progcost, spread, targets
from cosim.run.efficiency import StudyConfig, plan_runs


def test_quantiles_and_share() -> None:
    q = spread.quantiles([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (q["median"], q["q25"], q["q75"], q["min"], q["max"], q["n"]) == (3, 2, 4, 1, 5, 5)
    assert spread.quantiles([]) == {"n": 0}
    assert spread.share([True, False, True]) == {"true": 2, "n": 3}
    assert spread.fmt_spread(q, 10.0, 0, " x") == "30 x [20, 40]"


@pytest.mark.parametrize("card", ["W", "Cr", "C"])
def test_reachable_window_is_inside_the_card_window_and_reached(card: str) -> None:
    c = load_card(card)
    lo, hi = targets.reachable_window(c)
    assert c.operation.g_min_S <= lo < hi <= c.operation.g_max_S
    # a fresh draw of devices: ≈ 95 % reach g_max at x = 0.75 (the card's own fraction)
    p = mss.MSSArrays.from_params(c.model, draw_variation(c, 4000, 11))
    reach = np.asarray(mss.conductance(p, np.full(4000, 0.75))) >= hi
    assert 0.92 < reach.mean() < 0.98
    assert targets.target_card(c, "card") is c
    shrunk = targets.target_card(c, "reachable").operation
    assert (shrunk.g_min_S, shrunk.g_max_S) == (lo, hi)
    with pytest.raises(UsageError, match="reachable"):
        targets.target_card(c, "nearest")


def test_cost_rows_time_model_and_reset_width() -> None:
    rows = {
        w: progcost.program_cost("Cr", 1, reset_s=w, start="hrs", targets="card")
        for w in (0.0, 0.5e-3, 50e-3)
    }
    for r in rows.values():
        assert r["reads"] == r["pulses"] + 30
        assert r["energy_J"] == pytest.approx(r["p_static_W"] * r["time_s"])
        assert r["p_static_W"] == pytest.approx(4 * 1e-3 * 5.0)
    # from the as-fabricated state a longer reset changes no decision past a full reset
    a, b = rows[0.5e-3], rows[50e-3]
    assert (a["reads"], a["failed"]) == (b["reads"], b["failed"])
    assert b["time_s"] - a["time_s"] == pytest.approx(30 * (50e-3 - 0.5e-3), rel=1e-9)
    assert progcost.time_with_wait(a, 1e-3) == pytest.approx(a["time_s"] + a["reads"] * 1e-3)
    prev = progcost.program_cost("Cr", 1, reset_s=0.0, start="previous", targets="card")
    assert prev["reads"] != rows[0.0]["reads"]  # another start state, another programming


def _row(card: str, seed: int, reset_s: float, time_s: float, reads: int) -> dict:
    return {
        "card": card,
        "seed": seed,
        "targets": "card",
        "start": "hrs",
        "reset_s": reset_s,
        "reads": reads,
        "pulses": reads - 30,
        "failed": 0,
        "time_s": time_s,
        "energy_J": 0.02 * time_s,
        "p_static_W": 0.02,
    }


def test_summary_verdicts_and_calibration_over_seeds() -> None:
    rows = []
    for seed, (t_off, reads_off) in enumerate([(0.03, 400), (0.02, 300), (0.05, 600)], 1):
        rows.append(_row("Cr", seed, 0.0, t_off, reads_off))
        rows.append(_row("Cr", seed, 0.5e-3, t_off + 0.01, reads_off - 20))
        rows.append(_row("W", seed, 0.0, 0.025, 350))
        rows.append(_row("W", seed, 0.5e-3, 0.04, 340))
    s = costreport.summarize_costs(rows, "Cr", 2.4)
    cal = s["calibration"]
    waits = {int(k): v for k, v in cal["wait_s_by_seed"].items()}
    assert waits[1] == pytest.approx(round((2.4 - 0.03) / 400 * 1e6) * 1e-6)
    assert cal["first_seed"] == 1
    assert cal["median_seed"] == sorted(waits, key=waits.get)[1]
    assert set(s["waits_s"]) == {"none", "seed 1", f"median seed {cal['median_seed']}"}
    none = [v for v in s["reset"] if v["card"] == "Cr" and v["wait"] == "none"][0]
    assert none["off_saves"] == {"true": 3, "n": 3}
    slow = [v for v in s["reset"] if v["card"] == "Cr" and v["wait"] == "seed 1"][0]
    assert slow["off_saves"]["true"] == 0  # 20 more reads × ms wait outweigh 15 ms of resets
    best = [v for v in s["best_device"] if v["reset_s"] == 0.0 and v["wait"] == "none"][0]
    assert best["fastest"]["W"]["true"] == 2 and best["fastest"]["Cr"]["true"] == 1
    md = costreport.costs_markdown(s)
    assert "Calibration" in md and "| card | Cr | hrs | omitted |" in md


def test_seed_list_and_multi_seed_plan() -> None:
    assert cmd.seed_list("1-3,7") == (1, 2, 3, 7)
    for bad in ("1-x", "3-1", "1,1"):
        with pytest.raises(argparse.ArgumentTypeError):
            cmd.seed_list(bad)
    specs = plan_runs(StudyConfig(cards=("Cr",), reset="both", seeds=(1, 2)))
    assert [s.name for s in specs] == [
        "seed-1/Cr-reset-on",
        "seed-1/Cr-reset-off",
        "seed-2/Cr-reset-on",
        "seed-2/Cr-reset-off",
    ]
    cfg = StudyConfig(cards=("Cr",), seeds=(1, 2))
    assert cfg.sim_config(specs[2]).seed == 2
    with pytest.raises(UsageError, match="distinct seeds"):
        StudyConfig(seeds=()).validate()
