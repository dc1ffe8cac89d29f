"""The lockstep bridge between the HDL (Icarus, under cocotb) and an analog simulator.

Generic: what crosses is given by a :class:`cosim.design.ports.PortMap` (the crossbar's is
:meth:`cosim.harness.contract.Contract.port_map`); the bridge knows nothing of crossbars.
The digital simulator is the master clock and the bridge wakes only on events (see
``docs/timing.md``):

* a change of any HDL output that drives a source (``real`` or logic): the analog side is
  advanced to that instant with the *old* values held (zero-order hold), then the new values
  are applied;
* a rising edge of the map's strobe: the analog side is advanced to that instant and the
  sampled quantities are written to the HDL's ``input real`` ports in the same time step.

Two engines run these rules. By default, where the compiled sync helper builds and the bridge
runs inside a simulator with VPI, :class:`cosim.spice.vpisync.VpiBridge` runs them in C from
value-change callbacks: with libngspice (the backend's ``compiled_sync``) no Python runs per
sync at all; with any other backend (the NumPy twin, a Python model) C logs every advance and
change and Python is called only when a sample is due, to replay the log into the backend with
the very calls listed above, in the same order (:meth:`Bridge.replay`). Python also reads the
logs every ``COSIM_POLL_NS`` of simulated time (default 100 µs) and when stopped. Otherwise, or
with ``COSIM_SYNC=python``, this module runs the rules from cocotb triggers.

Analog backends implement ``LockstepBackend``: ``DeckBackend`` (any deck), ``NgspiceBackend``
(the crossbar with the Verilog-A models) and ``NumpyBackend`` (the crossbar's NumPy twin; fast,
for control-logic checks).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from cocotb.simtime import get_sim_time

from cosim.backends.protocol import LockstepBackend
from cosim.design.ports import PortMap, Sample, hdl_path
from cosim.spice.vpisync import (
    ENGINE_ENV,
    Logs,
    VpiBridge,
    VpiBridgeError,
    Wake,
    deferred_unavailable,
    unavailable,
)

ENV_POLL = "COSIM_POLL_NS"
"""How often (simulated ns) Python reads the compiled bridge's logs and flushes the VCD."""


def poll_ns() -> int:
    """The interval (simulated ns) at which Python takes the compiled engine's logs."""
    return int(float(os.environ.get(ENV_POLL, "100000")))


def python_engine_chosen() -> str | None:
    """``"COSIM_SYNC=<mode>"`` when the user chose the cocotb engine (``python``, ``thread``),
    else None (the compiled one where it runs)."""
    mode = os.environ.get(ENGINE_ENV, "auto").strip().lower()
    return f"{ENGINE_ENV}={mode}" if mode in ("python", "thread") else None


_LH = str.maketrans("LHlh", "0101")


def logic_int(value: Any) -> int | None:
    """The unsigned integer of a cocotb ``Logic``/``LogicArray`` value, None if a bit is X/Z.

    Parses the value's binary string, a constant number of Python calls at any width
    (``LogicArray.is_resolvable`` makes one ``Logic`` per bit: a 1184-bit select vector
    cost more than the analog step it triggered).
    """
    try:
        return int(str(value).translate(_LH), 2)
    except ValueError:
        return None


async def on_each(triggers: Sequence[Any], handler: Callable[[], None]) -> None:
    """Call ``handler`` after every firing of any of ``triggers``, forever; an exception of
    ``handler`` ends the wait and propagates.

    One task per trigger keeps its own trigger primed: awaiting ``First`` of them all instead
    started (and cancelled) one task per trigger at every wake.
    """
    from cocotb.triggers import select

    async def watch(trigger: Any) -> None:
        while True:
            await trigger
            handler()

    await select(*(watch(t) for t in triggers))


def resolve(dut: Any, path: str) -> Any:
    """The cocotb handle of ``path`` (``"v_prog"``, ``"g_in[3].v"``) below ``dut``."""
    handle = dut
    for name, index in hdl_path(path):
        handle = getattr(handle, name)
        if index is not None:
            handle = handle[index]
    return handle


class Bridge:
    """The cocotb side of the lockstep: watches the HDL and drives a :class:`LockstepBackend`.

    Args:
        dut: the cocotb handle of the harness top.
        backend: the analog simulator.
        ports: what crosses (the crossbar's: ``contract(topology).port_map()``).
    """

    def __init__(self, dut: Any, backend: LockstepBackend, ports: PortMap) -> None:
        self._dut = dut
        self.backend = backend
        self.ports = ports
        # One handle per distinct HDL port; each drive reads its port's value from a list.
        paths = list(dict.fromkeys(d.hdl for d in ports.drives))
        self._handles = [resolve(dut, p) for p in paths]
        slot = {p: k for k, p in enumerate(paths)}
        # Per handle: is it logic, and its drives as (source, gain or bit, levels).
        self._drives: list[tuple[bool, list[tuple[str, float, int, tuple[float, float]]]]] = [
            (False, []) for _ in paths
        ]
        for d in ports.drives:
            k = slot[d.hdl]
            self._drives[k] = (d.bit is not None, self._drives[k][1])
            self._drives[k][1].append((d.source, d.gain, d.bit or 0, d.levels))
        self._last_raw: list[float | int | None] = [None] * len(paths)
        # Per logic port: its drives by bit, so that a change visits the bits that moved only
        # (a 1184-bit select vector changes one bit at a time).
        self._by_bit: list[dict[int, list[tuple[str, tuple[float, float]]]]] = []
        for is_logic, drives in self._drives:
            by_bit: dict[int, list[tuple[str, tuple[float, float]]]] = {}
            for src, _, bit, levels in drives if is_logic else ():
                by_bit.setdefault(bit, []).append((src, levels))
            self._by_bit.append(by_bit)
        self._announce = getattr(backend, "announce_edge", None)
        # Samples grouped by what takes them: each (strobe, edge), and every sync (None).
        self._groups: dict[tuple[str, str] | None, list[tuple[Any, Sample]]] = {}
        for smp in ports.samples:
            key = (smp.strobe, smp.edge) if smp.strobe is not None else None
            self._groups.setdefault(key, []).append((resolve(dut, smp.hdl), smp))
        self._strobes = [(key, resolve(dut, key[0])) for key in self._groups if key is not None]
        self._strobe_level = {key: -1 for key, _ in self._strobes}
        self._written: dict[str, float] = {}  # last value written per sampled HDL port
        self._held: dict[str, float] = {}
        self._stopped = False
        self._stop_event: Any = None
        self._every_sync = self._groups.get(None)
        self._vpi: VpiBridge | None = None
        # (NgSpice, sampled vectors) for the compiled bridge; NgSpice None: a backend in Python
        self._vpi_target: Any = None
        self._vpi_totals = (0, 0, 0)  # syncs, samples, events of the compiled bridge so far
        #: ``"c"`` (the compiled bridge follows the HDL) or ``"python"``, and why.
        self.engine, self.engine_reason = "python", "not started"
        #: CPU of the simulator's thread inside the compiled bridge's callbacks (s).
        self.callback_cpu_s = 0.0
        self.events = 0
        #: Every change applied to the analog side: ``(t_s, {source: value})``.
        self.stimulus: list[tuple[float, dict[str, float]]] = []
        #: Every sample handed to the HDL: ``(t_s, {quantity: value})``.
        self.samples: list[tuple[float, dict[str, float]]] = []

    def stop(self) -> None:
        """Stop following the HDL (the backend is left as it is)."""
        self._stopped = True
        if self._vpi is not None:
            vpi, self._vpi = self._vpi, None
            self._absorb(vpi.stop())
            if vpi.error is not None:
                raise vpi.error
        if self._stop_event is not None:
            self._stop_event.set()

    def flush(self) -> None:
        """Bring the backend up to the HDL's latest change (the compiled bridge replays its log
        into a backend in Python only when a sample is due): call before reading the
        backend's state while the bridge runs."""
        if self._vpi is not None:
            self._poll(self._vpi)

    def _poll(self, vpi: VpiBridge) -> None:
        """Take over the compiled bridge's logs; if it stopped on an error, it is detached (and
        the error raised once)."""
        try:
            logs = vpi.poll()
        except BaseException:
            self._vpi = None
            raise
        self._absorb(logs)

    def _now_s(self) -> float:
        return float(get_sim_time("fs")) * 1e-15

    def _changed_outputs(self, port: int | None = None) -> dict[str, float]:
        """Source values of the ports that changed since the last call: of ``port`` only, or
        of every port (each read once).  Of a logic port, only the bits that moved."""
        out: dict[str, float] = {}
        held = self._held
        for k in range(len(self._handles)) if port is None else (port,):
            value = self._handles[k].value
            is_logic, drives = self._drives[k]
            last = self._last_raw[k]
            if is_logic:
                raw = logic_int(value) or 0
                if raw == last:
                    continue
                self._last_raw[k] = raw
                if last is None:
                    moved = [(src, bit, levels) for src, _, bit, levels in drives]
                else:
                    moved, diff, by_bit = [], raw ^ int(last), self._by_bit[k]
                    while diff:
                        low = diff & -diff
                        bit = low.bit_length() - 1
                        diff ^= low
                        moved += [(src, bit, levels) for src, levels in by_bit.get(bit, ())]
                for src, bit, levels in moved:
                    new = levels[(raw >> bit) & 1]
                    if held.get(src) != new:
                        out[src] = new
            else:
                real = float(value)
                if real == last:
                    continue
                self._last_raw[k] = real
                for src, gain, _, _ in drives:
                    new = gain * real
                    if held.get(src) != new:
                        out[src] = new
        return out

    def _advance_and_apply(self, port: int | None = None) -> None:
        """Advance the analog side to now with the old values held, then apply the new ones
        (of ``port``, the one that woke the bridge; None: of every port).

        A backend that can (``announce_edge``) learns about a change before it advances, so
        that its integrator restarts exactly at the jump (see ``docs/timing.md``).
        """
        now_s = self._now_s()
        changed = self._changed_outputs(port)
        if changed and self._announce is not None:
            self._announce(now_s)
        self.backend.advance_to(now_s)
        if changed:
            self.backend.mark_edge(now_s)
            self.backend.set_controls(changed)
            self._held.update(changed)
            self.stimulus.append((now_s, changed))

    def _write_inputs(self, group: list[tuple[Any, Sample]], *, every_change: bool) -> None:
        values = self.backend.sample()
        now_s = self._now_s()
        self.samples.append((now_s, values))
        for handle, smp in group:
            value = values[smp.quantity]
            if not math.isfinite(value):
                raise ArithmeticError(f"analog {smp.quantity} is {value} at t={now_s} s")
            if smp.hysteresis is not None:
                old = int(self._written.get(smp.hdl, 0))
                new_level = smp.level(value, old)
                if smp.hdl not in self._written or new_level != old:
                    handle.value = new_level
                    self._written[smp.hdl] = new_level
                continue
            last = self._written.get(smp.hdl)
            if every_change and last is not None and abs(value - last) <= smp.deadband:
                continue
            handle.value = value
            self._written[smp.hdl] = value

    def _strobe_edges(self) -> None:
        """Take the samples of every strobe that has just made its edge."""
        for key, handle in self._strobes:
            level = logic_int(handle.value)
            level = -1 if level is None else level
            before, self._strobe_level[key] = self._strobe_level[key], level
            rising = key[1] == "rising"
            if (level == 1 and before != 1) if rising else (level == 0 and before == 1):
                self._write_inputs(self._groups[key], every_change=False)

    def _compiled_target(self) -> Any:
        """``(NgSpice, sampled vectors)`` the compiled bridge can drive (``(None, quantities)``
        for a backend in Python, replayed from the bridge's log), or None (with the reason in
        ``engine_reason``)."""
        chosen = python_engine_chosen()
        if chosen is not None:
            self.engine_reason = chosen
            return None
        hook = getattr(self.backend, "compiled_sync", None)
        if hook is None:  # a backend in Python: C logs, Python replays at the samples
            why = deferred_unavailable()
            if why is not None:
                self.engine_reason = why
                return None
            return None, {smp.quantity: smp.quantity for smp in self.ports.samples}
        ng, vectors = hook()
        why = unavailable(ng)
        if why is not None:
            self.engine_reason = why
            return None
        self.engine_reason = "waiting for the analog side's first sync"
        return ng, vectors

    def _compiled(self, ng: Any, vectors: dict[str, str]) -> VpiBridge:
        """The compiled bridge, configured like this one and started.

        With ngspice: called once ngspice's thread waits at a sync (after the first advance
        past t = 0), so that the transient starts exactly as with the Python engine (its
        operating point sees every source value set at t = 0).  Without (``ng`` None): the
        backend is replayed from the bridge's log (:meth:`replay`, :meth:`sample_values`).
        """
        if ng is None:
            vpi = VpiBridge(None, vectors, {}, self.backend.stats.t_s, deferred=self)
        else:
            latest = {q: ng.latest(v) for q, v in vectors.items()}
            vpi = VpiBridge(ng, vectors, latest, self.backend.stats.t_s)
        try:
            for k, handle in enumerate(self._handles):
                is_logic, drives = self._drives[k]
                vpi.port(handle._path, logic=is_logic)
                for src, gain, bit, levels in drives:
                    vpi.drive(src, gain=gain, bit=bit, levels=levels)
            for src, value in self._held.items():
                vpi.held(src, value)
            outs: dict[str, int] = {}
            strobes = {key: k for k, (key, _) in enumerate(self._strobes)}
            for key, handle in self._strobes:
                vpi.strobe(handle._path, rising=key[1] == "rising", level=self._strobe_level[key])
            for group_key, group in self._groups.items():
                for handle, smp in group:
                    if smp.hdl not in outs:
                        logic = smp.hysteresis is not None
                        outs[smp.hdl] = vpi.output(
                            handle._path, logic=logic, written=self._written.get(smp.hdl)
                        )
                    index = -1 if group_key is None else strobes[group_key]
                    vpi.sample(outs[smp.hdl], smp.quantity, index, smp.hysteresis, smp.deadband)
            vpi.start()
        except BaseException:
            vpi.stop()
            raise
        how = "the backend replayed at each sample" if ng is None else "ngspice driven from C"
        self.engine, self.engine_reason = "c", f"compiled bridge (VPI callbacks; {how})"
        return vpi

    def replay(self, wakes: Sequence[Wake]) -> None:
        """The compiled bridge's logged wakes, applied to the backend as :meth:`_on_event`
        applies a wake: advance with the old values held (announcing a jump first), then mark
        the edge and apply the changes."""
        backend, announce = self.backend, self._announce
        for t_s, advanced, changes in wakes:
            if changes and announce is not None:
                announce(t_s)
            if advanced:
                backend.advance_to(t_s)
            if changes:
                backend.mark_edge(t_s)
                backend.set_controls(changes)

    def sample_values(self) -> dict[str, float]:
        """The backend's samples now (for the compiled bridge)."""
        return self.backend.sample()

    def _absorb(self, logs: Logs) -> None:
        """Take over what the compiled bridge did since the last poll."""
        new_syncs = logs.syncs - self._vpi_totals[0]
        new_samples = logs.samples_taken - self._vpi_totals[1]
        self.events += logs.events - self._vpi_totals[2]
        self.callback_cpu_s = logs.callback_cpu_s
        self._vpi_totals = (logs.syncs, logs.samples_taken, logs.events)
        self.stimulus.extend(logs.stimulus)
        self.samples.extend(logs.samples)
        for _, values in logs.stimulus:
            self._held.update(values)
        absorb = getattr(self.backend, "absorb", None)
        if absorb is not None:
            absorb(new_syncs, new_samples, logs.t_s, logs.edges)

    def _on_event(self, port: int | None = None) -> None:
        """A wake: by a change of driving port ``port``, or (None) by a strobe's edge."""
        if self._stopped or self._vpi is not None:
            return
        self.events += 1
        self._advance_and_apply(port)
        self._strobe_edges()
        if self._every_sync:
            self._write_inputs(self._every_sync, every_change=True)
        self._hand_over()

    def _hand_over(self) -> None:
        """Start the compiled bridge once ngspice's thread waits at a sync; wake :meth:`run`."""
        target = self._vpi_target
        ready = target is not None and (target[0] is None or target[0].thread_waiting)
        if ready and not self._stopped:
            self._vpi_target = None
            try:
                self._vpi = self._compiled(*target)
            except VpiBridgeError as exc:  # e.g. a port the C bridge cannot read: stay here
                self.engine_reason = str(exc)
                return
            if self._stop_event is not None:
                self._stop_event.set()

    async def _watch(self, trigger: Any, port: int | None) -> None:
        while not self._stopped and self._vpi is None:
            await trigger
            self._on_event(port)

    async def run(self) -> None:
        """Follow the HDL until :meth:`stop` (start with ``cocotb.start_soon``).

        One watcher task per HDL port and strobe keeps its own trigger primed, so a wake
        re-arms only the port that moved.  (Awaiting ``First`` of every port re-registered one
        simulator callback per port at every wake: with the 64 input DACs of a 64→16→10
        crossbar, most of the bridge's cost.)  A port's wake reads that port only (the
        simulator calls back at every change, so each change gets its own wake, in order); a
        strobe's wake reads every port before it samples.
        """
        import cocotb
        from cocotb.triggers import Event, Timer

        self._advance_and_apply()
        triggers: list[tuple[Any, int | None]] = [
            (h.value_change, k) for k, h in enumerate(self._handles)
        ]
        for key, handle in self._strobes:
            edge = handle.rising_edge if key[1] == "rising" else handle.falling_edge
            triggers.append((edge, None))
            level = logic_int(handle.value)
            self._strobe_level[key] = -1 if level is None else level
        self._stop_event = Event()
        self._vpi_target = self._compiled_target()
        self._hand_over()
        watchers = (
            []
            if self._vpi is not None
            else [cocotb.start_soon(self._watch(t, port)) for t, port in triggers]
        )
        try:
            await self._stop_event.wait()
        finally:
            for task in watchers:
                task.cancel()
        interval = poll_ns()
        while self._vpi is not None and not self._stopped:
            await Timer(interval, unit="ns")
            if self._vpi is not None:
                self._poll(self._vpi)
