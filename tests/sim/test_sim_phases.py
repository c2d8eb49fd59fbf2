"""Phase stages: runs of commuting Pauli rotations and diagonal gates as one phase vector.

Random circuits mix every supported gate with runs of RXX / RYY / RZZ / RZX / CZ / CP / CRZ /
RZ / P on random pairs whose Pauli axes agree wire by wire; states, unitaries, density
matrices (with noise, against Aer) and expectation values are checked against Qiskit, and
gradients (weights and inputs, with input-dependent phase stages) against finite
differences. The schedules are inspected so that the phase stages cannot silently vanish.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, amplitude_damping_error, depolarizing_error
from sim_references import (
    AER_GATES,
    assert_close,
    bind,
    random_parameterized_circuit,
    random_pauli_labels,
    random_values,
    reference_density,
    reference_expvals,
    reference_states,
    reference_unitary,
)

from circuits import ansatz
from qrnn import sim
from qrnn.sim import _schedule
from qrnn.sim._schedule import BlockKernel, PhaseKernel


@pytest.fixture
def in_circuit_order(monkeypatch):
    """Fusion in circuit order only: small random circuits, whose commuting runs would
    otherwise fuse into one cheaper block (``test_sim_fusion``), keep their phase stages."""
    monkeypatch.setattr(_schedule, "_axes_reader", lambda table: None)


def phase_runs_circuit(n_qubits, seed, layers=2, allowed=None, angles=None):
    """Random supported gates (``allowed``), then per layer a run of 3 n gates whose Pauli
    axes agree on every wire (one random axis per wire), then random gates again. Angles are
    affine in ``angles`` (a ``ParameterVector``; default: one of 4 parameters ``theta``)."""
    rng = np.random.default_rng(seed)
    circuit, theta = random_parameterized_circuit(n_qubits, 6, seed, allowed=allowed)
    angles = theta if angles is None else angles
    diagonal = [g for g in ("rzz", "cz", "cp", "crz", "rz") if allowed is None or g in allowed]

    def angle():
        k = int(rng.integers(len(angles)))
        return float(rng.uniform(-2, 2)) * angles[k] + float(rng.uniform(-1, 1))

    for _ in range(layers):
        axes = rng.choice(["X", "Y", "Z"], n_qubits)
        for _ in range(3 * n_qubits):
            a, b = (int(q) for q in rng.choice(n_qubits, 2, replace=False))
            pair = axes[a] + axes[b]
            if pair == "XX":
                circuit.rxx(angle(), a, b)
            elif pair == "YY":
                circuit.ryy(angle(), a, b)
            elif pair == "ZX":
                circuit.rzx(angle(), a, b)
            elif pair == "XZ":
                circuit.rzx(angle(), b, a)
            elif pair == "ZZ":
                choice = diagonal[int(rng.integers(len(diagonal)))]
                if choice == "cz":
                    circuit.cz(a, b)
                elif choice == "rz":
                    circuit.rz(angle(), a)
                    circuit.p(angle(), b)
                else:  # rzz, cp, crz
                    getattr(circuit, choice)(angle(), a, b)
        tail, _ = random_parameterized_circuit(n_qubits, 4, seed + 1, allowed=allowed)
        circuit.compose(tail.assign_parameters(dict.fromkeys(tail.parameters, 0.3)), inplace=True)
    return circuit


def phase_kernels(program, mode):
    return [k for k in program.plan(mode).schedule.kernels if isinstance(k, PhaseKernel)]


def check_bound_run(program, circuit, weights, inputs, observables, batch, seed, gradients=None):
    """The program bound to random weights, run on ``batch`` random inputs, equals the
    reference; with ``gradients`` (a tensor -> tensor map of the outputs), gradcheck of its
    sum over the weights and the inputs."""
    weight_values = random_values(len(weights), 1, seed)[0]
    input_values = random_values(len(inputs), batch, seed + 1)
    full = torch.cat([weight_values.expand(batch, -1), input_values], 1)
    order = [[*weights, *inputs].index(p) for p in circuit.parameters]
    assert_close(
        program.bind(weight_values).expval(input_values),
        reference_expvals(circuit, full[:, order], observables),
    )
    if gradients is not None:

        def loss(weight_values, input_values):
            return gradients(program.bind(weight_values).expval(input_values)).sum()

        arguments = (weight_values.requires_grad_(), input_values.requires_grad_())
        assert torch.autograd.gradcheck(loss, arguments, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_random_phase_runs_against_statevector_operator_and_expectation(seed, in_circuit_order):
    n_qubits = 3 + seed % 3
    circuit = phase_runs_circuit(n_qubits, 100 + seed)
    values = random_values(circuit.num_parameters, 2, seed)
    observables = random_pauli_labels(n_qubits, 5, seed)
    # two parameters are weights, the others inputs: runs of either kind, and mixed
    program = sim.compile(circuit, observables, weight_params=circuit.parameters[:2])
    bound = program.bind(values[0, :2])
    weights_then_inputs = torch.cat([values[:1, :2].expand(2, -1), values[:, 2:]], 1)

    assert phase_kernels(program, "statevector")
    assert_close(bound.statevector(values[:, 2:]), reference_states(circuit, weights_then_inputs))
    assert_close(
        bound.expval(values[:, 2:]),
        reference_expvals(circuit, weights_then_inputs, observables),
    )
    assert phase_kernels(program, "unitary")
    assert_close(bound.unitary(values[:1, 2:]), reference_unitary(circuit, weights_then_inputs[0]))


@pytest.mark.parametrize("seed", range(3))
def test_phase_runs_on_the_density_matrix_path(seed):
    # a pure circuit's density matrix: the row and column copies of each run, virtualized
    circuit = phase_runs_circuit(3, 200 + seed)
    values = random_values(circuit.num_parameters, 2, seed)
    program = sim.compile(circuit, weight_params=circuit.parameters[:2])
    weights_then_inputs = torch.cat([values[:1, :2].expand(2, -1), values[:, 2:]], 1)

    kernels = phase_kernels(program, "density")
    assert kernels
    # the row and the column copies never share a gate: separate tables, multiplied
    assert all(len(kernel.op.factors) >= 2 for kernel in kernels)
    assert_close(
        program.bind(values[0, :2]).density_matrix(values[:, 2:]),
        reference_density(circuit, weights_then_inputs),
    )


def aer_density(circuit, noise_model, row):
    bound = bind(circuit, row)
    bound.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=noise_model)
    return np.asarray(simulator.run(bound).result().data(0)["density_matrix"])


@pytest.mark.parametrize("seed", range(2))
def test_noisy_phase_runs_against_aer(seed):
    # errors after one-qubit gates and CNOTs: channels between runs, none inside one
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["rx", "ry", "h", "sx"])
    model.add_all_qubit_quantum_error(
        amplitude_damping_error(0.1).tensor(amplitude_damping_error(0.05)), ["cx"]
    )
    circuit = phase_runs_circuit(3, 300 + seed, allowed=AER_GATES)
    values = random_values(circuit.num_parameters, 2, seed)
    observables = random_pauli_labels(3, 4, seed)
    program = sim.compile(circuit, observables, noise_model=model)

    assert phase_kernels(program, "density")
    expected = np.stack([aer_density(circuit, model, row) for row in values])
    assert_close(program.density_matrix(values), expected)
    reference = [
        [np.real(np.trace(rho @ _pauli_matrix(label))) for label in observables] for rho in expected
    ]
    assert_close(program.expval(values), np.array(reference))


def _pauli_matrix(label):
    from qiskit.quantum_info import Pauli

    return Pauli(label).to_matrix()


def test_gradients_through_weight_and_input_phase_stages(in_circuit_order):
    n_qubits = 4
    inputs = ParameterVector("x", 2)
    weights = ParameterVector("w", 3)
    circuit = QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        circuit.ry(inputs[q % 2] + 0.2 * q, q)
    mixed = phase_runs_circuit(n_qubits, 401, layers=2, angles=[*weights, *inputs])
    circuit.compose(mixed, inplace=True)
    weight_params = [*weights, *(p for p in circuit.parameters if p.name.startswith("theta"))]
    observables = random_pauli_labels(n_qubits, 3, 4)
    program = sim.compile(circuit, observables, weight_params=weight_params)

    kernels = phase_kernels(program, "expval")
    assert any(k.dynamic for k in kernels)  # input angles inside a run
    coefficients = random_values(len(observables), 3, 5)

    def loss(weight_values, input_values):
        return (program.bind(weight_values).expval(input_values) * coefficients).sum()

    weight_values = random_values(len(weight_params), 1, 6)[0].requires_grad_()
    input_values = random_values(2, 3, 7).requires_grad_()
    assert torch.autograd.gradcheck(loss, (weight_values, input_values), eps=1e-6, atol=1e-6)
    full = torch.cat([weight_values.detach().expand(3, -1), input_values.detach()], 1)
    order = [[*weight_params, *inputs].index(p) for p in circuit.parameters]
    assert_close(
        program.bind(weight_values).expval(input_values),
        reference_expvals(circuit, full[:, order], observables),
    )


def test_weight_only_phase_gradients_against_finite_differences():
    circuit, weights = ansatz.ion_native(6, reps=2, connectivity="all")
    program = sim.compile(circuit, ["ZIIIII", "IXIIII", "IIYZII"], weight_params=weights)
    assert len(phase_kernels(program, "expval")) >= 1
    values = random_values(len(weights), 1, 8)[0]

    def loss(weight_values):
        return program.bind(weight_values).expval().square().sum()

    assert torch.autograd.gradcheck(loss, (values.requires_grad_(),), eps=1e-6, atol=1e-6)


def test_an_ion_native_all_to_all_layer_is_one_phase_stage():
    n_qubits, reps = 10, 2
    circuit, weights = ansatz.ion_native(n_qubits, reps=reps, connectivity="all")
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    program = sim.compile(circuit, observables, weight_params=weights)
    kernels = program.plan("expval").schedule.kernels

    # 45 RXX gates per layer: one phase stage each instead of a dozen 16 x 16 blocks
    assert sum(isinstance(k, PhaseKernel) for k in kernels) == reps
    assert sum(isinstance(k, BlockKernel) for k in kernels) <= 3 * reps
    values = random_values(len(weights), 1, 9)
    assert_close(program.bind(values[0]).expval(), reference_expvals(circuit, values, observables))


def test_a_lone_diagonal_gate_stays_in_a_block():
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.rzz(0.4, 0, 1)
    circuit.rx(0.3, range(3))
    program = sim.compile(circuit)
    # the gate joins the block of the RX layer for less than a pass
    assert not phase_kernels(program, "statevector")
    assert_close(program.statevector(), reference_states(circuit, np.zeros((1, 0))))


def test_the_split_plan_keeps_gates_in_blocks():
    # an angle encoding, then a run on each half: the expval plan takes phase stages, the
    # split plan (cut between the halves) keeps every gate in a block of its own wires
    n_qubits = 6
    inputs = ParameterVector("x", n_qubits)
    weights = ParameterVector("w", 12)
    circuit = QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        circuit.ry(inputs[q], q)
    k = 0
    for half in (range(3), range(3, 6)):
        for a in half:
            for b in half:
                if a < b:
                    circuit.rxx(weights[k], a, b)
                    circuit.rzz(weights[k + 1] * 0.5, a, b)
                    k += 2
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    program = sim.compile(circuit, observables, weight_params=weights)
    assert not phase_kernels(program, "split")
    check_bound_run(program, circuit, weights, inputs, observables, 3, 10)


def test_float32_phase_stages():
    circuit = phase_runs_circuit(4, 500)
    values = random_values(circuit.num_parameters, 2, 12, dtype=torch.float32)
    result = sim.statevector(circuit, values)
    assert result.dtype == torch.complex64
    assert_close(result, reference_states(circuit, values.double()), atol=1e-5)
    assert math.isfinite(float(result.abs().sum()))


@pytest.mark.parametrize("axis", ["X", "Y"])
def test_basis_changes_map_their_axis_to_z(axis):
    from qiskit.circuit.library import UGate

    from qrnn.sim._lowering import lower

    lowered = lower(QuantumCircuit(1))
    offsets = lowered.table.matrices()[1]

    def matrix(rows):
        theta, phi, lam, gamma = (offsets[r] for r in rows)
        return np.exp(1j * gamma) * UGate(theta, phi, lam).to_matrix()

    before, after = (matrix(rows) for rows in lowered.basis[axis])
    pauli = {"X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]])}[axis]
    assert_close(after @ before, np.eye(2))
    assert_close(before @ pauli @ after, np.diag([1.0, -1.0]))  # C P C^+ = Z


def test_encoded_ion_native_layers_through_the_chain():
    # an angle encoding in front: the phase stages run inside the encoded chain, whose
    # layout the blocks between them rotate
    n_qubits = 8
    inputs = ParameterVector("x", n_qubits)
    body, weights = ansatz.ion_native(n_qubits, reps=2, connectivity="all")
    circuit = QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        circuit.ry(inputs[q], q)
    circuit.compose(body, inplace=True)
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    program = sim.compile(circuit, observables, weight_params=weights)
    assert len(phase_kernels(program, "expval")) == 2
    check_bound_run(program, circuit, weights, inputs, observables, 2, 13, torch.sin)


def test_a_run_whose_table_would_be_too_large_stays_in_blocks(monkeypatch):
    from qrnn.sim import _phases

    monkeypatch.setattr(_phases, "_MAX_TABLE", 2**6)
    circuit, weights = ansatz.ion_native(6, reps=2, connectivity="all")
    observables = ["IIIIIZ", "XIIIII"]
    program = sim.compile(circuit, observables, weight_params=weights)
    assert not phase_kernels(program, "expval")
    values = random_values(len(weights), 1, 15)
    assert_close(program.bind(values[0]).expval(), reference_expvals(circuit, values, observables))


def test_basis_changes_fuse_with_a_reuploaded_encoding():
    # RY(x) between two all-to-all layers: H, RY(x), R(w), H on every wire make one layer
    # of input-dependent blocks, not three layers
    n_qubits = 8
    inputs = ParameterVector("x", n_qubits)
    circuit = QuantumCircuit(n_qubits)
    weights = []
    for layer in range(2):
        for q in range(n_qubits):
            circuit.ry(inputs[q], q)
        body, layer_weights = ansatz.ion_native(n_qubits, 1, prefix=f"w{layer}")
        circuit.compose(body, inplace=True)
        weights.extend(layer_weights)
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    program = sim.compile(circuit, observables, weight_params=weights)
    kernels = program.plan("expval").schedule.kernels
    first, second = (k for k, kernel in enumerate(kernels) if isinstance(kernel, PhaseKernel))
    between = kernels[first + 1 : second]
    assert all(kernel.dynamic for kernel in between)
    assert sum(len(kernel.local_wires) for kernel in between) == n_qubits

    check_bound_run(program, circuit, weights, inputs, observables, 2, 16, torch.cos)
