"""Shared helpers for the qrnn.sim tests: random circuits and independent references.

Every reference here is computed by Qiskit (``qiskit.quantum_info``), Aer or plain numpy,
never by ``qrnn.sim`` itself. Imported by the ``test_sim_*`` modules next to it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.quantum_info import DensityMatrix, Operator, SparsePauliOp, Statevector

ATOL = 1e-6  # complex128 agreement with the references (issue 2)
ATOL_FLOAT32 = 1e-5

# Gates the engine supports natively, grouped by how many angles and qubits they take.
FIXED_1Q = ["id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg"]
FIXED_2Q = ["cx", "cy", "cz", "ch", "swap", "iswap", "ecr", "dcx", "csx"]
FIXED_3Q = ["ccx", "ccz", "cswap"]
ROTATION_1Q = {"rx": 1, "ry": 1, "rz": 1, "p": 1, "u": 3, "r": 2, "u1": 1, "u2": 2, "u3": 3}
ROTATION_2Q = {"rxx": 1, "ryy": 1, "rzz": 1, "rzx": 1}
# The subset Aer's density-matrix method runs without transpiling.
AER_GATES = {
    "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "cx", "cy", "cz", "swap",
    "ecr", "ccx", "rx", "ry", "rz", "p", "u", "r", "u1", "u2", "u3", "rxx", "ryy", "rzz", "rzx",
    "cp",
}  # fmt: skip
# Parameterized gates the engine runs through their Qiskit definition.
DEFINED_2Q = {"crx": 1, "cry": 1, "crz": 1, "cp": 1, "cu": 4, "xx_plus_yy": 2}

_GATE_CLASSES = {
    "u1": lib.U1Gate,
    "u2": lib.U2Gate,
    "u3": lib.U3Gate,
    "xx_plus_yy": lib.XXPlusYYGate,
}


def append_gate(circuit: QuantumCircuit, name: str, params, qubits) -> None:
    """Append the standard gate ``name`` (a ``QuantumCircuit`` method or a class above)."""
    if name in _GATE_CLASSES:
        circuit.append(_GATE_CLASSES[name](*params), list(qubits))
    elif name == "id":
        circuit.id(*qubits)
    else:
        getattr(circuit, name)(*params, *qubits)


def random_parameterized_circuit(
    n_qubits: int,
    n_gates: int,
    seed: int,
    n_params: int = 4,
    defined: bool = True,
    name: str = "theta",
    allowed: set[str] | None = None,
    constant_angles: bool = True,
) -> tuple[QuantumCircuit, ParameterVector]:
    """Random circuit of the supported gates whose angles are affine expressions
    ``a * theta[k] + b`` (or a plain ``theta[k]``, or a sum of two parameters) drawn from a
    small ``ParameterVector`` so parameters are shared across gates; fixed gates mixed in.
    ``allowed`` restricts the gate names (e.g. ``AER_GATES``); ``constant_angles=False``
    makes every angle depend on a parameter."""
    rng = np.random.default_rng(seed)
    theta = ParameterVector(name, n_params)
    circuit = QuantumCircuit(n_qubits)

    def angle():
        kind = rng.integers(4 if constant_angles else 3)
        k = int(rng.integers(n_params))
        if kind == 0:
            return theta[k]
        if kind == 1:
            return float(rng.uniform(-2, 2)) * theta[k] + float(rng.uniform(-1, 1))
        if kind == 2:
            j = int(rng.integers(n_params))
            return theta[k] - 0.5 * theta[j] + 0.25
        return float(rng.uniform(-math.pi, math.pi))  # a fixed angle now and then

    pools = [("fixed1", FIXED_1Q), ("rot1", list(ROTATION_1Q))]
    if n_qubits >= 2:
        pools += [("fixed2", FIXED_2Q), ("rot2", list(ROTATION_2Q))]
        if defined:
            pools.append(("def2", list(DEFINED_2Q)))
    if n_qubits >= 3:
        pools.append(("fixed3", FIXED_3Q))
    if allowed is not None:
        pools = [(kind, [g for g in pool if g in allowed]) for kind, pool in pools]
        pools = [(kind, pool) for kind, pool in pools if pool]
    counts = {**ROTATION_1Q, **ROTATION_2Q, **DEFINED_2Q}
    for _ in range(n_gates):
        kind, pool = pools[int(rng.integers(len(pools)))]
        gate = pool[int(rng.integers(len(pool)))]
        width = int(kind[-1])
        qubits = [int(q) for q in rng.choice(n_qubits, size=width, replace=False)]
        params = [angle() for _ in range(counts.get(gate, 0))]
        append_gate(circuit, gate, params, qubits)
    # make sure every parameter occurs at least once, on a gate after entanglers
    for k in range(n_params):
        circuit.ry(2 * theta[k] + 0.5, k % n_qubits)
    return circuit, theta


def parameterize(circuit: QuantumCircuit, seed: int, name: str = "phi") -> QuantumCircuit:
    """Copy of ``circuit`` (e.g. from ``random_circuit``) with each numeric gate angle
    replaced by an affine expression of a shared ``ParameterVector``."""
    rng = np.random.default_rng(seed)
    n_angles = sum(len(i.operation.params) for i in circuit.data)
    phi = ParameterVector(name, max(1, n_angles // 2))  # fewer parameters than angles: shared
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.params and all(isinstance(p, float) for p in operation.params):
            operation = operation.to_mutable()
            operation.params = [
                float(rng.uniform(-2, 2)) * phi[int(rng.integers(len(phi)))] + float(p)
                for p in operation.params
            ]
        out.append(operation, instruction.qubits, instruction.clbits)
    return out


def random_values(n_params: int, batch: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    """(batch, n_params) angles in [-pi, pi)."""
    generator = torch.Generator().manual_seed(seed)
    values = (
        torch.rand(batch, n_params, generator=generator, dtype=torch.float64) * 2 - 1
    ) * math.pi
    return values.to(dtype)


def bind(circuit: QuantumCircuit, row) -> QuantumCircuit:
    """``circuit`` with parameters bound to one row of values (circuit.parameters order)."""
    row = np.asarray(torch.as_tensor(row).detach().cpu().to(torch.float64))
    return circuit.assign_parameters(dict(zip(circuit.parameters, row, strict=True)))


def reference_states(circuit: QuantumCircuit, values) -> np.ndarray:
    """(batch, 2**n) statevectors by ``qiskit.quantum_info.Statevector``, global phase exact."""
    return np.stack([Statevector(bind(circuit, row)).data for row in values])


def reference_density(circuit: QuantumCircuit, values) -> np.ndarray:
    """(batch, 2**n, 2**n) by ``qiskit.quantum_info.DensityMatrix`` (resets allowed)."""
    return np.stack([DensityMatrix(bind(circuit, row)).data for row in values])


def reference_unitary(circuit: QuantumCircuit, row) -> np.ndarray:
    return Operator(bind(circuit, row)).data


def reference_expvals(circuit: QuantumCircuit, values, observables) -> np.ndarray:
    """(batch, n_obs) by ``Statevector.expectation_value`` (or DensityMatrix with resets)."""
    has_reset = any(i.operation.name == "reset" for i in circuit.data)
    ops = [SparsePauliOp(o) if isinstance(o, str) else o for o in observables]
    rows = []
    for row in values:
        bound = bind(circuit, row)
        state = DensityMatrix(bound) if has_reset else Statevector(bound)
        rows.append([state.expectation_value(op).real for op in ops])
    return np.array(rows)


def numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def assert_close(actual, expected, atol: float = ATOL) -> None:
    actual = numpy(actual) if isinstance(actual, torch.Tensor) else np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    assert error <= atol, f"max deviation {error:.3g} exceeds {atol:.1g}"


def random_pauli_labels(n_qubits: int, count: int, seed: int) -> list[str]:
    """Random X/Y/Z/I labels, each with at least one non-identity factor."""
    rng = np.random.default_rng(seed)
    labels = []
    while len(labels) < count:
        label = "".join(rng.choice(list("IXYZ"), size=n_qubits))
        if set(label) != {"I"}:
            labels.append(label)
    return labels


def random_sparse_pauli_op(n_qubits: int, n_terms: int, seed: int) -> SparsePauliOp:
    """A Hermitian sum of ``n_terms`` random Pauli strings with real coefficients."""
    rng = np.random.default_rng(seed)
    labels = ["".join(rng.choice(list("IXYZ"), size=n_qubits)) for _ in range(n_terms)]
    return SparsePauliOp(labels, coeffs=rng.uniform(-2, 2, n_terms))
