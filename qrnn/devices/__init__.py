"""Simulated trapped-ion devices: native gates, timing, noise and limits.

A device is plain data (:class:`IonTrapDevice`, a frozen dataclass) read from a TOML
file in which every figure names its source. Presets (:func:`names`):
``iontrap-10q`` (the generic default), ``ionq-aria-1``, ``ionq-forte-1``,
``quantinuum-h1-1``, ``quantinuum-h2-1``, ``aqt-ibex-q1`` and ``ideal``.

Typical use::

    device = qrnn.devices.get("ionq-aria-1")           # 10 of its 25 qubits
    native = device.transpile(circuit)                 # gpi, gpi2, ionq_ms, rz only
    noise = device.noise_model()                       # errors keyed by native names
    runnable = device.aer_circuit(native)              # Aer gates labelled by native name
    AerSimulator(method="density_matrix", noise_model=noise).run(runnable, ...)
    seconds = device.duration(native)
    cost = qrnn.devices.step_cost(device, cell)         # one step: 2q gates, fidelity, time

See ``DESIGN.md`` beside this file for the modelling choices.
"""

from __future__ import annotations

from qrnn.devices._device import IonTrapDevice
from qrnn.devices._presets import DeviceFileError, UnknownDeviceError, get, load, names
from qrnn.devices._report import StepCost, default_cell, step_cost

__all__ = [
    "DeviceFileError",
    "IonTrapDevice",
    "StepCost",
    "UnknownDeviceError",
    "default_cell",
    "get",
    "load",
    "names",
    "step_cost",
]
