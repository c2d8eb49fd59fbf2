"""Devices as backends see them: resolve a preset name, check shots, cache per circuit.

A device is a ``qrnn.devices.IonTrapDevice`` or an object with the same methods: ``transpile``
(native gates), ``aer_circuit`` (native gates as Aer gates labelled by native name),
``noise_model`` and ``check_shots``.
"""

from __future__ import annotations

import os
import weakref

from qiskit.circuit import QuantumCircuit

from qrnn.backends._errors import BackendError


def resolve_device(device):
    """``None``, a preset name or device-file path (``qrnn.devices.get``), or a device object
    -> device or None."""
    if device is None:
        return None
    if isinstance(device, (str, os.PathLike)):
        from qrnn import devices

        return devices.get(device)
    methods = ("transpile", "aer_circuit", "noise_model", "check_shots")
    if not all(callable(getattr(device, m, None)) for m in methods):
        raise BackendError(
            f"device must be a preset name (see qrnn.devices.names()), a device file or an "
            f"IonTrapDevice, got {type(device).__name__}"
        )
    return device


def check_shots(shots, device=None) -> int | None:
    """``shots`` if it is ``None`` (exact) or a positive int within ``device``'s limits (the one
    check of a shot count: backends, ``qrnn run`` and ``qrnn evaluate`` use it).

    Raises:
        BackendError: not None and not a positive int. ValueError: outside the device's limits.
    """
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise BackendError(f"shots must be None (exact) or a positive integer, got {shots!r}")
    if device is not None:
        device.check_shots(shots)
    return shots


class CircuitCache:
    """Per-circuit results keyed by identity (circuits are mutable and unhashable); entries die
    with their circuit. ``key`` adds variants (measurement basis, marker handling)."""

    def __init__(self):
        self._entries: dict = {}

    def get(self, circuit: QuantumCircuit, key, build):
        entry_key = (id(circuit), len(circuit.data), key)
        entry = self._entries.get(entry_key)
        if entry is not None and entry[0]() is circuit:
            return entry[1]
        value = build()
        ref = weakref.ref(circuit, lambda _ref, k=entry_key: self._entries.pop(k, None))
        self._entries[entry_key] = (ref, value)
        return value
