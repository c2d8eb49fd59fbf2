"""Ion-trap native gates: vendor matrices, definitions, parameters and translation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter, ParameterVector
from qiskit.circuit.library import RGate, RXXGate, RZZGate, UGate
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator, Statevector

from circuits.native import (
    GATE_SETS,
    GPI2Gate,
    GPIGate,
    IonQMSGate,
    IonQZZGate,
    U1qGate,
    ZZMaxGate,
    to_native,
)

RNG = np.random.default_rng(7)
TURNS = RNG.uniform(-1, 1, size=5)


# --- vendor matrices -------------------------------------------------------------------
# IonQ: qiskit-ionq qiskit_ionq/ionq_gates.py (qiskit-community/qiskit-ionq @220daa6),
# matrices written in Qiskit's little-endian order; angles in turns.
def ionq_gpi(phi: float) -> np.ndarray:
    return np.array([[0, np.exp(-1j * 2 * math.pi * phi)], [np.exp(1j * 2 * math.pi * phi), 0]])


def ionq_gpi2(phi: float) -> np.ndarray:
    top = -1j * np.exp(-1j * 2 * math.pi * phi)
    bottom = -1j * np.exp(1j * 2 * math.pi * phi)
    return np.array([[1, top], [bottom, 1]]) / math.sqrt(2)


def ionq_ms(phi0: float, phi1: float, theta: float) -> np.ndarray:
    c, s = math.cos(math.pi * theta), math.sin(math.pi * theta)
    return np.array(
        [
            [c, 0, 0, -1j * s * np.exp(-1j * 2 * math.pi * (phi0 + phi1))],
            [0, c, -1j * s * np.exp(1j * 2 * math.pi * (phi0 - phi1)), 0],
            [0, -1j * s * np.exp(-1j * 2 * math.pi * (phi0 - phi1)), c, 0],
            [-1j * s * np.exp(1j * 2 * math.pi * (phi0 + phi1)), 0, 0, c],
        ]
    )


def ionq_zz(theta: float) -> np.ndarray:
    a = np.exp(1j * math.pi * theta)
    return np.diag([a.conjugate(), a, a, a.conjugate()])


# PennyLane-IonQ (pennylane_ionq.ops.MS docstring) writes MS in wire order (big-endian):
# the (01, 10) element is -i e^{-2πi(φ0-φ1)} sin.
def ionq_ms_big_endian(phi0: float, phi1: float, theta: float) -> np.ndarray:
    return ionq_ms(phi0, phi1, theta)[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]


@pytest.mark.parametrize("phi", TURNS)
def test_gpi_and_gpi2_match_ionq_matrices(phi):
    assert np.allclose(Operator(GPIGate(phi)).data, ionq_gpi(phi))
    assert np.allclose(Operator(GPI2Gate(phi)).data, ionq_gpi2(phi))


def test_ionq_special_values():
    # IonQ guide: GPI(0) = X, GPI(0.25) = Y, GPI2(0) = Rx(π/2), MS(0, 0) = RXX(π/2)
    assert np.allclose(Operator(GPIGate(0)).data, [[0, 1], [1, 0]])
    assert np.allclose(Operator(GPIGate(0.25)).data, [[0, -1j], [1j, 0]])
    assert Operator(GPI2Gate(0)).equiv(Operator(RGate(math.pi / 2, 0)))
    assert np.allclose(Operator(IonQMSGate(0, 0)).data, Operator(RXXGate(math.pi / 2)).data)


@pytest.mark.parametrize("seed", range(4))
def test_ms_and_zz_match_ionq_matrices(seed):
    phi0, phi1, theta = np.random.default_rng(seed).uniform(-1, 1, size=3)
    gate = IonQMSGate(phi0, phi1, theta)
    assert np.allclose(Operator(gate).data, ionq_ms(phi0, phi1, theta))
    # the big-endian (PennyLane) form is the same gate with the qubit order reversed
    reversed_gate = Operator(gate).reverse_qargs().data
    assert np.allclose(reversed_gate, ionq_ms_big_endian(phi0, phi1, theta))
    assert np.allclose(Operator(IonQZZGate(theta)).data, ionq_zz(theta))
    # ZZ(θ) = RZZ(2πθ) (Qiskit's RZZGate), exactly
    assert np.allclose(Operator(IonQZZGate(theta)).data, Operator(RZZGate(2 * math.pi * theta)))


@pytest.mark.parametrize("seed", range(4))
def test_quantinuum_gates_match_published_definitions(seed):
    theta, phi = np.random.default_rng(seed).uniform(-4, 4, size=2)
    # Quantinuum docs (System Operation): U1q(θ, φ) = U(θ, φ - π/2, π/2 - φ)
    published = Operator(UGate(theta, phi - math.pi / 2, math.pi / 2 - phi))
    assert np.allclose(Operator(U1qGate(theta, phi)).data, published.data)
    assert np.allclose(Operator(U1qGate(theta, phi)).data, Operator(RGate(theta, phi)).data)
    # ZZ() = exp(-iπ/4 Z⊗Z)
    zz = np.diag([1, -1, -1, 1])
    expected = math.cos(math.pi / 4) * np.eye(4) - 1j * math.sin(math.pi / 4) * zz
    assert np.allclose(Operator(ZZMaxGate()).data, expected)


ALL_GATES = [
    lambda p: GPIGate(p[0]),
    lambda p: GPI2Gate(p[0]),
    lambda p: IonQMSGate(p[0], p[1], p[2]),
    lambda p: IonQMSGate(p[0], p[1]),
    lambda p: IonQZZGate(p[0]),
    lambda p: U1qGate(p[0], p[1]),
    lambda p: ZZMaxGate(),
]


@pytest.mark.parametrize("make", ALL_GATES)
def test_definition_equals_matrix_and_inverse(make):
    gate: Gate = make(RNG.uniform(-2, 2, size=3))
    # exact equality, global phase included
    assert np.allclose(Operator(gate.definition).data, gate.to_matrix())
    product = Operator(gate).compose(Operator(gate.inverse())).data
    assert np.allclose(product, np.eye(2**gate.num_qubits))


def test_parameters_bind_in_definitions_and_matrices():
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    circuit = QuantumCircuit(2)
    circuit.append(GPIGate(a), [0])
    circuit.append(GPI2Gate(2 * b + 0.1), [1])
    circuit.append(IonQMSGate(a, b, c), [1, 0])
    circuit.append(IonQZZGate(a - c), [0, 1])
    circuit.append(U1qGate(a, b), [1])
    values = {a: 0.13, b: -0.4, c: 0.21}
    bound = circuit.assign_parameters(values)
    expected = QuantumCircuit(2)
    expected.append(GPIGate(0.13), [0])
    expected.append(GPI2Gate(2 * -0.4 + 0.1), [1])
    expected.append(IonQMSGate(0.13, -0.4, 0.21), [1, 0])
    expected.append(IonQZZGate(0.13 - 0.21), [0, 1])
    expected.append(U1qGate(0.13, -0.4), [1])
    assert np.allclose(Operator(bound).data, Operator(expected).data)
    # through the definitions (what an executor that only knows r/rz/rxx/rzz sees)
    assert np.allclose(Operator(bound.decompose()).data, Operator(expected).data)
    with pytest.raises(TypeError):
        GPIGate(a).to_matrix()


# --- translation ---------------------------------------------------------------------
def _assert_native(circuit: QuantumCircuit, gate_set: str) -> None:
    allowed = set(GATE_SETS[gate_set]) | {"measure", "reset", "barrier", "delay"}
    assert set(circuit.count_ops()) <= allowed, circuit.count_ops()


@pytest.mark.parametrize("gate_set", sorted(GATE_SETS))
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_random_circuits_translate_exactly(gate_set, level):
    for seed in range(2):
        circuit = random_circuit(3, 4, max_operands=3, seed=10 * level + seed)
        native = to_native(circuit, gate_set, optimization_level=level, seed=seed)
        _assert_native(native, gate_set)
        # equal including the global phase, qubit k still qubit k
        assert np.allclose(Operator(native).data, Operator(circuit).data)


def test_swaps_are_not_elided_into_a_relabelling():
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.swap(1, 2)
    circuit.t(2)
    circuit.swap(0, 2)
    for gate_set in GATE_SETS:
        native = to_native(circuit, gate_set, optimization_level=3, seed=0)
        assert np.allclose(Operator(native).data, Operator(circuit).data)


@pytest.mark.parametrize("gate_set", sorted(GATE_SETS))
def test_parameterized_circuit_translates_then_binds(gate_set):
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    circuit.ry(x[0], 0)
    circuit.rx(x[1], 1)
    circuit.rxx(x[2], 0, 2)
    circuit.cx(0, 1)
    circuit.rzz(2 * x[0], 1, 2)
    circuit.crx(x[1], 2, 0)
    circuit.h(2)
    native = to_native(circuit, gate_set)
    _assert_native(native, gate_set)
    assert set(native.parameters) == set(x)
    for values in np.random.default_rng(1).uniform(-7, 7, size=(3, 3)):
        got = Operator(native.assign_parameters(values)).data
        assert np.allclose(got, Operator(circuit.assign_parameters(values)).data)


def test_numeric_angles_are_folded_into_hardware_ranges():
    circuit = QuantumCircuit(2)
    for angle in (-2.9, -1.0, 0.4, 2.0, 3.1, 5.5):
        circuit.rx(angle, 0)
        circuit.rxx(angle, 0, 1)
        circuit.ry(angle, 1)
    for gate_set in ("gpi-ms", "r-rxx"):
        native = to_native(circuit, gate_set, optimization_level=0)
        assert np.allclose(Operator(native).data, Operator(circuit).data)
        for instruction in native.data:
            name, params = instruction.operation.name, [float(p) for p in instruction.params]
            if name == "r":  # AQT: θ in [0, π], φ in [0, 2π)
                assert 0 < params[0] <= math.pi + 1e-12 and 0 <= params[1] < 2 * math.pi
            if name == "rxx":  # AQT: θ in [0, π/2]
                assert 0 < params[0] <= math.pi / 2 + 1e-12
            if name == "ionq_ms":  # IonQ: phases in turns, angle in (0, 0.25]
                assert 0 <= params[0] < 1 and 0 <= params[1] < 1
                assert 0 < params[2] <= 0.25 + 1e-12
            if name in ("gpi", "gpi2"):
                assert 0 <= params[0] < 1


def test_z_rotations_are_virtual():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rz(0.7, 0)
    circuit.sx(0)
    circuit.rz(-1.1, 1)
    circuit.cx(0, 1)
    native = to_native(circuit, "gpi-ms")
    # only physical gates in the body; rz appears only as a trailing frame correction
    body_ops = [i.operation.name for i in native.data]
    last = {q: max(k for k, i in enumerate(native.data) if q in i.qubits) for q in native.qubits}
    for k, instruction in enumerate(native.data):
        if instruction.operation.name == "rz":
            assert k == last[instruction.qubits[0]]
    assert body_ops.count("ionq_ms") == 1
    assert np.allclose(Operator(native).data, Operator(circuit).data)


def test_measurement_drops_the_frame_and_keeps_outcomes():
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.rz(0.4, 0)
    circuit.ry(0.3, 1)
    circuit.measure([0, 1], [0, 1])
    native = to_native(circuit, "gpi-ms")
    assert "rz" not in native.count_ops()  # a Z rotation before measurement is dropped
    assert native.count_ops()["measure"] == 2
    body = native.remove_final_measurements(inplace=False)
    original = circuit.remove_final_measurements(inplace=False)
    assert np.allclose(
        Statevector(body).probabilities(), Statevector(original).probabilities(), atol=1e-12
    )


def test_reset_and_mid_circuit_measurement_pass_through():
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.reset(0)
    circuit.rx(0.3, 0)
    circuit.cx(0, 1)
    native = to_native(circuit, "u1q-rzz")
    ops = [i.operation.name for i in native.data]
    assert ops.index("measure") < ops.index("reset") < ops.index("rzz")


def test_translation_errors():
    circuit = QuantumCircuit(1)
    circuit.h(0)
    with pytest.raises(KeyError, match="known gate sets"):
        to_native(circuit, "cx-only")
    with pytest.raises(TypeError, match="QuantumCircuit"):
        to_native("h q[0];", "r-rxx")
    with pytest.raises(ValueError, match="optimization_level"):
        to_native(circuit, "r-rxx", optimization_level=4)
    opaque = QuantumCircuit(1)
    opaque.append(Gate("mystery", 1, []), [0])
    with pytest.raises(ValueError, match="mystery"):
        to_native(opaque, "gpi-ms")
    flow = QuantumCircuit(1, 1)
    flow.measure(0, 0)
    with flow.if_test((flow.clbits[0], 1)):
        flow.x(0)
    with pytest.raises(ValueError, match="control flow"):
        to_native(flow, "r-rxx")
