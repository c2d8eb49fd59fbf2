"""Autograd through qrnn.sim against central finite differences and PennyLane backprop.

PennyLane runs the same circuit through ``circuits.interop.to_pennylane`` on
``default.qubit`` (torch interface, backprop, parameter broadcasting over the batch).
"""

from __future__ import annotations

import pennylane as qml
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit_aer.noise import (
    NoiseModel,
    ReadoutError,
    amplitude_damping_error,
    depolarizing_error,
    thermal_relaxation_error,
)
from sim_references import (
    random_parameterized_circuit,
    random_pauli_labels,
    random_sparse_pauli_op,
    random_values,
)

from circuits import ansatz, cells
from circuits.interop import pauli_observable, to_pennylane
from qrnn import sim

EPS = 1e-6
TOL = 1e-6


def finite_difference(function, values: torch.Tensor) -> torch.Tensor:
    """Central differences of the scalar ``function(values)`` w.r.t. every entry."""
    gradient = torch.zeros_like(values)
    with torch.no_grad():
        for index in range(values.numel()):
            step = torch.zeros_like(values).view(-1)
            step[index] = EPS
            step = step.view_as(values)
            gradient.view(-1)[index] = (function(values + step) - function(values - step)) / (
                2 * EPS
            )
    return gradient


def autograd(function, values: torch.Tensor) -> torch.Tensor:
    values = values.detach().clone().requires_grad_()
    function(values).backward()
    return values.grad


def shared_affine_circuit():
    """Two parameters, each used by several gates with affine angles."""
    theta = ParameterVector("theta", 2)
    circuit = QuantumCircuit(3)
    circuit.ry(theta[0], 0)
    circuit.rx(2 * theta[0] + 0.5, 1)
    circuit.cx(0, 1)
    circuit.rzz(theta[1] - 0.5 * theta[0], 1, 2)
    circuit.u(theta[1], -theta[0], 0.3, 2)
    circuit.cz(2, 0)
    circuit.r(1.5 * theta[1], theta[0] + 0.1, 0)
    circuit.rxx(theta[1], 0, 2)
    circuit.crx(3 * theta[0] - 1, 1, 2)
    return circuit


def _random(seed):
    return random_parameterized_circuit(3 + seed % 2, 25, seed=seed, constant_angles=False)[0]


CIRCUITS = {
    "shared-affine": shared_affine_circuit,
    "random-a": lambda: _random(31),
    "random-b": lambda: _random(32),
    "hardware_efficient": lambda: ansatz.hardware_efficient(3, 2)[0],
    "ion_native": lambda: ansatz.ion_native(3, 1)[0],
    "qlstm_gate": lambda: cells.qlstm_gate(4, n_inputs=2, reps=1).circuit,
}


def observables_for(n_qubits: int, seed: int):
    return [*random_pauli_labels(n_qubits, 3, seed), random_sparse_pauli_op(n_qubits, 3, seed)]


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_expval_gradient_matches_finite_differences(name):
    circuit = CIRCUITS[name]()
    observables = observables_for(circuit.num_qubits, len(name))
    program = sim.compile(circuit, observables)
    weights = random_values(len(observables), 2, 1)

    def loss(values):
        return (program.expval(values) * weights).sum()

    values = random_values(circuit.num_parameters, 2, len(name))

    gradient = autograd(loss, values)

    torch.testing.assert_close(gradient, finite_difference(loss, values), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_expval_and_gradient_match_pennylane_backprop(name):
    circuit = CIRCUITS[name]()
    observables = observables_for(circuit.num_qubits, len(name))
    apply = to_pennylane(circuit)

    @qml.qnode(
        qml.device("default.qubit", wires=circuit.num_qubits),
        interface="torch",
        diff_method="backprop",
    )
    def pennylane_expvals(values):
        apply(values)
        return [qml.expval(pauli_observable(o)) for o in observables]

    values = random_values(circuit.num_parameters, 3, 2 + len(name))
    weights = random_values(len(observables), 3, 3)

    ours = values.detach().clone().requires_grad_()
    result = sim.expval(circuit, ours, observables)
    (result * weights).sum().backward()
    theirs = values.detach().clone().requires_grad_()
    reference = torch.stack(pennylane_expvals(theirs), dim=-1)
    (reference * weights).sum().backward()

    torch.testing.assert_close(result, reference.detach(), atol=TOL, rtol=0)
    torch.testing.assert_close(ours.grad, theirs.grad, atol=TOL, rtol=0)


def test_statevector_gradient_matches_finite_differences():
    """A loss using amplitudes (real and imaginary parts, global phase included)."""
    circuit = shared_affine_circuit()
    program = sim.compile(circuit)
    mix = torch.linspace(-1, 1, 2**circuit.num_qubits, dtype=torch.float64)

    def loss(values):
        state = program.statevector(values)
        return (state.real * mix).sum() + (state.imag * mix.flip(0)).sum()

    values = random_values(circuit.num_parameters, 2, 4)

    gradient = autograd(loss, values)

    torch.testing.assert_close(gradient, finite_difference(loss, values), atol=TOL, rtol=0)


def test_noisy_density_path_gradient_matches_finite_differences():
    circuit = shared_affine_circuit()
    circuit.reset(1)
    circuit.ry(circuit.parameters[1], 1)
    circuit.cx(1, 0)
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx", "cz", "rzz"])
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["ry", "rx"])
    noise_model.add_all_qubit_quantum_error(thermal_relaxation_error(30, 20, 5), ["u", "r"])
    observables = [*random_pauli_labels(3, 4, 5), random_sparse_pauli_op(3, 3, 5)]
    program = sim.compile(circuit, observables, noise_model=noise_model)
    weights = random_values(len(observables), 2, 6)

    def loss(values):
        return (program.expval(values) * weights).sum()

    values = random_values(circuit.num_parameters, 2, 7)

    gradient = autograd(loss, values)

    torch.testing.assert_close(gradient, finite_difference(loss, values), atol=TOL, rtol=0)


def test_readout_error_gradient_matches_finite_differences():
    circuit = shared_affine_circuit()
    noise_model = NoiseModel()
    noise_model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    program = sim.compile(circuit, ["IIZ", "ZZI", "ZZZ"], noise_model=noise_model)

    def loss(values):
        return (program.expval(values) * torch.tensor([1.0, -0.5, 2.0])).sum()

    values = random_values(circuit.num_parameters, 2, 8)

    gradient = autograd(loss, values)

    torch.testing.assert_close(gradient, finite_difference(loss, values), atol=TOL, rtol=0)


def test_density_matrix_gradient_matches_finite_differences():
    circuit = shared_affine_circuit()
    circuit.reset(0)
    circuit.rx(circuit.parameters[0], 0)
    program = sim.compile(circuit)
    dim = 2**circuit.num_qubits
    weights = torch.randn(dim, dim, generator=torch.Generator().manual_seed(9), dtype=torch.float64)

    def loss(values):
        rho = program.density_matrix(values)
        return (rho.real * weights).sum() + (rho.imag * weights.T).sum()

    values = random_values(circuit.num_parameters, 2, 9)

    gradient = autograd(loss, values)

    torch.testing.assert_close(gradient, finite_difference(loss, values), atol=TOL, rtol=0)


def test_float32_gradients_are_float32_and_close():
    circuit = shared_affine_circuit()
    program = sim.compile(circuit, ["ZZZ", "XIY"])
    values = random_values(circuit.num_parameters, 2, 10)

    single = values.float().requires_grad_()
    program.expval(single).sum().backward()
    double = autograd(lambda v: program.expval(v).sum(), values)

    assert single.grad.dtype == torch.float32
    torch.testing.assert_close(single.grad.double(), double, atol=1e-5, rtol=0)
