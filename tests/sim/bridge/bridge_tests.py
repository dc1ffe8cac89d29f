"""cocotb unit bench of the lockstep bridge with a recording analog backend.

``bridge_top.v`` changes the analog-facing ports on a fixed schedule (:data:`SCHEDULE`); the
backend records every call the bridge makes.  What is checked is the timing contract of
``docs/timing.md``, from the backend's point of view:

* zero-order hold: every stretch of time the backend is advanced over carries the values the
  HDL held during that stretch (new values are applied only after advancing to their instant);
* samples only on 0→1 of ``adc_sample``, at that instant, and the sampled values reach the HDL;
* changes in one time step (different delta cycles) are merged: no stretch of time sees half of
  them, time never goes backwards.

Only the bridge's public surface is used (:func:`make_bridge` is the one place that knows how
to build it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import Timer

from cosim.backends.protocol import BackendStats
from cosim.bench.lockstep import Bridge
from cosim.bench.watch import INT, ONEHOT, REAL, Signal, Watch, flush_all
from cosim.design.ports import Drive, PortMap, Sample
from cosim.errors import RunawayError

NS = 1e-9
#: What crosses: two real outputs (one also inverted), two select bits, an enable, one sample.
PORTS = PortMap(
    drives=(
        Drive("v_prog", "vprog"),
        Drive("v_in", "vin"),
        Drive("v_in", "vinn", gain=-1.0),
        Drive("sel", "vsel0", bit=0),
        Drive("sel", "vsel1", bit=1),
        Drive("en", "vinf", bit=0),
    ),
    samples=(Sample("v_sense", "sense", strobe="adc_sample"),),
)
#: (time in ns, source → value from then on), as bridge_top.v does it.
SCHEDULE: list[tuple[float, dict[str, float]]] = [
    (0, {"vprog": 0.0, "vin": 0.0, "vinn": 0.0, "vsel0": 0.0, "vsel1": 0.0, "vinf": 0.0}),
    (100, {"vprog": 1.0}),
    (200, {"vsel0": 1.0, "vprog": 0.5}),
    (400, {"vprog": 0.25}),
    (500, {"vin": 0.2, "vinn": -0.2}),
    (600, {"vinf": 1.0, "vsel0": 0.0, "vsel1": 1.0}),
    (700, {"vsel1": 0.0, "vprog": 0.0}),
]
#: Rising edges of adc_sample (ns); the falling edges at 350 and 600 ns must not sample.
SAMPLES_NS = (300, 500)
END_NS = 800


def make_bridge(dut: Any, backend: Any) -> Any:
    """The bridge under test between ``dut`` and ``backend``."""
    return Bridge(dut, backend, PORTS)


def expected_at(t_s: float) -> dict[str, float]:
    """The HDL's analog-facing values from ``t_s`` on (after every change at ``t_s``)."""
    values: dict[str, float] = {}
    for t_ns, change in SCHEDULE:
        if t_ns * NS <= t_s * (1 + 1e-12):
            values.update(change)
    return values


class _Sampled(dict[str, float]):
    """Sampled values: any quantity the bridge asks for gets a distinct, known value."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def __missing__(self, key: str) -> float:
        value = 0.01 * self.n + 0.001 * (sum(map(ord, key)) % 97)
        self[key] = value
        return value


class RecordingBackend:
    """An analog backend that only records: calls in order, time stretches with held values."""

    def __init__(self) -> None:
        self.stats = BackendStats()
        self.t_s = 0.0
        self.held: dict[str, float] = {}
        self.calls: list[tuple[str, float, Any]] = []
        self.stretches: list[tuple[float, float, dict[str, float]]] = []
        self.samples: list[tuple[float, _Sampled]] = []

    def announce_edge(self, t_s: float) -> None:
        self.calls.append(("announce", t_s, None))

    def mark_edge(self, t_s: float) -> None:
        self.calls.append(("mark", t_s, None))

    def set_controls(self, values: Mapping[str, float]) -> None:
        self.calls.append(("set", self.t_s, dict(values)))
        self.held.update(values)

    def advance_to(self, t_s: float) -> None:
        assert t_s >= self.t_s, f"time went back from {self.t_s} to {t_s}"
        if t_s > self.t_s:
            self.stretches.append((self.t_s, t_s, dict(self.held)))
        self.calls.append(("advance", t_s, None))
        self.t_s = t_s

    def sample(self) -> dict[str, float]:
        values = _Sampled(len(self.samples) + 1)
        self.samples.append((self.t_s, values))
        self.calls.append(("sample", self.t_s, values))
        return values

    def states(self) -> np.ndarray:
        return np.zeros(0)

    def close(self) -> None:
        pass


def _watched(values: Mapping[str, float]) -> dict[str, float]:
    return {k: values.get(k, 0.0) for k in SCHEDULE[0][1]}


@cocotb.test()
async def test_bridge_hold_sample_merge(dut: Any) -> None:
    """Zero-order hold, 0→1-only sampling and merged same-time changes (see module doc)."""
    backend = RecordingBackend()
    bridge = make_bridge(dut, backend)
    cocotb.start_soon(bridge.run())
    seen_inputs: list[tuple[float, float]] = []

    async def read_back() -> None:  # the HDL's input port 1 ns after each sample
        for t_ns in SAMPLES_NS:
            await Timer(t_ns + 1 - get_sim_time("ns"), unit="ns")
            seen_inputs.append((t_ns, float(dut.v_sense.value)))

    cocotb.start_soon(read_back())
    await Timer(END_NS, unit="ns")
    bridge.stop()
    want_engine = os.environ.get("BRIDGE_ENGINE")
    assert want_engine in (None, bridge.engine), (bridge.engine, bridge.engine_reason)

    # every stretch of analog time ran with the values the HDL held during it
    assert backend.stretches, "the backend was never advanced"
    for t0, t1, held in backend.stretches:
        want = _watched(expected_at(t0))
        got = _watched(held)
        assert got == want, f"[{t0:.3g}, {t1:.3g}] s ran with {got}, the HDL held {want}"
    # every change was applied at its own instant (the stretches end on the change times),
    # announced before the advance to it and marked (pre-edge point) before it was applied
    ends = {round(t1 / NS, 6) for _, t1, _ in backend.stretches}
    assert {t for t, _ in SCHEDULE[1:]} <= ends, ends
    for t_ns, _ in SCHEDULE[1:]:
        at = [c[0] for c in backend.calls if round(c[1] / NS, 6) == t_ns]
        assert "announce" in at and "mark" in at and "set" in at, (t_ns, at)
        assert at.index("announce") < at.index("advance") < at.index("mark") < at.index("set")
    # after the last change the backend holds the HDL's final values
    assert _watched(backend.held) == _watched(expected_at(END_NS * NS))
    # samples: once per rising edge, at that instant, after advancing to it
    assert [round(t / NS, 6) for t, _ in backend.samples] == list(SAMPLES_NS)
    for t, values in backend.samples:
        i = next(i for i, c in enumerate(backend.calls) if c[0] == "sample" and c[2] is values)
        prior = [c for c in backend.calls[:i] if c[0] == "advance"]
        assert prior and prior[-1][1] == t
    # the sampled values reached the HDL's input ports (each sample's values are distinct)
    for (_, seen), (_, values) in zip(seen_inputs, backend.samples, strict=True):
        assert seen in values.values(), (seen, values)
    assert seen_inputs[0][1] != seen_inputs[1][1]


class _FailingBackend(RecordingBackend):
    """Diverges at the second sample."""

    def sample(self) -> dict[str, float]:
        if self.samples:
            raise RunawayError("the model diverged (on purpose)")
        return super().sample()


@cocotb.test(expect_error=RunawayError)
async def test_backend_error_stops_the_test(dut: Any) -> None:
    """The analog side's own error ends the test, on either engine (the compiled one keeps it
    from C and raises it at its next poll or when stopped)."""
    backend = _FailingBackend()
    bridge = make_bridge(dut, backend)
    cocotb.start_soon(bridge.run())
    await Timer(END_NS, unit="ns")
    bridge.stop()


#: What a watch of v_prog (change), sel (change, one-hot index), adc_sample (rising) that also
#: reads en sees: (ns, v_prog, sel, adc_sample, en) at each triggering change, as bridge_top.v
#: makes them (at 0 ns sel leaves X first, the others are still X; two changes at 200 ns in
#: two delta cycles: two calls; at 600 ns only sel).
WATCHED = [
    (0, 0.0, -1, -1, -1),
    (100, 1.0, -1, 0, 0),
    (200, 1.0, 0, 0, 0),
    (200, 0.5, 0, 0, 0),
    (300, 0.5, 0, 1, 0),
    (400, 0.25, 0, 0, 0),
    (500, 0.25, 0, 1, 0),
    (600, 0.25, 1, 1, 1),
    (700, 0.25, -1, 0, 1),
    (700, 0.0, -1, 0, 1),
]


@cocotb.test()
async def test_watch_sees_every_change(dut: Any) -> None:
    """A :class:`Watch` calls its handler at each triggering change with the values of that
    moment, on either engine (compiled: from the C log, at a poll or :func:`flush_all`)."""
    seen: list[tuple[float, ...]] = []

    def handler(t_ps: float, v: Mapping[str, float]) -> None:
        seen.append((t_ps / 1e3, v["v_prog"], v["sel"], v["adc_sample"], v["en"]))

    signals = [
        Signal("v_prog", REAL),
        Signal("sel", ONEHOT),
        Signal("adc_sample", INT, on="rising"),
        Signal("en", INT, on=None),
    ]
    watch = Watch(dut, signals, handler)
    cocotb.start_soon(watch.run())
    await Timer(END_NS, unit="ns")
    flush_all()
    want_engine = os.environ.get("BRIDGE_ENGINE")
    assert want_engine in (None, watch.engine), watch.engine
    assert seen == WATCHED, seen
