"""Encoding templates against closed forms and hand-built circuits."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Operator, Statevector

from circuits import angle_encoding, reuploading


def product_state(single_qubit_states: list[np.ndarray]) -> np.ndarray:
    """Little-endian product state: entry k of the list is qubit k."""
    return reduce(lambda acc, s: np.kron(s, acc), single_qubit_states)


@pytest.mark.parametrize(
    ("rotation", "state_of"),
    [
        ("ry", lambda a: np.array([np.cos(a / 2), np.sin(a / 2)])),
        ("rx", lambda a: np.array([np.cos(a / 2), -1j * np.sin(a / 2)])),
        ("rz", lambda a: np.array([np.exp(-1j * a / 2), 0])),
    ],
)
def test_angle_encoding_is_a_product_of_rotations(rotation, state_of):
    x = np.array([0.1, 0.5, 0.9, -0.3])
    circuit, inputs = angle_encoding(4, rotation=rotation, scale=math.pi)
    state = Statevector(circuit.assign_parameters(x)).data
    expected = product_state([state_of(math.pi * v) for v in x])
    np.testing.assert_allclose(state, expected, atol=1e-12)
    assert [p.name for p in inputs] == ["x[0]", "x[1]", "x[2]", "x[3]"]
    assert list(circuit.parameters) == list(inputs)


def test_angle_encoding_on_a_subset_of_qubits():
    circuit, inputs = angle_encoding(5, qubits=[3, 1], prefix="data")
    assert circuit.num_qubits == 5
    assert [p.name for p in inputs] == ["data[0]", "data[1]"]
    x = [0.4, -1.1]
    reference = QuantumCircuit(5)
    reference.ry(0.4, 3)
    reference.ry(-1.1, 1)
    np.testing.assert_allclose(
        Operator(circuit.assign_parameters(x)).data, Operator(reference).data, atol=1e-12
    )


@pytest.mark.parametrize("n_qubits", range(1, 11))
def test_angle_encoding_sizes(n_qubits):
    circuit, inputs = angle_encoding(n_qubits)
    assert circuit.num_qubits == n_qubits == len(inputs) == circuit.size()


def test_reuploading_matches_hand_built_with_tiled_inputs():
    circuit, inputs, weights = reuploading(3, reps=2, n_inputs=2, scale=2.0)
    assert len(inputs) == 2
    assert len(weights) == 2 * 3 * 2
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 2)
    w = rng.uniform(-np.pi, np.pi, 12)
    reference = QuantumCircuit(3)
    for layer in range(2):
        for q in range(3):
            reference.ry(2.0 * x[q % 2], q)
            reference.ry(w[6 * layer + 2 * q], q)
            reference.rz(w[6 * layer + 2 * q + 1], q)
        reference.cz(0, 1)
        reference.cz(1, 2)
        reference.cz(2, 0)
    bound = circuit.assign_parameters(
        {**dict(zip(inputs, x, strict=True)), **dict(zip(weights, w, strict=True))}
    )
    np.testing.assert_allclose(Operator(bound).data, Operator(reference).data, atol=1e-12)


def test_reuploading_on_a_register_leaves_other_qubits_alone():
    circuit, inputs, weights = reuploading(6, reps=1, qubits=[0, 2, 4], rotation="rx")
    touched = {circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits}
    assert touched == {0, 2, 4}
    assert len(inputs) == 3
    assert len(weights) == 6
    # Parameter names tell inputs from weights; circuit.parameters sorts by name.
    assert {p.name[0] for p in inputs} == {"x"}
    assert {p.name[0] for p in weights} == {"w"}
    assert list(circuit.parameters) == [*weights, *inputs]


@pytest.mark.parametrize("n_qubits", range(1, 11))
def test_reuploading_sizes(n_qubits):
    circuit, inputs, weights = reuploading(n_qubits, reps=2)
    assert circuit.num_qubits == n_qubits
    assert len(inputs) == n_qubits
    assert len(weights) == 2 * n_qubits * 2


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: angle_encoding(3, rotation="ryy"), ValueError, "rotation must be one of"),
        (lambda: angle_encoding(3, scale=float("nan")), ValueError, "scale must be finite"),
        (lambda: angle_encoding(3, scale="pi"), TypeError, "scale must be a real number"),
        (lambda: angle_encoding(3, qubits=[0, 3]), ValueError, r"\[0, 3\).*\[3\]"),
        (lambda: angle_encoding(3, qubits=[1, 1]), ValueError, "must not repeat"),
        (lambda: angle_encoding(3, qubits=[]), ValueError, "at least one qubit"),
        (lambda: reuploading(3, n_inputs=4), ValueError, "n_inputs=4 exceeds the 3 qubits"),
        (lambda: reuploading(3, prefix="a", weight_prefix="a"), ValueError, "must differ"),
        (lambda: reuploading(3, entangler="swap"), ValueError, "entangler"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_n_layers_is_a_deprecated_alias_of_reps():
    with pytest.warns(DeprecationWarning, match=r"reuploading\(\): n_layers= is deprecated"):
        old = reuploading(3, n_layers=2)
    assert str(old[0].draw()) == str(reuploading(3, reps=2)[0].draw())
    with pytest.raises(TypeError, match="both reps= and its deprecated alias n_layers="):
        reuploading(3, reps=1, n_layers=2)
