"""Observables: the one parser, and observables as sums of monomial terms over basis indices.

``parse_observables`` is the one place that turns what users write into ``SparsePauliOp``s;
the engine, every backend and ``QuantumLayer`` accept exactly its forms and raise its
``ObservableError``.

A Pauli string P on n qubits maps basis index j to j ^ x with a phase, so every observable
column is a set of terms ``(source, coefficient)`` with ``(O psi)[i] = sum coefficient[i] *
psi[source[i]]``. This form survives what the compiler does to it: trailing permutation gates
compose into ``source``, and terms with the same ``source`` are grouped so that one gather
serves all observables. Readout errors enter as ``_noise.apply_readout``'s rewrite first.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from qiskit.quantum_info import Pauli, SparsePauliOp

from qrnn.sim._errors import SimulationError
from qrnn.sim._lowering import Monomial
from qrnn.sim._noise import apply_readout

_FORMS = (
    "a Pauli label (str of I, X, Y, Z; little-endian: the last character is qubit 0), a "
    "qiskit.quantum_info.Pauli or SparsePauliOp, or a list of them"
)


class ObservableError(SimulationError):
    """An observable that is not one of the accepted forms or does not fit the circuit."""


def parse_observables(observables, n_qubits: int) -> list[SparsePauliOp]:
    """Observables as the engine and every backend accept them -> ``SparsePauliOp``s.

    Args:
        observables: one observable or a non-empty sequence of them; each a Pauli label (upper
            or lower case, ``n_qubits`` characters, little-endian: ``"IZ"`` is Z on qubit 0),
            a ``qiskit.quantum_info.Pauli`` or a ``SparsePauliOp`` on ``n_qubits`` qubits with
            real coefficients (Hermitian).
        n_qubits: the circuit's width.

    Returns:
        one ``SparsePauliOp`` per observable, in order.

    Raises:
        ObservableError: anything else, naming the observable's position and what is wrong.
    """
    if isinstance(observables, (str, Pauli, SparsePauliOp)):
        observables = [observables]
    if not isinstance(observables, Iterable):
        raise ObservableError(f"observables must be {_FORMS}; got {type(observables).__name__}")
    parsed = []
    for k, observable in enumerate(observables):
        if isinstance(observable, str):
            label = observable.upper()
            if not label or set(label) - set("IXYZ"):
                raise ObservableError(
                    f"observable {k} is {observable!r}; expected a Pauli label of I, X, Y, Z"
                )
            observable = SparsePauliOp(label)
        elif isinstance(observable, Pauli):
            observable = SparsePauliOp(observable)
        elif not isinstance(observable, SparsePauliOp):
            raise ObservableError(
                f"observable {k} has type {type(observable).__name__}; expected {_FORMS}"
            )
        if observable.num_qubits != n_qubits:
            raise ObservableError(
                f"observable {k} acts on {observable.num_qubits} qubits; the circuit has "
                f"{n_qubits} (labels are little-endian: the last character is qubit 0)"
            )
        coefficients = observable.coeffs * (-1j) ** observable.paulis.phase
        if np.any(np.abs(coefficients.imag) > 1e-12):
            raise ObservableError(
                f"observable {k} has complex coefficients; expected a Hermitian observable"
            )
        parsed.append(observable)
    if not parsed:
        raise ObservableError(f"no observables given; expected at least one: {_FORMS}")
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
        """Terms of ``observables``; ``readout`` maps qubit -> confusion matrix (2, 2), applied
        as ``_noise.apply_readout``'s rewrite."""
        observables = apply_readout(observables, readout or {})
        terms = cls(n_qubits, len(observables))
        index = np.arange(2**n_qubits)
        for column, observable in enumerate(observables):
            for pauli, coefficient in zip(observable.paulis, observable.coeffs, strict=True):
                x_mask = int(np.dot(pauli.x, 1 << np.arange(n_qubits)))
                n_y = int(np.sum(pauli.x & pauli.z))
                source = index ^ x_mask
                factor = np.ones(len(index), complex)
                for q in np.flatnonzero(pauli.z):
                    factor *= 1 - 2 * ((source >> q) & 1)  # Z acts on the source basis state
                # P = (-i)^phase * (label operator); the label's Y = i X Z on each Y qubit
                real = (coefficient * (-1j) ** int(pauli.phase)).real  # Hermitian: real
                terms.items.append((source, real * (1j) ** n_y * factor, column))
        return terms

    def all_diagonal(self) -> bool:
        return all(np.array_equal(s, np.arange(len(s))) for s, _, _ in self.items)

    def fold(self, op: Monomial):
        """O -> M^+ O M for a trailing monomial M on ``op.wires``."""
        self.items = self._conjugated(op, op)

    def fold_gate(self, matrix: np.ndarray, wire: int):
        """O -> U^+ O U for a trailing constant one-wire gate ``matrix`` (2, 2) on ``wire``.
        U = D + A, its diagonal and anti-diagonal parts, each a monomial: a term becomes up
        to four, which keep their sources' form (a Pauli string's stays a bit flip)."""
        wires = (wire,)
        parts = [
            Monomial(wires, np.array([0, 1]), np.array([matrix[0, 0], matrix[1, 1]])),
            Monomial(wires, np.array([1, 0]), np.array([matrix[0, 1], matrix[1, 0]])),
        ]
        merged: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray, int]] = {}
        for left in parts:
            for right in parts:
                for source, coefficient, column in self._conjugated(left, right):
                    key = (source.tobytes(), column)
                    if key in merged:
                        coefficient = merged[key][1] + coefficient
                    merged[key] = (source, coefficient, column)
        self.items = [item for item in merged.values() if np.any(np.abs(item[1]) > 1e-14)]

    def _conjugated(self, left: Monomial, right: Monomial):
        """The items of L^+ O R for monomials L and R (phases may be zero)."""
        left_source, left_phase = expand_monomial(left, self.n_qubits)
        right_source, right_phase = expand_monomial(right, self.n_qubits)
        # (R psi)[i] = r[i] psi[sR[i]];  (L^+ phi)[j] = conj(l[k]) phi[k] with sL[k] = j
        inverse = np.empty_like(left_source)
        inverse[left_source] = np.arange(len(left_source))
        k = inverse
        items = []
        for source, coefficient, column in self.items:
            # (L^+ O R psi)[j] = conj(l[k]) c[k] r[src[k]] psi[sR[src[k]]], k = inverse[j]
            new_coefficient = left_phase[k].conj() * coefficient[k] * right_phase[source[k]]
            items.append((right_source[source[k]], new_coefficient, column))
        return items

    def copy(self) -> Terms:
        terms = Terms(self.n_qubits, self.n_columns)
        terms.items = list(self.items)
        return terms

    def flip_masks(self) -> list[int] | None:
        """Per distinct source other than the identity, its mask m (source[i] = i ^ m), or
        None when some source is not a bit flip (the readout then gathers)."""
        index = np.arange(2**self.n_qubits)
        masks = set()
        for source, _coefficient, _column in self.items:
            mask = int(source[0])
            if not np.array_equal(source, index ^ mask):
                return None
            if mask:
                masks.add(mask)
        return sorted(masks)

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
