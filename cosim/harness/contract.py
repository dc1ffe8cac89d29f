"""The harness contract: what the bench needs from the HDL, in one place.

:class:`Contract` names the harness top, its dump module, its control ports and the paths of
its analog ports for a :class:`~cosim.topology.Topology`; the bridge, the host driver, the
monitors, the metrics, the summary and the ``.gtkw`` writer read them from here.  Numbers
(register map, phase codes) come from ``hdl/xbar_regs.vh`` (:mod:`cosim.harness.regmap`);
clock and converter parameters from the harness top itself: :meth:`HarnessParams.from_dut` on
a running DUT, :func:`default_harness` (the defaults declared in ``hdl/behav/xbar_top.v``) for
code that runs without a simulator (sweeps, the twin).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cosim.design.ports import Drive, PortMap, Sample
from cosim.errors import UsageError
from cosim.harness.converters import HarnessParams
from cosim.harness.verilog import read_constants
from cosim.resources import hdl_dir
from cosim.topology import DEFAULT, Topology

__all__ = ["XBAR_TOP_V", "Contract", "contract", "default_harness"]

XBAR_TOP_V = hdl_dir() / "behav" / "xbar_top.v"


def default_harness(path: Path = XBAR_TOP_V) -> HarnessParams:
    """Harness parameters from the defaults declared in ``hdl/behav/xbar_top.v``.

    The same numbers :meth:`HarnessParams.from_dut` reads from a running DUT with default
    parameters, for code that runs without a simulator (Monte Carlo sweeps).

    Raises:
        UsageError: the file is missing or lacks a parameter.
    """
    values = {k: float(v) for k, v in read_constants(path, "parameter").items()}

    class _Dut:
        def __getattr__(self, name: str) -> object:
            if name not in values:
                raise UsageError(f"{path}: parameter {name!r} not found")
            return type("P", (), {"value": values[name]})()

    return HarnessParams.from_dut(_Dut())


@dataclass(frozen=True)
class Contract:
    """What the crossbar bench needs from the HDL harness for one topology.

    Attributes:
        topology: the network's shape (the harness's ``N_IN``/``N_HID``/``N_OUT``).
        toplevel: the harness top module.
        dump_module: the extra top that dumps the digital VCD.
        prog_dac: ``output real`` of the programming-pulse DAC.
        sense_adc: ``input real`` of the sense ADC (the bridge writes it).
        input_dacs: paths of the input DACs' ``real`` outputs, input ``i`` at index ``i``.
        neuron_adcs: paths of the neuron ADCs' ``real`` inputs, neuron ``n`` (hidden first).
        select: the one-hot select bus (bit ``k`` = device ``k``).
        infer: the inference-switch control.
        strobe: the ADCs' sample command (rising edge).
        phase: the phase marker; ``start``/``done``: the training-window markers.
        cur_dev: index of the device being programmed.
    """

    topology: Topology
    toplevel: str = "xbar_top"
    dump_module: str = "xbar_dump"
    prog_dac: str = "v_prog"
    sense_adc: str = "v_sense"
    select: str = "sel"
    infer: str = "infer_en"
    strobe: str = "adc_sample"
    phase: str = "phase"
    start: str = "start"
    done: str = "done"
    cur_dev: str = "cur_dev"
    busy: str = "busy"

    @property
    def input_dacs(self) -> tuple[str, ...]:
        return tuple(f"g_in[{i}].v" for i in range(self.topology.n_in))

    @property
    def neuron_adcs(self) -> tuple[str, ...]:
        return tuple(f"g_nrn[{n}].v" for n in range(self.topology.n_neurons))

    def vcd_name(self, path: str) -> str:
        """Full dotted VCD name of a harness signal (``xbar_top.sel``)."""
        return f"{self.toplevel}.{path}"

    def port_map(self) -> PortMap:
        """What crosses the lockstep (the crossbar netlist's ``external`` sources and probes).

        The pulse DAC drives ``vprog``; input DAC ``i`` drives ``vin<i>`` and the inverted copy
        ``vinn<i>`` (signed weights); select bit ``k`` drives ``vsel<k>`` and ``infer_en``
        drives ``vinf`` (0/1 V); on the strobe's rising edge the sense ADC gets ``sense`` and
        neuron ``n``'s ADC gets the neuron's node.
        """
        t = self.topology
        drives = [Drive(self.prog_dac, "vprog")]
        for i, port in enumerate(self.input_dacs):
            drives += [Drive(port, f"vin{i}"), Drive(port, f"vinn{i}", gain=-1.0)]
        drives += [Drive(self.select, f"vsel{k}", bit=k) for k in range(t.n_dev)]
        drives.append(Drive(self.infer, "vinf", bit=0))
        samples = [Sample(self.sense_adc, "sense", strobe=self.strobe)]
        samples += [
            Sample(port, name, strobe=self.strobe)
            for port, name in zip(self.neuron_adcs, t.neuron_names, strict=True)
        ]
        return PortMap(tuple(drives), tuple(samples))


def contract(topology: Topology = DEFAULT) -> Contract:
    """The harness contract of ``hdl/behav/xbar_top.v`` for ``topology``."""
    return Contract(topology)
