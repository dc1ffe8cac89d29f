"""The twin's inference: the class the chip's controller reports, from device conductances.

The co-simulation's chip decides in three steps: the crossbar computes the output neurons from
the input DACs' voltages, the neuron ADCs convert them, and the controller decides from the
codes (one output neuron: code ≥ ``REG_CLASS_THR``; several: the arg-max, the lowest index on
ties, as ``hdl/xbar_ctrl.v``).  The twin does the same with the circuit's forward model
(:func:`cosim.circuit.network.forward` through the inference path, what
:meth:`cosim.crossbar.Crossbar.reference_outputs` computes) and the converters' arithmetic
(:class:`cosim.harness.converters.AdcSpec`), so that its accuracy predicts the co-simulated
chip's on the same input codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cosim.harness.converters import HarnessParams

__all__ = ["class_threshold", "controller_class", "predict_classes"]


def class_threshold(xbar: Any, harness: HarnessParams) -> int:
    """``REG_CLASS_THR`` as the bench writes it: the code of half the output range."""
    return harness.neuron_adc.quantize(0.5 * xbar.spec.v_o_max_V)


def controller_class(out_codes: Sequence[int], threshold: int) -> int:
    """The controller's class from the output neurons' ADC codes."""
    if len(out_codes) == 1:
        return int(out_codes[0] >= threshold)
    return int(np.argmax(out_codes))  # the first maximum: the lowest index on ties


def predict_classes(
    xbar: Any, g_S: NDArray[np.float64], in_codes: Sequence[Sequence[int]], harness: HarnessParams
) -> list[int]:
    """The controller's class for each image of input-DAC codes, with devices at ``g_S``.

    Args:
        xbar: the crossbar (:class:`cosim.crossbar.Crossbar`).
        g_S: device conductances in select-line order (e.g. a twin's programmed ones).
        in_codes: per image, the ``N_IN`` input-DAC codes (``host.json``'s ``in_codes``).
        harness: converter parameters of the harness.
    """
    lsb = harness.in_dac.code_to_volts(1)
    v = np.asarray(in_codes, dtype=float) * lsb
    _, y = xbar.reference_outputs(np.asarray(g_S, dtype=float), v)
    thr = class_threshold(xbar, harness)
    adc = harness.neuron_adc
    return [controller_class([adc.quantize(float(u)) for u in row], thr) for row in y]
