"""circuits.interop.from_pennylane: PennyLane quantum functions in, checked against PennyLane's
own matrices and qiskit.quantum_info, and round trips with to_pennylane both ways."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from circuits.interop import (
    SUPPORTED_OPERATIONS,
    from_pennylane,
    operations_circuit,
    supports_operation,
    to_pennylane,
)


def little_endian(matrix: np.ndarray, n: int) -> np.ndarray:
    """A PennyLane matrix (wire 0 most significant) in Qiskit's order (qubit 0 least)."""
    tensor = matrix.reshape([2] * (2 * n))
    axes = [*range(n)][::-1] + [n + k for k in range(n)][::-1]
    return tensor.transpose(axes).reshape(2**n, 2**n)


# PennyLane operations with a Qiskit gate: (constructor, number of wires, number of angles)
ONE_QUBIT = [
    (qml.PauliX, 0), (qml.PauliY, 0), (qml.PauliZ, 0), (qml.Hadamard, 0), (qml.S, 0),
    (qml.T, 0), (qml.SX, 0), (qml.RX, 1), (qml.RY, 1), (qml.RZ, 1), (qml.PhaseShift, 1),
    (qml.U3, 3), (qml.Rot, 3),
]  # fmt: skip
TWO_QUBIT = [
    (qml.CNOT, 0), (qml.CY, 0), (qml.CZ, 0), (qml.CH, 0), (qml.SWAP, 0), (qml.ISWAP, 0),
    (qml.ECR, 0), (qml.CRX, 1), (qml.CRY, 1), (qml.CRZ, 1), (qml.ControlledPhaseShift, 1),
    (qml.IsingXX, 1), (qml.IsingYY, 1), (qml.IsingZZ, 1), (qml.MultiRZ, 1),
]  # fmt: skip
THREE_QUBIT = [(qml.Toffoli, 0), (qml.CCZ, 0), (qml.CSWAP, 0)]


def random_qfunc(n_qubits: int, n_ops: int, seed: int):
    """A random quantum function of supported operations: qfunc(params) with params (n_params,)
    or (batch, n_params) used in order, and the number of parameters."""
    rng = np.random.default_rng(seed)
    plan = []
    n_params = 0
    for _ in range(n_ops):
        kind = rng.integers(6)
        if kind == 0 and n_qubits >= 3:
            op, n_angles = THREE_QUBIT[rng.integers(len(THREE_QUBIT))]
            wires = rng.choice(n_qubits, 3, replace=False).tolist()
        elif kind in (1, 2):
            op, n_angles = TWO_QUBIT[rng.integers(len(TWO_QUBIT))]
            wires = rng.choice(n_qubits, 2, replace=False).tolist()
        elif kind == 3:
            word = ["X", "Y", "Z", "XX", "YY", "ZZ", "ZX", "XZ"][rng.integers(8)]
            wires = rng.choice(n_qubits, len(word), replace=False).tolist()
            op, n_angles = (lambda *a, wires, w=word: qml.PauliRot(*a, w, wires=wires)), 1
        else:
            op, n_angles = ONE_QUBIT[rng.integers(len(ONE_QUBIT))]
            wires = [int(rng.integers(n_qubits))]
        plan.append((op, n_angles, wires, n_params))
        n_params += n_angles
    adjoints = [qml.S, qml.T, qml.SX]

    def qfunc(params):
        for op, n_angles, wires, start in plan:
            op(*[params[..., start + k] for k in range(n_angles)], wires=wires)
        for k, gate in enumerate(adjoints):  # Adjoint(S), Adjoint(T), Adjoint(SX)
            qml.adjoint(gate(wires=k % n_qubits))
        qml.GlobalPhase(params[..., 0] if n_params else 0.3)

    return qfunc, n_params


@pytest.mark.parametrize("seed", range(6))
def test_a_random_pennylane_circuit_becomes_the_same_operator(seed):
    n = 3 + seed % 2
    qfunc, n_params = random_qfunc(n, 14, seed)
    params = np.random.default_rng(100 + seed).uniform(-np.pi, np.pi, n_params)
    imported = from_pennylane(qfunc, params)
    # same parameter order: circuit.parameters bound to the traced values, which are params
    assert imported.circuit.num_parameters == len(imported.values) == n_params + 1
    np.testing.assert_allclose(imported.values[:n_params], params)
    bound = imported.circuit.assign_parameters(imported.values)
    expected = qml.matrix(qfunc, wire_order=range(n))(params)
    np.testing.assert_allclose(Operator(bound).data, little_endian(expected, n), atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_pennylane_to_qiskit_to_pennylane_round_trip(seed):
    n = 3
    qfunc, n_params = random_qfunc(n, 12, 50 + seed)
    params = np.random.default_rng(seed).uniform(-np.pi, np.pi, n_params)
    imported = from_pennylane(qfunc, params)
    apply = to_pennylane(imported.circuit)
    back = qml.matrix(lambda v: apply(v), wire_order=range(n))(imported.values)
    np.testing.assert_allclose(back, qml.matrix(qfunc, wire_order=range(n))(params), atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_qiskit_to_pennylane_to_qiskit_round_trip(seed):
    circuit = random_circuit(3, 6, max_operands=3, seed=seed)
    imported = from_pennylane(to_pennylane(circuit))
    bound = imported.circuit.assign_parameters(imported.values)
    assert Operator(bound).equiv(Operator(circuit), atol=1e-9)
    # global phase included: the states agree exactly
    np.testing.assert_allclose(Statevector(bound).data, Statevector(circuit).data, atol=1e-9)


def test_a_parameterized_qiskit_circuit_keeps_its_parameter_order_through_a_round_trip():
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    circuit = QuantumCircuit(2)
    circuit.ry(b, 0)
    circuit.rzz(a, 0, 1)
    circuit.append(lib.RGate(c, 0.4), [1])
    values = np.array([0.3, -1.1, 0.7])  # circuit.parameters order: a, b, c
    imported = from_pennylane(to_pennylane(circuit), values)
    bound = imported.circuit.assign_parameters(imported.values)
    assert Operator(bound).equiv(Operator(circuit.assign_parameters(values)), atol=1e-10)


def test_parameters_follow_pennylanes_order_and_broadcasting_gives_rows():
    def qfunc(x, w):
        qml.RY(w[1], wires=0)
        qml.RX(x, wires=1)
        qml.CRZ(w[0], wires=[1, 0])
        return qml.expval(qml.Z(0) @ qml.Z(1))

    x = np.array([0.1, 0.2, 0.3])  # broadcast over 3
    w = np.array([0.5, -0.7])
    imported = from_pennylane(qfunc, x, w)
    assert [p.name for p in imported.circuit.parameters] == ["theta[0]", "theta[1]", "theta[2]"]
    np.testing.assert_allclose(imported.values, [[-0.7, xi, 0.5] for xi in x])
    for row, xi in zip(imported.values, x, strict=True):
        state = Statevector(imported.circuit.assign_parameters(row))
        reference = qml.QNode(qfunc, qml.device("default.qubit", wires=2))(xi, w)
        assert state.expectation_value(imported.observables[0]).real == pytest.approx(
            float(reference), abs=1e-10
        )


def test_observables_become_sparse_pauli_ops_in_qiskit_qubit_order():
    def qfunc():
        qml.Hadamard(wires="a")
        qml.CNOT(wires=["a", "b"])
        return qml.expval(qml.Z("a") @ qml.X("b")), qml.expval(0.5 * qml.Y("b") - 2.0 * qml.Z("a"))

    imported = from_pennylane(qfunc)
    assert imported.wires == ("a", "b")  # first use; qubit 0 = "a"
    assert imported.observables[0] == SparsePauliOp(["XZ"])
    assert imported.observables[1].simplify() == SparsePauliOp(["YI", "IZ"], [0.5, -2.0])


def test_integer_wires_are_sorted_and_can_be_given():
    def qfunc():
        qml.PauliX(wires=2)
        qml.CNOT(wires=[0, 2])
        return qml.expval(qml.Z(2))

    assert from_pennylane(qfunc).wires == (0, 2)
    imported = from_pennylane(qfunc, wires=[2, 0, 1])
    assert imported.circuit.num_qubits == 3
    assert imported.observables[0] == SparsePauliOp(["IIZ"])


def test_an_operation_without_an_equivalent_or_a_decomposition_is_an_error_that_names_it():
    def qfunc(x):
        qml.RX(x, wires=0)
        qml.DoubleExcitationPlus(0.4, wires=[0, 1, 2, 3])

    with pytest.raises(ValueError, match=r"'DoubleExcitationPlus' on wires \[0, 1, 2, 3\]"):
        from_pennylane(qfunc, 0.3)


def test_other_operations_are_decomposed_by_pennylane_first():
    def qfunc(x, w):
        qml.AngleEmbedding(x, wires=range(3))
        qml.CRot(*w, wires=[0, 2])  # no Qiskit gate here: its decomposition is translated
        qml.PauliRot(0.2, "XYZ", wires=[0, 1, 2])
        qml.QFT(wires=[0, 1, 2])

    x, w = np.array([0.1, -0.4, 0.9]), np.array([0.3, 1.1, -0.5])
    imported = from_pennylane(qfunc, x, w)
    np.testing.assert_allclose(imported.values[:3], x)  # the embedding's angles come first
    bound = imported.circuit.assign_parameters(imported.values)
    expected = qml.matrix(qfunc, wire_order=range(3))(x, w)
    np.testing.assert_allclose(Operator(bound).data, little_endian(expected, 3), atol=1e-10)


def test_only_expectation_values_of_pauli_observables_become_observables():
    with pytest.raises(ValueError, match=r"probs\(wires=\[0\]\) is not one"):
        from_pennylane(lambda: qml.probs(wires=[0]))
    with pytest.raises(ValueError, match="is not a sum of Pauli words"):
        from_pennylane(lambda: qml.expval(qml.Hermitian(np.eye(2), wires=0)))


def test_supported_operations_and_the_constant_unitary():
    assert "CNOT" in SUPPORTED_OPERATIONS and "CRot" not in SUPPORTED_OPERATIONS
    assert supports_operation(qml.PauliRot(0.1, "ZX", wires=[0, 1]))
    assert not supports_operation(qml.MultiRZ(0.1, wires=[0, 1, 2]))
    matrix = qml.matrix(qml.CRY(0.4, wires=[0, 1]))
    circuit, values = operations_circuit([qml.QubitUnitary(matrix, wires=[1, 0])], [0, 1])
    assert values == []
    reference = qml.matrix(qml.QubitUnitary(matrix, wires=[1, 0]), wire_order=[0, 1])
    np.testing.assert_allclose(Operator(circuit).data, little_endian(reference, 2), atol=1e-12)


def test_a_wire_outside_the_given_wires_is_an_error():
    with pytest.raises(ValueError, match="wire 5"):
        from_pennylane(lambda: qml.PauliX(5), wires=[0, 1])
