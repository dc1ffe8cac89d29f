"""Whole-file VCD reading into NumPy columns: one row per value change.

The streaming reader (:func:`cosim.waves.read.iter_vcd`) costs about a microsecond of Python
per value change; a co-simulation of 1184 devices records ~4 million.  Here the body of a file
is tokenized with NumPy in one go: the line breaks, the first byte of each line, the one space
of a ``r``/``b``/``s`` line, the identifier codes and the timestamps are found by array
operations, so Python work is per file, not per change.  The rows keep where each change's
text is (:attr:`Columns.line`, :attr:`Columns.id_at`), so :mod:`cosim.waves.merge` copies lines
with their identifier replaced, and :meth:`Columns.reals` parses values by the million.

The fast path needs the layout Icarus Verilog, pyvcd and GTKWave write: one item per line, no
indentation, lowercase ``r``/``b``/``s``, value kinds that fit their variables.  A file that
does not fit (or is cut in its last line) is first re-written by the streaming reader into
that layout, so every VCD :func:`~cosim.waves.read.iter_vcd` accepts is read, with the same
values and the same errors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cosim.waves.read import (
    END_ID,
    VcdFormatError,
    VcdHeader,
    _iter_body,
    _open_vcd,
    _parse_header,
    read_header,
)

__all__ = [
    "Columns",
    "KIND_REAL",
    "KIND_SCALAR",
    "KIND_STRING",
    "KIND_VECTOR",
    "cached",
    "forget",
    "header_of",
    "read_columns",
    "remember",
    "small_ints",
]

#: Kinds of identifiers (:attr:`Columns.id_kind`), i.e. how their values are written.
KIND_SCALAR, KIND_VECTOR, KIND_REAL, KIND_STRING = 0, 1, 2, 3
_PREFIX = {KIND_VECTOR: b"b", KIND_REAL: b"r", KIND_STRING: b"s"}
#: The first letter of a change line by kind (0: a scalar's value).
_LETTER = np.array([0, ord("b"), ord("r"), ord("s")], dtype=np.uint8)
_BODY_KEYWORDS = frozenset({b"$dumpvars", b"$dumpall", b"$dumpon", b"$dumpoff", b"$end"})
_MAX_ID = 7  # identifier bytes handled (94**7 identifiers)
_MAX_DIGITS = 18  # timestamp digits that fit an int64
_CHUNK_ROWS = 1 << 16  # values parsed at a time
_CHUNK_LINES = 1 << 17  # lines tokenized at a time


@dataclass
class Columns:
    """The value changes of one VCD file, in file order.

    Attributes:
        header: the file's header.
        ids: the distinct identifiers, in order of first declaration.
        id_kind: per identifier, ``KIND_*`` of its variable.
        raw: the body's bytes (the file's, or its re-written form).
        t: per change, its time in timescale ticks.
        ident: per change, its index into :attr:`ids`.
        line: per change, where its line starts in :attr:`buf`.
        id_at: per change, where its identifier starts (the value is ``buf[line:id_at]``
            less the type letter of ``r``/``b``/``s`` and the space before the identifier).
        t_end: the file's last timestamp (values hold until then).
    """

    header: VcdHeader
    ids: list[str]
    id_kind: NDArray[np.int8]
    raw: bytes
    t: NDArray[np.int64]
    ident: NDArray[np.int64]
    line: NDArray[np.int64]
    id_at: NDArray[np.int64]
    t_end: int

    def __len__(self) -> int:
        return int(self.t.size)

    @property
    def buf(self) -> NDArray[np.uint8]:
        """:attr:`raw` as a NumPy array (no copy)."""
        return np.frombuffer(self.raw, np.uint8)

    def value_span(self, rows: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Start and stop in :attr:`buf` of the value text of ``rows``."""
        line, id_at = self.line[rows], self.id_at[rows]
        scalar = self.id_kind[self.ident[rows]] == KIND_SCALAR
        return np.where(scalar, line, line + 1), np.where(scalar, id_at, id_at - 1)

    def texts(self, rows: NDArray[np.int64]) -> list[str]:
        """The value texts of ``rows`` (``"1"``, ``"0101"``, ``"1.5e-06"``)."""
        start, stop = self.value_span(rows)
        raw = self.raw
        return [raw[a:b].decode() for a, b in zip(start.tolist(), stop.tolist(), strict=True)]

    def reals(self, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """The values of ``rows`` (all of real variables) as floats, parsed by ``float()``
        (exactly as the streaming reader parses them)."""
        out = np.empty(rows.size)
        raw = self.raw
        for lo in range(0, rows.size, _CHUNK_ROWS):  # bounded lists of bytes and floats
            start, stop = self.value_span(rows[lo : lo + _CHUNK_ROWS])
            texts = [raw[a:b] for a, b in zip(start.tolist(), stop.tolist(), strict=True)]
            out[lo : lo + len(texts)] = list(map(float, texts))
        return out

    def rows_of(self, idents: list[int]) -> NDArray[np.int64]:
        """The rows (in file order) of changes of any of ``idents``."""
        wanted = np.zeros(len(self.ids), bool)
        wanted[idents] = True
        return np.flatnonzero(wanted[self.ident])

    def rows_by_ident(self, idents: list[int]) -> dict[int, NDArray[np.int64]]:
        """:meth:`rows_of` each of ``idents`` (sorted; one pass over the file's rows)."""
        rows = self.rows_of(idents)
        which = self.ident[rows]
        order = np.argsort(small_ints(which), kind="stable")
        bounds = (
            np.searchsorted(which[order], idents, "left"),
            np.searchsorted(which[order], idents, "right"),
        )
        return {k: rows[order[a:b]] for k, a, b in zip(idents, *bounds, strict=True)}


#: Files just written or read whose columns a later reader may reuse (path → stat, columns).
_RECENT: dict[str, tuple[tuple[int, int], Columns]] = {}
_KEEP = 2


def remember(path: str | Path, cols: Columns) -> None:
    """Keep ``cols`` as the content of ``path`` (as it is now) for :func:`read_columns` and
    :func:`cached_header`: a file that changes (size or modification time) is read again.
    Only the last two files are kept."""
    key = str(Path(path).resolve())
    _RECENT.pop(key, None)
    _RECENT[key] = (_stat(key), cols)
    while len(_RECENT) > _KEEP:
        del _RECENT[next(iter(_RECENT))]


def forget() -> None:
    """Drop the remembered columns (their memory)."""
    _RECENT.clear()


def cached(path: str | Path) -> Columns | None:
    """The remembered columns of ``path`` if the file did not change since, else None."""
    key = str(Path(path).resolve())
    entry = _RECENT.get(key)
    if entry is None:
        return None
    try:
        if _stat(key) == entry[0]:
            return entry[1]
    except OSError:
        pass
    del _RECENT[key]
    return None


def header_of(path: str | Path) -> VcdHeader:
    """The header of a VCD file (of the remembered columns, else read up to its definitions)."""
    known = cached(path)
    return known.header if known is not None else read_header(path)


def small_ints(values: NDArray[np.int64]) -> NDArray[np.integer]:
    """``values`` as 16-bit integers when they fit (NumPy's stable sort of those is a radix
    sort), else as they are."""
    if values.size and 0 <= values.min() and values.max() < 2**15:
        return values.astype(np.int16)
    return values


def _stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def read_columns(path: str | Path, *, partial: bool = False) -> Columns:
    """Read a VCD file's value changes into :class:`Columns`.

    Args:
        path: the VCD (or FST) file.
        partial: accept a file cut in the middle of its last line, as
            :func:`~cosim.waves.read.iter_vcd` does.

    Raises:
        VcdNotFoundError: the file does not exist.
        VcdFormatError: truncated or malformed file (message: ``file:line: what``).
    """
    p = Path(path)
    known = cached(p)
    if known is not None:
        return known
    with _body_bytes(p) as (header, body):
        cols = _scan(header, body)
        if cols is None or cols.t_end < 0:
            # Another layout, or a last line without its line break: re-written (slow).
            body = _normalized(p, header, partial)
            cols = _scan(header, body)
            if cols is None:
                raise VcdFormatError(
                    f"{p}: identifiers longer than {_MAX_ID} characters or timestamps longer "
                    f"than {_MAX_DIGITS} digits are not supported"
                )
        return cols


@contextlib.contextmanager
def _body_bytes(path: Path) -> Iterator[tuple[VcdHeader, bytes]]:
    """The header and the body's bytes."""
    with _open_vcd(path) as fh:
        header = _parse_header(fh, path)
        yield header, fh.read()


def _kinds(header: VcdHeader) -> tuple[list[str], NDArray[np.int8]]:
    ids: dict[str, int] = {}
    for var in header.vars:
        if var.id in ids:
            continue
        if var.is_real:
            kind = KIND_REAL
        elif var.type == "string":
            kind = KIND_STRING
        else:
            kind = KIND_SCALAR if var.size == 1 else KIND_VECTOR
        ids[var.id] = kind
    return list(ids), np.array(list(ids.values()), dtype=np.int8)


def _scan(header: VcdHeader, raw: bytes) -> Columns | None:
    """Tokenize a body in the fast layout; None if it does not fit.  ``t_end`` is -1 when the
    body does not end with a line break (the last line needs the streaming reader).  Lines are
    taken a chunk at a time (small temporaries, in cache)."""
    body = np.frombuffer(raw, np.uint8)
    ids, id_kind = _kinds(header)
    codes = _Codes(ids)
    nl = np.flatnonzero(body == 10)
    n = nl.size
    cut = (int(nl[-1]) + 1 if n else 0) != body.size
    parts: list[tuple[NDArray[np.int64], ...]] = []
    t_last = 0
    for lo in range(0, n, _CHUNK_LINES):
        stops = nl[lo : lo + _CHUNK_LINES]
        starts = np.empty(stops.size, np.int64)
        starts[0] = nl[lo - 1] + 1 if lo else 0
        starts[1:] = stops[:-1] + 1
        part = _scan_lines(body, starts, stops, codes, id_kind, t_last)
        if part is None:
            return None
        parts.append(part[:4])
        t_last = int(part[4])
    t, ident, line, id_at = (
        (np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64))
        for k in range(4)
    )
    return Columns(
        header=header,
        ids=ids,
        id_kind=id_kind,
        raw=raw,
        t=t,
        ident=ident,
        line=line,
        id_at=id_at,
        t_end=-1 if cut else t_last,
    )


def _scan_lines(
    body: NDArray[np.uint8],
    starts: NDArray[np.int64],
    stops: NDArray[np.int64],
    codes: _Codes,
    id_kind: NDArray[np.int8],
    t_before: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int] | None:
    """:func:`_scan` of some whole lines: ``(t, ident, line, id_at)`` of their changes and the
    last timestamp (``t_before`` if none), or None."""
    first = body[starts]
    spaced = (first == ord("r")) | (first == ord("b")) | (first == ord("s"))
    is_time = first == ord("#")
    is_kw = first == ord("$")
    for k in np.flatnonzero(is_kw).tolist():
        if body[starts[k] : stops[k]].tobytes() not in _BODY_KEYWORDS:
            return None  # $comment, … : the streaming reader
    rows = np.flatnonzero(~(is_time | is_kw))
    stop = stops[rows]
    line = starts[rows]
    id_at = line + 1
    sp_rows = np.flatnonzero(spaced[rows])
    if sp_rows.size:
        # The identifier ends the line: its space is one of the last few bytes, and the only
        # space of the line (counted over the chunk).
        sp_stop = stop[sp_rows]
        found = np.zeros(sp_rows.size, np.int64)
        for back in range(2, codes.longest + 2):
            at = np.maximum(sp_stop - back, 0)
            hit = (found == 0) & (body[at] == 32)
            found[hit] = at[hit]
        if not found.all() or np.any(found <= line[sp_rows]):
            return None
        id_at[sp_rows] = found + 1
    if np.count_nonzero(body[starts[0] : stops[-1]] == 32) != sp_rows.size:
        return None  # spaces elsewhere: several items on a line, indentation, …
    ident = codes.identify(body, stop, stop - id_at)
    if ident is None:
        return None
    letter = first[rows]
    want = _LETTER[id_kind[ident]]
    scalar = np.isin(letter, np.frombuffer(b"01xzXZ", np.uint8)) & (want == 0)
    if not np.all((letter == want) | scalar):
        return None
    t_rows = np.flatnonzero(is_time)
    t_vals = _timestamps(body, starts[t_rows], stops[t_rows])
    if t_vals is None or np.any(np.diff(t_vals, prepend=t_before) < 0):
        return None
    at = np.cumsum(is_time)[rows] - 1  # the row's timestamp (-1: the one before the chunk)
    t = np.append(t_vals, t_before)[at]
    return t, ident, line, id_at, int(t_vals[-1]) if t_vals.size else t_before


class _Codes:
    """Identifier strings → their index, for identifiers read from the end of lines."""

    def __init__(self, ids: list[str]) -> None:
        self.n = len(ids)
        self.longest = min(max((len(i) for i in ids), default=1), _MAX_ID)
        self.known = np.array([_code(i) for i in ids], dtype=np.int64)
        self.table: NDArray[np.int64] | None = None
        if self.longest <= 3:
            self.table = np.full(95**self.longest, -1, np.int64)
            self.table[self.known[self.known < self.table.size]] = np.flatnonzero(
                self.known < self.table.size
            )
        self.order = np.argsort(self.known)

    def identify(
        self, body: NDArray[np.uint8], stop: NDArray[np.int64], length: NDArray[np.int64]
    ) -> NDArray[np.int64] | None:
        """Index of the identifier ending at each ``stop``; None if one is not declared or is
        longer than any declared one."""
        if stop.size == 0:
            return np.zeros(0, np.int64)
        if length.min() < 1 or length.max() > self.longest or not self.n:
            return None
        # Identifier characters are printable ASCII (33..126): read as base-95 digits from
        # the end of the line; a dense table when they are short, else a sorted search.
        code = np.zeros(stop.size, np.int64)
        scale = 1
        for j in range(int(length.max())):
            digit = body[np.maximum(stop - 1 - j, 0)].astype(np.int64) - 32
            code += np.where(length > j, digit, 0) * scale
            scale *= 95
        if self.table is not None:
            index = self.table[code]
            return None if np.any(index < 0) else index
        known = self.known[self.order]
        pos = np.minimum(np.searchsorted(known, code), self.n - 1)
        if not np.array_equal(known[pos], code):
            return None
        return self.order[pos].astype(np.int64)


def _code(ident: str) -> int:
    """An identifier's key as :meth:`_Codes.identify` computes it (last character first)."""
    return sum((ord(c) - 32) * 95**j for j, c in enumerate(reversed(ident)))


def _timestamps(
    body: NDArray[np.uint8], starts: NDArray[np.int64], stops: NDArray[np.int64]
) -> NDArray[np.int64] | None:
    """The values of ``#<digits>`` lines; None if one is not that."""
    length = stops - starts - 1
    if length.size == 0:
        return np.zeros(0, np.int64)
    if length.min() < 1 or length.max() > _MAX_DIGITS:
        return None
    value = np.zeros(starts.size, np.int64)
    for j in range(int(length.max())):
        has = length > j
        digit = body[np.where(has, starts + 1 + j, 0)].astype(np.int64) - 48
        if np.any(has & ((digit < 0) | (digit > 9))):
            return None
        value = np.where(has, value * 10 + digit, value)
    return value


def _normalized(path: Path, header: VcdHeader, partial: bool) -> bytes:
    """The body re-written in the fast layout by the streaming reader (its errors)."""
    ids, id_kind = _kinds(header)
    kind = dict(zip(ids, id_kind.tolist(), strict=True))
    out: list[str] = []
    t_now = 0
    with _open_vcd(path) as fh:
        head = _parse_header(fh, path)
        for t, ident, value in _iter_body(fh, path, head, None, partial):
            if ident == END_ID or t != t_now:
                out.append(f"#{t}\n")
                t_now = t
            if ident == END_ID:
                break
            k = kind[ident]
            if k == KIND_REAL:
                if not isinstance(value, float):
                    raise _mismatch(path, ident, value)
                out.append(f"r{value!r} {ident}\n")
            elif isinstance(value, float):
                raise _mismatch(path, ident, value)
            elif k == KIND_SCALAR:
                out.append(f"{value[-1:]}{ident}\n")  # a 1-bit var written as a vector
            else:
                out.append(f"{_PREFIX[k].decode()}{value} {ident}\n")
    return "".join(out).encode()


def _mismatch(path: Path, ident: str, value: object) -> VcdFormatError:
    return VcdFormatError(
        f"{path}: value {value!r} of identifier {ident!r} does not fit its variable's type"
    )
