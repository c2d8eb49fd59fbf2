"""Large batches of bound circuits spread over workers: ``split_expval``.

A batch of parameter rows is cut into consecutive chunks of ``max_job_size`` rows; each chunk
runs on a worker of ``executor`` (a Dask ``distributed.Client`` or any
``concurrent.futures.Executor``) through the public backend API, ``backends.get(...).expval``,
and the chunks' results are put back in order. Chunk ``k`` samples with the ``k``-th seed
spawned from ``seed`` (``numpy.random.SeedSequence``), so the result depends on ``seed`` and
``max_job_size`` only, never on which worker ran what: ``executor=None`` runs the same chunks
in this process and gives the same numbers. Exact evaluations (no shots) equal the unsplit
``backend.expval``.

This is for evaluations, not training: no gradients flow through the workers. The Aer backend
splits its own runs (``executor=`` and ``max_job_size=`` of ``backends.get("aer")``), with
Aer's seeds, so that its samples equal the unsplit run's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["split_expval"]


def split_expval(
    circuit: Any,
    values: torch.Tensor,
    observables: Any,
    *,
    executor: Any = None,
    max_job_size: int = 256,
    backend: str = "torch",
    device: Any = None,
    shots: int | None = None,
    seed: int | None = None,
    **options: Any,
) -> torch.Tensor:
    """``backends.get(backend, device, shots, **options).expval(circuit, values, observables)``
    over chunks of ``max_job_size`` rows, run on ``executor``'s workers.

    Args:
        circuit: a ``QuantumCircuit`` without measurements.
        values: ``(batch, n_params)`` in ``circuit.parameters`` order (no gradient flows).
        observables: Pauli labels, ``Pauli``s or ``SparsePauliOp``s (n_obs of them).
        executor: a Dask ``distributed.Client`` or a ``concurrent.futures.Executor``; None
            runs the chunks here, one after another.
        max_job_size: rows per chunk.
        backend, device, shots, **options: as ``qrnn.backends.get`` takes them (every chunk
            builds its own backend on its worker).
        seed: the chunks' seeds are spawned from it; None: unseeded sampling.

    Returns:
        ``(batch, n_obs)`` real tensor in ``values``' dtype and device.

    Raises:
        BackendError / TypeError: bad backend arguments, before any chunk is submitted.
        ValueError: ``values`` not 2-D, ``max_job_size`` not a positive int.
    """
    from qrnn.backends import BackendError, get

    if isinstance(max_job_size, bool) or not isinstance(max_job_size, int) or max_job_size < 1:
        raise ValueError(f"max_job_size must be an int >= 1, got {max_job_size!r}")
    if not isinstance(values, torch.Tensor) or values.dim() != 2:
        raise ValueError(
            f"values must be a (batch, n_params) tensor, got {tuple(getattr(values, 'shape', ()))}"
        )
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise BackendError(
            "executor must be a Dask distributed.Client or a concurrent.futures.Executor, got "
            f"{type(executor).__name__}"
        )
    checked = get(backend, device=device, shots=shots, seed=seed, **options)  # fails here
    if len(values) == 0:
        with torch.no_grad():
            return checked.expval(circuit, values, observables)
    rows = values.detach().cpu().to(torch.float64).numpy()
    chunks = [rows[start : start + max_job_size] for start in range(0, len(rows), max_job_size)]
    if seed is None:
        seeds = [None] * len(chunks)
    else:
        spawned = np.random.SeedSequence(seed).spawn(len(chunks))
        seeds = [int(child.generate_state(1, np.uint32)[0]) for child in spawned]
    settings = {"backend": backend, "device": device, "shots": shots, "options": options}
    if executor is None:
        parts = [
            _expval_chunk(settings, circuit, c, observables, s)
            for c, s in zip(chunks, seeds, strict=True)
        ]
    else:
        futures = [
            executor.submit(_expval_chunk, settings, circuit, chunk, observables, chunk_seed)
            for chunk, chunk_seed in zip(chunks, seeds, strict=True)
        ]
        parts = [future.result() for future in futures]
    stacked = np.concatenate(parts)
    return torch.as_tensor(stacked, dtype=values.dtype, device=values.device)


def _expval_chunk(settings, circuit, rows, observables, seed) -> np.ndarray:
    """One chunk on a worker: ``(rows, n_obs)`` float64."""
    from qrnn.backends import get

    backend = get(
        settings["backend"],
        device=settings["device"],
        shots=settings["shots"],
        seed=seed,
        **settings["options"],
    )
    with torch.no_grad():
        values = torch.as_tensor(rows, dtype=torch.float64)
        return backend.expval(circuit, values, observables).double().cpu().numpy()
