"""PennyLane translation, observables and file round trips, checked against qiskit.quantum_info."""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from qiskit import qpy
from qiskit.circuit import Instruction, Parameter, ParameterVector, QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import (
    DensityMatrix,
    Operator,
    Pauli,
    SparsePauliOp,
    Statevector,
    random_unitary,
)

from circuits import ansatz, cells, encoding
from circuits.interop import (
    QASMError,
    from_qasm2,
    from_qasm3,
    load_qpy,
    pauli_observable,
    save_qpy,
    to_pennylane,
    to_qasm3,
)

# --- helpers: PennyLane is big-endian over wires, Qiskit little-endian over qubits ---


def little_endian_state(states: np.ndarray, n_qubits: int) -> np.ndarray:
    """(..., 2**n) state indexed with wire 0 most significant -> qubit 0 least significant."""
    lead = states.shape[:-1]
    tensor = states.reshape(*lead, *[2] * n_qubits)
    axes = [*range(len(lead)), *[len(lead) + n_qubits - 1 - k for k in range(n_qubits)]]
    return tensor.transpose(axes).reshape(*lead, 2**n_qubits)


def little_endian_matrix(matrix: np.ndarray, n_qubits: int) -> np.ndarray:
    tensor = matrix.reshape([2] * (2 * n_qubits))
    axes = [*range(n_qubits)][::-1] + [n_qubits + k for k in range(n_qubits)][::-1]
    return tensor.transpose(axes).reshape(2**n_qubits, 2**n_qubits)


def pennylane_states(circuit: QuantumCircuit, values=None) -> np.ndarray:
    """Statevector(s) of ``circuit`` run by PennyLane default.qubit, in Qiskit order."""
    apply = to_pennylane(circuit)

    @qml.qnode(qml.device("default.qubit", wires=circuit.num_qubits))
    def state(v):
        apply(v)
        return qml.state()

    return little_endian_state(np.asarray(state(values)), circuit.num_qubits)


def qiskit_state(circuit: QuantumCircuit, values=None) -> np.ndarray:
    bound = circuit if values is None else circuit.assign_parameters(np.asarray(values))
    return Statevector(bound).data


def pennylane_matrix(circuit: QuantumCircuit) -> np.ndarray:
    apply = to_pennylane(circuit)
    matrix = qml.matrix(lambda: apply(), wire_order=range(circuit.num_qubits))()
    return little_endian_matrix(np.asarray(matrix), circuit.num_qubits)


def random_values(circuit: QuantumCircuit, *lead: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-np.pi, np.pi, (*lead, circuit.num_parameters))


# --- gate by gate: full matrices including global phase ---

ANGLES = (0.37, -1.21, 2.05)
GATES = [
    lib.IGate(), lib.XGate(), lib.YGate(), lib.ZGate(), lib.HGate(), lib.SGate(), lib.SdgGate(),
    lib.TGate(), lib.TdgGate(), lib.SXGate(), lib.SXdgGate(),
    lib.RXGate(ANGLES[0]), lib.RYGate(ANGLES[1]), lib.RZGate(ANGLES[2]),
    lib.PhaseGate(ANGLES[0]), lib.U1Gate(ANGLES[1]), lib.U2Gate(*ANGLES[:2]),
    lib.U3Gate(*ANGLES), lib.UGate(*ANGLES), lib.RGate(*ANGLES[:2]),
    lib.RXXGate(ANGLES[0]), lib.RYYGate(ANGLES[1]), lib.RZZGate(ANGLES[2]),
    lib.RZXGate(ANGLES[0]),
    lib.CXGate(), lib.CYGate(), lib.CZGate(), lib.CHGate(), lib.SwapGate(), lib.iSwapGate(),
    lib.ECRGate(), lib.DCXGate(),
    lib.CRXGate(ANGLES[0]), lib.CRYGate(ANGLES[1]), lib.CRZGate(ANGLES[2]),
    lib.CPhaseGate(ANGLES[0]), lib.CUGate(*ANGLES, 0.4), lib.CSXGate(),
    lib.CXGate(ctrl_state=0), lib.CRYGate(ANGLES[1], ctrl_state=0),
    lib.CCXGate(), lib.CCXGate(ctrl_state=1), lib.CSwapGate(), lib.RCCXGate(),
    lib.XXPlusYYGate(*ANGLES[:2]), lib.XXMinusYYGate(*ANGLES[:2]),
    lib.MSGate(2, ANGLES[0]), lib.GlobalPhaseGate(ANGLES[1]),
    lib.UnitaryGate(random_unitary(2, seed=1)), lib.UnitaryGate(random_unitary(4, seed=2)),
    lib.UnitaryGate(random_unitary(8, seed=3)),
]  # fmt: skip


@pytest.mark.parametrize("gate", GATES, ids=lambda g: f"{g.name}{getattr(g, 'ctrl_state', '')}")
def test_every_gate_matches_qiskit_matrix(gate):
    circuit = QuantumCircuit(3)
    # Non-trivial qubit order checks the wire mapping and endianness of multi-qubit gates.
    circuit.append(gate, [2, 0, 1][: gate.num_qubits])
    np.testing.assert_allclose(pennylane_matrix(circuit), Operator(circuit).data, atol=1e-10)


def test_custom_gate_is_decomposed_with_its_global_phase():
    theta = Parameter("theta")
    inner = QuantumCircuit(2, global_phase=0.5 * theta + 0.2, name="mine")
    inner.ry(theta, 0)
    inner.cx(0, 1)
    inner.rz(-2 * theta, 1)
    outer = QuantumCircuit(3)
    outer.h(0)
    outer.append(inner.to_gate(), [2, 1])
    outer.append(inner.to_gate().control(1), [0, 1, 2])
    outer.global_phase = 0.9
    np.testing.assert_allclose(
        pennylane_states(outer, [0.8]), qiskit_state(outer, [0.8]), atol=1e-10
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_circuits_match_statevector(seed):
    n_qubits = 3 + seed % 3
    circuit = random_circuit(n_qubits, depth=6, max_operands=3, seed=seed)
    circuit.global_phase = 0.1 * seed
    np.testing.assert_allclose(pennylane_states(circuit), qiskit_state(circuit), atol=1e-10)


def random_parameterized_circuit(n_qubits: int, n_gates: int, seed: int) -> QuantumCircuit:
    """Random circuit whose angles are linear expressions in a vector and a plain parameter."""
    rng = np.random.default_rng(seed)
    vector = ParameterVector("p", 4)
    parameters = [*vector, Parameter("theta")]
    one_qubit = ["rx", "ry", "rz", "p", "h", "sx"]
    two_qubit = ["rxx", "ryy", "rzz", "rzx", "crx", "cp", "cx", "ecr"]

    def angle():
        a, b = rng.choice(len(parameters), 2, replace=False)
        kind = rng.integers(3)
        if kind == 0:
            return parameters[a]
        if kind == 1:
            return float(rng.choice([-2.0, 0.5, 3.0])) * parameters[a] + float(rng.normal())
        return parameters[a] - 0.5 * parameters[b] + 0.25

    circuit = QuantumCircuit(n_qubits)
    for _ in range(n_gates):
        if rng.random() < 0.5:
            name, qubits = rng.choice(one_qubit), [int(rng.integers(n_qubits))]
        else:
            name, qubits = rng.choice(two_qubit), [int(q) for q in rng.choice(n_qubits, 2, False)]
        if name in ("h", "sx", "cx", "ecr"):
            getattr(circuit, name)(*qubits)
        else:
            getattr(circuit, name)(angle(), *qubits)
        if rng.random() < 0.2:
            circuit.r(angle(), angle(), int(rng.integers(n_qubits)))
            circuit.u(angle(), angle(), angle(), int(rng.integers(n_qubits)))
    circuit.global_phase = 0.3 * vector[0] - 0.1
    return circuit


@pytest.mark.parametrize("seed", range(6))
def test_random_parameterized_circuits_broadcast(seed):
    circuit = random_parameterized_circuit(3, 25, seed)
    values = random_values(circuit, 4, seed=seed)  # (batch, n_params)
    states = pennylane_states(circuit, values)
    assert states.shape == (4, 8)
    for row, state in zip(values, states, strict=True):
        np.testing.assert_allclose(state, qiskit_state(circuit, row), atol=1e-10)


TEMPLATES = {
    "angle_encoding": lambda: encoding.angle_encoding(4, rotation="rx", scale=math.pi)[0],
    "reuploading": lambda: encoding.reuploading(3, reps=2, n_inputs=2, scale=0.5)[0],
    "hardware_efficient": lambda: ansatz.hardware_efficient(4, 2)[0],
    "hardware_efficient_cz": lambda: ansatz.hardware_efficient(2, 2, entangler="cz")[0],
    "ion_native": lambda: ansatz.ion_native(4, 2)[0],
    "ion_native_ring_10": lambda: ansatz.ion_native(10, 1, connectivity="ring")[0],
    "brickwork": lambda: ansatz.brickwork(5, 2)[0],
}


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_match_statevector(name):
    circuit = TEMPLATES[name]()
    values = random_values(circuit, 2, seed=1)
    states = pennylane_states(circuit, values)
    for row, state in zip(values, states, strict=True):
        np.testing.assert_allclose(state, qiskit_state(circuit, row), atol=1e-10)


CELLS = {
    "qlstm_gate": lambda: cells.qlstm_gate(n_qubits=4, n_inputs=3, reps=2),
    "qrnn_step_default": cells.qrnn_step,
    "reservoir": lambda: cells.reservoir(n_qubits=5, n_inputs=2, reps=2),
}


@pytest.mark.parametrize("name", CELLS)
def test_cells_match_statevector_and_expectation_values(name):
    cell = CELLS[name]()
    circuit = cell.circuit
    values = random_values(circuit, 2, seed=2)
    apply = to_pennylane(circuit)

    @qml.qnode(qml.device("default.qubit", wires=circuit.num_qubits))
    def run(v):
        apply(v)
        return qml.state(), *[qml.expval(pauli_observable(o)) for o in cell.observables]

    state, *expectations = run(values)
    expectations = np.stack([np.asarray(e) for e in expectations], axis=-1)  # (batch, n_obs)
    states = little_endian_state(np.asarray(state), circuit.num_qubits)
    for row, state_row, expectation_row in zip(values, states, expectations, strict=True):
        reference = Statevector(circuit.assign_parameters(row))
        np.testing.assert_allclose(state_row, reference.data, atol=1e-10)
        expected = [reference.expectation_value(Pauli(o)).real for o in cell.observables]
        np.testing.assert_allclose(expectation_row, expected, atol=1e-10)


def test_torch_values_broadcast_and_gradients_match_finite_differences():
    cell = cells.qrnn_step(n_data=1, n_hidden=2, reps=1)
    circuit = cell.circuit.copy()
    circuit.rzx(2 * cell.inputs[0] - 0.5 * cell.weights[3] + 0.1, 0, 2)  # linear expression
    labels = [*cell.observables, "ZZI", "XIY"]
    coefficients = np.array([0.7, -1.3, 0.4])
    apply = to_pennylane(circuit)

    @qml.qnode(qml.device("default.qubit", wires=3), interface="torch", diff_method="backprop")
    def expvals(v):
        apply(v)
        return [qml.expval(pauli_observable(label)) for label in labels]

    values_np = random_values(circuit, 3, seed=5)
    values = torch.tensor(values_np, dtype=torch.float64, requires_grad=True)
    outputs = torch.stack(expvals(values), dim=-1)  # (batch, n_obs)
    assert outputs.shape == (3, 3)
    assert outputs.dtype == torch.float64

    def reference_loss(row: np.ndarray) -> float:
        state = Statevector(circuit.assign_parameters(row))
        return float(
            sum(
                c * state.expectation_value(Pauli(l)).real
                for c, l in zip(coefficients, labels, strict=True)
            )
        )

    loss = (outputs * torch.as_tensor(coefficients)).sum()
    loss.backward()
    step = 1e-5
    finite_differences = np.zeros_like(values_np)
    for b in range(values_np.shape[0]):
        for k in range(values_np.shape[1]):
            shift = np.zeros(values_np.shape[1])
            shift[k] = step
            finite_differences[b, k] = (
                reference_loss(values_np[b] + shift) - reference_loss(values_np[b] - shift)
            ) / (2 * step)
    np.testing.assert_allclose(values.grad.numpy(), finite_differences, atol=1e-6)
    expected = [
        [
            Statevector(circuit.assign_parameters(row)).expectation_value(Pauli(l)).real
            for l in labels
        ]
        for row in values_np
    ]
    np.testing.assert_allclose(outputs.detach().numpy(), expected, atol=1e-10)


def test_reset_becomes_a_mid_circuit_measurement():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.reset(0)
    circuit.ry(0.3, 0)
    circuit.rxx(0.5, 0, 1)
    labels = ["IZ", "ZI", "XX", "YZ"]
    apply = to_pennylane(circuit)

    @qml.qnode(qml.device("default.qubit"), mcm_method="deferred")
    def expvals():
        apply()
        return [qml.expval(pauli_observable(label)) for label in labels]

    reference = DensityMatrix(circuit)
    expected = [reference.expectation_value(Pauli(label)).real for label in labels]
    np.testing.assert_allclose(np.asarray(expvals()), expected, atol=1e-10)


def test_values_as_list_and_single_vector():
    circuit, _ = ansatz.brickwork(2, 1)
    values = [0.2, -0.4]
    np.testing.assert_allclose(
        pennylane_states(circuit, values), qiskit_state(circuit, values), atol=1e-12
    )
    apply = to_pennylane(circuit)
    assert apply.num_qubits == 2
    assert apply.wires == [0, 1]
    assert apply.parameters == tuple(circuit.parameters)


def test_pennylane_translation_errors():
    measured = QuantumCircuit(1, 1)
    measured.measure(0, 0)
    with pytest.raises(ValueError, match=r"'measure'.*remove_final_measurements"):
        to_pennylane(measured)

    opaque = QuantumCircuit(2)
    opaque.append(Instruction("mystery", 1, 0, []), [1])
    with pytest.raises(ValueError, match=r"'mystery'.*no definition"):
        to_pennylane(opaque)

    theta = Parameter("theta")
    nonlinear = QuantumCircuit(1)
    nonlinear.rx(theta.sin(), 0)
    with pytest.raises(ValueError, match=r"linear in the parameters.*'rx'"):
        to_pennylane(nonlinear)

    with pytest.raises(TypeError, match="QuantumCircuit"):
        to_pennylane("rx(0.1) q[0];")

    circuit, _ = ansatz.brickwork(2, 1)
    apply = to_pennylane(circuit)
    with qml.queuing.AnnotatedQueue():
        with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\).*got \(3,\)"):
            apply(np.zeros(3))
        with pytest.raises(ValueError, match="has 2 parameters"):
            apply()
        with pytest.raises(TypeError, match="array or tensor"):
            apply(0.5)


# --- observables ---


@pytest.mark.parametrize("label", ["Z", "IIZ", "XIZ", "YXZ", "IIII", "-ZY"])
def test_pauli_observable_matches_qiskit_matrix(label):
    pauli = Pauli(label)
    n_qubits = pauli.num_qubits
    matrix = qml.matrix(pauli_observable(label), wire_order=range(n_qubits))
    np.testing.assert_allclose(
        little_endian_matrix(np.asarray(matrix), n_qubits), pauli.to_matrix(), atol=1e-12
    )


def test_sparse_pauli_op_becomes_hamiltonian():
    operator = SparsePauliOp(["XZI", "IYY", "ZII"], [0.5, -1.25, 2.0])
    observable = pauli_observable(operator)
    assert isinstance(observable, qml.ops.LinearCombination)
    matrix = qml.matrix(observable, wire_order=range(3))
    np.testing.assert_allclose(
        little_endian_matrix(np.asarray(matrix), 3), operator.to_matrix(), atol=1e-12
    )


def test_pauli_observable_errors():
    with pytest.raises(ValueError, match="not a Pauli label: 'ZQ'"):
        pauli_observable("ZQ")
    with pytest.raises(ValueError, match="not Hermitian"):
        pauli_observable("iZ")
    with pytest.raises(ValueError, match="must be real"):
        pauli_observable(SparsePauliOp(["Z"], [1j]))
    with pytest.raises(TypeError, match="Pauli label"):
        pauli_observable(3)


# --- files ---

ROUND_TRIP = {
    "ion_native": lambda: ansatz.ion_native(3, 1)[0],
    "reuploading": lambda: encoding.reuploading(3, 2, n_inputs=2, weight_prefix="w_in")[0],
    "qrnn_step": lambda: cells.qrnn_step(2, 2, 1, weight_prefix="w_forget").circuit,
    "twelve_inputs": lambda: encoding.angle_encoding(12, scale=0.5)[0],
    "random": lambda: random_circuit(3, 5, max_operands=3, seed=11),
}


def assert_equivalent(a: QuantumCircuit, b: QuantumCircuit, exact: bool = False) -> None:
    """Same unitary (up to global phase unless ``exact``); wide circuits: same output state."""
    if a.num_qubits <= 5:
        if exact:
            np.testing.assert_allclose(Operator(a).data, Operator(b).data, atol=1e-12)
        else:
            assert Operator(a).equiv(Operator(b))
    else:
        assert (
            Statevector(a).equiv(Statevector(b))
            if not exact
            else np.allclose(Statevector(a).data, Statevector(b).data, atol=1e-12)
        )


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_qasm3_round_trip(name):
    circuit = ROUND_TRIP[name]()
    text = to_qasm3(circuit)
    assert text.startswith("OPENQASM 3")
    loaded = from_qasm3(text)
    # Vector names and the circuit.parameters order survive (x[10] sorts after x[9]).
    assert [p.name for p in loaded.parameters] == [p.name for p in circuit.parameters]
    values = random_values(circuit, seed=3)
    assert_equivalent(loaded.assign_parameters(values), circuit.assign_parameters(values))


def test_from_qasm3_can_keep_exported_names():
    circuit, _ = encoding.angle_encoding(2)
    loaded = from_qasm3(to_qasm3(circuit), restore_vectors=False)
    assert [p.name for p in loaded.parameters] == ["_x_0_", "_x_1_"]
    with pytest.raises(TypeError, match="OpenQASM 3 program"):
        from_qasm3(circuit)


HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n'  # lines 1-3


@pytest.mark.parametrize(
    ("program", "line", "column", "reason"),
    [
        (HEADER + "h q[0]\ncx q[0], q[1];\n", 5, 1, "expected ';', found 'cx'"),
        (HEADER + "gate g a { h a;\n", 5, 1, "expected '}', found the end of the program"),
        (HEADER + "= q[0];\n", 4, 1, "unexpected '='"),
        (HEADER + "h q[0] $$;\n", 4, 8, "token recognition error at: '$$'"),
        (HEADER + "foo q[0];\n", 4, 1, "gate 'foo' is not defined."),
        # the importer gives this position as an offset into the program: 55 = line 4, column 3
        (HEADER + "\nh r[0];\n", 5, 3, "Undefined symbol 'r'."),
        ("", None, None, "the program is empty"),
        ("/* nothing */ // at all\n", None, None, "the program is empty"),
    ],
    ids=[
        "semicolon", "unterminated", "no-statement", "bad-token", "unknown-gate",
        "undefined", "empty", "comments",
    ],
)  # fmt: skip
def test_an_invalid_program_names_the_line_column_and_reason(capsys, program, line, column, reason):
    with pytest.raises(QASMError) as refused:
        from_qasm3(program)
    error = refused.value
    assert (error.line, error.column, error.reason) == (line, column, reason)
    where = "" if line is None else f"line {line}, column {column}: "
    assert str(error) == where + reason
    assert isinstance(error, ValueError)
    assert capsys.readouterr().err == ""  # the parser's own report is not printed as well


def test_an_error_without_a_position_keeps_the_reader_s_reason():
    with pytest.raises(QASMError, match=r"^IndexError: index out of range$") as refused:
        from_qasm3(HEADER + "h q[5];\n")
    assert refused.value.line is None


QASM2_HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\n'  # lines 1-3


@pytest.mark.parametrize(
    ("program", "line", "column", "reason"),
    [
        (
            QASM2_HEADER + "h q[0]\ncx q[0],q[1];\n",
            5,
            1,
            "needed ';', but instead saw an identifier",
        ),
        (QASM2_HEADER + "h q[5];\n", 4, 5, "index 5 is out-of-range for register 'q' of size 2"),
        (QASM2_HEADER + "foo q[0];\n", 4, 1, "'foo' is not defined in this scope"),
    ],
    ids=["semicolon", "index", "unknown-gate"],
)
def test_an_invalid_openqasm2_program_names_the_line_column_and_reason(
    program, line, column, reason
):
    with pytest.raises(QASMError) as refused:
        from_qasm2(program)
    assert (refused.value.line, refused.value.column, refused.value.reason) == (
        line,
        column,
        reason,
    )


def test_an_openqasm2_program_is_read():
    circuit = from_qasm2(QASM2_HEADER + "h q[0];\ncx q[0],q[1];\n")
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    assert_equivalent(circuit, bell, exact=True)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_qpy_round_trip(tmp_path, name):
    circuit = ROUND_TRIP[name]()
    path = save_qpy(circuit, tmp_path / "circuit.qpy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["circuit.qpy"]  # no temp file left
    loaded = load_qpy(path)
    assert list(loaded.parameters) == list(circuit.parameters)
    values = random_values(circuit, seed=4)
    assert_equivalent(
        loaded.assign_parameters(values), circuit.assign_parameters(values), exact=True
    )


def test_qpy_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no QPY file"):
        load_qpy(tmp_path / "missing.qpy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_qpy(QuantumCircuit(1), tmp_path / "nowhere" / "c.qpy")
    with pytest.raises(TypeError, match="QuantumCircuit"):
        save_qpy("circuit", tmp_path / "c.qpy")
    two = tmp_path / "two.qpy"
    with two.open("wb") as file:
        qpy.dump([QuantumCircuit(1), QuantumCircuit(2)], file)
    with pytest.raises(ValueError, match="holds 2 QPY programs"):
        load_qpy(two)


@pytest.mark.parametrize("gate_set", ["gpi-ms", "gpi-zz", "u1q-rzz", "r-rxx"])
def test_native_ion_gates_translate_through_their_definitions(gate_set):
    from circuits import native

    circuit = ansatz.hardware_efficient(3, 1)[0]
    bound = circuit.assign_parameters(random_values(circuit, seed=6))
    translated = native.to_native(bound, gate_set, seed=0)
    assert {inst.operation.name for inst in translated.data} <= set(native.GATE_SETS[gate_set])
    np.testing.assert_allclose(pennylane_states(translated), qiskit_state(translated), atol=1e-10)


def test_symbolic_native_gates_broadcast():
    from circuits import native

    p = ParameterVector("p", 3)
    circuit = QuantumCircuit(3)
    circuit.h([0, 1, 2])
    circuit.append(native.GPIGate(p[0]), [0])
    circuit.append(native.GPI2Gate(0.5 * p[1] + 0.1), [1])
    circuit.append(native.IonQMSGate(p[0], p[2], 0.2), [2, 0])
    circuit.append(native.IonQZZGate(p[1] - p[2]), [1, 2])
    circuit.append(native.U1qGate(p[2], p[0]), [2])
    circuit.append(native.ZZMaxGate(), [0, 1])
    values = random_values(circuit, 3, seed=7)
    states = pennylane_states(circuit, values)
    for row, state in zip(values, states, strict=True):
        np.testing.assert_allclose(state, qiskit_state(circuit, row), atol=1e-10)


def test_constant_angle_beside_torch_parameters():
    """A gate mixing a fixed angle with parameters (U3(t, 0.3, t)) runs with torch values."""
    theta = Parameter("t")
    circuit = QuantumCircuit(1)
    circuit.u(theta, 0.3, theta, 0)
    apply = to_pennylane(circuit)

    @qml.qnode(qml.device("default.qubit", wires=1), interface="torch")
    def z_expectation(values):
        apply(values)
        return qml.expval(qml.PauliZ(0))

    values = torch.tensor([0.4], dtype=torch.float64)
    expected = Statevector(circuit.assign_parameters([0.4])).expectation_value(SparsePauliOp("Z"))
    assert abs(z_expectation(values).item() - expected.real) < 1e-10
