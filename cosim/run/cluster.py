"""The local Dask cluster of the Monte Carlo studies (``cosim reproduce``, ``cosim scale``).

One-thread worker processes whose memory allocator keeps NumPy's temporaries.  Dask's nanny
starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (give freed memory back early); with glibc,
setting any threshold also pins the mmap threshold at 128 kB, so every NumPy temporary above
128 kB becomes a fresh ``mmap`` whose pages fault in on first touch and go back on free.  The
trial code (step tables of 256 devices × 513 states, batches of programmed crossbars) spent a
quarter of its CPU time in the kernel that way.  Workers started here keep allocations up to
:data:`MMAP_THRESHOLD` on the heap and return free heap memory above :data:`TRIM_THRESHOLD`.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "worker_environ", "local_cluster"]

#: Allocations up to this size (bytes) come from the heap, not from a fresh mmap.
MMAP_THRESHOLD = 64 << 20
#: Free memory at the top of the heap beyond this (bytes) goes back to the system.
TRIM_THRESHOLD = 256 << 20


def worker_environ() -> dict[str, str]:
    """Dask's pre-spawn environment of worker processes with the allocator settings above."""
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    env["MALLOC_TRIM_THRESHOLD_"] = str(TRIM_THRESHOLD)
    return {k: str(v) for k, v in env.items()}


def local_cluster(n_workers: int, *, processes: bool = True, **kwargs: Any) -> Any:
    """A :class:`distributed.LocalCluster` of ``n_workers`` one-thread workers (processes by
    default) started with :func:`worker_environ`; ``kwargs`` go to ``LocalCluster`` (default:
    no dashboard, worker logs silenced)."""
    import dask
    from distributed import LocalCluster

    kwargs.setdefault("dashboard_address", None)
    kwargs.setdefault("silence_logs", logging.CRITICAL)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
        return LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=processes, **kwargs
        )
