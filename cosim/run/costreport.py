"""Seed-resolved summary of a twin cost study (:mod:`cosim.run.progcost`): spreads, the
reset-pulse and best-device verdicts over seeds, and the MCU-wait calibration per seed.

Every figure is a median with its interquartile range over device seeds
(:func:`cosim.run.spread.quantiles`); every verdict is a count "holds for k of n seeds".

* **Reset** (PAPER.md claim 7): per card, start state, reset width and MCU wait, the change
  ``T(reset omitted) / T(reset) − 1`` per seed (negative: omitting the reset saves time, and
  whole-circuit energy, which is static power × time).
* **Best device** (claim 8): per reset setting and wait, for how many seeds each card has the
  shortest training time.
* **Calibration** (claim 9 set, claim 10 predicted): the wait per verify read that makes the
  calibration card (reset omitted, as-fabricated start, card targets) take ``calibrate_s``,
  ``(calibrate_s − T_hw) / reads`` per seed, rounded to whole clock periods; reported for the
  first seed of the study and for the median seed (the seed whose wait is the lower median),
  with what each implies for every card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cosim.run.progcost import time_with_wait
from cosim.run.spread import fmt_spread, quantiles, share

__all__ = ["calibrate", "summarize_costs", "costs_markdown"]

_CLOCK_S = 1e-6


def _sel(rows: Sequence[dict], **kw: Any) -> list[dict]:
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


def _by_seed(rows: Sequence[dict]) -> dict[int, dict]:
    return {int(r["seed"]): r for r in rows}


def calibrate(
    rows: Sequence[dict], card: str, target_s: float, targets: str = "card"
) -> dict[str, Any]:
    """The MCU wait per verify read that brings ``card`` (reset omitted, as-fabricated start)
    to ``target_s``, per seed; the first seed's and the median seed's."""
    base = _by_seed(_sel(rows, card=card, targets=targets, start="hrs", reset_s=0.0))
    if not base:
        return {}
    waits = {
        s: round(max(target_s - r["time_s"], 0.0) / r["reads"] / _CLOCK_S) * _CLOCK_S
        for s, r in base.items()
    }
    order = sorted(waits, key=lambda s: (waits[s], s))
    median_seed = order[(len(order) - 1) // 2]
    first = min(waits)
    return {
        "card": card,
        "target_s": target_s,
        "wait_s_by_seed": {str(s): w for s, w in sorted(waits.items())},
        "wait_s": quantiles(list(waits.values())),
        "first_seed": first,
        "wait_first_s": waits[first],
        "median_seed": median_seed,
        "wait_median_s": waits[median_seed],
    }


def _reset_verdicts(rows: Sequence[dict], waits: dict[str, float]) -> list[dict]:
    out = []
    keys = sorted({(r["targets"], r["card"], r["start"]) for r in rows})
    widths = sorted({r["reset_s"] for r in rows if r["reset_s"] > 0})
    for targets, card, start in keys:
        off = _by_seed(_sel(rows, targets=targets, card=card, start=start, reset_s=0.0))
        for width in widths:
            on = _by_seed(_sel(rows, targets=targets, card=card, start=start, reset_s=width))
            seeds = sorted(set(on) & set(off))
            if not seeds:
                continue
            for wname, wait in waits.items():
                change = [
                    time_with_wait(off[s], wait) / time_with_wait(on[s], wait) - 1.0 for s in seeds
                ]
                out.append(
                    {
                        "targets": targets,
                        "card": card,
                        "start": start,
                        "reset_s": width,
                        "wait": wname,
                        "wait_s": wait,
                        "change_off_vs_on": quantiles(change),
                        "off_saves": share([c < 0 for c in change]),
                    }
                )
    return out


def _fastest(cards: list[str], rows: dict[str, dict], wait: float) -> str:
    times = {c: time_with_wait(rows[c], wait) for c in cards}
    return min(cards, key=times.__getitem__)


def _best_device(rows: Sequence[dict], waits: dict[str, float]) -> list[dict]:
    out = []
    cards = list(dict.fromkeys(r["card"] for r in rows))
    for targets in sorted({r["targets"] for r in rows}):
        for width in sorted({r["reset_s"] for r in rows}):
            sub = _sel(rows, targets=targets, start="hrs", reset_s=width)
            per = {c: _by_seed(_sel(sub, card=c)) for c in cards}
            seeds = sorted(set.intersection(*(set(v) for v in per.values())))
            if not seeds:
                continue
            for wname, wait in waits.items():
                best = [_fastest(cards, {c: per[c][s] for c in cards}, wait) for s in seeds]
                out.append(
                    {
                        "targets": targets,
                        "reset_s": width,
                        "wait": wname,
                        "wait_s": wait,
                        "fastest": {c: share([b == c for b in best]) for c in cards},
                    }
                )
    return out


def summarize_costs(
    rows: Sequence[dict], calibrate_card: str | None = None, calibrate_s: float | None = None
) -> dict[str, Any]:
    """Spreads per card × targets × start × reset width, verdicts and calibration."""
    cal: dict[str, Any] = {}
    waits = {"none": 0.0}
    if calibrate_card and calibrate_s:
        cal = calibrate(rows, calibrate_card, calibrate_s)
        if cal:
            waits[f"seed {cal['first_seed']}"] = cal["wait_first_s"]
            waits[f"median seed {cal['median_seed']}"] = cal["wait_median_s"]
    groups = []
    for key in sorted({(r["targets"], r["card"], r["start"], r["reset_s"]) for r in rows}):
        sub = _sel(rows, targets=key[0], card=key[1], start=key[2], reset_s=key[3])
        groups.append(
            {
                "targets": key[0],
                "card": key[1],
                "start": key[2],
                "reset_s": key[3],
                "reads": quantiles([r["reads"] for r in sub]),
                "failed": quantiles([r["failed"] for r in sub]),
                "time_s": {
                    w: quantiles([time_with_wait(r, t) for r in sub]) for w, t in waits.items()
                },
                "energy_J": {
                    w: quantiles([time_with_wait(r, t) * r["p_static_W"] for r in sub])
                    for w, t in waits.items()
                },
            }
        )
    return {
        "waits_s": waits,
        "calibration": cal,
        "groups": groups,
        "reset": _reset_verdicts(rows, waits),
        "best_device": _best_device(rows, waits),
    }


def _ms(width: float) -> str:
    return "omitted" if width == 0 else f"{width * 1e3:g} ms"


def costs_markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown tables (median [IQR] over seeds; verdicts as k/n seeds)."""
    waits = summary["waits_s"]
    lines = ["## Programming cost over seeds (twin): median [IQR]", ""]
    head = ["targets", "card", "start", "reset", "verify reads", "failed devices"]
    head += [f"time, wait {w} (s)" for w in waits]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in summary["groups"]:
        cells = [g["targets"], g["card"], g["start"], _ms(g["reset_s"])]
        cells += [fmt_spread(g["reads"], digits=0), fmt_spread(g["failed"], digits=0)]
        cells += [fmt_spread(g["time_s"][w], digits=4) for w in waits]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Omitting the reset: T(off)/T(reset) − 1 over seeds", ""]
    lines += ["| targets | card | start | reset width | wait | change | off saves |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for v in summary["reset"]:
        s = v["off_saves"]
        lines.append(
            f"| {v['targets']} | {v['card']} | {v['start']} | {_ms(v['reset_s'])} | {v['wait']} "
            f"| {fmt_spread(v['change_off_vs_on'], 100.0, 1, ' %')} | {s['true']}/{s['n']} |"
        )
    lines += ["", "## Fastest card per seed (as-fabricated start)", ""]
    lines += ["| targets | reset | wait | fastest (seeds) |", "|---|---|---|---|"]
    for v in summary["best_device"]:
        fast = ", ".join(f"{c} {k['true']}/{k['n']}" for c, k in v["fastest"].items())
        lines.append(f"| {v['targets']} | {_ms(v['reset_s'])} | {v['wait']} | {fast} |")
    cal = summary.get("calibration")
    if cal:
        w = cal["wait_s"]
        lines += [
            "",
            f"Calibration: wait per verify read making {cal['card']} (reset omitted, "
            f"as-fabricated start, card targets) take {cal['target_s']:g} s: seed "
            f"{cal['first_seed']} {cal['wait_first_s'] * 1e3:.3f} ms, median seed "
            f"{cal['median_seed']} {cal['wait_median_s'] * 1e3:.3f} ms, over seeds "
            f"{fmt_spread(w, 1e3, 3, ' ms')} (range {w['min'] * 1e3:.3f}–{w['max'] * 1e3:.3f} ms).",
        ]
    return "\n".join(lines) + "\n"
