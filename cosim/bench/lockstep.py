"""The lockstep bridge between the HDL (Icarus, under cocotb) and the analog crossbar.

The digital simulator is the master clock.  The bridge wakes only on events (see
``docs/timing.md``):

* a change of any HDL output that drives the analog side (the pulse DAC ``v_prog`` and the
  input DACs ``g_in[i].v`` as ``real``; ``sel`` and ``infer_en`` as logic): the analog side is
  advanced to that instant with the *old* values held (zero-order hold), then the new values
  are applied;
* a rising edge of ``adc_sample``: the analog side is advanced to that instant and the analog
  values (the sense amplifier into ``v_sense``, every neuron into ``g_nrn[n].v``) are written
  to the HDL's ``real`` inputs in the same time step; the behavioural ADCs latch them after
  their conversion time.

Port names come from the harness contract (:mod:`cosim.harness.contract`).

Two analog backends implement :class:`AnalogBackend`: :class:`NgspiceBackend` (libngspice with
the Verilog-A models; every accepted time point goes to the analog VCD) and
:class:`NumpyBackend` (the NumPy twin; fast, for control-logic checks).
"""

from __future__ import annotations

import math
from typing import Any

from cosim.backends.protocol import AnalogBackend, controls
from cosim.harness.contract import Contract, resolve


def output_reals(c: Contract) -> tuple[str, ...]:
    """HDL ``real`` outputs that drive the analog side: the pulse DAC, then the input DACs."""
    return (c.prog_dac, *c.input_dacs)


def input_reals(c: Contract) -> dict[str, str]:
    """HDL ``real`` input → analog quantity written at each ADC sample."""
    names = ("sense", *c.topology.neuron_names)
    return dict(zip((c.sense_adc, *c.neuron_adcs), names, strict=True))


class Bridge:
    """The cocotb side of the lockstep: watches the HDL and drives an :class:`AnalogBackend`.

    Args:
        dut: the cocotb handle of the harness top ``xbar_top``.
        backend: the analog simulator.
        contract: the harness's port names for the run's topology.
    """

    def __init__(self, dut: Any, backend: AnalogBackend, contract: Contract) -> None:
        self._dut = dut
        self.backend = backend
        self._n_dev = contract.topology.n_dev
        self._outs = [resolve(dut, n) for n in output_reals(contract)]
        self._ins = {resolve(dut, port): q for port, q in input_reals(contract).items()}
        self._sel = resolve(dut, contract.select)
        self._inf = resolve(dut, contract.infer)
        self._adc = resolve(dut, contract.strobe)
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
        return controls(v[0], v[1:], sel, inf, self._n_dev)

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
        for handle, quantity in self._ins.items():
            value = values[quantity]
            if not math.isfinite(value):
                raise ArithmeticError(f"analog {quantity} is {value} at t={self._now_s()} s")
            handle.value = value

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
