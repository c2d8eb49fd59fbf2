"""Test-wide settings.

Tests use one torch thread: their tensors are small, and on a shared 2-core machine a second
OpenMP thread mostly waits at barriers (tiny ops then take milliseconds instead of
microseconds). Benchmarks, not tests, measure speed.
"""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def dask_client():
    """A Dask client of two single-threaded workers in this process, over loopback TCP: they
    start at once. Needs the distributed extra."""
    distributed = pytest.importorskip("distributed")
    import dask

    from qrnn.sweeps._cluster import NO_PROFILER

    with (
        dask.config.set(NO_PROFILER),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # free loopback port; None still serves HTTP on 8787
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def dask_processes():
    """A LocalCluster of two single-threaded worker processes bound to loopback (everything
    sent to them is pickled; each imports what its tasks need once)."""
    distributed = pytest.importorskip("distributed")
    import dask

    from qrnn.sweeps._cluster import NO_PROFILER

    with (
        dask.config.set(NO_PROFILER),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # free loopback port; None still serves HTTP on 8787
        ) as cluster,
    ):
        yield cluster
