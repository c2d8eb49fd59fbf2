"""Noisy density matrices and readout errors against Qiskit Aer.

Density matrices come from ``AerSimulator(method="density_matrix")`` with the same
``NoiseModel`` (``save_density_matrix``); readout-corrected expectation values are checked
against the analytic formula over true outcomes and against Aer's sampled counts.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from qiskit import transpile
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.library import XGate
from qiskit.quantum_info import (
    DensityMatrix,
    Kraus,
    Operator,
    SparsePauliOp,
    Statevector,
    random_statevector,
    random_unitary,
)
from qiskit_aer import AerSimulator
from qiskit_aer.noise import (
    NoiseModel,
    QuantumError,
    ReadoutError,
    amplitude_damping_error,
    coherent_unitary_error,
    depolarizing_error,
    mixed_unitary_error,
    pauli_error,
    phase_amplitude_damping_error,
    phase_damping_error,
    reset_error,
    thermal_relaxation_error,
)
from sim_references import (
    AER_GATES,
    assert_close,
    bind,
    random_parameterized_circuit,
    random_pauli_labels,
    random_sparse_pauli_op,
    random_values,
)

from qrnn import sim

ONE_QUBIT = ["rx", "ry", "rz", "h", "sx", "x", "u", "r", "p"]
TWO_QUBIT = ["cx", "cz", "rzz", "rxx", "swap", "ecr"]


def aer_density(circuit: QuantumCircuit, noise_model: NoiseModel, row) -> np.ndarray:
    """Aer's noisy density matrix for one row of values."""
    bound = bind(circuit, row)
    bound.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=noise_model)
    return np.asarray(simulator.run(bound).result().data(0)["density_matrix"])


def noisy_circuit() -> QuantumCircuit:
    """3 qubits, parameterized, every noisy gate kind, a reset in the middle."""
    theta = ParameterVector("theta", 4)
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.rx(theta[0], 1)
    circuit.ry(2 * theta[1] + 0.5, 2)
    circuit.cx(0, 1)
    circuit.u(theta[2], 0.3, theta[3], 0)
    circuit.cx(1, 0)
    circuit.rzz(theta[0] - theta[3], 1, 2)
    circuit.reset(1)
    circuit.sx(1)
    circuit.cz(2, 1)
    circuit.r(theta[1], 0.7, 2)
    circuit.rxx(theta[2], 0, 2)
    circuit.x(0)
    circuit.swap(0, 1)
    circuit.ecr(2, 0)
    circuit.rz(theta[3], 2)
    circuit.p(0.4, 1)
    circuit.cx(2, 1)
    return circuit


def _depolarizing():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.04, 1), ONE_QUBIT)
    model.add_all_qubit_quantum_error(depolarizing_error(0.08, 2), TWO_QUBIT)
    return model


def _amplitude_damping():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.15), ["ry", "x", "h", "rz"])
    model.add_all_qubit_quantum_error(
        amplitude_damping_error(0.1).tensor(amplitude_damping_error(0.05)), ["cx"]
    )
    return model


def _thermal_relaxation():
    model = NoiseModel()
    one = thermal_relaxation_error(50.0, 70.0, 8.0, excited_state_population=0.05)
    model.add_all_qubit_quantum_error(one, ONE_QUBIT)
    two = thermal_relaxation_error(40.0, 30.0, 20.0).expand(thermal_relaxation_error(60, 50, 20))
    model.add_all_qubit_quantum_error(two, TWO_QUBIT)
    return model


def _pauli():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(
        pauli_error([("X", 0.1), ("Y", 0.05), ("Z", 0.02), ("I", 0.83)]), ["h", "rx", "sx"]
    )
    model.add_all_qubit_quantum_error(
        pauli_error([("XZ", 0.1), ("YI", 0.05), ("ZZ", 0.05), ("II", 0.8)]), ["cx", "rzz"]
    )
    return model


def _local_overrides_all_qubit():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["ry", "rx"])
    # (0, 1) gets its own error; (1, 0) and (2, 1) keep the all-qubit one
    model.add_quantum_error(pauli_error([("XZ", 0.3), ("II", 0.7)]), ["cx"], [0, 1])
    model.add_quantum_error(amplitude_damping_error(0.4), ["ry"], [2])
    model.add_quantum_error(amplitude_damping_error(0.3), ["rx"], [1])
    return model


def _composed_on_one_instruction():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    model.add_all_qubit_quantum_error(  # Aer composes this with the first
        pauli_error([("ZZ", 0.2), ("II", 0.8)]), ["cx"]
    )
    composed = amplitude_damping_error(0.1).compose(phase_damping_error(0.2))
    model.add_all_qubit_quantum_error(composed, ["h", "ry"])
    model.add_all_qubit_quantum_error(phase_amplitude_damping_error(0.1, 0.15), ["ry"])
    return model


def _reset_noise():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(reset_error(0.1, 0.05), ["reset"])
    model.add_all_qubit_quantum_error(reset_error(0.02, 0.03), ["h", "sx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    return model


def _coherent_and_mixed_unitary():
    model = NoiseModel()
    model.add_all_qubit_quantum_error(
        coherent_unitary_error(np.asarray(random_unitary(2, seed=5))), ["rx"]
    )
    over_rotation = QuantumCircuit(2)  # a circuit as an error: residual ZZ coupling
    over_rotation.rzz(0.1, 0, 1)
    model.add_all_qubit_quantum_error(
        QuantumError(over_rotation).compose(depolarizing_error(0.03, 2)), ["cz", "rxx"]
    )
    unitaries = [(np.eye(2), 0.7), (np.asarray(random_unitary(2, seed=6)), 0.3)]
    model.add_all_qubit_quantum_error(mixed_unitary_error(unitaries), ["h"])
    kraus = Kraus(amplitude_damping_error(0.2)).data
    model.add_all_qubit_quantum_error(QuantumError(Kraus(kraus)), ["x"])
    return model


NOISE_MODELS = {
    "depolarizing": _depolarizing,
    "amplitude_damping": _amplitude_damping,
    "thermal_relaxation": _thermal_relaxation,
    "pauli": _pauli,
    "local_overrides_all_qubit": _local_overrides_all_qubit,
    "composed": _composed_on_one_instruction,
    "reset_noise": _reset_noise,
    "coherent_and_mixed_unitary": _coherent_and_mixed_unitary,
}


@pytest.mark.parametrize("name", sorted(NOISE_MODELS))
def test_noisy_density_matrix_matches_aer(name):
    circuit = noisy_circuit()
    noise_model = NOISE_MODELS[name]()
    values = random_values(circuit.num_parameters, 2, len(name))

    rho = sim.density_matrix(circuit, values, noise_model)

    assert rho.shape == (2, 8, 8)
    expected = np.stack([aer_density(circuit, noise_model, row) for row in values])
    assert_close(rho, expected)


@pytest.mark.parametrize("name", ["depolarizing", "local_overrides_all_qubit", "reset_noise"])
def test_noisy_expval_matches_aer_density_matrix(name):
    circuit = noisy_circuit()
    noise_model = NOISE_MODELS[name]()
    observables = [*random_pauli_labels(3, 6, 1), random_sparse_pauli_op(3, 4, 2), "ZZZ", "IIZ"]
    values = random_values(circuit.num_parameters, 2, 3)

    result = sim.expval(circuit, values, observables, noise_model)

    expected = [
        [
            DensityMatrix(aer_density(circuit, noise_model, row)).expectation_value(
                SparsePauliOp(o) if isinstance(o, str) else o
            )
            for o in observables
        ]
        for row in values
    ]
    assert_close(result, np.real(expected))


def test_error_on_custom_labelled_unitary_gate():
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.unitary(random_unitary(4, seed=1), [0, 2], label="entangler")
    circuit.unitary(random_unitary(4, seed=2), [2, 1])  # no label: no noise
    circuit.unitary(random_unitary(2, seed=3), [1], label="flip")
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.2, 2), ["entangler"])
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.3), ["flip"])
    noise_model.add_basis_gates(["unitary"])

    rho = sim.density_matrix(circuit, None, noise_model)

    assert_close(rho, aer_density(circuit, noise_model, [])[None])


def test_larger_random_noisy_circuit_matches_aer():
    circuit, _ = random_parameterized_circuit(5, 40, seed=21, defined=False, allowed=AER_GATES)
    circuit.reset(3)
    circuit.cx(3, 4)
    noise_model = _depolarizing()
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.05), ["t", "s", "y"])
    values = random_values(circuit.num_parameters, 1, 21)

    rho = sim.density_matrix(circuit, values, noise_model)

    assert_close(rho, aer_density(circuit, noise_model, values[0])[None])


# --- readout errors -------------------------------------------------------------------------

CONFUSION = {  # P(measured | true): row = true outcome
    0: np.array([[0.95, 0.05], [0.10, 0.90]]),
    1: np.array([[0.90, 0.10], [0.20, 0.80]]),
    2: np.array([[0.99, 0.01], [0.03, 0.97]]),  # the all-qubit default; 0 and 1 override it
}


def readout_model(quantum_noise: bool) -> NoiseModel:
    model = _depolarizing() if quantum_noise else NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError(CONFUSION[2]))
    model.add_readout_error(ReadoutError(CONFUSION[0]), [0])
    model.add_readout_error(ReadoutError(CONFUSION[1]), [1])
    return model


def readout_expval(probabilities: np.ndarray, qubits) -> float:
    """E[prod_{q in qubits} (A_q[0|t_q] - A_q[1|t_q])] over true outcomes t."""
    total = 0.0
    for index, probability in enumerate(probabilities):
        factor = 1.0
        for q in qubits:
            true_bit = (index >> q) & 1
            factor *= CONFUSION[q][true_bit, 0] - CONFUSION[q][true_bit, 1]
        total += probability * factor
    return total


Z_OBSERVABLES = ["IIZ", "IZI", "ZII", "IZZ", "ZIZ", "ZZZ", "III"]
Z_QUBITS = [[0], [1], [2], [0, 1], [0, 2], [0, 1, 2], []]
Z_SUM = SparsePauliOp(["ZZI", "IIZ", "III"], [0.5, -1.5, 0.25])


@pytest.mark.parametrize("quantum_noise", [False, True], ids=["readout-only", "with-depolarizing"])
def test_readout_error_expval_matches_analytic_formula(quantum_noise):
    circuit = noisy_circuit()
    circuit.cx(0, 2)  # trailing permutation gates get folded into the readout observables
    circuit.swap(1, 2)
    noise_model = readout_model(quantum_noise)
    values = random_values(circuit.num_parameters, 3, 4)

    result = sim.expval(circuit, values, [*Z_OBSERVABLES, Z_SUM], noise_model)

    expected = []
    for row in values:
        probabilities = np.real(np.diag(aer_density(circuit, noise_model, row)))
        single = [readout_expval(probabilities, qubits) for qubits in Z_QUBITS]
        z_sum = (
            0.5 * readout_expval(probabilities, [1, 2])
            - 1.5 * readout_expval(probabilities, [0])
            + 0.25
        )
        expected.append([*single, z_sum])
    assert_close(result, expected)


def test_readout_error_on_the_statevector_path_uses_the_pure_state():
    """Readout errors alone keep the statevector path: compare with Statevector probabilities."""
    circuit, _ = random_parameterized_circuit(3, 25, seed=22)
    noise_model = readout_model(quantum_noise=False)
    values = random_values(circuit.num_parameters, 2, 22)

    result = sim.expval(circuit, values, Z_OBSERVABLES, noise_model)

    expected = [
        [
            readout_expval(Statevector(bind(circuit, row)).probabilities(), qubits)
            for qubits in Z_QUBITS
        ]
        for row in values
    ]
    assert_close(result, expected)


def test_readout_error_expval_matches_aer_counts():
    circuit = noisy_circuit()
    noise_model = readout_model(quantum_noise=True)
    values = random_values(circuit.num_parameters, 1, 5)
    shots = 200_000

    result = sim.expval(circuit, values, Z_OBSERVABLES, noise_model)[0]

    measured = bind(circuit, values[0])
    measured.measure_all()
    simulator = AerSimulator(method="density_matrix", noise_model=noise_model, seed_simulator=7)
    counts = simulator.run(measured, shots=shots).result().get_counts()
    for k, qubits in enumerate(Z_QUBITS):
        estimate = 0.0
        for key, count in counts.items():
            bits = int(key, 2)
            parity = sum((bits >> q) & 1 for q in qubits) % 2
            estimate += (-1) ** parity * count / shots
        value = float(result[k])
        bound = 5 * math.sqrt(max(1 - value**2, 1e-12) / shots) + 1e-12
        assert abs(value - estimate) <= bound, (Z_OBSERVABLES[k], value, estimate, bound)


def test_readout_error_with_reset_in_the_circuit():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.reset(0)
    circuit.ry(0.8, 0)
    noise_model = NoiseModel()
    noise_model.add_readout_error(ReadoutError(CONFUSION[0]), [0])
    noise_model.add_readout_error(ReadoutError(CONFUSION[1]), [1])

    result = sim.expval(circuit, None, ["IZ", "ZI", "ZZ"], noise_model)

    probabilities = DensityMatrix(circuit).probabilities()
    expected = [readout_expval(probabilities, qubits) for qubits in ([0], [1], [0, 1])]
    assert_close(result, [expected])


def test_noisy_density_matrix_in_float32():
    circuit = noisy_circuit()
    noise_model = _thermal_relaxation()
    values = random_values(circuit.num_parameters, 2, 6)

    rho = sim.density_matrix(circuit, values.float(), noise_model)

    assert rho.dtype == torch.complex64
    expected = np.stack([aer_density(circuit, noise_model, row) for row in values])
    assert_close(rho, expected, atol=1e-5)


def test_fusion_widths_agree_on_noisy_circuits():
    circuit = noisy_circuit()
    noise_model = _composed_on_one_instruction()
    values = random_values(circuit.num_parameters, 2, 8)
    expected = np.stack([aer_density(circuit, noise_model, row) for row in values])

    for width in (1, 2, 3, 5):
        program = sim.compile(circuit, noise_model=noise_model, max_fused_qubits=width)
        assert_close(program.density_matrix(values), expected)


def test_noise_on_instructions_not_in_the_circuit_changes_nothing():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.5, 1), ["ry"])
    noise_model.add_quantum_error(depolarizing_error(0.5, 2), ["cx"], [1, 0])

    rho = sim.density_matrix(circuit, None, noise_model)

    assert_close(rho, DensityMatrix(circuit).data[None])


def test_pairs_of_qubits_in_both_orders_with_local_errors():
    """Local errors are keyed by the ordered qubit tuple, as in Aer."""
    noise_model = NoiseModel()
    noise_model.add_quantum_error(
        pauli_error([("XI", 0.3), ("II", 0.7)]), ["cx"], [0, 1]
    )  # X on the second qubit of the instruction
    for pair in itertools.permutations(range(2)):
        circuit = QuantumCircuit(2)
        circuit.cx(*pair)
        rho = sim.density_matrix(circuit, None, noise_model)
        assert_close(rho, aer_density(circuit, noise_model, [])[None])


def test_labelled_gates_take_noise_by_their_label_only_as_in_aer():
    """Aer looks an instruction's noise up by its label when it has one, else by its name
    (qiskit_aer aer_compiler: ``label if label else name``): a labelled X gets the label's
    error or none, never the error attached to "x"."""
    circuit = QuantumCircuit(2)
    circuit.x(0)
    circuit.append(XGate(label="calibrated_x"), [1])
    circuit.append(XGate(label="other_x"), [0])
    circuit.unitary(random_unitary(4, seed=4), [0, 1], label="coupler")
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.3), ["x"])
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.2, 1), ["calibrated_x"])
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["unitary"])
    noise_model.add_basis_gates(["unitary"])

    rho = sim.density_matrix(circuit, None, noise_model)

    assert_close(rho, aer_density(circuit, noise_model, [])[None])


@pytest.mark.parametrize("qubits", [[0], [0, 1]], ids=["one-qubit", "two-qubit"])
def test_noise_attached_to_barrier_is_ignored_as_in_aer(qubits):
    """Aer never applies errors to barriers (they are not simulated instructions)."""
    circuit = QuantumCircuit(2)
    circuit.x(0)
    circuit.h(1)
    circuit.barrier(qubits)
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.3), ["barrier"])

    rho = sim.density_matrix(circuit, None, noise_model)

    assert_close(rho, aer_density(circuit, noise_model, [])[None])


def test_noise_on_id_and_delay():
    circuit = QuantumCircuit(2)
    circuit.x(0)
    circuit.x(1)
    circuit.id(0)
    circuit.delay(100, 1)
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.3), ["id"])
    noise_model.add_all_qubit_quantum_error(phase_amplitude_damping_error(0.2, 0.1), ["delay"])

    rho = sim.density_matrix(circuit, None, noise_model)

    assert_close(rho, aer_density(circuit, noise_model, [])[None])


def hardware_readout_expval(rho: np.ndarray, label: str) -> float:
    """What hardware reports for Pauli ``label``: rotate X/Y qubits into Z, read every qubit
    through ``CONFUSION``, average the product of the +-1 outcomes on the label's support."""
    n = len(label)
    state = DensityMatrix(rho)
    for q, letter in enumerate(reversed(label)):
        if letter == "X":
            state = state.evolve(Operator.from_label("H"), [q])
        elif letter == "Y":
            state = state.evolve(Operator.from_label("H") @ Operator.from_label("S").adjoint(), [q])
    true = state.probabilities()
    support = [q for q, letter in enumerate(reversed(label)) if letter != "I"]
    total = 0.0
    for t in range(2**n):
        for read in range(2**n):
            weight = true[t]
            for q in range(n):
                weight *= CONFUSION[q][(t >> q) & 1, (read >> q) & 1]
            total += weight * (-1) ** sum((read >> q) & 1 for q in support)
    return total


def test_readout_error_on_x_and_y_observables_as_hardware_measures_them():
    """X and Y factors are measured after a basis rotation, so readout error applies to them
    too (``sim.apply_readout``); the reference rotates and reads by brute force."""
    circuit = noisy_circuit()
    noise_model = readout_model(quantum_noise=True)
    labels = ["IIX", "IYI", "XZY", "YYI", "ZXZ"]
    values = random_values(circuit.num_parameters, 2, 9)

    result = sim.expval(circuit, values, labels, noise_model)

    expected = [
        [hardware_readout_expval(aer_density(circuit, noise_model, row), label) for label in labels]
        for row in values
    ]
    assert_close(result, expected)


def test_apply_readout_rewrites_any_pauli_sum_exactly():
    readout = {q: CONFUSION[q] for q in range(3)}
    rho = DensityMatrix(random_statevector(8, seed=12))
    observable = SparsePauliOp(["XZY", "IIZ", "YII", "III"], [0.5, -1.0, 2.0, 0.3])

    (rewritten,) = sim.apply_readout([observable], readout)

    expected = sum(
        coefficient.real * hardware_readout_expval(rho.data, label)
        for label, coefficient in zip(observable.paulis.to_labels(), observable.coeffs, strict=True)
    )
    assert rho.expectation_value(rewritten).real == pytest.approx(expected, abs=1e-12)


def test_custom_gates_are_expanded_as_aer_expands_them_before_noise_applies():
    """Aer simulates its own instruction set: a custom gate, ``ch`` or ``iswap`` is expanded
    first (a Qiskit user transpiles for Aer), and the noise model's errors act on what is left,
    inner ``rx`` and ``cx`` included."""
    theta = ParameterVector("theta", 2)
    block = QuantumCircuit(2, name="block")
    block.rx(theta[0], 0)
    block.cx(0, 1)
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.append(block.to_gate(), [0, 2])
    circuit.ch(2, 1)
    circuit.iswap(0, 1)
    circuit.ry(theta[1], 2)
    noise_model = NoiseModel(basis_gates=["rx", "ry", "cx", "h"])
    noise_model.add_all_qubit_quantum_error(amplitude_damping_error(0.2), ["rx", "h"])
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    values = random_values(2, 2, 13)

    rho = sim.density_matrix(circuit, values, noise_model)

    simulator = AerSimulator(method="density_matrix", noise_model=noise_model)
    expected = []
    for row in values:
        runnable = transpile(
            bind(circuit, row), AerSimulator(method="density_matrix"), optimization_level=0
        )
        runnable.save_density_matrix()
        expected.append(simulator.run(runnable).result().data(0)["density_matrix"])
    assert_close(rho, np.array(expected))


def test_an_errors_kraus_form_is_converted_once_for_every_reader(monkeypatch):
    """Each compiled program reads its noise model afresh; the Kraus form of an error is
    computed once (by the error's id) and equals qiskit's."""
    import qiskit.quantum_info

    error = depolarizing_error(0.02, 2).compose(
        amplitude_damping_error(0.01).tensor(amplitude_damping_error(0.01))
    )
    model = NoiseModel()
    model.add_all_qubit_quantum_error(error, ["rxx"])
    calls = []

    class CountingKraus(Kraus):
        def __init__(self, *args, **kwargs):
            calls.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(qiskit.quantum_info, "Kraus", CountingKraus)
    gate = QuantumCircuit(2)
    gate.rxx(0.3, 0, 1)
    operation = gate.data[0].operation
    first = sim.NoiseReader(model).kraus(operation, (0, 1))
    second = sim.NoiseReader(model).kraus(operation, (1, 0))
    assert len(calls) == 1
    assert Kraus(first) == Kraus(error) and second is first
