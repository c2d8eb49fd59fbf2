"""Where trials run: a local Dask cluster made for the sweep, or an existing one.

The local cluster has one single-threaded worker process per core (``workers`` to choose),
bound to loopback, and each trial gets ``cores // workers`` torch threads, so workers do not
fight over cores (Dask's nannies also set ``OMP_NUM_THREADS=1`` in the workers). On an
existing cluster (``scheduler`` address or ``client``) a trial gets one torch thread: each
thread of a Dask worker runs a task of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from qrnn.sweeps._spec import SweepError

__all__ = ["INSTALL_HINT", "NO_PROFILER", "connect", "import_distributed"]

INSTALL_HINT = 'pip install "qrnn-iontrap[distributed]"'

# Dask workers sample every thread's stack with sys._current_frames() (their profiler), which
# can crash CPython while torch threads run (dask/distributed#5972: a segfault in the test
# suite here); the local clusters qrnn makes run without it.
NO_PROFILER = {"distributed.worker.profile.enabled": False}


def import_distributed() -> Any:
    """The ``distributed`` module, or a SweepError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise SweepError(
            "qrnn sweeps run on Dask, which is not installed; install the distributed extra: "
            f"{INSTALL_HINT}"
        ) from None
    return distributed


@contextlib.contextmanager
def connect(
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    processes: bool = True,
    connect_timeout: float = 5.0,
) -> Iterator[tuple[Any, int]]:
    """``(client, torch threads per trial)``: ``client`` as given, a new one connected to
    ``scheduler`` (closed afterwards), or a new local cluster (shut down afterwards).

    Raises:
        SweepError: Dask is missing (the pip command), ``scheduler`` cannot be reached within
            ``connect_timeout`` seconds, ``workers`` is not a positive integer.
    """
    if client is not None:
        if scheduler is not None or workers is not None:
            raise SweepError("give a client, or a scheduler address / worker count, not both")
        yield client, 1
        return
    if scheduler is not None and workers is not None:
        raise SweepError("workers sizes the local cluster; an existing scheduler has its own")
    distributed = import_distributed()
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise SweepError(
                f"scheduler must be an address such as tcp://host:8786, got {scheduler!r}"
            )
        try:
            remote = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as error:
            message = " ".join(str(error).split())
            raise SweepError(
                f"cannot reach the Dask scheduler at {scheduler!r} within {connect_timeout:g} s "
                f"({type(error).__name__}: {message}); start one (dask scheduler, then dask "
                "worker ADDRESS on each machine) or leave out the scheduler to run on a local "
                "cluster"
            ) from None
        try:
            yield remote, 1
        finally:
            remote.close()
        return
    cores = os.cpu_count() or 1
    if workers is None:
        workers = cores
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"workers must be an integer >= 1, got {workers!r}")
    import dask

    with dask.config.set(NO_PROFILER):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # free loopback port; None still serves HTTP on 8787
            silence_logs=logging.ERROR,  # a nanny's shutdown warnings are not the user's concern
        )
    try:
        with distributed.Client(cluster) as local:
            yield local, max(1, cores // workers)
    finally:
        cluster.close()
