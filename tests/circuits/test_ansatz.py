"""Ansatz templates: structure, hand-built references, naming, registry and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Operator

from circuits import ansatz


def layout(circuit: QuantumCircuit) -> list[tuple]:
    """Gate names, qubits and angle expressions (as text): equal for circuits built alike,
    whose parameters are distinct objects with the same names."""
    return [
        (
            i.operation.name,
            [circuit.find_bit(q).index for q in i.qubits],
            [str(p) for p in i.operation.params],
        )
        for i in circuit.data
    ]


def bind(circuit: QuantumCircuit, seed: int = 0) -> tuple[QuantumCircuit, np.ndarray]:
    values = np.random.default_rng(seed).uniform(-np.pi, np.pi, circuit.num_parameters)
    return circuit.assign_parameters(values), values


def assert_same_operator(a: QuantumCircuit, b: QuantumCircuit) -> None:
    np.testing.assert_allclose(Operator(a).data, Operator(b).data, atol=1e-12)


def test_hardware_efficient_matches_hand_built_three_qubits():
    circuit, weights = ansatz.hardware_efficient(3, reps=2, rotations=("ry", "rz"))
    _, w = bind(circuit)
    reference = QuantumCircuit(3)
    for layer in range(2):
        base = 6 * layer
        reference.ry(w[base + 0], 0)
        reference.rz(w[base + 1], 0)
        reference.ry(w[base + 2], 1)
        reference.rz(w[base + 3], 1)
        reference.ry(w[base + 4], 2)
        reference.rz(w[base + 5], 2)
        reference.cx(0, 1)
        reference.cx(1, 2)
        reference.cx(2, 0)
    assert_same_operator(circuit.assign_parameters(w), reference)
    assert len(weights) == 12


def test_hardware_efficient_cz_two_qubits_has_one_pair():
    circuit, weights = ansatz.hardware_efficient(2, reps=1, entangler="cz")
    _, w = bind(circuit)
    reference = QuantumCircuit(2)
    reference.rx(w[0], 0)
    reference.ry(w[1], 0)
    reference.rz(w[2], 0)
    reference.rx(w[3], 1)
    reference.ry(w[4], 1)
    reference.rz(w[5], 1)
    reference.cz(0, 1)
    assert_same_operator(circuit.assign_parameters(w), reference)
    assert len(weights) == 6


def test_ion_native_all_to_all_matches_hand_built():
    circuit, weights = ansatz.ion_native(3, reps=1, connectivity="all")
    _, w = bind(circuit)
    reference = QuantumCircuit(3)
    reference.r(w[0], w[1], 0)
    reference.r(w[2], w[3], 1)
    reference.r(w[4], w[5], 2)
    reference.rxx(w[6], 0, 1)
    reference.rxx(w[7], 0, 2)
    reference.rxx(w[8], 1, 2)
    assert_same_operator(circuit.assign_parameters(w), reference)
    assert len(weights) == 9


def test_ion_native_ring_counts_and_pairs():
    circuit, weights = ansatz.ion_native(5, reps=2, connectivity="ring")
    assert len(weights) == 2 * (2 * 5 + 5)
    pairs = [
        tuple(circuit.find_bit(q).index for q in inst.qubits)
        for inst in circuit.data
        if inst.operation.name == "rxx"
    ]
    assert pairs[:5] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]


def test_ion_native_single_qubit_is_the_carrier_rotation():
    # Independent reference, from the definition of the carrier rotation:
    # R(theta, phi) = cos(theta/2) I - i sin(theta/2) (cos(phi) X + sin(phi) Y).
    circuit, _ = ansatz.ion_native(1, reps=1)
    theta, phi = 0.7, -1.3
    x = np.array([[0, 1], [1, 0]])
    y = np.array([[0, -1j], [1j, 0]])
    expected = np.cos(theta / 2) * np.eye(2) - 1j * np.sin(theta / 2) * (
        np.cos(phi) * x + np.sin(phi) * y
    )
    np.testing.assert_allclose(Operator(circuit.assign_parameters([theta, phi])).data, expected)


def test_brickwork_matches_hand_built_five_qubits():
    circuit, weights = ansatz.brickwork(5, reps=1, entangler="cz")
    _, w = bind(circuit)
    reference = QuantumCircuit(5)
    for q in range(5):
        reference.ry(w[q], q)
    reference.cz(0, 1)
    reference.cz(2, 3)
    reference.cz(1, 2)
    reference.cz(3, 4)
    assert_same_operator(circuit.assign_parameters(w), reference)
    assert len(weights) == 5


@pytest.mark.parametrize("n_qubits", range(1, 11))
@pytest.mark.parametrize("name", ["hardware_efficient", "ion_native", "brickwork"])
def test_every_size_builds_with_expected_weight_count(name, n_qubits):
    circuit, weights = ansatz.get(name, n_qubits=n_qubits, reps=2, prefix="theta")
    n_pairs_all = n_qubits * (n_qubits - 1) // 2
    expected = {
        "hardware_efficient": 2 * n_qubits * 3,
        "ion_native": 2 * (2 * n_qubits + n_pairs_all),
        "brickwork": 2 * n_qubits,
    }[name]
    assert circuit.num_qubits == n_qubits
    assert len(weights) == expected
    # One vector: circuit.parameters is the vector in index order, all named theta[i].
    assert list(circuit.parameters) == list(weights)
    assert all(p.name == f"theta[{i}]" for i, p in enumerate(circuit.parameters))
    two_qubit = [inst for inst in circuit.data if inst.operation.num_qubits == 2]
    if n_qubits == 1:
        assert two_qubit == []


@pytest.mark.parametrize("name", ["hardware_efficient", "ion_native", "brickwork"])
def test_rotations_of_one_qubit_are_adjacent(name):
    circuit, _ = ansatz.get(name, n_qubits=4, reps=2)
    # Within each layer the one-qubit gates appear qubit by qubit, never interleaved.
    blocks: list[list[int]] = [[]]
    for inst in circuit.data:
        if inst.operation.num_qubits == 1:
            blocks[-1].append(circuit.find_bit(inst.qubits[0]).index)
        elif blocks[-1]:
            blocks.append([])
    for block in (b for b in blocks if b):
        assert block == sorted(block)


def test_registry_names_and_options():
    assert ansatz.names() == ("brickwork", "hardware_efficient", "ion_native")
    direct, _ = ansatz.ion_native(4, 1, connectivity="ring", prefix="v")
    by_name, weights = ansatz.get("ion_native", 4, 1, prefix="v", connectivity="ring")
    assert weights.name == "v"
    _, w = bind(direct)
    assert_same_operator(direct.assign_parameters(w), by_name.assign_parameters(w))


def test_registry_unknown_name_lists_names():
    with pytest.raises(ValueError, match=r"unknown ansatz 'ionnative'.*brickwork.*ion_native"):
        ansatz.get("ionnative")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_qubits": 0}, ValueError, "n_qubits must be >= 1"),
        ({"n_qubits": 2.5}, TypeError, "n_qubits must be an integer"),
        ({"n_qubits": True}, TypeError, "bool"),
        ({"reps": 0}, ValueError, "reps"),
        ({"entangler": "cy"}, ValueError, r"entangler must be one of \['cx', 'cz'\]"),
        ({"rotations": ()}, ValueError, "rotations"),
        ({"rotations": ("ry", "rw")}, ValueError, "'rw'"),
        ({"prefix": ""}, ValueError, "prefix"),
        ({"prefix": "1w"}, ValueError, "'1w'"),
    ],
)
def test_hardware_efficient_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        ansatz.hardware_efficient(**kwargs)


def test_ion_native_rejects_unknown_connectivity():
    with pytest.raises(ValueError, match=r"connectivity must be one of \['all', 'ring'\]"):
        ansatz.ion_native(3, connectivity="line")


@pytest.mark.parametrize("name", ansatz.names())
def test_n_layers_is_a_deprecated_alias_of_reps(name):
    builder = getattr(ansatz, name)
    expected, _ = builder(3, reps=2)
    with pytest.warns(DeprecationWarning, match=r"n_layers= is deprecated.*use reps="):
        old, _ = builder(3, n_layers=2)
    assert layout(old) == layout(expected)
    with pytest.warns(DeprecationWarning, match="reps="):
        by_name, _ = ansatz.get(name, 3, n_layers=2)
    assert layout(by_name) == layout(expected)
    with pytest.raises(TypeError, match="both reps= and its deprecated alias n_layers="):
        builder(3, reps=2, n_layers=2)
    with pytest.raises(TypeError, match="both reps="):
        ansatz.get(name, 3, reps=1, n_layers=2)
