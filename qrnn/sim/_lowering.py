"""Lowering: a Qiskit circuit (plus noise) becomes a flat list of wire operations.

Every angle in the circuit is an affine function of the circuit's parameters; all of them are
collected in one ``AngleTable`` so that a whole batch of angles is one matrix product at run
time. Operations are expressed on *wires*: for a statevector, wire q is qubit q; for a density
matrix (vectorised row-major, ``rho[r, c]`` at index ``r * 2**n + c``) wire q is the column
copy of qubit q and wire q + n its row copy, so a gate U becomes U on the row wires and
conj(U) on the column wires, and a channel becomes its superoperator on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from qiskit.circuit import Instruction, ParameterExpression, QuantumCircuit

from qrnn.sim._errors import UnboundParameterError, UnsupportedGateError
from qrnn.sim._noise import NoiseReader, simulated_form

# One-qubit gates written as exp(i*gamma) * U(theta, phi, lambda) with angles affine in the
# gate's own parameters: name -> function(params) -> (theta, phi, lam, gamma).
_HALF_PI = math.pi / 2
_U1Q_FORMS = {
    "rx": lambda p: (p[0], -_HALF_PI, _HALF_PI, 0.0),
    "ry": lambda p: (p[0], 0.0, 0.0, 0.0),
    "rz": lambda p: (0.0, 0.0, p[0], -0.5 * p[0]),
    "p": lambda p: (0.0, 0.0, p[0], 0.0),
    "u1": lambda p: (0.0, 0.0, p[0], 0.0),
    "u": lambda p: (p[0], p[1], p[2], 0.0),
    "u3": lambda p: (p[0], p[1], p[2], 0.0),
    "u2": lambda p: (_HALF_PI, p[0], p[1], 0.0),
    "r": lambda p: (p[0], p[1] - _HALF_PI, _HALF_PI - p[1], 0.0),
}
# Multi-qubit rotations exp(-i theta/2 P) with P a Pauli string (P = i * gate(pi)).
_PAULI_ROTATIONS = {"rxx", "ryy", "rzz", "rzx"}
# Controlled phases as Z rotations (diagonal, so they join phase stages; their definitions
# use CNOTs): name -> (global phase, RZ on the control, RZ on the target, RZZ) per angle.
_CONTROLLED_PHASES = {
    "cp": (0.25, 0.5, 0.5, -0.5),
    "cu1": (0.25, 0.5, 0.5, -0.5),
    "crz": (0.0, 0.0, 0.5, -0.5),
}
# Static gates taken from their matrix (one-qubit: Euler angles; more: monomial or dense).
_STATIC_GATES = {
    "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg",
    "cx", "cy", "cz", "ch", "swap", "iswap", "ecr", "dcx", "ccx", "ccz", "cswap", "csx",
}  # fmt: skip
SUPPORTED_GATES = sorted(
    set(_U1Q_FORMS) | _PAULI_ROTATIONS | _STATIC_GATES | {"unitary", "barrier", "reset", "delay"}
)


class AngleTable:
    """Affine angles ``offset + sum_j coeff_j * values[:, j]``, deduplicated."""

    def __init__(self, parameters):
        self.index = {parameter: i for i, parameter in enumerate(parameters)}
        self.rows: list[tuple[float, tuple[tuple[int, float], ...]]] = []
        self._lookup: dict = {}

    def add(self, value) -> int:
        row = self._affine(value)
        if row not in self._lookup:
            self._lookup[row] = len(self.rows)
            self.rows.append(row)
        return self._lookup[row]

    def _affine(self, value):
        if not isinstance(value, ParameterExpression):
            return (float(value), ())
        unknown = [p for p in value.parameters if p not in self.index]
        if unknown:
            raise UnboundParameterError(f"parameter {unknown[0]} is not a circuit parameter")
        if not value.parameters:
            return (_real(value), ())
        terms = []
        for parameter in value.parameters:
            coefficient = value.gradient(parameter)
            if isinstance(coefficient, ParameterExpression) and coefficient.parameters:
                raise UnsupportedGateError(
                    f"gate angle {value} is not linear in {parameter}; only affine expressions "
                    "such as 2*theta + 0.5 are supported"
                )
            terms.append((self.index[parameter], _real(coefficient)))
        offset = _real(value.bind(dict.fromkeys(value.parameters, 0.0)))
        return (offset, tuple(sorted(terms)))

    def matrices(self):
        """(coefficients (n_rows, n_params), offsets (n_rows,)) as float64 numpy arrays."""
        coefficients = np.zeros((len(self.rows), len(self.index)))
        offsets = np.zeros(len(self.rows))
        for r, (offset, terms) in enumerate(self.rows):
            offsets[r] = offset
            for j, c in terms:
                coefficients[r, j] += c
        return coefficients, offsets


def _real(value) -> float:
    number = complex(value)
    if abs(number.imag) > 1e-12:
        raise UnsupportedGateError(f"gate angle {value} is complex")
    return number.real


# --- wire operations -------------------------------------------------------------------------


@dataclass
class Op:
    wires: tuple[int, ...]


@dataclass
class U1Q(Op):
    """exp(i*s*gamma) U(theta, s*phi, s*lam) on one wire; s = -1 for the conjugate copy."""

    rows: tuple[int, int, int, int]
    conjugate: bool = False


@dataclass
class PauliRotation(Op):
    """cos(theta/2) I - i sin(theta/2) P, or its conjugate (P given already conjugated)."""

    pauli: np.ndarray
    row: int
    conjugate: bool = False


@dataclass
class Dense(Op):
    """A constant matrix; local index bit j is ``wires[j]``."""

    matrix: np.ndarray


@dataclass
class Monomial(Op):
    """Constant permutation with phases: out[i] = phase[i] * in[source[i]] (local indices)."""

    source: np.ndarray
    phase: np.ndarray


def monomial_from_matrix(matrix: np.ndarray):
    """(source, phase) when ``matrix`` has one non-zero per row and column, else None."""
    nonzero = np.abs(matrix) > 1e-12
    if not (np.all(nonzero.sum(axis=0) == 1) and np.all(nonzero.sum(axis=1) == 1)):
        return None
    source = nonzero.argmax(axis=1)
    phase = matrix[np.arange(len(matrix)), source]
    return source, phase


def is_diagonal(op: Op, table: AngleTable) -> bool:
    if isinstance(op, U1Q):
        offset, terms = table.rows[op.rows[0]]
        return offset == 0.0 and not terms
    if isinstance(op, PauliRotation):
        return _is_diagonal_matrix(op.pauli)
    if isinstance(op, Dense):
        return _is_diagonal_matrix(op.matrix)
    if isinstance(op, Monomial):
        return bool(np.all(op.source == np.arange(len(op.source))))
    if isinstance(op, Channel):  # keeps the diagonal of rho: only diagonal Kraus operators
        return all(_is_diagonal_matrix(k) for k in op.kraus)
    return False


def _is_diagonal_matrix(matrix):
    return bool(np.all(np.abs(matrix - np.diag(np.diag(matrix))) < 1e-12))


@dataclass
class Channel(Op):
    """A quantum channel given by Kraus operators (local index bit j is ``wires[j]``)."""

    kraus: list[np.ndarray]


@dataclass
class Lowered:
    """A circuit as operations on its qubits (before ``virtualize`` for density matrices)."""

    n_qubits: int
    ops: list[Op]
    table: AngleTable
    global_phase_rows: list[int] = field(default_factory=list)
    readout: dict[int, np.ndarray] = field(default_factory=dict)  # qubit -> P(measured | true)
    # axis -> (gate before, gate after) as U1Q angle rows: the one-wire Cliffords C, C^+ with
    # C P C^+ = Z for the Pauli P of the axis, so exp(-i t/2 P) = C^+ exp(-i t/2 Z) C
    basis: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    # ends[i]: how many ops the circuit's first i + 1 instructions lowered to (ops[:ends[i]])
    ends: list[int] = field(default_factory=list)


# --- lowering --------------------------------------------------------------------------------


def lower(circuit: QuantumCircuit, noise_model=None) -> Lowered:
    """Flatten ``circuit`` into operations on qubits, attaching ``noise_model``'s errors where
    Aer attaches them (``_noise``: the circuit in Aer's instruction set, each instruction
    followed by the error its label or name selects)."""
    n = circuit.num_qubits
    table = AngleTable(circuit.parameters)
    lowered = Lowered(n, [], table)
    lowered.basis = _basis_rows(table)
    noise = NoiseReader(noise_model) if noise_model is not None else None
    if noise is not None:
        lowered.readout = noise.readout(n)
        if noise.has_quantum_errors:
            circuit = simulated_form(circuit)
    lowered.global_phase_rows.append(table.add(circuit.global_phase))
    qubit_index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
    for instruction in circuit.data:
        qubits = tuple(qubit_index[q] for q in instruction.qubits)
        _lower_instruction(instruction.operation, qubits, lowered, noise, top_level=True)
        lowered.ends.append(len(lowered.ops))
    return lowered


def _lower_instruction(operation: Instruction, qubits, lowered: Lowered, noise, top_level):
    name = operation.name
    if name in ("barrier", "delay") or name.startswith("save_"):
        pass
    elif name == "reset":
        kraus = [np.array([[1, 0], [0, 0]], complex), np.array([[0, 1], [0, 0]], complex)]
        lowered.ops.append(Channel(qubits, kraus))
    elif name == "measure" or getattr(operation, "num_clbits", 0):
        raise UnsupportedGateError(
            f"instruction {name!r} uses classical bits; the torch engine computes exact "
            "states and expectation values, so remove measurements "
            "(QuantumCircuit.remove_final_measurements) and pass observables instead"
        )
    elif getattr(operation, "condition", None) is not None or not isinstance(
        operation, Instruction
    ):
        raise UnsupportedGateError(f"control flow ({name!r}) is not supported")
    elif name in _U1Q_FORMS:
        angles = _U1Q_FORMS[name](list(operation.params))
        lowered.ops.append(U1Q(qubits, tuple(lowered.table.add(a) for a in angles)))
    elif name in _PAULI_ROTATIONS:
        pauli = 1j * type(operation)(math.pi).to_matrix()
        row = lowered.table.add(operation.params[0])
        lowered.ops.append(PauliRotation(qubits, pauli, row))
    elif name in _CONTROLLED_PHASES and _has_parameters(operation):
        _lower_controlled_phase(name, operation.params[0], qubits, lowered)
    elif name in _STATIC_GATES or name == "unitary" or _small_constant_gate(operation):
        _lower_static(np.asarray(operation.to_matrix(), dtype=complex), qubits, lowered)
    elif operation.definition is not None:
        definition = operation.definition
        lowered.global_phase_rows.append(lowered.table.add(definition.global_phase))
        inner = {qubit: qubits[i] for i, qubit in enumerate(definition.qubits)}
        for instruction in definition.data:
            inner_qubits = tuple(inner[q] for q in instruction.qubits)
            _lower_instruction(instruction.operation, inner_qubits, lowered, noise, False)
    else:
        raise UnsupportedGateError(
            f"gate {name!r} is not supported by the torch engine and has no definition; "
            f"supported: {', '.join(SUPPORTED_GATES)}, and any gate whose definition "
            "decomposes into these"
        )
    if top_level and noise is not None:
        error_kraus = noise.kraus(operation, qubits)
        if error_kraus is not None:
            lowered.ops.append(Channel(qubits, error_kraus))


def _has_parameters(operation) -> bool:
    return any(isinstance(p, ParameterExpression) and p.parameters for p in operation.params)


def _small_constant_gate(operation) -> bool:
    """A parameter-free gate on at most 3 qubits whose matrix Qiskit can give us."""
    if _has_parameters(operation) or operation.num_qubits > 3:
        return False
    try:
        operation.to_matrix()
    except Exception:  # gates without a matrix are expanded by their definition instead
        return False
    return True


def _lower_controlled_phase(name, angle, qubits, lowered: Lowered):
    """CP(l) = exp(i l/4) RZ_c(l/2) RZ_t(l/2) RZZ(-l/2); CRZ(t) = RZ_t(t/2) RZZ(-t/2)."""
    table = lowered.table
    phase, control, target, coupling = _CONTROLLED_PHASES[name]
    if phase:
        lowered.global_phase_rows.append(table.add(phase * angle))
    for qubit, share in ((qubits[0], control), (qubits[1], target)):
        if share:
            rows = _U1Q_FORMS["rz"]([share * angle])
            lowered.ops.append(U1Q((qubit,), tuple(table.add(a) for a in rows)))
    zz = np.diag([1.0, -1.0, -1.0, 1.0]).astype(complex)
    lowered.ops.append(PauliRotation(qubits, zz, table.add(coupling * angle)))


def _u1q_rows(matrix, table: AngleTable) -> tuple[int, int, int, int]:
    """The angle rows of a constant one-qubit ``matrix`` as a ``U1Q``."""
    from qiskit.synthesis import OneQubitEulerDecomposer

    theta, phi, lam, phase = OneQubitEulerDecomposer("U3").angles_and_phase(matrix)
    return tuple(table.add(a) for a in (theta, phi, lam, phase))


def _basis_rows(table: AngleTable):
    """``Lowered.basis``: H for X; H S^+ before and S H after for Y (S^+ Y S = X)."""
    h = np.array([[1, 1], [1, -1]], complex) / math.sqrt(2)
    s = np.diag([1, 1j])
    return {
        "X": (_u1q_rows(h, table),) * 2,
        "Y": (_u1q_rows(h @ s.conj(), table), _u1q_rows(s @ h, table)),
    }


def _lower_static(matrix, qubits, lowered: Lowered):
    if len(qubits) == 1:
        lowered.ops.append(U1Q(qubits, _u1q_rows(matrix, lowered.table)))
        return
    monomial = monomial_from_matrix(matrix)
    if monomial is not None:
        lowered.ops.append(Monomial(qubits, *monomial))
    else:
        lowered.ops.append(Dense(qubits, matrix))


def virtualize(ops: list[Op], n_qubits: int) -> list[list[Op]]:
    """Operations on the 2n wires of a vectorised density matrix: U on the row wires
    (q + n), conj(U) on the column wires (q), a channel as its superoperator on both.
    Returns one group per logical op: the fuser keeps a group's ops in one block."""
    n = n_qubits
    groups: list[list[Op]] = []
    for op in ops:
        out: list[Op] = []
        groups.append(out)
        rows = tuple(q + n for q in op.wires)
        cols = tuple(op.wires)
        if isinstance(op, U1Q):
            out += [U1Q(rows, op.rows), U1Q(cols, op.rows, conjugate=True)]
        elif isinstance(op, PauliRotation):
            out += [
                PauliRotation(rows, op.pauli, op.row),
                PauliRotation(cols, op.pauli.conj(), op.row, conjugate=True),
            ]
        elif isinstance(op, Monomial):
            out += [Monomial(rows, op.source, op.phase), Monomial(cols, op.source, op.phase.conj())]
        elif isinstance(op, Dense):
            out += [Dense(rows, op.matrix), Dense(cols, op.matrix.conj())]
        else:  # Channel: vec(K rho K^+) = (K (x) conj K) vec(rho), row bits above column bits
            superop = sum(np.kron(k, k.conj()) for k in op.kraus)
            out.append(Dense(cols + rows, superop))
    return groups
