"""Any PennyLane device as a backend, through ``circuits.interop.to_pennylane``.

Batches use PennyLane parameter broadcasting (devices without it are expanded into a loop by
PennyLane itself). Exact and noise-free runs on devices with backprop (default.qubit,
default.mixed) are differentiated by torch autograd; other devices and shots use
``qrnn.gradients``.

Noise (a device's or a given ``NoiseModel``): every instruction of the backend's ``executable``
form is followed by its quantum error as a ``qml.QubitChannel`` of Kraus operators, chosen by
``qrnn.sim.NoiseReader`` (Aer's rule, as for every backend), so a mixed-state device is needed
(``pennylane:default.mixed``); resets become reset channels. Readout error enters exact runs as
the observable rewrite ``qrnn.sim.apply_readout`` and shot runs as bit flips of the samples
(``qrnn.sim.read_bits``).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit

from qrnn.backends._base import (
    Backend,
    final_measurements,
    select_columns,
    without_measurements,
)
from qrnn.backends._errors import BackendError
from qrnn.backends._measurement import (
    clbit_counts,
    estimate,
    measurement_plan,
    pad_to_layout,
    physical_qubits,
    relabel,
    rotate_into,
)
from qrnn.sim import apply_readout, read_bits

_RESET_KRAUS = [np.array([[1, 0], [0, 0]], complex), np.array([[0, 1], [0, 0]], complex)]


class PennyLaneBackend(Backend):
    """PennyLane executor; build with ``qrnn.backends.get("pennylane:<device>", ...)``.

    Args:
        pennylane_device: the PennyLane device name, e.g. "default.qubit".
        device: preset name or ``IonTrapDevice``: transpile to native gates, run its noise.
        shots: None (exact) or samples per circuit and measurement basis.
        noise_model: a ``NoiseModel`` to run circuits with as given (instead of a device).
        seed: seeds the device's sampler and the readout flips.
        gradient: "backprop" (default where supported), "parameter-shift" or "spsa".
        device_options: extra keyword arguments for ``qml.device``.
    """

    options: ClassVar[dict[str, object]] = Backend.options | {"device_options": None}

    def __init__(self, pennylane_device: str, *, device=None, shots=None, **options):
        self.name = f"pennylane:{pennylane_device}"
        self.pennylane_device = pennylane_device
        super().__init__(device=device, shots=shots, **options)

    def _configure(self, device_options) -> None:
        import pennylane as qml
        from pennylane.devices import ExecutionConfig

        self.device_options = dict(device_options or {})
        try:
            probe = qml.device(self.pennylane_device, wires=1, **self.device_options)
        except Exception as error:  # PennyLane raises DeviceError / TypeError for bad names
            raise BackendError(
                f"PennyLane cannot create device {self.pennylane_device!r}: {error}"
            ) from None
        backprop = probe.supports_derivatives(ExecutionConfig(gradient_method="backprop"))
        self.supports_autograd = self.shots is None and bool(backprop)
        self._devices: dict[int, object] = {}
        self._channels = _takes_channels(probe)
        if self._noisy() and not self._channels:
            raise BackendError(
                f"PennyLane device {self.pennylane_device!r} cannot apply noise channels "
                "(qml.QubitChannel); with a device or noise model use a mixed-state device "
                "such as 'pennylane:default.mixed'"
            )

    # -- pieces -------------------------------------------------------------------------------

    def _qml_device(self, n_qubits: int):
        import pennylane as qml

        if n_qubits not in self._devices:
            options = dict(self.device_options)
            if self.seed is not None:
                options.setdefault("seed", int(self._rng.integers(2**31)))
            self._devices[n_qubits] = qml.device(self.pennylane_device, wires=n_qubits, **options)
        return self._devices[n_qubits]

    def _noisy(self) -> bool:
        return self._noise is not None and self._noise.has_quantum_errors

    def _applier(self, circuit: QuantumCircuit):
        """(apply, extra wires): ``apply(values)`` queues ``circuit`` (values in
        circuit.parameters order), with noise channels after each instruction when the noise
        model has quantum errors. Resets are reset channels where the device takes channels,
        else PennyLane mid-circuit measurements deferred onto one extra wire each."""
        from circuits.interop import to_pennylane

        resets = sum(i.operation.name == "reset" for i in circuit.data)
        if self._noisy() or (resets and self._channels):
            build = lambda: _ChannelCircuit(circuit, self)  # noqa: E731
            return self._cache.get(circuit, "apply-channels", build), 0
        return self._cache.get(circuit, "apply", lambda: to_pennylane(circuit)), resets

    def _qnode(self, function, n_qubits: int, extra_wires: int, **options):
        import pennylane as qml

        if extra_wires:
            options["mcm_method"] = "deferred"
        device = self._qml_device(n_qubits + extra_wires)
        return qml.QNode(function, device, interface="torch", **options)

    # -- execution ----------------------------------------------------------------------------

    def _expval(self, circuit, values, observables):
        if values.shape[0] == 0:
            return values.new_zeros(0, len(observables))
        if self.shots is not None:
            return self._sampled(circuit, values, observables)
        import pennylane as qml

        from circuits.interop import pauli_observable

        native = self.executable(circuit)
        columns = select_columns(values, circuit, native)
        mapped = apply_readout(pad_to_layout(observables, native), self._readout(native.num_qubits))
        apply, extra = self._applier(native)
        measured = [pauli_observable(o) for o in mapped]

        def expvals(v):
            apply(v)
            return [qml.expval(o) for o in measured]

        diff_method = "backprop" if self.gradient == "backprop" else None
        qnode = self._qnode(expvals, native.num_qubits, extra, diff_method=diff_method)
        with _float64_default():
            out = qnode(columns if native.num_parameters else None)
        out = torch.stack([torch.as_tensor(o).reshape(-1) for o in out], dim=-1)
        out = out.expand(values.shape[0], -1) if out.shape[0] == 1 else out
        return out.to(values.dtype)

    def _sampled(self, circuit, values, observables):
        import pennylane as qml

        plan = measurement_plan(observables)
        batch = values.shape[0]
        outcomes = []
        for basis in plan.bases:
            native = self._cache.get(
                circuit, ("basis", basis), lambda b=basis: self.executable(rotate_into(circuit, b))
            )
            columns = select_columns(values, circuit, native)
            apply, extra = self._applier(native)
            n = native.num_qubits

            def samples(v, apply=apply, n=n):
                apply(v)
                return qml.sample(wires=list(range(n)))

            qnode = self._qnode(samples, n, extra, shots=self.shots)
            with _float64_default():
                if native.num_parameters:
                    bits = np.asarray(qnode(columns), dtype=np.int64)
                else:  # nothing to broadcast: one independent draw per sample
                    bits = np.stack([np.asarray(qnode(None), dtype=np.int64) for _ in range(batch)])
            bits = read_bits(bits.reshape(batch, self.shots, n), self._readout(n), self._rng)
            keys = relabel(_bits_to_int(bits), physical_qubits(native, circuit.num_qubits))
            group = []
            for row in keys:
                unique, counts = np.unique(row, return_counts=True)
                group.append((unique, counts.astype(np.float64)))
            outcomes.append(group)
        if not plan.bases:
            return self._output(np.tile(plan.constant, (batch, 1)), values)
        return self._output(estimate(plan, outcomes), values)

    def _density_matrix(self, circuit, values, qubits):
        import pennylane as qml

        native = self.executable(circuit)
        columns = select_columns(values, circuit, native)
        apply, extra = self._applier(native)
        physical = physical_qubits(native, circuit.num_qubits)
        # PennyLane's first wire is the most significant bit: list the kept qubits MSB first
        wires = [physical[q] for q in reversed(qubits)]

        def state(v):
            apply(v)
            return qml.density_matrix(wires=wires)

        diff_method = "backprop" if self.gradient == "backprop" else None
        qnode = self._qnode(state, native.num_qubits, extra, diff_method=diff_method)
        with _float64_default():
            rho = torch.as_tensor(qnode(columns if native.num_parameters else None))
        rho = rho.expand(values.shape[0], -1, -1) if rho.dim() == 2 else rho
        dtype = torch.complex64 if values.dtype == torch.float32 else torch.complex128
        return rho.to(dtype)

    def _counts(self, circuit, values, shots):
        import pennylane as qml

        runnable = self.executable(circuit)
        measured = final_measurements(runnable)
        unitary = self._cache.get(circuit, "unitary-part", lambda: without_measurements(runnable))
        columns = select_columns(values, circuit, unitary)
        apply, extra = self._applier(unitary)
        n = unitary.num_qubits

        def samples(v):
            apply(v)
            return qml.sample(wires=list(range(n)))

        qnode = self._qnode(samples, n, extra, shots=shots)
        batch = values.shape[0]
        with _float64_default():
            if unitary.num_parameters:
                bits = np.asarray(qnode(columns), dtype=np.int64)
            else:
                bits = np.stack([np.asarray(qnode(None), dtype=np.int64) for _ in range(batch)])
        bits = read_bits(bits.reshape(batch, shots, n), self._readout(n), self._rng)
        outcomes = _bits_to_int(bits)
        clbits = np.zeros_like(outcomes)
        for clbit, qubit in measured.items():
            clbits |= ((outcomes >> qubit) & 1) << clbit
        result = []
        for row in clbits:
            unique, counts = np.unique(row, return_counts=True)
            result.append(clbit_counts(circuit, unique, counts))
        return result


def _bits_to_int(bits: np.ndarray) -> np.ndarray:
    """(..., n) bits (last axis: wire) -> (...) integers, bit q = wire q."""
    return (bits.astype(np.int64) << np.arange(bits.shape[-1])).sum(-1)


def _takes_channels(device) -> bool:
    """Whether ``device`` (one wire) applies a ``qml.QubitChannel`` (mixed-state devices)."""
    import pennylane as qml

    tape = qml.tape.QuantumScript(
        [qml.QubitChannel([np.eye(2)], wires=0)], [qml.expval(qml.PauliZ(0))]
    )
    try:
        qml.execute([tape], device)
    except Exception:  # DeviceError: operation not supported
        return False
    return True


class _ChannelCircuit:
    """A circuit queued instruction by instruction, each followed by its noise channel (where
    Aer applies it: by instruction name or label, local errors over all-qubit ones); resets
    as reset channels."""

    def __init__(self, circuit: QuantumCircuit, backend: PennyLaneBackend):
        from circuits.interop import to_pennylane

        noise = backend._noise if backend._noisy() else None
        index = {p: i for i, p in enumerate(circuit.parameters)}
        self.steps = []  # (kind, payload, wires)
        for instruction in circuit.data:
            operation = instruction.operation
            qubits = [circuit.find_bit(q).index for q in instruction.qubits]
            if operation.name == "reset":
                self.steps.append(("kraus", _RESET_KRAUS, qubits))
            elif operation.name != "barrier":
                single = circuit.copy_empty_like()
                single.global_phase = 0.0
                single.append(instruction)
                columns = [index[p] for p in single.parameters]
                apply = to_pennylane(single, global_phase=False)
                self.steps.append(("gate", (apply, columns), None))
            kraus = None if noise is None else noise.kraus(operation, qubits)
            if kraus is not None:
                self.steps.append(("kraus", kraus, qubits))

    def __call__(self, values=None):
        import pennylane as qml

        for kind, payload, wires in self.steps:
            if kind == "gate":
                apply, columns = payload
                apply(values[..., columns] if columns else None)
            else:
                # Qiskit matrices are little-endian over the qubits, PennyLane's big-endian.
                qml.QubitChannel(payload, wires=wires[::-1])


@contextlib.contextmanager
def _float64_default():
    """PennyLane 0.45 builds some gate matrices (RZ eigenvalues) in torch's default dtype;
    double precision keeps results at float64 accuracy."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
