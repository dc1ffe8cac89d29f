"""Merging VCD files (the digital dump of Icarus and the analog VCD) into one, streaming.

The merged file has one timescale (1 ps) and every input's hierarchy, plus any signals a
:class:`Derived` computes from the others on the way (e.g. the crossbar's "selected device"
traces, :mod:`cosim.analysis.selected`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from vcd.writer import VCDWriter

from cosim.waves.read import (
    END_ID,
    Change,
    VcdFormatError,
    VcdHeader,
    iter_vcd,
    timescale_s,
)

__all__ = ["Derived", "DeriveFn", "merge_vcds"]


@dataclass
class Derived:
    """Signals computed while merging from changes of other signals.

    Attributes:
        vars: full dotted name → ``(VCD type, size)`` of each derived signal (size None for
            ``real``), e.g. ``{"analog.selected.v": ("real", None)}``.
        sources: full names of the signals whose changes :attr:`update` receives.
        update: called with ``(source name, value)`` on every change of a source (in time
            order, digital before analog at equal times); returns ``(derived name, value)``
            changes to record at the same time.
    """

    vars: dict[str, tuple[str, int | None]]
    sources: Collection[str]
    update: Callable[[str, float | str], Iterable[tuple[str, float | str | int]]]


#: Builds the derived signals from the names of every input signal (None: nothing to derive).
DeriveFn = Callable[[Collection[str]], "Derived | None"]


def merge_vcds(
    digital_vcd: str | Path,
    analog_vcd: str | Path,
    out_vcd: str | Path,
    *,
    timescale: str = "1 ps",
    partial: bool = False,
    derive: DeriveFn | None = None,
) -> Path:
    """Merge VCD files into one (k-way merge by time, streaming, through pyvcd).

    With ``partial=True`` inputs cut in the middle of their last line (a crashed run) are
    merged up to their last complete line (see :func:`iter_vcd`).

    Every input's hierarchy is kept; identifiers are re-assigned; times are rescaled to
    ``timescale`` (each input's timescale must be a whole multiple of it).  Inputs are
    merged in argument order at equal times.  ``derive`` adds computed signals (:class:`Derived`).

    Returns:
        ``out_vcd`` as a :class:`~pathlib.Path`.

    Raises:
        VcdFormatError: an input is malformed, or two inputs declare the same signal name.
    """
    inputs = [Path(digital_vcd), Path(analog_vcd)]
    out = Path(out_vcd)
    tick_s = timescale_s(timescale)
    streams = [iter_vcd(p, partial=partial) for p in inputs]
    headers = [next(s) for s in streams]
    seen: dict[str, Path] = {}
    with open(out, "w", buffering=1 << 20) as fh:
        # Values come from a parsed VCD: no re-checking.
        writer = VCDWriter(
            fh, timescale=timescale, date="", version="cosim merge", check_values=False
        )
        maps: list[dict[str, Any]] = []
        for path, header in zip(inputs, headers, strict=True):
            assert isinstance(header, VcdHeader)
            mapping: dict[str, Any] = {}
            for var in header.vars:
                if var.name in seen:
                    raise VcdFormatError(
                        f"{path}: signal {var.name!r} is also declared in {seen[var.name]}"
                    )
                seen[var.name] = path
                *scope, ref = var.name.split(".")
                for depth, stype in enumerate(var.scope_types):
                    writer.set_scope_type(scope[: depth + 1], stype)
                if var.id in mapping:
                    writer.register_alias(scope, ref + var.range, mapping[var.id])
                    continue
                vtype = var.type if var.type in _PYVCD_TYPES else "wire"
                size = None if var.is_real else var.size
                mapping[var.id] = writer.register_var(scope, ref + var.range, vtype, size)
            maps.append(mapping)
        watch: dict[Any, str] = {}
        dvars: dict[str, Any] = {}
        update = None
        derived = derive(list(seen)) if derive is not None else None
        if derived is not None:
            by_name = {
                v.name: maps[n][v.id]
                for n, h in enumerate(headers)
                for v in h.vars  # type: ignore[union-attr]
            }
            watch = {by_name[name]: name for name in derived.sources if name in by_name}
            for name, (vtype, size) in derived.vars.items():
                *scope, ref = name.split(".")
                dvars[name] = writer.register_var(scope, ref, vtype, size)
            update = derived.update
        ends: list[int] = []
        scaled = [
            _rescale(stream, mapping, header.tick_s / tick_s, path, ends)  # type: ignore[union-attr]
            for stream, mapping, header, path in zip(streams, maps, headers, inputs, strict=True)
        ]
        change = writer.change
        t_last = 0
        changes: Iterator[tuple[int, Any, float | str]] = heapq.merge(*scaled, key=itemgetter(0))
        if update is not None:
            changes = _with_derived(changes, watch, dvars, update)
        first = next(changes, None)
        while first is not None and first[0] == 0:  # the values at 0 go into $dumpvars
            change(first[1], 0, first[2])
            first = next(changes, None)
        writer.flush()  # header out: from here on a repeated value is written, not dropped
        if first is not None:
            for t_last, var, value in itertools.chain([first], changes):
                var.value = _NOT_A_VALUE  # keep repeats (an edge's held point)
                change(var, t_last, value)
        writer.close(max([t_last, *ends]))
    return out


#: Compares unequal to every value: pyvcd then writes a repeated value instead of dropping it.
_NOT_A_VALUE = object()


def _with_derived(
    changes: Iterator[tuple[int, Any, float | str]],
    watch: dict[Any, str],
    dvars: dict[str, Any],
    update: Callable[[str, float | str], Iterable[tuple[str, float | str | int]]],
) -> Iterator[tuple[int, Any, float | str]]:
    for t, var, value in changes:
        yield t, var, value
        name = watch.get(var)
        if name is not None:
            for dname, dvalue in update(name, value):
                yield t, dvars[dname], dvalue  # type: ignore[misc]


_PYVCD_TYPES = frozenset(
    "event integer parameter real realtime reg supply0 supply1 time tri triand trior trireg "
    "tri0 tri1 wand wire wor bit byte enum int logic longint shortint shortreal string "
    "real_parameter".split()
)


def _rescale(
    stream: Iterator[VcdHeader | Change],
    mapping: dict[str, Any],
    factor: float,
    path: Path,
    ends: list[int],
) -> Iterator[tuple[int, Any, float | str]]:
    k = round(factor)
    if k < 1 or abs(factor - k) > 1e-9 * k:
        raise VcdFormatError(f"{path}: timescale is not a whole multiple of the merged one")
    for t, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID:
            yield t * k, mapping[ident], value
        else:
            ends.append(t * k)
