"""What one co-simulation run does: :class:`SimConfig`, written by :func:`cosim.run.sim.run_sim`
as ``config.json`` and read back by the bench inside ``vvp`` (:mod:`cosim.bench.training`)."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cosim.circuit.devices import load_card
from cosim.errors import UsageError
from cosim.harness.contract import default_harness
from cosim.learn.datasets import dataset_for
from cosim.topology import DEFAULT, Topology, parse_topology

__all__ = ["SimConfig", "BACKENDS", "MAX_WAIT_CYCLES", "WARN_WAIT_CYCLES"]

BACKENDS = ("ngspice", "numpy", "ngspice-partitioned")

#: Refused: more simulated host-wait clock cycles than this in one run (at least one verify
#: wait per programmed device).  Icarus ticks the controller's wait counter every cycle.
MAX_WAIT_CYCLES = 10**8
#: Warned about: more simulated host-wait clock cycles than this.
WARN_WAIT_CYCLES = 10**6


@dataclass
class SimConfig:
    """What one co-simulation run does (every field has a command-line option).

    Attributes:
        card: device card name or path (``va_models/cards/<name>.toml``).
        reset_pulse: apply the initial reset pulse before programming each device.
        seed: seed of every random draw (device variation, input noise).
        backend: analog backend, ``ngspice`` (Verilog-A in libngspice, one full netlist),
            ``ngspice-partitioned`` (the same models, one small netlist per programmed device:
            flat cost per device, see :mod:`cosim.backends.partitioned`) or ``numpy`` (twin).
        out_dir: where the VCD, save file and summary go.
        input_noise: Gaussian input noise during inference, σ relative to the input swing.
        topology: the network's layer widths ``N_IN,N_HID,N_OUT`` (default the paper's 9,3,1).
        dataset: the task the targets are trained on and the test images come from
            (:data:`cosim.learn.datasets.DATASET_NAMES`; it must fit the topology).
        devices: indices of the devices to program (default: all).
        test_images: how many test images to infer (default: the whole test set).
        tmax_s: ngspice's largest time step (default: the card's longest pulse, see
            ``docs/timing.md``; the bridge stops ngspice exactly at every edge anyway).
        t_step_wait_s: host/microcontroller latency simulated after every verify read (s),
            a whole number of clock periods (``REG_STEP_WAIT``, docs/controller.md); 0 = none.
        dump_all: dump the whole HDL hierarchy (clock and controller internals) into the
            digital VCD, not only the harness ports (much larger on long runs).
        record: comma-separated device-name patterns (``fnmatch``, e.g. ``w1_0_*,w2_1``)
            whose ``v``, ``i``, ``x``, ``g`` the ``ngspice-partitioned`` backend records in
            every phase (by default a device is recorded only while it is selected).
    """

    card: str = "Cr"
    reset_pulse: bool = True
    seed: int = 1
    backend: str = "ngspice"
    out_dir: Path = field(default_factory=lambda: Path("build", "sim").resolve())
    input_noise: float = 0.05
    topology: Topology = DEFAULT
    dataset: str = "patterns"
    devices: tuple[int, ...] | None = None
    test_images: int | None = None
    tmax_s: float | None = None
    t_step_wait_s: float = 0.0
    dump_all: bool = False
    record: str = ""

    def analog_tmax_s(self) -> float:
        """TMAX of the analog run: ``tmax_s`` or the card's longest pulse."""
        if self.tmax_s is not None:
            return self.tmax_s

        op = load_card(self.card).operation
        return max(op.t_write_s, op.t_erase_s, op.t_reset_s, op.t_read_s)

    def recorded_devices(self) -> tuple[int, ...]:
        """Indices of the devices named by :attr:`record`.

        Raises:
            UsageError: a pattern that names no device.
        """
        topology = parse_topology(self.topology)
        names = topology.device_names
        out: set[int] = set()
        for pattern in (p.strip() for p in self.record.split(",") if p.strip()):
            hit = [k for k, n in enumerate(names) if fnmatch.fnmatchcase(n, pattern)]
            if not hit:
                raise UsageError(f"record {pattern!r} names no device; {topology.describe_names()}")
            out.update(hit)
        return tuple(sorted(out))

    def validate(self) -> None:
        """Raise :class:`UsageError` for any bad field, before anything is simulated."""

        load_card(self.card)  # unknown card → CardError listing the known ones
        self.topology = parse_topology(self.topology)  # bad shape → TopologyError
        dataset_for(self.topology, self.dataset)  # unknown or misfit → DatasetError
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UsageError(f"seed {self.seed!r}: must be an integer in 0..{2**32 - 1}")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"seed {self.seed}: allowed range is 0..{2**32 - 1}")
        for name in ("input_noise", "t_step_wait_s", "tmax_s"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise UsageError(f"{name} {value!r}: must be a finite number")
        self.recorded_devices()
        if self.backend not in BACKENDS:
            raise UsageError(f"backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if not 0.0 <= self.input_noise <= 1.0:
            raise UsageError(f"input_noise {self.input_noise!r}: allowed range is 0..1")
        if self.devices is not None:
            n_dev = self.topology.n_dev
            bad = [k for k in self.devices if not 0 <= k < n_dev]
            if bad or not self.devices:
                raise UsageError(
                    f"devices {list(self.devices)!r}: indices 0..{n_dev - 1} "
                    f"(topology {self.topology} has {n_dev} devices)"
                )
        if self.test_images is not None and self.test_images < 0:
            raise UsageError(f"test_images {self.test_images!r}: must be >= 0")
        if self.tmax_s is not None and not self.tmax_s > 0:
            raise UsageError(f"tmax_s {self.tmax_s!r}: must be > 0 s")
        if not self.t_step_wait_s >= 0.0:  # also rejects NaN
            raise UsageError(f"t_step_wait_s {self.t_step_wait_s!r}: must be >= 0 s")

        # whole clock periods, < 2**32 cycles: the bench's register conversion, checked now
        cycles = default_harness().cycles(self.t_step_wait_s, "t_step_wait_s", 0, 2**32 - 1)
        low = self.wait_cycles_estimate(cycles)
        if low > MAX_WAIT_CYCLES:
            raise UsageError(
                f"t_step_wait_s {self.t_step_wait_s!r}: the run would simulate at least "
                f"{low:.3g} clock cycles ({low * default_harness().clk_period_s:.3g} s) of host "
                f"wait (one wait per verify read, >= 1 read per device); allowed: at most "
                f"{MAX_WAIT_CYCLES:.0e} cycles — use a smaller wait or fewer --devices"
            )

    def wait_cycles_estimate(self, cycles: int | None = None) -> int:
        """Lower bound of the host-wait clock cycles of this run (one verify read per device)."""
        if cycles is None:
            cycles = default_harness().cycles(self.t_step_wait_s, "t_step_wait_s", 0, 2**32 - 1)
        n_dev = parse_topology(self.topology).n_dev if self.devices is None else len(self.devices)
        return int(cycles) * n_dev

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (paths as strings)."""
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["devices"] = None if self.devices is None else list(self.devices)
        data["topology"] = list(parse_topology(self.topology).widths)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimConfig:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["out_dir"] = Path(data["out_dir"])
        if data.get("devices") is not None:
            data["devices"] = tuple(data["devices"])
        data["topology"] = parse_topology(data.get("topology", DEFAULT))
        return cls(**data)
