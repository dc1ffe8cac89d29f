"""Exceptions of the ngspice wrapper and the classification of ngspice's messages.

Kept apart from :mod:`cosim.spice.ngspice` (the only module with ctypes) so that the message rules
can
be read and tested on their own.  Everything here is re-exported by :mod:`cosim.spice.ngspice`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cosim.errors import CosimError, UsageError

__all__ = [
    "NgspiceError",
    "LibraryError",
    "NgspiceBusyError",
    "NetlistError",
    "CommandError",
    "UnknownCommandError",
    "NoCircuitError",
    "UnknownDeviceError",
    "OsdiLoadError",
    "UnknownVectorError",
    "UnknownSourceError",
    "SimulationError",
    "ConvergenceError",
    "TimestepTooSmallError",
    "SingularMatrixError",
    "ANALYSES",
    "FORBIDDEN",
    "NETLIST_SIGNS",
    "command_error",
    "first_line",
]


# --- exceptions ---------------------------------------------------------------------------


class NgspiceError(CosimError):
    """A failure reported by ngspice.

    Attributes:
        command: The ngspice command (or ``"<circuit>"`` for a netlist) that failed.
        messages: ngspice's own output lines about the failure.
    """

    def __init__(self, summary: str, command: str = "", messages: Sequence[str] = ()) -> None:
        self.command = command
        self.messages = list(messages)
        text = summary
        if command:
            text += f" (command: {command!r})"
        if self.messages:
            text += "\nngspice said:\n  " + "\n  ".join(self.messages[-20:])
        super().__init__(text)


class LibraryError(NgspiceError):
    """libngspice is missing, too old, or built without OSDI support."""


class NgspiceBusyError(NgspiceError):
    """The library is already driven by another live :class:`NgSpice`."""


class NetlistError(NgspiceError):
    """ngspice rejected a netlist (syntax error, unknown model/subcircuit, ignored line)."""


class CommandError(NgspiceError):
    """An ngspice command failed."""


class UnknownCommandError(CommandError):
    """ngspice has no such command."""


class NoCircuitError(CommandError):
    """The command needs a loaded circuit and there is none."""


class UnknownDeviceError(CommandError):
    """``alter`` or a similar command named a device, model or parameter that does not exist."""


class OsdiLoadError(CommandError):
    """An ``.osdi`` file could not be loaded."""


class UnknownVectorError(NgspiceError, UsageError):
    """A vector (node voltage, branch current) of that name does not exist."""


class UnknownSourceError(NgspiceError, UsageError):
    """An ``external`` source asked for a value that Python was never given."""


class SimulationError(NgspiceError):
    """An analysis (op, tran, ...) did not complete."""


class ConvergenceError(SimulationError):
    """Newton iterations did not converge (operating point or time step)."""


class TimestepTooSmallError(ConvergenceError):
    """The transient time step fell below its minimum ("Timestep too small")."""


class SingularMatrixError(ConvergenceError):
    """The circuit matrix is singular: a floating node or a loop of voltage sources."""


# --- message classification ----------------------------------------------------------------

ANALYSES = frozenset({"run", "resume", "op", "tran", "dc", "ac", "noise", "tf", "sens", "pz"})
FORBIDDEN = {
    "quit": "it makes libngspice unusable; close() the NgSpice object instead",
    "exit": "it makes libngspice unusable; close() the NgSpice object instead",
    "bg_run": "cosim runs ngspice in the foreground only; use run() or advance_to()",
    "bg_resume": "cosim runs ngspice in the foreground only; use advance_to()",
    "bg_halt": "cosim runs ngspice in the foreground only",
}
NETLIST_SIGNS = ("error", "can't find model", "is not a valid", "ignored", "cannot recover")


def first_line(lines: Sequence[str], *needles: str) -> str | None:
    """First line containing one of ``needles`` (case-insensitive), else None."""
    for line in lines:
        low = line.lower()
        if any(needle in low for needle in needles):
            return line
    return None


def command_error(command: str, errs: list[str]) -> NgspiceError | None:
    """The error that ngspice's stderr lines ``errs`` report for ``command``, if any."""
    verb = command.split(maxsplit=1)[0].lower() if command.strip() else ""
    rules: tuple[tuple[type[NgspiceError], tuple[str, ...]], ...] = (
        (UnknownCommandError, ("no such command available",)),
        (NoCircuitError, ("there aren't any circuits", "no circuit loaded", "circuit not parsed")),
        (UnknownDeviceError, ("no such device", "no such parameter", "no such model")),
        (UnknownVectorError, ("not or not yet available", "is not available or has zero")),
    )
    for cls, needles in rules:
        line = first_line(errs, *needles)
        if line is not None:
            return cls(line.strip(), command, errs)
    if verb == "osdi":
        line = first_line(errs, "error", "couldn't", "failed", "invalid")
        if line is not None:
            return OsdiLoadError(f"cannot load OSDI model: {line.strip()}", command, errs)
    if verb in ANALYSES:
        error = analysis_error(command, errs)
        if error is not None:
            return error
    line = first_line([e for e in errs if e.lower().startswith("error")], "error")
    return CommandError(line.strip(), command, errs) if line is not None else None


def analysis_error(command: str, errs: list[str]) -> NgspiceError | None:
    """Classify the failure of an analysis, or None if it completed (or paused)."""
    failed = first_line(
        errs,
        "simulation(s) aborted",
        "simulation aborted",
        "simulation not started",
        "could not be",
    )
    failed = failed or first_line([e for e in errs if e.lower().startswith("error")], "error")
    if failed is None:
        return None
    tran_step = first_line(errs, "tran:  timestep too small", "tran: timestep too small")
    singular = first_line(errs, "singular matrix")
    if singular is not None and tran_step is None:
        return SingularMatrixError(
            f"singular matrix ({singular.strip()}): a floating node or a loop of voltage "
            "sources/inductors",
            command,
            errs,
        )
    step = tran_step or first_line(errs, "timestep too small")
    if step is not None:
        return TimestepTooSmallError(step.strip(), command, errs)
    conv = first_line(errs, "stepping failed", "convergence", "could not be simulated")
    if conv is not None:
        return ConvergenceError(conv.strip(), command, errs)
    if first_line(errs, "no job") is not None:
        return SimulationError("the netlist defines no analysis (.tran/.op)", command, errs)
    return SimulationError(failed.strip(), command, errs)
