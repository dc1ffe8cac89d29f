"""The lockstep bridge between the HDL (Icarus, under cocotb) and the analog crossbar.

The digital simulator is the master clock.  The bridge wakes only on events (see
``docs/timing.md``):

* a change of any HDL output that drives the analog side (``v_prog``, ``v_in0..8`` as
  ``real``; ``sel`` and ``infer_en`` as logic): the analog side is advanced to that instant with
  the *old* values held (zero-order hold), then the new values are applied;
* a rising edge of ``adc_sample``: the analog side is advanced to that instant and the analog
  values (``v_sense``, ``v_h0..2``, ``v_out``) are written to the HDL's ``input real`` ports in
  the same time step; the behavioural ADC latches them after its conversion time.

Two analog backends implement :class:`AnalogBackend`: :class:`NgspiceBackend` (libngspice with
the Verilog-A models; every accepted time point goes to the analog VCD) and
:class:`NumpyBackend` (the NumPy twin; fast, for control-logic checks).
"""

from __future__ import annotations

import math
from typing import Any

from cosim.backends.protocol import AnalogBackend, controls
from cosim.circuit.network import N_IN

#: HDL ``output real`` ports that drive the analog side.
OUTPUT_REALS: tuple[str, ...] = ("v_prog",) + tuple(f"v_in{i}" for i in range(N_IN))
#: HDL ``input real`` port → analog quantity written at each ADC sample.
INPUT_REALS: dict[str, str] = {
    "v_sense": "sense",
    "v_h0": "h0",
    "v_h1": "h1",
    "v_h2": "h2",
    "v_out": "out",
}


class Bridge:
    """The cocotb side of the lockstep: watches the HDL and drives an :class:`AnalogBackend`.

    Args:
        dut: the cocotb handle of the harness top ``xbar_top``.
        backend: the analog simulator.
    """

    def __init__(self, dut: Any, backend: AnalogBackend) -> None:
        self._dut = dut
        self.backend = backend
        self._outs = [getattr(dut, n) for n in OUTPUT_REALS]
        self._sel = dut.sel
        self._inf = dut.infer_en
        self._adc = dut.adc_sample
        self._held: dict[str, float] = {}
        self._adc_high = False
        self._stopped = False
        self.events = 0
        #: Every change applied to the analog side: ``(t_s, {source: value})``.
        self.stimulus: list[tuple[float, dict[str, float]]] = []
        #: Every ADC sample handed to the HDL: ``(t_s, {quantity: value})``.
        self.samples: list[tuple[float, dict[str, float]]] = []

    def stop(self) -> None:
        """Stop following the HDL (the backend is left as it is)."""
        self._stopped = True

    def _now_s(self) -> float:
        from cocotb.simtime import get_sim_time

        return float(get_sim_time("fs")) * 1e-15

    def _read_outputs(self) -> dict[str, float]:
        v = [float(h.value) for h in self._outs]
        sel_val = self._sel.value
        sel = int(sel_val) if sel_val.is_resolvable else 0
        inf_val = self._inf.value
        inf = bool(int(inf_val)) if inf_val.is_resolvable else False
        return controls(v[0], v[1:], sel, inf)

    def _sync_outputs(self) -> None:
        new = self._read_outputs()
        changed = {k: v for k, v in new.items() if self._held.get(k) != v}
        if changed:
            self.backend.mark_edge(self._now_s())
            self.backend.set_controls(changed)
            self._held.update(changed)
            self.stimulus.append((self._now_s(), changed))

    def _write_inputs(self) -> None:
        values = self.backend.sample()
        self.samples.append((self._now_s(), values))
        for port, quantity in INPUT_REALS.items():
            value = values[quantity]
            if not math.isfinite(value):
                raise ArithmeticError(f"analog {quantity} is {value} at t={self._now_s()} s")
            getattr(self._dut, port).value = value

    async def run(self) -> None:
        """Follow the HDL until :meth:`stop` (start with ``cocotb.start_soon``)."""
        from cocotb.triggers import First

        self._sync_outputs()
        triggers = [h.value_change for h in self._outs]
        triggers += [self._sel.value_change, self._inf.value_change, self._adc.rising_edge]
        while not self._stopped:
            await First(*triggers)
            if self._stopped:
                break
            self.events += 1
            self.backend.advance_to(self._now_s())
            self._sync_outputs()
            adc = self._adc.value
            adc_high = adc.is_resolvable and int(adc) == 1
            if adc_high and not self._adc_high:
                self._write_inputs()
            self._adc_high = adc_high
