"""cosim.run.cluster: the studies' worker processes get the allocator settings."""

from __future__ import annotations

import os

from cosim.run.cluster import MMAP_THRESHOLD, TRIM_THRESHOLD, local_cluster


def _environ() -> dict[str, str]:
    return {k: os.environ.get(k, "") for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}


def test_workers_start_with_the_allocator_settings() -> None:
    from distributed import Client

    with local_cluster(1) as cluster, Client(cluster) as client:
        (got,) = client.run(_environ).values()
        (threads,) = client.nthreads().values()
    assert got == {
        "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
        "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
    }
    assert threads == 1
