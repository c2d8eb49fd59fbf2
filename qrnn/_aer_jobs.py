"""One Aer job on a worker of an executor (``qrnn.backends.aer``'s split runs).

Outside ``qrnn.backends`` on purpose: a worker that unpickles this function imports only
this module and qiskit-aer, not torch and the rest of qrnn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_aer_job"]


def run_aer_job(simulator_options: dict, circuits: list, binds: list, options: dict) -> Any:
    """``AerSimulator(**simulator_options).run(circuits, parameter_binds, **options)``'s
    ``Result`` (no ``parameter_binds`` when no circuit has values to bind)."""
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(**simulator_options)
    if any(binds):
        return simulator.run(circuits, parameter_binds=binds, **options).result()
    return simulator.run(circuits, **options).result()
