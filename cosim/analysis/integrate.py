"""Energy of every element of a VCD by phase, integrated over whole arrays of value changes.

:func:`cosim.analysis.metrics.measure` replays the control signals (start, done, phase, select)
change by change in Python; the analog changes — millions in a 1184-device run — are
integrated here with array operations, to the same floating-point result as a loop over the
changes in file order:

* an element's power ``p = v·i`` is re-computed at the end of each time at which its ``v``
  or ``i`` changed (its *blocks*), and holds until its next block;
* its energy is cut into pieces at its blocks and, while ``p ≠ 0``, at every *cut* (a phase
  change, the training window opening or closing, the end of the record);
* each piece ``p · (t_b − t_a)`` is added, in time order, to the bucket (phase, or outside the
  window) current where it ends: at a cut, the bucket before the cut; at a block, the bucket
  at the block's first change.

The sums are sequential (``np.add.accumulate`` per bucket), so every figure is bit for bit the
one of the streaming loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cosim.waves.columns import small_ints

__all__ = ["Cuts", "integrate"]


@dataclass
class Cuts:
    """Where the integration is cut and which bucket collects it.

    Attributes:
        row: per cut, the row (change index in the file) of the change that caused it; the
            end of the record has the row after the last change.
        t: per cut, its time (ticks).
        bucket: per cut, the bucket current before it (collects the pieces ending there).
        switch_row: rows at which the current bucket changes (sorted) ...
        switch_bucket: ... and the bucket from each of them on.
        first_bucket: the bucket before the first switch.
    """

    row: NDArray[np.int64]
    t: NDArray[np.int64]
    bucket: NDArray[np.int64]
    switch_row: NDArray[np.int64]
    switch_bucket: NDArray[np.int64]
    first_bucket: int

    def bucket_at(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """The bucket current when the change at each of ``rows`` is processed."""
        k = np.searchsorted(self.switch_row, rows, "left") - 1
        table = np.append(self.switch_bucket, self.first_bucket)
        return table[k]  # k = -1: the first bucket (the appended last entry)


def integrate(
    element: NDArray[np.int64],
    is_i: NDArray[np.bool_],
    row: NDArray[np.int64],
    t: NDArray[np.int64],
    value: NDArray[np.float64],
    cuts: Cuts,
    n_elements: int,
    n_buckets: int,
) -> NDArray[np.float64]:
    """``∫ v·i dt`` of each element into each bucket, in ticks (``[bucket, element]``).

    Args:
        element, is_i, row, t, value: one entry per change of an element's ``v`` (``is_i``
            false) or ``i``: the element, the change's row in the file, its time and value.
            A signal that is both (``i²`` of a current) has two entries per change.
        cuts: the cuts and buckets (see :class:`Cuts`); the last cut is the end.
        n_elements, n_buckets: sizes of the result.
    """
    out = np.zeros((n_buckets, n_elements))
    if element.size == 0:
        return out
    order = _by_element(element, row, n_elements)
    element = element[order]
    # Elements are independent: a few hundred thousand entries at a time bound the memory.
    bounds = np.searchsorted(element, np.arange(n_elements + 1))
    lo = 0
    while lo < n_elements:
        hi = lo + 1
        while hi < n_elements and bounds[hi + 1] - bounds[lo] <= _CHUNK:
            hi += 1
        part = order[bounds[lo] : bounds[hi]]
        if part.size:
            _pieces(
                element[bounds[lo] : bounds[hi]],
                is_i[part],
                row[part],
                t[part],
                value[part],
                cuts,
                n_elements,
                out.reshape(-1),
            )
        lo = hi
    return out


#: Entries integrated at a time (an element's are never split).
_CHUNK = 1 << 18
#: Pieces summed at a time: with ngspice every deselected device leaks, so each of its blocks
#: is cut at every phase change (~25,000 in a 1184-device run): 12 million pieces from one
#: chunk of entries, 1.8 GB of temporaries, before they were summed a bounded part at a time.
_PIECES = 1 << 20


def _pieces(
    element: NDArray[np.int64],
    is_i: NDArray[np.bool_],
    row: NDArray[np.int64],
    t: NDArray[np.int64],
    value: NDArray[np.float64],
    cuts: Cuts,
    n_elements: int,
    out: NDArray[np.float64],
) -> None:
    """:func:`integrate` for entries sorted by element, then row: adds their pieces to ``out``
    (flat, index ``bucket * n_elements + element``), continuing each sum left to right."""
    n = element.size
    pos = np.arange(n)
    group_start = np.searchsorted(element, element, "left")
    # v and i after each entry (0 before the element's first change of each).
    last_v = np.maximum.accumulate(np.where(~is_i, pos, -1))
    last_i = np.maximum.accumulate(np.where(is_i, pos, -1))
    v = np.where(last_v >= group_start, value[np.maximum(last_v, 0)], 0.0)
    i = np.where(last_i >= group_start, value[np.maximum(last_i, 0)], 0.0)
    # Blocks: an element's changes at one time; p from the block's last entry.
    new_block = np.ones(n, bool)
    new_block[1:] = (element[1:] != element[:-1]) | (t[1:] != t[:-1])
    first = np.flatnonzero(new_block)
    last = np.append(first[1:], n) - 1
    b_el, b_t, b_row = element[first], t[first], row[first]
    p = v[last] * i[last]
    n_blocks = first.size
    is_last = np.append(b_el[1:] != b_el[:-1], True)
    next_row = np.append(b_row[1:], 0)
    next_t = np.append(b_t[1:], 0)
    # Cuts inside each block's stretch while p != 0 (p NaN counts: it is not 0): after the
    # block (a cut at the block's own time, later in the file, finds the element changed) and
    # before the next block; the end cut closes an element's last stretch.
    end = cuts.row.size - 1  # the end of the record
    live = p != 0.0
    lo = np.maximum(
        np.searchsorted(cuts.row[:end], b_row, "right"),
        np.searchsorted(cuts.t[:end], b_t, "right"),
    )
    hi = np.where(is_last, end, np.searchsorted(cuts.row[:end], next_row, "left"))
    n_cut = np.where(live, np.maximum(hi - lo, 0), 0)
    n_piece = np.where(live, n_cut + 1, 0)  # + the piece ending at the next block (or end)
    # Blocks a bounded number of pieces at a time (a block's pieces are never split); a key's
    # sum continues from where the previous group left it, so the order of the additions is
    # the same.
    ends = np.cumsum(n_piece)
    b0 = 0
    while b0 < n_blocks:
        b1 = max(int(np.searchsorted(ends, ends[b0] - n_piece[b0] + _PIECES, "right")), b0 + 1)
        sel = slice(b0, b1)
        counts = n_piece[sel]
        total = int(counts.sum())
        if total:
            blk = b0 + np.repeat(np.arange(b1 - b0), counts)
            k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # piece index
            at_cut = k < n_cut[blk]
            cut_j = np.where(at_cut, lo[blk] + k, 0)
            # End of each piece: a cut, else the next block (or the end of the record).
            stop_t = np.where(
                at_cut, cuts.t[cut_j], np.where(is_last[blk], cuts.t[end], next_t[blk])
            )
            stop_row = np.where(at_cut, 0, np.where(is_last[blk], 0, next_row[blk]))
            start_t = np.where(k == 0, b_t[blk], np.roll(stop_t, 1))
            bucket = np.where(
                at_cut,
                cuts.bucket[cut_j],
                np.where(is_last[blk], cuts.bucket[end], cuts.bucket_at(stop_row)),
            )
            piece = p[blk] * (stop_t - start_t).astype(np.float64)
            # Sequential sums per (bucket, element), pieces in time order.
            key = bucket * n_elements + b_el[blk]
            # Pieces come by element, then time: a stable sort by bucket groups them by key,
            # in time order (a radix sort on small integers).
            order = np.argsort(small_ints(bucket), kind="stable")
            keys, sums = _sequential_sums(key[order], piece[order], out)
            out[keys] = sums
        b0 = b1


def _by_element(
    element: NDArray[np.int64], row: NDArray[np.int64], n_elements: int
) -> NDArray[np.int64]:
    """Order of the entries by element, then row (a radix sort when the elements fit 16 bits)."""
    if np.all(row[1:] >= row[:-1]):
        return np.argsort(small_ints(element), kind="stable")
    return np.lexsort((row, element))


def _sequential_sums(
    key: NDArray[np.int64], value: NDArray[np.float64], start: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per key, ``start[key] + value[0] + value[1] + …`` added left to right (as a Python loop
    does; ``np.add.reduce`` would add pairwise).  ``key`` is sorted.  Runs of similar length
    are added side by side: columns of a zero-padded matrix, accumulated along its rows."""
    if key.size == 0:
        return key, np.zeros(0)
    first = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    out = np.zeros(first.size)
    length = np.diff(np.append(first, key.size))
    size_class = np.ceil(np.log2(length)).astype(np.int64)
    for c in np.unique(size_class).tolist():
        runs = np.flatnonzero(size_class == c)
        width = int(length[runs].max())
        grid = np.zeros((width + 1, runs.size))
        grid[0] = start[key[first[runs]]]  # row 0: where each sum starts
        col = np.repeat(np.arange(runs.size), length[runs])
        at = np.arange(col.size) - np.repeat(np.cumsum(length[runs]) - length[runs], length[runs])
        grid[at + 1, col] = value[np.repeat(first[runs], length[runs]) + at]
        out[runs] = np.add.accumulate(grid, axis=0)[-1]
    return key[first], out
