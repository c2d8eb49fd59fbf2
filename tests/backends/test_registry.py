"""``qrnn.backends.get``: names, options, shots and devices; bad values fail before any work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit_aer.noise import NoiseModel, depolarizing_error
from references import Reference

import qrnn.backends as backends
from qrnn import devices


def test_names_and_kinds():
    assert backends.names() == ["torch", "aer", "pennylane:<device>", "cloud:<provider>:<backend>"]
    assert backends.get("torch").supports_autograd
    assert not backends.get("aer").supports_autograd
    lightning = backends.get("pennylane:lightning.qubit")
    assert lightning.name == "pennylane:lightning.qubit"
    assert not lightning.supports_autograd and lightning.gradient == "parameter-shift"


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(backends.BackendError, match=r"unknown backend 'qiskit'.*'torch', 'aer'"):
        backends.get("qiskit")
    with pytest.raises(backends.BackendError, match="unknown backend"):
        backends.get("pennylane:")
    with pytest.raises(backends.BackendError, match=r"cannot create device 'no\.such\.device'"):
        backends.get("pennylane:no.such.device")


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(TypeError, match=r"no option 'gpu'.*'gradient'"):
        backends.get("torch", gpu=True)


@pytest.mark.parametrize("shots", [0, -5, 1.5, True, "100"])
@pytest.mark.parametrize("name", ["torch", "aer", "pennylane:default.qubit"])
def test_bad_shots(name, shots):
    with pytest.raises(backends.BackendError, match="shots must be None"):
        backends.get(name, shots=shots)


def test_device_limits_and_names():
    with pytest.raises(ValueError, match="outside the limits"):
        backends.get("aer", device="iontrap-10q", shots=10**7)
    with pytest.raises(devices.UnknownDeviceError, match="known devices"):
        backends.get("aer", device="ionq-nonexistent")
    on_cx = NoiseModel()
    on_cx.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    with pytest.raises(backends.BackendError, match="error on 'cx', which device 'iontrap-10q'"):
        backends.get("aer", device="iontrap-10q", noise_model=on_cx)  # never acts there
    with pytest.raises(backends.BackendError, match="preset name"):
        backends.get("torch", device=42)


def test_noise_on_a_pure_state_pennylane_device_is_refused():
    model = NoiseModel(basis_gates=["rx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["rx"])
    with pytest.raises(backends.BackendError, match=r"default\.mixed"):
        backends.get("pennylane:default.qubit", noise_model=model)


def test_device_backend_transpiles_and_matches_ideal_device():
    """The 'ideal' preset has no noise: native-gate circuits give the ideal numbers."""
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(x[0], 2)
    circuit.rzz(x[1] + x[2], 1, 2)
    values = torch.tensor(np.random.default_rng(0).uniform(-3, 3, (2, 3)))
    observables = ["ZZI", "XII", "IYZ"]
    reference = Reference(circuit, values, observables).values
    for name in ("torch", "aer", "pennylane:default.qubit"):
        backend = backends.get(name, device="ideal")
        assert backend.device.name == "ideal"
        out = backend.expval(circuit, values, observables)
        np.testing.assert_allclose(out.detach().numpy(), reference, atol=1e-6)


def test_lightning_uses_parameter_shift():
    x = ParameterVector("x", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.cx(0, 1)
    circuit.rx(2 * x[1], 1)
    values = torch.tensor([[0.3, -0.8]], dtype=torch.float64, requires_grad=True)
    backends.get("pennylane:lightning.qubit").expval(circuit, values, ["ZZ"]).sum().backward()
    reference = values.detach().clone().requires_grad_()
    backends.get("torch").expval(circuit, reference, ["ZZ"]).sum().backward()
    torch.testing.assert_close(values.grad, reference.grad, atol=1e-9, rtol=0)


def test_noisy_torch_backend_binds_shared_columns_once_with_the_same_values_and_gradients():
    """Columns equal in every sample (a model's weights) are bound once under no_grad; the
    values equal those of one sample at a time, and under autograd each row keeps its own
    gradient (compared with rows run one by one)."""
    from qiskit.circuit import ParameterVector, QuantumCircuit

    weights, inputs = ParameterVector("w", 3), ParameterVector("x", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(inputs[0], 0)
    circuit.ry(inputs[1], 1)
    circuit.rx(weights[0], 0)
    circuit.cx(0, 1)
    circuit.rz(weights[1], 1)
    circuit.ry(weights[2], 0)
    backend = backends.get("torch", device="iontrap-10q")
    generator = torch.Generator().manual_seed(3)
    shared = torch.tensor([0.5, 1.25, 4.75], dtype=torch.float64)  # the same in float32
    angles = torch.rand(5, 2, generator=generator, dtype=torch.float64) * 3
    values = torch.cat([shared.expand(5, -1), angles], dim=1)  # circuit order: w..., x...
    observables = ["IZ", "ZI", "XX"]
    with torch.no_grad():
        together = backend.expval(circuit, values, observables)
    one_by_one = torch.cat([backend.expval(circuit, row[None], observables) for row in values])
    torch.testing.assert_close(together, one_by_one, rtol=0, atol=1e-12)
    with torch.no_grad():  # the same weights in another precision: a bind of that precision
        single = backend.expval(circuit, values.float(), observables)
        again = backend.expval(circuit, values, observables)
    assert single.dtype == torch.float32 and again.dtype == torch.float64
    torch.testing.assert_close(single, together.float(), rtol=0, atol=1e-5)
    torch.testing.assert_close(again, together, rtol=0, atol=0)

    rows = values.clone().requires_grad_()
    backend.expval(circuit, rows, observables).sum().backward()
    for k in range(5):
        row = values[k : k + 1].clone().requires_grad_()
        backend.expval(circuit, row, observables).sum().backward()
        torch.testing.assert_close(rows.grad[k], row.grad[0], rtol=0, atol=1e-10)


def test_binding_weights_refuses_bad_input_before_compiling():
    """``Backend.bind`` names the bad weights, parameters or qubits (on every executor)."""
    from qiskit.circuit import ParameterVector, QuantumCircuit

    weights, inputs = ParameterVector("w", 2), ParameterVector("x", 1)
    circuit = QuantumCircuit(2)
    circuit.ry(inputs[0], 0)
    circuit.rx(weights[0], 0)
    circuit.cx(0, 1)
    circuit.rz(weights[1], 1)
    stranger = ParameterVector("y", 1)[0]
    two = torch.tensor([0.5, 1.0])
    for backend in (backends.get("torch", device="iontrap-10q"), backends.get("aer")):
        for bad, message in (
            (dict(weights=torch.tensor([0.5, 1.0, 2.0])), r"shape \(2,\) .* got \(3,\)"),
            (dict(weights=two[None]), r"got \(1, 2\)"),
            (dict(input_params=[inputs[0], weights[0]]), r"in both: \['w\[0\]'\]"),
            (dict(input_params=[stranger]), r"not in the circuit: \['y\[0\]'\]"),
            (dict(state_qubits=[2]), "qubits must be distinct qubits of the circuit"),
        ):
            options = dict(weights=two, input_params=list(inputs)) | bad
            with pytest.raises(backends.BackendError, match=message):
                backend.bind(circuit, ["ZI"], list(weights), **options)
