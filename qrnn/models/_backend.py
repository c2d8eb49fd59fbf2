"""Move a model's quantum parts to another executor: :func:`to_backend`.

A model trained exactly with the torch engine is scored on a noisy ion-trap device with
shots by switching every quantum submodule (``QuantumLayer`` inside QLSTM/QGRU gates, the
memory cells of QRNN/QReservoir) to ONE backend object; weights and classical layers are
untouched::

    model = qrnn.models.to_backend(model, "aer", device="ionq-aria-1", shots=1000, seed=0)
    prediction = qrnn.train.predict(model, data.test)

Everything is checked before anything is switched (an unknown device, shots outside the
device's limits, a model wider than the device, a QRNN on a device without mid-circuit
reset, a density matrix that would not fit in memory), so a failed call leaves the model as it
was.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from qrnn import backends
from qrnn.layer import QuantumLayer
from qrnn.models._qgru import QGRU, QGRUCell
from qrnn.models._qlstm import QLSTM, QLSTMCell
from qrnn.models._qrnn import QRNN
from qrnn.models._quantum_memory import MemoryCell
from qrnn.models._reservoir import QReservoir

__all__ = ["quantum_modules", "to_backend"]

# Families that record the backend they were built with (shown by extra_repr); memory cells
# record theirs in set_backend.
_FAMILIES = (QLSTM, QLSTMCell, QGRU, QGRUCell, QRNN, QReservoir)


def quantum_modules(model: nn.Module) -> list[nn.Module]:
    """The submodules of ``model`` that execute circuits (``QuantumLayer``s and QRNN /
    QReservoir memory cells), in ``model.modules()`` order."""
    return [m for m in model.modules() if isinstance(m, (QuantumLayer, MemoryCell))]


def _width(module: nn.Module) -> int:
    if isinstance(module, QuantumLayer):
        return module.circuit.num_qubits
    return module.step_cell.circuit.num_qubits


def _sized_device(device: object, width: int, model: nn.Module):
    """A preset name or device file becomes an ``IonTrapDevice`` with at least ``width``
    qubits (presets default to 10); a device object must already be wide enough."""
    from qrnn import devices

    if device is None:
        return None
    name = getattr(device, "name", device)
    if isinstance(device, (str, os.PathLike)):
        device = devices.get(device)  # unknown names fail here, listing the presets
        if width > device.max_qubits:
            raise ValueError(
                f"{type(model).__name__} runs {width}-qubit circuits but device {name!r} has "
                f"only {device.max_qubits} qubits"
            )
        return device if width <= device.n_qubits else device.with_qubits(width)
    n_qubits = getattr(device, "n_qubits", None)
    if isinstance(n_qubits, int) and width > n_qubits:
        raise ValueError(
            f"{type(model).__name__} runs {width}-qubit circuits but device {name!r} is set up "
            f"with {n_qubits} qubits; use qrnn.devices.get({name!r}, n_qubits={width})"
        )
    return device


def _check_density_fits(model: nn.Module, modules: list[nn.Module], backend) -> None:
    """Refuse, before anything runs, a model whose circuits ``backend`` would simulate as a
    density matrix (``4**n`` entries: the torch engine with quantum noise or resets, Aer's
    exact values with them) that cannot fit in memory."""
    from qrnn import sim

    noisy = (
        backend.noise_model is not None and sim.NoiseReader(backend.noise_model).has_quantum_errors
    )
    resets = any(isinstance(m, MemoryCell) for m in modules)
    exact_aer = backend.name == "aer" and backend.shots is None
    if not (noisy or resets) or not (backend.name == backends.TORCH or exact_aer):
        return
    if backends.is_engine(backend):  # the exact engine: memory models run their Kraus channel
        return
    width = max(_width(m) for m in modules)
    terms = max(len(m.observables) for m in modules)
    what = (
        f"{type(model).__name__} on backend {backend.name!r}"
        f"{' with noise' if noisy else ''}: a density matrix of its {width}-qubit circuits "
        f"(4**{width} entries)"
    )
    if backend.name == backends.TORCH:
        sim.check_memory(what, lambda n: sim.program_bytes(n, terms, density=True), width)
    else:
        sim.check_memory(what, lambda n: 16 * 4**n, width)


def to_backend(
    model: nn.Module,
    backend: str | backends.Backend = "aer",
    *,
    device: object = None,
    shots: int | None = None,
    seed: int | None = None,
    **options: Any,
) -> nn.Module:
    """Run every quantum part of ``model`` on ``backend`` from now on (in place, like
    ``nn.Module.to``); weights, classical layers and input/output shapes are unchanged.

    Args:
        model: any ``nn.Module`` holding quantum parts (a ``Forecaster``, ``QLSTM``, ``QRNN``,
            ``QuantumLayer``, ...).
        backend: a ``qrnn.backends`` name (``"aer"``, ``"torch"``, ``"pennylane:<device>"``)
            or a backend object from ``qrnn.backends.get`` (then give no other argument).
            ``"torch"`` with no ``device``, ``shots`` or options is the exact built-in
            engine the models are trained with (for QRNN/QReservoir: the Kraus engine);
            anything else is one backend object shared by all quantum parts.
        device: an ion-trap preset name, device file or ``IonTrapDevice``: circuits are
            transpiled to its native gates and run with its noise model. A name is sized to
            the model's circuits (presets use 10 qubits unless the model needs more).
        shots: None for exact expectation values, else samples per circuit (within the
            device's limits).
        seed: seeds the sampling of shots.
        **options: further ``qrnn.backends.get`` options (``method``, ``gpu``, ...).

    Returns:
        ``model`` itself. Outputs keep their shapes: a QRNN's ``output`` is still
        ``(L, N, hidden_size)`` and its ``h_n`` the hidden register's state as the backend
        simulates it (``Backend.density_matrix``).

    Raises:
        TypeError: ``model`` has no quantum parts, or a backend object came with options.
        ValueError (and its subclasses ``qrnn.backends.BackendError``,
        ``qrnn.devices.DeviceFileError``), ``qrnn.devices.UnknownDeviceError`` (a
        ``KeyError``): an unknown backend or device, shots outside the device's limits, a
        device narrower than the model, a QRNN/QReservoir on a device without mid-circuit
        reset. Nothing is switched then.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = quantum_modules(model)
    if not modules:
        raise TypeError(
            f"{type(model).__name__} has no quantum parts (no QuantumLayer or quantum-memory "
            "cell) to move to a backend; classical models run on torch only"
        )
    if isinstance(backend, str):
        device = _sized_device(device, max(_width(m) for m in modules), model)
        resolved = backends.get(backend, device=device, shots=shots, seed=seed, **options)
    else:
        given = {"device": device, "shots": shots, "seed": seed, **options}
        extra = sorted(key for key, value in given.items() if value is not None)
        if extra:
            raise TypeError(
                f"backend is already a backend object ({backend!r}); give {extra[0]}= to "
                "qrnn.backends.get, or pass a backend name"
            )
        resolved = backends.resolve(backend)
    for module in modules:  # check everything before switching anything
        if isinstance(module, MemoryCell):
            module.check_backend(resolved)
    _check_density_fits(model, modules, resolved)
    for module in modules:
        module.set_backend(resolved)
    for module in model.modules():
        if isinstance(module, _FAMILIES):
            module.backend = resolved.name
    return model
