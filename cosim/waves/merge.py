"""Merging VCD files (the digital dump of Icarus and the analog VCD) into one.

The merged file has one timescale (1 ps) and every input's hierarchy, plus signals a
:class:`Derived` computes from the others on the way (e.g. the crossbar's "selected device"
traces, :mod:`cosim.analysis.selected`).

pyvcd writes the header and the values at time 0 (``$dumpvars``); the value changes after
time 0 (millions in a 1184-device run) are copied as text: each input is read into NumPy
columns (:mod:`cosim.waves.columns`), the two sorted streams are interleaved by time with
array operations and every line is copied with its identifier replaced.  The result is what
re-encoding every change through pyvcd gives, byte for byte, for inputs written as Icarus and
pyvcd write them (one change per line, reals with 16 significant digits); real values written
otherwise are copied as written (the same numbers, not re-rounded to 16 digits).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from vcd.writer import VCDWriter

from cosim.waves.columns import KIND_REAL, Columns, _scan, read_columns, remember, small_ints
from cosim.waves.read import VcdFormatError, VcdHeader, _parse_header, timescale_s

__all__ = ["Derived", "DeriveFn", "merge_vcds"]

#: Changes assembled per step (bounds the index arrays of :meth:`_Stream.body`).
_CHUNK_LINES = 1 << 17


@dataclass
class Derived:
    """Signals that follow whichever member of a group a selector picks (a multiplexer),
    computed while merging.

    When :attr:`selector` changes to a value :attr:`pick` maps to a member ``k`` other than the
    current one, :attr:`index` (if any) records ``k`` and each derived signal of member ``k``
    that has a value takes the member's latest value (in the order they first got one); from
    then on every change of a member-``k`` source is copied to its derived signal (at the same
    time, right after it).  A pick of None keeps the current member.

    Attributes:
        vars: full dotted name → ``(VCD type, size)`` of each derived signal (size None for
            ``real``), e.g. ``{"analog.selected.v": ("real", None)}``.
        selector: full name of the select signal.
        pick: selector value (the VCD string) → member index, or None.
        members: per member, derived name → full name of its source signal (same kind of
            values: real sources for ``real`` derived signals).
        index: name of an ``integer`` derived signal recording the member index, or None.
    """

    vars: dict[str, tuple[str, int | None]]
    selector: str
    pick: Callable[[str], int | None]
    members: Sequence[dict[str, str]]
    index: str | None = None


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
    """Merge two VCD files into one (by time; at equal times the first input's changes first).

    With ``partial=True`` inputs cut in the middle of their last line (a crashed run) are
    merged up to their last complete line (see :func:`~cosim.waves.read.iter_vcd`).

    Every input's hierarchy is kept; identifiers are re-assigned; times are rescaled to
    ``timescale`` (each input's timescale must be a whole multiple of it).  ``derive`` adds
    computed signals (:class:`Derived`).  The file is written beside ``out_vcd`` and renamed
    over it when complete: an earlier file of that name survives a failed merge.

    Returns:
        ``out_vcd`` as a :class:`~pathlib.Path`.

    Raises:
        VcdFormatError: an input is malformed, or two inputs declare the same signal name.
    """
    inputs = [Path(digital_vcd), Path(analog_vcd)]
    out = Path(out_vcd)
    tick_s = timescale_s(timescale)
    cols = [read_columns(p, partial=partial) for p in inputs]
    text = io.StringIO()
    # Values come from a parsed VCD: no re-checking.
    writer = VCDWriter(
        text, timescale=timescale, date="", version="cosim merge", check_values=False
    )
    variables, by_name = _register(writer, inputs, cols)
    derived = derive(list(by_name)) if derive is not None else None
    dvars = {
        name: writer.register_var(*_split(name), vtype, size)
        for name, (vtype, size) in (derived.vars.items() if derived is not None else ())
    }
    stream = _Stream.interleave(
        cols, [_factor(c, tick_s, p) for c, p in zip(cols, inputs, strict=True)]
    )
    if derived is not None:
        stream.add_derived(derived, by_name, dvars, variables)
    # The values at time 0 go into $dumpvars through pyvcd (the last one of each var wins).
    change = writer.change
    for var, value in stream.values_at_zero(variables):
        change(var, 0, value)
    writer.flush()
    t_close = max([int(stream.t[-1]) if len(stream.t) else 0, *stream.ends])
    head = text.getvalue().encode()
    body, lines = stream.body(variables)
    last = int(lines.t[-1]) if lines.t.size else 0
    end = f"#{t_close}\n".encode() if t_close != last else b""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(head)
            for piece in body:
                fh.write(piece.data)
            fh.write(end)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    # The readers that follow (view, summary) get the merged file without reading it again.
    fh_head = io.BytesIO(head)
    header = _parse_header(fh_head, out)
    zero_text = head[fh_head.tell() :]  # $dumpvars: the values at time 0
    raw = b"".join([zero_text, *(piece.data for piece in body), end])
    del body  # (memory: the pieces are in the joined text now)
    remember(out, _merged_columns(header, zero_text, raw, lines, stream, variables, t_close))
    remember(inputs[0], cols[0])
    return out


def _merged_columns(
    header: VcdHeader,
    zero_text: bytes,
    raw: bytes,
    lines: _Lines,
    stream: _Stream,
    variables: list[list[Any]],
    t_close: int,
) -> Columns:
    """The :class:`Columns` :func:`read_columns` would read from the merged file (``raw``:
    its text after ``$enddefinitions``, which begins with ``zero_text``, the $dumpvars)."""
    zero = _scan(header, zero_text)
    assert zero is not None
    index = {ident: k for k, ident in enumerate(zero.ids)}
    var_index = np.array(
        [index[v.ident] for v in stream._variables(variables)] or [0], dtype=np.int64
    )
    offset = len(zero_text)
    return Columns(
        header=header,
        ids=zero.ids,
        id_kind=zero.id_kind,
        raw=raw,
        t=np.concatenate([zero.t, lines.t]),
        ident=np.concatenate([zero.ident, var_index[lines.var]]),
        line=np.concatenate([zero.line, lines.line + offset]),
        id_at=np.concatenate([zero.id_at, lines.id_at + offset]),
        t_end=t_close,
    )


def _split(name: str) -> tuple[list[str], str]:
    *scope, ref = name.split(".")
    return scope, ref


def _register(
    writer: VCDWriter, inputs: list[Path], cols: list[Columns]
) -> tuple[list[list[Any]], dict[str, tuple[int, int]]]:
    """Declare every input's vars (pyvcd assigns the identifiers).  Returns, per input, the
    pyvcd variable of each of its identifiers, and full name → (input, identifier index)."""
    seen: dict[str, Path] = {}
    variables: list[list[Any]] = []
    by_name: dict[str, tuple[int, int]] = {}
    for n, (path, c) in enumerate(zip(inputs, cols, strict=True)):
        index = {ident: k for k, ident in enumerate(c.ids)}
        mapping: list[Any] = [None] * len(c.ids)
        for var in c.header.vars:
            if var.name in seen:
                raise VcdFormatError(
                    f"{path}: signal {var.name!r} is also declared in {seen[var.name]}"
                )
            seen[var.name] = path
            scope, ref = _split(var.name)
            for depth, stype in enumerate(var.scope_types):
                writer.set_scope_type(scope[: depth + 1], stype)
            k = index[var.id]
            by_name[var.name] = (n, k)
            if mapping[k] is not None:
                writer.register_alias(scope, ref + var.range, mapping[k])
                continue
            vtype = var.type if var.type in _PYVCD_TYPES else "wire"
            size = None if var.is_real else var.size
            mapping[k] = writer.register_var(scope, ref + var.range, vtype, size)
        variables.append(mapping)
    return variables, by_name


_PYVCD_TYPES = frozenset(
    "event integer parameter real realtime reg supply0 supply1 time tri triand trior trireg "
    "tri0 tri1 wand wire wor bit byte enum int logic longint shortint shortreal string "
    "real_parameter".split()
)


def _factor(c: Columns, tick_s: float, path: Path) -> int:
    factor = c.header.tick_s / tick_s
    k = round(factor)
    if k < 1 or abs(factor - k) > 1e-9 * k:
        raise VcdFormatError(f"{path}: timescale is not a whole multiple of the merged one")
    return k


class _Stream:
    """The merged sequence of changes, as arrays: each entry names an input row (``src``,
    ``row``) whose value text is copied, and the output variable (``out_var``: the inputs'
    identifiers numbered one after the other, then the derived signals); a derived entry
    copies its source's text, or a generated one (``src`` -1: ``gen[row]``)."""

    def __init__(self, cols: list[Columns], factors: list[int]) -> None:
        self.cols = cols
        self.ends = [c.t_end * k for c, k in zip(cols, factors, strict=True)]
        self.t: NDArray[np.int64] = np.zeros(0, np.int64)
        self.src: NDArray[np.int64] = np.zeros(0, np.int64)
        self.row: NDArray[np.int64] = np.zeros(0, np.int64)
        self.out_var: NDArray[np.int64] = np.zeros(0, np.int64)  # global output var index
        self.gen: list[str] = []
        self.var_base = np.cumsum([0] + [len(c.ids) for c in cols])
        self.dvars: list[Any] = []  # pyvcd variables of the derived signals

    @classmethod
    def interleave(cls, cols: list[Columns], factors: list[int]) -> _Stream:
        s = cls(cols, factors)
        (a, ka), (b, kb) = zip(cols, factors, strict=True)
        ta, tb = a.t * ka, b.t * kb
        # At equal times every change of the first input comes first (both are sorted).
        pos_a = np.arange(ta.size) + np.searchsorted(tb, ta, "left")
        pos_b = np.arange(tb.size) + np.searchsorted(ta, tb, "right")
        n = ta.size + tb.size
        s.t, s.src, s.row = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
        s.t[pos_a], s.t[pos_b] = ta, tb
        s.src[pos_a], s.src[pos_b] = 0, 1
        s.row[pos_a], s.row[pos_b] = np.arange(ta.size), np.arange(tb.size)
        s.out_var = np.empty(n, np.int64)
        s.out_var[pos_a] = a.ident + s.var_base[0]
        s.out_var[pos_b] = b.ident + s.var_base[1]
        return s

    def add_derived(
        self,
        derived: Derived,
        by_name: dict[str, tuple[int, int]],
        dvars: dict[str, Any],
        variables: list[list[Any]],
    ) -> None:
        """Insert the derived changes (see :class:`Derived`) after the changes that cause them."""
        n_out = int(self.var_base[-1])
        self.dvars = list(dvars.values())
        dindex = {name: n_out + k for k, name in enumerate(dvars)}
        if derived.selector not in by_name:
            return
        ident = self.out_var  # before any insertion: the inputs' (global) identifiers
        sel_src, sel_id = by_name[derived.selector]
        sel_g = int(self.var_base[sel_src]) + sel_id
        # Sources: global identifier → (member, slot); slots index the derived names.
        slots = sorted({d for m in derived.members for d in m})
        slot_of = {d: k for k, d in enumerate(slots)}
        n_slots = len(slots)
        key_of = np.full(n_out, -1, np.int64)  # member * n_slots + slot
        for m, member in enumerate(derived.members):
            for dname, source in member.items():
                if source in by_name:
                    n, k = by_name[source]
                    key_of[int(self.var_base[n]) + k] = m * n_slots + slot_of[dname]
                    kind = self.cols[n].id_kind[k]
                    if (kind == KIND_REAL) != (derived.vars[dname][0] == "real"):
                        raise VcdFormatError(
                            f"derived signal {dname!r}: its source {source!r} has another kind"
                        )
        key = key_of[ident]
        # The picks: a Python loop over the selector's changes (a few per device).
        sel_pos = np.flatnonzero(ident == sel_g)
        events: list[tuple[int, int]] = []
        current: int | None = None
        col = self.cols[sel_src]
        for pos, value in zip(sel_pos.tolist(), col.texts(self.row[sel_pos]), strict=True):
            pick = derived.pick(value)
            if pick is None or pick == current or pick >= len(derived.members):
                continue
            current = pick
            events.append((pos, pick))
        ev_pos = np.array([p for p, _ in events], dtype=np.int64)
        ev_k = np.array([k for _, k in events], dtype=np.int64)
        # Copies: a source change of the member picked by the last event before it.
        src_pos = np.flatnonzero(key >= 0)
        src_key = key[src_pos]
        at = np.searchsorted(ev_pos, src_pos, "right") - 1
        cur = np.where(at >= 0, ev_k[np.maximum(at, 0)] if ev_k.size else -1, -1)
        copy = src_pos[src_key // max(n_slots, 1) == cur]
        ins_after = [copy]
        ins_src = [self.src[copy]]
        ins_row = [self.row[copy]]
        ins_var = [
            np.array([dindex[slots[s]] for s in range(n_slots)], np.int64)[key[copy] % n_slots]
        ]
        # At each pick: the index, then each slot's latest value in the order first set.  The
        # sources' entries sorted by (key, position); one search for all (pick, slot) pairs.
        order = np.argsort(small_ints(src_key), kind="stable")
        grouped_key, grouped_pos = src_key[order], src_pos[order]
        bounds = np.searchsorted(grouped_key, np.arange(len(derived.members) * n_slots + 1))
        span = self.t.size + 1
        q_key = (ev_k[:, None] * n_slots + np.arange(n_slots)).ravel()
        q_pos = np.repeat(ev_pos, n_slots)
        j = np.searchsorted(grouped_key * span + grouped_pos, q_key * span + q_pos) - 1
        found = j >= bounds[q_key]  # an entry of that slot before the pick
        padded = np.append(grouped_pos, -1)
        latest = np.where(found, padded[np.maximum(j, 0)], -1).reshape(len(events), n_slots)
        first = np.where(found, padded[np.minimum(bounds[q_key], grouped_pos.size)], -1)
        first = first.reshape(len(events), n_slots)
        e_after, e_from, e_gen, e_var = [], [], [], []  # e_from: the entry copied (-1: gen)
        for (pos, k), lat, fst in zip(events, latest.tolist(), first.tolist(), strict=True):
            if derived.index is not None:
                e_after.append(pos)
                e_from.append(-1)
                e_gen.append(len(self.gen))
                e_var.append(dindex[derived.index])
                self.gen.append(f"b{k:b} ")
            for _, p, slot in sorted(
                (f, p, sl) for sl, (p, f) in enumerate(zip(lat, fst, strict=True)) if p >= 0
            ):
                e_after.append(pos)
                e_from.append(p)
                e_gen.append(-1)
                e_var.append(dindex[slots[slot]])
        from_ = np.array(e_from, np.int64)
        copied = from_ >= 0
        e_src = np.where(copied, self.src[np.maximum(from_, 0)], -1)
        e_row = np.where(copied, self.row[np.maximum(from_, 0)], np.array(e_gen, np.int64))
        ins_after.append(np.array(e_after, np.int64))
        ins_src.append(e_src)
        ins_row.append(e_row)
        ins_var.append(np.array(e_var, np.int64))
        after = np.concatenate(ins_after)
        # Stable: several insertions after one entry keep their order; copies (first list)
        # never share an entry with a pick's insertions (a source is not the selector).
        order = np.argsort(after, kind="stable")
        after = after[order]
        # New places: an entry moves down by the insertions before it; the j-th insertion
        # (in order) goes right after its entry and the insertions before it.
        n = self.t.size
        base_at = np.arange(n) + np.searchsorted(after, np.arange(n), "left")
        ins_at = after + 1 + np.arange(after.size)
        for name, extra in (
            ("t", self.t[after]),
            ("src", np.concatenate(ins_src)[order]),
            ("row", np.concatenate(ins_row)[order]),
            ("out_var", np.concatenate(ins_var)[order]),
        ):
            merged = np.empty(n + after.size, np.int64)
            merged[base_at] = getattr(self, name)
            merged[ins_at] = extra
            setattr(self, name, merged)

    def values_at_zero(self, variables: list[list[Any]]) -> list[tuple[Any, Any]]:
        """(pyvcd variable, value) of every change at time 0, in order."""
        n0 = int(np.searchsorted(self.t, 0, "right"))
        out: list[tuple[Any, Any]] = []
        table = self._variables(variables)
        for src, row, var in zip(
            self.src[:n0].tolist(), self.row[:n0].tolist(), self.out_var[:n0].tolist(), strict=True
        ):
            pv = table[var]
            if src < 0:
                text = self.gen[row]
                out.append((pv, int(text[1:].strip(), 2)))
                continue
            c = self.cols[src]
            value = c.texts(np.array([row]))[0]
            kind = c.id_kind[c.ident[row]]
            out.append((pv, float(value) if kind == KIND_REAL else value))
        return out

    def _variables(self, variables: list[list[Any]]) -> list[Any]:
        return [v for vs in variables for v in vs] + self.dvars

    def body(self, variables: list[list[Any]]) -> tuple[list[NDArray[np.uint8]], _Lines]:
        """The changes after time 0 as text (a ``#t`` line before each new time), in pieces of
        a bounded number of lines, and where each change's line and identifier are in the
        joined text."""
        n0 = int(np.searchsorted(self.t, 0, "right"))
        t = self.t[n0:]
        if t.size == 0:
            return [], _Lines(t, t, t, t)
        # One source buffer: the inputs' bodies, the generated texts, the timestamp lines and
        # the identifiers (each with its line break).
        new_t = np.flatnonzero(np.diff(t, prepend=-1) != 0)
        stamps = "".join(f"#{x}\n" for x in t[new_t].tolist()).encode()
        stamp_len = np.array([len(str(x)) + 2 for x in t[new_t].tolist()], np.int64)
        gen = "".join(self.gen).encode()
        gen_at = np.cumsum([0] + [len(g) for g in self.gen])
        tails = [v.ident.encode() + b"\n" for v in self._variables(variables)]
        base = np.cumsum([0] + [len(c.raw) for c in self.cols])
        buf = np.frombuffer(b"".join([*(c.raw for c in self.cols), gen, stamps, *tails]), np.uint8)
        gen_at += base[-1]
        stamp_at = base[-1] + len(gen) + np.cumsum(stamp_len) - stamp_len
        tail_len = np.array([len(x) for x in tails] + [0], np.int64)  # -1: none
        tail_at = np.append(np.cumsum(tail_len[:-1]) - tail_len[:-1], 0)
        tail_at += base[-1] + len(gen) + len(stamps)
        pieces: list[NDArray[np.uint8]] = []
        line = np.empty(t.size, np.int64)
        id_at = np.empty(t.size, np.int64)
        written = 0
        for lo in range(n0, self.t.size, _CHUNK_LINES):
            hi = min(lo + _CHUNK_LINES, self.t.size)
            src, row, var = self.src[lo:hi], self.row[lo:hi], self.out_var[lo:hi]
            k_lo, k_hi = np.searchsorted(new_t, [lo - n0, hi - n0])
            stamp_before = new_t[k_lo:k_hi] - (lo - n0)  # chunk entries with a #t line
            n_lines = hi - lo + stamp_before.size
            is_stamp = np.zeros(n_lines, bool)
            is_stamp[stamp_before + np.arange(stamp_before.size)] = True
            changes = np.flatnonzero(~is_stamp)
            start = np.empty(n_lines, np.int64)
            stop = np.empty(n_lines, np.int64)
            for n, c in enumerate(self.cols):
                here = np.flatnonzero(src == n)
                start[changes[here]] = c.line[row[here]] + base[n]
                stop[changes[here]] = c.id_at[row[here]] + base[n]
            here = np.flatnonzero(src < 0)
            start[changes[here]] = gen_at[row[here]]
            stop[changes[here]] = gen_at[row[here] + 1]
            start[is_stamp] = stamp_at[k_lo:k_hi]
            stop[is_stamp] = stamp_at[k_lo:k_hi] + stamp_len[k_lo:k_hi]
            tail = np.full(n_lines, -1, np.int64)
            tail[changes] = var
            text, at = _lines(buf, start, stop, tail_at[tail], tail_len[tail])
            pieces.append(text)
            line[lo - n0 : hi - n0] = at[changes] + written
            id_at[lo - n0 : hi - n0] = line[lo - n0 : hi - n0] + (stop - start)[changes]
            written += text.size
        return pieces, _Lines(line, id_at, t, self.out_var[n0:])


@dataclass
class _Lines:
    """Where the changes of a written body are: line starts, identifier starts, times and
    output variables (global indices)."""

    line: NDArray[np.int64]
    id_at: NDArray[np.int64]
    t: NDArray[np.int64]
    var: NDArray[np.int64]


def _lines(
    buf: NDArray[np.uint8],
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
    tail_at: NDArray[np.int64],
    tail_len: NDArray[np.int64],
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """``buf[start:stop] + buf[tail_at:tail_at + tail_len]`` for every line, joined, and where
    each line starts.

    Each output byte's source index is a running sum: 1 from one byte to the next, with a
    jump where a line's copied part or its tail begins (one ``cumsum`` and one gather,
    instead of Python work per line)."""
    copy = stop - start
    size = copy + tail_len
    at = np.cumsum(size) - size  # where each line goes
    step = np.ones(int(at[-1] + size[-1]) if at.size else 0, np.int64)
    # A jump where each line begins (from the last source byte of the line before) and where
    # a tail follows a copied part.
    last = np.where(tail_len > 0, tail_at + tail_len, start + copy) - 1
    begin = np.where(copy > 0, start, tail_at)
    step[at] = begin - np.concatenate([[0], last[:-1]])
    both = (tail_len > 0) & (copy > 0)
    step[at[both] + copy[both]] = tail_at[both] - (start[both] + copy[both] - 1)
    np.cumsum(step, out=step)
    return buf[step], at
