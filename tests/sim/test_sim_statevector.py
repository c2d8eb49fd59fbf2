"""qrnn.sim states and unitaries against qiskit.quantum_info (Statevector, DensityMatrix, Operator).

Random circuits (Qiskit's ``random_circuit`` and our own parameterized ones with shared
parameters and affine angles), every template in ``circuits``, the ion-trap native gates,
several fusion widths, precisions and batch sizes. Global phases must match exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from qiskit.circuit import Parameter, ParameterVector, QuantumCircuit, QuantumRegister
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import random_unitary
from sim_references import (
    ATOL_FLOAT32,
    FIXED_1Q,
    FIXED_2Q,
    FIXED_3Q,
    ROTATION_1Q,
    ROTATION_2Q,
    append_gate,
    assert_close,
    parameterize,
    random_parameterized_circuit,
    random_values,
    reference_density,
    reference_states,
    reference_unitary,
)

from circuits import ansatz, cells, encoding, native
from qrnn import sim

# --- random circuits ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_random_qiskit_circuit_statevector(seed):
    n_qubits = 2 + seed % 4
    circuit = random_circuit(n_qubits, depth=6, max_operands=1 + seed % 3, seed=seed)

    state = sim.statevector(circuit)

    assert state.shape == (1, 2**n_qubits)
    assert state.dtype == torch.complex128
    assert_close(state, reference_states(circuit, [[]]))


@pytest.mark.parametrize("seed", range(12))
def test_parameterized_qiskit_random_circuit_batch(seed):
    n_qubits = 2 + seed % 4
    circuit = parameterize(random_circuit(n_qubits, depth=5, max_operands=3, seed=100 + seed), seed)
    values = random_values(circuit.num_parameters, 3, seed)

    state = sim.statevector(circuit, values)

    assert state.shape == (3, 2**n_qubits)
    assert_close(state, reference_states(circuit, values))


@pytest.mark.parametrize("seed", range(16))
def test_own_parameterized_random_circuit_batch(seed):
    """Affine angles (2*theta + 0.5, theta_k - theta_j/2 + 1/4) shared across many gates."""
    n_qubits = 1 + seed % 6
    circuit, _ = random_parameterized_circuit(n_qubits, n_gates=30, seed=seed)
    values = random_values(circuit.num_parameters, 4, seed)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


def test_unbatched_values_give_batch_of_one():
    circuit, _ = random_parameterized_circuit(3, 15, seed=3)
    values = random_values(circuit.num_parameters, 1, 3)[0]

    state = sim.statevector(circuit, values)

    assert state.shape == (1, 8)
    assert_close(state, reference_states(circuit, values[None]))


def test_values_as_nested_list_and_numpy():
    circuit, _ = random_parameterized_circuit(2, 10, seed=4)
    values = random_values(circuit.num_parameters, 2, 4)
    expected = reference_states(circuit, values)

    assert_close(sim.statevector(circuit, values.tolist()), expected)
    assert_close(sim.statevector(circuit, values.numpy()), expected)


def test_parameterized_gate_after_entanglers_on_same_qubits():
    theta = ParameterVector("theta", 3)
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cz(1, 2)
    circuit.swap(0, 2)
    circuit.rx(theta[0], 1)  # after three entanglers on qubit 1
    circuit.ry(2 * theta[1] + 0.5, 0)
    circuit.rzz(theta[2], 0, 1)
    circuit.cx(1, 2)
    circuit.rz(theta[0] - theta[2], 2)
    values = random_values(3, 5, 0)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


def test_parameterized_global_phase_is_exact():
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, global_phase=0.5 * theta + 0.3)
    circuit.h(0)
    circuit.crz(theta, 0, 1)  # its definition carries phases too
    circuit.rz(theta, 1)
    values = random_values(1, 3, 1)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


def test_idle_qubits_barriers_delays_and_several_registers():
    a, b = QuantumRegister(2, "a"), QuantumRegister(3, "b")
    circuit = QuantumCircuit(a, b)
    theta = Parameter("t")
    circuit.ry(theta, b[1])
    circuit.barrier()
    circuit.cx(b[1], a[0])
    circuit.delay(100, a[0])
    circuit.rx(-theta, a[0])  # qubits a[1], b[0], b[2] stay idle
    values = random_values(1, 2, 2)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


def test_circuit_without_gates():
    state = sim.statevector(QuantumCircuit(3))

    expected = np.zeros((1, 8))
    expected[0, 0] = 1
    assert_close(state, expected)


# every gate name the engine lists: (number of qubits, number of angles)
GATE_SHAPES = {
    **{name: (1, 0) for name in FIXED_1Q},
    **{name: (2, 0) for name in FIXED_2Q},
    **{name: (3, 0) for name in FIXED_3Q},
    **{name: (1, k) for name, k in ROTATION_1Q.items()},
    **{name: (2, k) for name, k in ROTATION_2Q.items()},
}


def test_gate_table_covers_every_supported_gate():
    listed = set(sim.SUPPORTED_GATES) - {"barrier", "delay", "reset", "unitary"}
    assert listed == set(GATE_SHAPES)


@pytest.mark.parametrize("name", sorted(GATE_SHAPES))
def test_each_supported_gate_between_random_layers(name):
    """The gate with numeric and with parameter angles, on qubits in both orders."""
    width, n_angles = GATE_SHAPES[name]
    seed = sorted(GATE_SHAPES).index(name)
    rng = np.random.default_rng(seed)
    theta = ParameterVector("theta", max(n_angles, 1))
    circuit = QuantumCircuit(4)
    for q in range(4):
        circuit.u(*rng.uniform(-math.pi, math.pi, 3), q)
    append_gate(circuit, name, list(rng.uniform(-math.pi, math.pi, n_angles)), [3, 1, 0][:width])
    append_gate(circuit, name, [1.5 * t - 0.2 for t in theta][:n_angles], [0, 2, 3][:width])
    for q in range(4):
        circuit.rx(0.3 + q, q)
    values = random_values(circuit.num_parameters, 2, seed)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


def test_unitary_gates_of_one_to_four_qubits():
    circuit = QuantumCircuit(4)
    circuit.h(range(4))
    circuit.unitary(random_unitary(2, seed=1), [2])
    circuit.unitary(random_unitary(4, seed=2), [3, 0])
    circuit.unitary(random_unitary(8, seed=3), [1, 3, 2])
    circuit.unitary(random_unitary(16, seed=4), [2, 0, 3, 1])

    assert_close(sim.statevector(circuit), reference_states(circuit, [[]]))


# --- templates --------------------------------------------------------------------------


def _templates():
    """(id, circuit) for every builder in circuits, at small and default (10-qubit) sizes."""
    cases = [
        ("angle_encoding-ry", encoding.angle_encoding(3)[0]),
        ("angle_encoding-rx-scaled", encoding.angle_encoding(4, "rx", scale=math.pi)[0]),
        ("angle_encoding-rz-subset", encoding.angle_encoding(5, "rz", qubits=[4, 1])[0]),
        ("angle_encoding-1q", encoding.angle_encoding(1)[0]),
        ("reuploading", encoding.reuploading(3, reps=2)[0]),
        (
            "reuploading-tiled-cx",
            encoding.reuploading(4, reps=3, n_inputs=2, rotation="rx", entangler="cx", scale=0.5)[
                0
            ],
        ),
        ("reuploading-2q", encoding.reuploading(2, reps=2, rotations=("rx",))[0]),
        ("hardware_efficient", ansatz.hardware_efficient(4)[0]),
        ("hardware_efficient-cz-ryrz", ansatz.hardware_efficient(3, 3, ("ry", "rz"), "cz")[0]),
        ("hardware_efficient-1q", ansatz.hardware_efficient(1)[0]),
        ("hardware_efficient-2q", ansatz.hardware_efficient(2)[0]),
        ("ion_native-all", ansatz.ion_native(4)[0]),
        ("ion_native-ring", ansatz.ion_native(4, 2, connectivity="ring")[0]),
        ("ion_native-1q", ansatz.ion_native(1)[0]),
        ("brickwork", ansatz.brickwork(5)[0]),
        ("brickwork-cz", ansatz.brickwork(4, 3, entangler="cz")[0]),
        ("qlstm_gate", cells.qlstm_gate(4, n_inputs=3).circuit),
        ("qlstm_gate-hea", cells.qlstm_gate(3, ansatz="hardware_efficient").circuit),
        ("qlstm_gate-brickwork", cells.qlstm_gate(4, 2, ansatz="brickwork").circuit),
        ("qrnn_step", cells.qrnn_step(2, 3).circuit),
        ("qrnn_step-brickwork", cells.qrnn_step(2, 2, ansatz="brickwork").circuit),
        ("reservoir", cells.reservoir(4, n_inputs=2, seed=3).circuit),
    ]
    for name in ansatz.names():
        cases.append((f"ansatz.get-{name}-3q", ansatz.get(name, 3, 1)[0]))
    defaults = [
        ("angle_encoding-10q", encoding.angle_encoding()[0]),
        ("reuploading-10q", encoding.reuploading()[0]),
        ("hardware_efficient-10q", ansatz.hardware_efficient()[0]),
        ("ion_native-10q", ansatz.ion_native()[0]),
        ("brickwork-10q", ansatz.brickwork()[0]),
        ("qlstm_gate-10q", cells.qlstm_gate().circuit),
        ("qrnn_step-10q", cells.qrnn_step().circuit),
        ("reservoir-10q", cells.reservoir().circuit),
    ]
    return cases + defaults


TEMPLATES = _templates()


@pytest.mark.parametrize(("name", "circuit"), TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_template_statevector(name, circuit):
    values = random_values(circuit.num_parameters, 2, len(name))

    state = sim.statevector(circuit, values)

    assert state.shape == (2, 2**circuit.num_qubits)
    assert_close(state, reference_states(circuit, values))


# --- ion-trap native gates ----------------------------------------------------------------


def test_native_gates_with_parameters_and_numbers():
    phi = ParameterVector("phi", 3)
    circuit = QuantumCircuit(3)
    circuit.append(native.GPIGate(phi[0]), [0])
    circuit.append(native.GPI2Gate(0.5 * phi[1] + 0.1), [1])
    circuit.append(native.U1qGate(phi[2], phi[0]), [2])
    circuit.append(native.IonQMSGate(phi[0], phi[1], 0.25), [0, 2])
    circuit.append(native.IonQMSGate(0.1, 0.3, 0.2), [1, 0])  # numeric: taken as a matrix
    circuit.append(native.IonQZZGate(phi[2]), [2, 1])
    circuit.append(native.ZZMaxGate(), [0, 1])
    circuit.append(native.GPI2Gate(phi[2]), [0])
    values = random_values(3, 3, 7)

    assert_close(sim.statevector(circuit, values), reference_states(circuit, values))


@pytest.mark.parametrize("gate_set", sorted(native.GATE_SETS))
def test_circuits_translated_to_native_gates(gate_set):
    source, _ = ansatz.hardware_efficient(3, 1)
    bound = source.assign_parameters(random_values(source.num_parameters, 1, 8)[0].numpy())
    translated = native.to_native(bound, gate_set, seed=1)

    state = sim.statevector(translated)

    assert_close(state, reference_states(translated, [[]]))
    assert_close(state, reference_states(bound, [[]]))  # translation keeps the global phase


# --- unitary and density matrix -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_unitary_matches_operator(seed):
    n_qubits = 1 + seed % 4
    circuit, _ = random_parameterized_circuit(n_qubits, 20, seed=200 + seed)
    values = random_values(circuit.num_parameters, 1, seed)[0]

    matrix = sim.compile(circuit).unitary(values)

    assert matrix.shape == (2**n_qubits, 2**n_qubits)
    assert_close(matrix, reference_unitary(circuit, values))


def test_unitary_of_circuit_whose_first_gates_are_one_qubit_gates():
    """A unitary does not start from |0...0>: leading rotations must not be taken as a state."""
    theta = ParameterVector("theta", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(theta[0], 0)
    circuit.rx(theta[1], 1)
    values = torch.tensor([0.4, -1.1], dtype=torch.float64)

    assert_close(sim.compile(circuit).unitary(values), reference_unitary(circuit, values))


def test_unitary_keeps_a_parameterized_global_phase_and_its_gradient():
    """The global phase rides on the first block's matrix (or on the identity when there is
    no gate): values against Operator, gradients against finite differences."""
    theta = ParameterVector("theta", 2)
    circuit = QuantumCircuit(2, global_phase=0.5 * theta[0] + 0.3)
    circuit.crz(theta[1], 0, 1)  # its definition carries phases too
    circuit.rz(theta[0], 1)
    gateless = QuantumCircuit(2, global_phase=theta[0] - 0.2)
    values = torch.tensor([0.4, -1.1], dtype=torch.float64)

    for case in (circuit, gateless):
        program = sim.compile(case)
        row = values[: case.num_parameters]
        assert_close(program.unitary(row), reference_unitary(case, row))
        assert torch.autograd.gradcheck(
            lambda v, program=program: torch.view_as_real(program.unitary(v)),
            (row.clone().requires_grad_(),),
        )


@pytest.mark.parametrize("seed", range(6))
def test_noiseless_density_matrix_matches_density_matrix(seed):
    n_qubits = 1 + seed % 4
    circuit, _ = random_parameterized_circuit(n_qubits, 20, seed=300 + seed)
    values = random_values(circuit.num_parameters, 2, seed)

    rho = sim.density_matrix(circuit, values)

    assert rho.shape == (2, 2**n_qubits, 2**n_qubits)
    assert_close(rho, reference_density(circuit, values))


@pytest.mark.parametrize("seed", range(8))
def test_density_matrix_with_resets_in_the_middle(seed):
    n_qubits = 2 + seed % 3
    circuit = random_circuit(n_qubits, depth=6, max_operands=3, reset=True, seed=400 + seed)
    circuit = parameterize(circuit, seed)
    circuit.reset(0)  # at least one reset, followed by gates
    circuit.h(0)
    circuit.cx(0, 1)
    values = random_values(circuit.num_parameters, 2, seed)

    assert_close(sim.density_matrix(circuit, values), reference_density(circuit, values))


# --- fusion widths --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_fusion_widths_give_identical_results(seed):
    circuit, _ = random_parameterized_circuit(5 + seed % 2, 40, seed=500 + seed)
    circuit.cx(0, 1)
    circuit.rz(0.3, 1)
    values = random_values(circuit.num_parameters, 3, seed)
    expected = reference_states(circuit, values)

    states = {}
    for width in (1, 2, 3, 5):
        program = sim.compile(circuit, max_fused_qubits=width)
        states[width] = program.statevector(values)
        assert_close(states[width], expected)
        assert_close(program.unitary(values[0]), reference_unitary(circuit, values[0]))
    for width in (2, 3, 5):
        assert_close(states[width], states[1], atol=1e-12)


def test_fusion_widths_on_density_matrices_with_resets():
    circuit, _ = random_parameterized_circuit(3, 25, seed=9)
    circuit.reset(1)
    circuit.cx(1, 2)
    circuit.ry(circuit.parameters[0], 1)
    values = random_values(circuit.num_parameters, 2, 9)
    expected = reference_density(circuit, values)

    for width in (1, 2, 3, 5):
        rho = sim.compile(circuit, max_fused_qubits=width).density_matrix(values)
        assert_close(rho, expected)


# --- precision, device, reuse -----------------------------------------------------------


def test_float32_values_give_complex64_states():
    circuit, _ = random_parameterized_circuit(4, 30, seed=11)
    values = random_values(circuit.num_parameters, 3, 11)
    program = sim.compile(circuit)

    state = program.statevector(values.float())
    rho = program.density_matrix(values.float())

    assert state.dtype == torch.complex64
    assert rho.dtype == torch.complex64
    assert_close(state, reference_states(circuit, values), atol=ATOL_FLOAT32)
    assert_close(rho, reference_density(circuit, values), atol=ATOL_FLOAT32)
    assert program.unitary(values[0].float()).dtype == torch.complex64


def test_float64_values_give_complex128_states():
    circuit, _ = random_parameterized_circuit(3, 20, seed=12)
    values = random_values(circuit.num_parameters, 2, 12)
    program = sim.compile(circuit)

    assert program.statevector(values).dtype == torch.complex128
    assert program.density_matrix(values).dtype == torch.complex128
    assert program.unitary(values[0]).dtype == torch.complex128


def test_one_program_serves_calls_of_different_batch_and_precision():
    circuit, _ = random_parameterized_circuit(3, 20, seed=13)
    program = sim.compile(circuit)
    for batch, dtype, seed in [(2, torch.float64, 0), (5, torch.float32, 1), (1, torch.float64, 2)]:
        values = random_values(circuit.num_parameters, batch, seed, dtype)
        atol = ATOL_FLOAT32 if dtype == torch.float32 else 1e-6
        assert_close(program.statevector(values), reference_states(circuit, values), atol=atol)


def test_results_are_on_the_device_of_the_values_cpu():
    circuit, _ = random_parameterized_circuit(2, 10, seed=14)
    values = random_values(circuit.num_parameters, 2, 14)

    assert sim.statevector(circuit, values).device == values.device
    assert sim.density_matrix(circuit, values).device == values.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_results_are_on_the_device_of_the_values_cuda():
    circuit, _ = random_parameterized_circuit(4, 30, seed=15)
    circuit.reset(2)
    values = random_values(circuit.num_parameters, 3, 15)
    rho = sim.density_matrix(circuit, values.cuda())
    pure, _ = random_parameterized_circuit(4, 30, seed=16)
    pure_values = random_values(pure.num_parameters, 3, 16).cuda()
    state = sim.statevector(pure, pure_values)

    assert rho.device.type == "cuda"
    assert state.device.type == "cuda"
    assert_close(rho, reference_density(circuit, values))
    assert_close(state, reference_states(pure, pure_values))
