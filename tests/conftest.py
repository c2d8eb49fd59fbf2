"""Test-wide settings.

Tests use one torch thread: their tensors are small, and on a shared 2-core machine a second
OpenMP thread mostly waits at barriers (tiny ops then take milliseconds instead of
microseconds). Benchmarks, not tests, measure speed.
"""

import pytest
import torch

torch.set_num_threads(1)


def _loopback_cluster(processes: bool):
    """A LocalCluster of two single-threaded workers over loopback TCP, without Dask's stack
    profiler (``qrnn.sweeps._cluster.NO_PROFILER`` says why). Needs the distributed extra."""
    distributed = pytest.importorskip("distributed")
    import dask

    from qrnn.sweeps._cluster import NO_PROFILER

    with dask.config.set(NO_PROFILER):
        return distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=processes,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # free loopback port; None still serves HTTP on 8787
        )


@pytest.fixture(scope="session")
def dask_client():
    """A Dask client of two workers in this process: they start at once."""
    cluster = _loopback_cluster(processes=False)
    import distributed

    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="session")
def dask_processes():
    """A LocalCluster of two worker processes (everything sent to them is pickled; each
    imports what its tasks need once)."""
    with _loopback_cluster(processes=True) as cluster:
        yield cluster
