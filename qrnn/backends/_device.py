"""Devices as backends see them: resolve a preset name or device file, check shot counts.

A device is a ``qrnn.devices.IonTrapDevice`` or an object with the same methods: ``transpile``
(native gates), ``aer_circuit`` (native gates as Aer gates labelled by native name),
``noise_model`` and ``check_shots``.
"""

from __future__ import annotations

import os

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


def check_noise_model(noise_model, device) -> None:
    """Refuse a noise model with an error on an instruction ``device`` never runs (a circuit on
    the device is native gates, measurements and resets, so such an error would silently never
    act).

    Raises:
        BackendError: naming the instruction and the device's instructions.
    """
    native = getattr(device, "native_gates", None)
    if native is None:  # a duck-typed device that does not list its gates
        return
    runs = set(native) | {"measure", "reset"}
    foreign = sorted(set(noise_model.noise_instructions) - runs)
    if foreign:
        raise BackendError(
            f"the noise model has an error on {foreign[0]!r}, which device "
            f"{getattr(device, 'name', device)!r} does not have (its instructions: "
            f"{', '.join(sorted(runs))}); key errors by the device's native gate names"
        )
