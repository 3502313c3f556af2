"""Dask for simulations: a ``LocalCluster`` by default, or any scheduler by address.

Workers are processes with one thread each (the compiled scan holds the GIL-free parts, the
rest is NumPy); each worker compiles nothing — numba's on-disk cache is shared with this process.

The local workers are started without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: with it,
glibc hands every large NumPy array back to the system when freed and page-faults it in again,
which made each block about twice as slow on a worker as in this process
(``benchmarks/README.md``). glibc's own dynamic thresholds are used instead, as here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dask
from distributed import Client, LocalCluster

_WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}


@contextmanager
def dask_client(address: str | None = None, workers: int = 2) -> Iterator[Client]:
    """A client of the scheduler at ``address``, or of a new local cluster of ``workers`` processes."""
    if address:
        with Client(address) as client:
            yield client
        return
    with dask.config.set({"distributed.nanny.pre-spawn-environ": _WORKER_ENVIRON}):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
    with cluster, Client(cluster) as client:
        yield client
