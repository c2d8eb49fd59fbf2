"""Observables as sums of monomial terms over basis indices.

A Pauli string P on n qubits maps basis index j to j ^ x with a phase, so every observable
column is a set of terms ``(source, coefficient)`` with ``(O psi)[i] = sum coefficient[i] *
psi[source[i]]``. This form survives what the compiler does to it: readout errors rescale the
coefficients of Z-type terms, trailing permutation gates compose into ``source``, and terms
with the same ``source`` are grouped so that one gather serves all observables.
"""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from qrnn.sim._errors import SimulationError, UnsupportedNoiseError
from qrnn.sim._lowering import Monomial


class ObservableError(SimulationError):
    """An observable does not fit the circuit."""


def parse(observables, n_qubits: int) -> list[SparsePauliOp]:
    """Pauli labels / SparsePauliOps -> SparsePauliOps, checking width and hermiticity."""
    if isinstance(observables, (str, SparsePauliOp)):
        observables = [observables]
    parsed = []
    for k, observable in enumerate(observables):
        if isinstance(observable, str):
            label = observable.upper()
            if not label or set(label) - set("IXYZ"):
                raise ObservableError(
                    f"observable {k} is {observable!r}; expected a Pauli label of I, X, Y, Z"
                )
            observable = SparsePauliOp(label)
        elif not isinstance(observable, SparsePauliOp):
            raise ObservableError(
                f"observable {k} has type {type(observable).__name__}; expected a Pauli "
                "label (str) or a qiskit.quantum_info.SparsePauliOp"
            )
        if observable.num_qubits != n_qubits:
            raise ObservableError(
                f"observable {k} acts on {observable.num_qubits} qubits; the circuit has "
                f"{n_qubits} (labels are little-endian: the last character is qubit 0)"
            )
        if np.any(np.abs(observable.coeffs.imag) > 1e-12):
            raise ObservableError(f"observable {k} has complex coefficients; expected Hermitian")
        parsed.append(observable)
    if not parsed:
        raise ObservableError("no observables given; expected at least one Pauli label")
    return parsed


class Terms:
    """Observable columns as monomial terms on the logical (qubit-order) basis."""

    def __init__(self, n_qubits: int, n_columns: int):
        self.n_qubits = n_qubits
        self.n_columns = n_columns
        # (source array, coefficient array, column index)
        self.items: list[tuple[np.ndarray, np.ndarray, int]] = []

    @classmethod
    def from_paulis(cls, observables, n_qubits: int, readout=None) -> Terms:
        """Terms of ``observables``; ``readout`` maps qubit -> P(measured | true) (2, 2).

        With readout errors a Z factor on qubit q becomes A_q[0|t] - A_q[1|t] for true bit t
        (independent flips: the measured expectation of a product of Zs factorises).
        """
        readout = readout or {}
        terms = cls(n_qubits, len(observables))
        index = np.arange(2**n_qubits)
        bits = [(index >> q) & 1 for q in range(n_qubits)]
        for column, observable in enumerate(observables):
            for pauli, coefficient in zip(observable.paulis, observable.coeffs, strict=True):
                x_mask = int(np.dot(pauli.x, 1 << np.arange(n_qubits)))
                if readout and x_mask:
                    raise UnsupportedNoiseError(
                        f"readout errors apply to Z-type observables only, got {pauli} in "
                        f"observable {column}"
                    )
                n_y = int(np.sum(pauli.x & pauli.z))
                source = index ^ x_mask
                factor = np.ones(len(index), complex)
                for q in np.flatnonzero(pauli.z):
                    t = bits[q][source]  # Z acts on the source basis state
                    if q in readout:
                        factor *= readout[q][t, 0] - readout[q][t, 1]
                    else:
                        factor *= 1 - 2 * t
                # SparsePauliOp keeps a group phase (-i)^q in ``pauli.phase``
                phase = (1j) ** n_y * (-1j) ** int(pauli.phase)
                terms.items.append((source, coefficient.real * phase * factor, column))
        return terms

    def all_diagonal(self) -> bool:
        return all(np.array_equal(s, np.arange(len(s))) for s, _, _ in self.items)

    def fold(self, op: Monomial):
        """O -> M^+ O M for a trailing monomial M on ``op.wires``."""
        source_full, phase_full = expand_monomial(op, self.n_qubits)
        # (M psi)[i] = p[i] psi[s[i]];  (M^+ phi)[j] = conj(p[k]) phi[k] with s[k] = j
        inverse = np.empty_like(source_full)
        inverse[source_full] = np.arange(len(source_full))
        items = []
        for source, coefficient, column in self.items:
            # (M^+ O M psi)[j] = conj(p[k]) c[k] p[src[k]] psi[s[src[k]]], k = inverse[j]
            k = inverse
            new_coefficient = phase_full[k].conj() * coefficient[k] * phase_full[source[k]]
            new_source = source_full[source[k]]
            items.append((new_source, new_coefficient, column))
        self.items = items

    def grouped(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(source, coefficients (2**n, n_columns))], one entry per distinct source."""
        groups: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        for source, coefficient, column in self.items:
            key = source.tobytes()
            if key not in groups:
                groups[key] = (source, np.zeros((len(source), self.n_columns), complex))
            groups[key][1][:, column] += coefficient
        return list(groups.values())


def expand_monomial(op: Monomial, n_qubits: int):
    """Full-register (source, phase) of a monomial acting on ``op.wires``."""
    index = np.arange(2**n_qubits)
    local = np.zeros_like(index)
    for j, wire in enumerate(op.wires):
        local |= ((index >> wire) & 1) << j
    rest = index.copy()
    for wire in op.wires:
        rest &= ~(1 << wire)
    local_source = op.source[local]
    source = rest.copy()
    for j, wire in enumerate(op.wires):
        source |= ((local_source >> j) & 1) << wire
    return source, op.phase[local]
