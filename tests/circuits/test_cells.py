"""Per-step cells: layout, observables, closed-form checks and references."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import DensityMatrix, Operator, Pauli, Statevector

from circuits import ansatz, cells


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


def expvals(circuit: QuantumCircuit, labels: list[str]) -> np.ndarray:
    state = Statevector(circuit)
    return np.array([state.expectation_value(Pauli(label)).real for label in labels])


def test_qlstm_gate_layout_and_observables():
    cell = cells.qlstm_gate(n_qubits=4, n_inputs=3, reps=1, weight_prefix="w_forget")
    assert cell.n_qubits == 4
    assert cell.observables == ["IIIZ", "IIZI", "IZII", "ZIII"]
    assert cell.data_qubits == (0, 1, 2)
    assert cell.hidden_qubits == ()
    assert [p.name for p in cell.inputs] == ["x[0]", "x[1]", "x[2]"]
    assert cell.weights.name == "w_forget"
    assert set(cell.circuit.parameters) == {*cell.inputs, *cell.weights}


def test_qlstm_gate_equals_encoding_then_ansatz():
    cell = cells.qlstm_gate(n_qubits=3, n_inputs=2, reps=2, ansatz="brickwork")
    block, weights = ansatz.brickwork(3, 2)
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-1, 1, 2), rng.uniform(-np.pi, np.pi, len(weights))
    reference = QuantumCircuit(3)
    reference.h([0, 1, 2])
    reference.ry(x[0], 0)
    reference.ry(x[1], 1)
    reference.compose(block.assign_parameters(w), inplace=True)
    bound = cell.circuit.assign_parameters(
        {**dict(zip(cell.inputs, x, strict=True)), **dict(zip(cell.weights, w, strict=True))}
    )
    np.testing.assert_allclose(Operator(bound).data, Operator(reference).data, atol=1e-12)


def test_qlstm_gate_closed_form_at_zero_weights():
    # ion_native with zero angles is the identity, so <Z_k> = <+| RY(v)^† Z RY(v) |+> = -sin(v).
    cell = cells.qlstm_gate(n_qubits=4, n_inputs=3, reps=2)
    v = np.array([0.3, -0.8, 1.4])
    bound = cell.circuit.assign_parameters(
        {**dict(zip(cell.inputs, v, strict=True)), **dict.fromkeys(cell.weights, 0.0)}
    )
    np.testing.assert_allclose(expvals(bound, cell.observables), [*-np.sin(v), 0.0], atol=1e-12)


def test_qrnn_step_layout_and_closed_form():
    cell = cells.qrnn_step(n_data=2, n_hidden=3, reps=1)
    assert cell.n_qubits == 5
    assert cell.data_qubits == (0, 1)
    assert cell.hidden_qubits == (2, 3, 4)
    assert cell.observables == ["IIIIZ", "IIIZI"]
    assert all(inst.operation.name != "reset" for inst in cell.circuit.data)
    x = np.array([0.25, 0.8])
    bound = cell.circuit.assign_parameters(
        {**dict(zip(cell.inputs, x, strict=True)), **dict.fromkeys(cell.weights, 0.0)}
    )
    np.testing.assert_allclose(expvals(bound, cell.observables), np.cos(math.pi * x), atol=1e-12)


def test_qrnn_step_equals_encoding_then_ansatz():
    cell = cells.qrnn_step(n_data=1, n_hidden=2, reps=1, ansatz="hardware_efficient")
    block, weights = ansatz.hardware_efficient(3, 1)
    rng = np.random.default_rng(4)
    x, w = rng.uniform(0, 1, 1), rng.uniform(-np.pi, np.pi, len(weights))
    reference = QuantumCircuit(3)
    reference.ry(math.pi * x[0], 0)
    reference.compose(block.assign_parameters(w), inplace=True)
    bound = cell.circuit.assign_parameters(
        {**dict(zip(cell.inputs, x, strict=True)), **dict(zip(cell.weights, w, strict=True))}
    )
    np.testing.assert_allclose(Operator(bound).data, Operator(reference).data, atol=1e-12)


def test_reservoir_is_fixed_by_seed():
    a = cells.reservoir(n_qubits=4, n_inputs=2, seed=7, reps=2)
    b = cells.reservoir(n_qubits=4, n_inputs=2, seed=7, reps=2)
    c = cells.reservoir(n_qubits=4, n_inputs=2, seed=8, reps=2)
    x = [0.2, 0.6]
    op_a, op_b, op_c = (Operator(cell.circuit.assign_parameters(x)).data for cell in (a, b, c))
    np.testing.assert_array_equal(op_a, op_b)
    assert not np.allclose(op_a, op_c)
    assert len(a.weights) == 0
    assert list(a.circuit.parameters) == list(a.inputs)
    assert a.data_qubits == (0, 1)
    assert a.hidden_qubits == (2, 3)
    assert a.observables == ["IIIZ", "IIZI", "IZII", "ZIII", "IIZZ", "IZZI", "ZZII"]


def test_reservoir_encodes_its_input():
    cell = cells.reservoir(n_qubits=3, n_inputs=1, seed=0, reps=1)
    low = expvals(cell.circuit.assign_parameters([0.1]), cell.observables)
    high = expvals(cell.circuit.assign_parameters([0.9]), cell.observables)
    assert not np.allclose(low, high)


@pytest.mark.parametrize("n_qubits", range(1, 11))
def test_cells_build_at_every_size(n_qubits):
    gate = cells.qlstm_gate(n_qubits=n_qubits)
    assert len(gate.inputs) == len(gate.observables) == n_qubits
    reservoir = cells.reservoir(n_qubits=n_qubits)
    assert len(reservoir.observables) == 2 * n_qubits - 1
    if n_qubits >= 2:
        step = cells.qrnn_step(n_data=1, n_hidden=n_qubits - 1)
        assert step.n_qubits == n_qubits
        assert len(step.observables) == 1


def test_default_qrnn_step_uses_ten_qubits():
    cell = cells.qrnn_step()
    assert cell.n_qubits == 10
    assert len(cell.inputs) == 4
    assert len(cell.weights) == 2 * (2 * 10 + 45)


def test_cell_is_frozen():
    cell = cells.qrnn_step(n_data=1, n_hidden=1, reps=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.observables = []  # type: ignore[misc]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: cells.qlstm_gate(n_qubits=4, n_inputs=5), ValueError, "n_inputs=5.*n_qubits=4"),
        (lambda: cells.qlstm_gate(ansatz="qaoa"), ValueError, "unknown ansatz 'qaoa'"),
        (lambda: cells.qlstm_gate(input_prefix="w"), ValueError, "must differ"),
        (lambda: cells.qrnn_step(n_hidden=0), ValueError, "n_hidden must be >= 1"),
        (lambda: cells.qrnn_step(n_data=1.0), TypeError, "n_data must be an integer"),
        (lambda: cells.reservoir(n_qubits=2, n_inputs=3), ValueError, "n_inputs=3 exceeds"),
        (lambda: cells.reservoir(seed=-1), ValueError, "seed must be >= 0"),
        (lambda: cells.qrnn_step(2, 1, ansatz=QuantumCircuit(2)), ValueError, "expected n_data"),
        (lambda: cells.qrnn_step(ansatz=3), TypeError, "QuantumCircuit"),
        (lambda: cells.unroll(cells.qrnn_step(1, 1), 0), ValueError, "steps must be >= 1"),
    ],
)
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_qrnn_step_around_a_circuit_ansatz():
    block, weights = ansatz.ion_native(3, 1)
    by_name = cells.qrnn_step(n_data=1, n_hidden=2, reps=1, ansatz="ion_native")
    around = cells.qrnn_step(n_data=1, n_hidden=2, ansatz=block)
    assert list(around.weights) == list(block.parameters)
    assert around.observables == by_name.observables
    assert (around.data_qubits, around.hidden_qubits) == ((0,), (1, 2))
    w = np.random.default_rng(5).uniform(-np.pi, np.pi, len(weights))
    x = {around.inputs[0]: 0.3}
    np.testing.assert_allclose(
        Operator(around.circuit.assign_parameters(x | dict(zip(weights, w, strict=True)))).data,
        Operator(
            by_name.circuit.assign_parameters(
                {by_name.inputs[0]: 0.3} | dict(zip(by_name.weights, w, strict=True))
            )
        ).data,
        atol=1e-12,
    )


def test_qrnn_step_inputs_avoid_the_circuits_parameter_names():
    circuit = QuantumCircuit(2)
    circuit.rx(ParameterVector("x", 1)[0], 1)
    cell = cells.qrnn_step(n_data=1, n_hidden=1, ansatz=circuit)
    assert cell.inputs.name == "_x"
    assert set(cell.circuit.parameters) == {*cell.inputs, *cell.weights}


def test_unroll_writes_steps_markers_and_resets():
    cell = cells.qrnn_step(n_data=2, n_hidden=1, reps=1)
    circuit, inputs = cells.unroll(cell, 3)
    assert circuit.name == "qrnn_step_x3" and circuit.num_qubits == 3
    assert [vector.name for vector in inputs] == ["x000000", "x000001", "x000002"]
    assert set(circuit.parameters) == {*cell.weights, *(p for vector in inputs for p in vector)}
    names = [instruction.operation.name for instruction in circuit.data]
    step = len(cell.circuit.data)
    assert names == 3 * ([*names[:step], "barrier", "reset", "reset"])
    markers = [
        i for i, instruction in enumerate(circuit.data) if instruction.operation.name == "barrier"
    ]
    assert markers == [step, 2 * step + 3, 3 * step + 6]
    assert {circuit.data[i].operation.label for i in markers} == {cells.MARKER_LABEL}
    resets = [
        circuit.find_bit(i.qubits[0]).index for i in circuit.data if i.operation.name == "reset"
    ]
    assert resets == [0, 1] * 3


def test_unroll_agrees_with_resetting_by_hand():
    """The unrolled circuit's final state equals evolving step by step with explicit resets
    (qiskit DensityMatrix), for the reservoir cell."""
    cell = cells.reservoir(n_qubits=3, n_inputs=1, seed=1, reps=1)
    circuit, inputs = cells.unroll(cell, 2)
    x = [0.2, 0.7]
    bound = circuit.assign_parameters(
        {vector[0]: value for vector, value in zip(inputs, x, strict=True)}
    )
    state = DensityMatrix.from_label("000")
    for value in x:
        state = state.evolve(cell.circuit.assign_parameters([value])).reset([0])
    np.testing.assert_allclose(DensityMatrix(bound).data, state.data, atol=1e-12)


def test_a_marker_is_a_labelled_barrier_on_every_qubit():
    circuit = QuantumCircuit(3)
    cells.add_marker(circuit)
    (instruction,) = circuit.data
    assert instruction.operation.name == "barrier"
    assert instruction.operation.label == cells.MARKER_LABEL == "qrnn.marker"
    assert len(instruction.qubits) == 3


@pytest.mark.parametrize(
    ("build", "old", "new"),
    [
        (lambda **kw: cells.qlstm_gate(n_qubits=3, **kw), "n_layers", "reps"),
        (lambda **kw: cells.qrnn_step(n_data=1, n_hidden=2, **kw), "n_layers", "reps"),
        (lambda **kw: cells.reservoir(n_qubits=3, **kw), "depth", "reps"),
    ],
)
def test_old_depth_keywords_are_deprecated_aliases(build, old, new):
    expected = build(**{new: 1})
    with pytest.warns(DeprecationWarning, match=f"{old}= is deprecated.*use {new}="):
        cell = build(**{old: 1})
    assert layout(cell.circuit) == layout(expected.circuit)
    with pytest.raises(TypeError, match=f"both {new}= and its deprecated alias {old}="):
        build(**{old: 1, new: 1})
