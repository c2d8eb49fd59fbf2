"""Observables: parsing, readout error as an observable rewrite, measurement groups for shots.

Readout error. With independent per-qubit confusion matrices ``A_q[t, m] = P(measured m | true
t)``, measuring a Pauli P on its support S (after rotating each qubit into P's eigenbasis, as
hardware does) and multiplying the +-1 outcomes has expectation

    E_true[ prod_{q in S} (A_q[t_q, 0] - A_q[t_q, 1]) ],

and ``A_q[t, 0] - A_q[t, 1] = a_q + b_q (-1)^t`` with ``a_q = A_q[1, 0] - A_q[0, 1]`` and
``b_q = 1 - A_q[0, 1] - A_q[1, 0]``. Expanding the product gives an exact rewrite of the
observable: ``P_S -> sum_{U subset S} prod_{q in U} a_q prod_{q in S \\ U} b_q P_{S \\ U}``
(P with the qubits of U replaced by I). Every exact executor then computes ordinary expectation
values of the rewritten observable, so all of them include readout error identically.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import Pauli, PauliList, SparsePauliOp

from qrnn.backends._errors import BackendError


def parse_observables(observables, n_qubits: int) -> list[SparsePauliOp]:
    """Pauli labels / ``Pauli`` / ``SparsePauliOp`` (one or a list) -> list of SparsePauliOp.

    Checks the width against the circuit and that coefficients are real (Hermitian).
    """
    if isinstance(observables, (str, SparsePauliOp, Pauli)):
        observables = [observables]
    try:
        items = list(observables)
    except TypeError:
        raise BackendError(
            f"observables must be a list of Pauli labels or SparsePauliOps, got "
            f"{type(observables).__name__}"
        ) from None
    if not items:
        raise BackendError("no observables given; expected at least one Pauli label")
    parsed = []
    for k, observable in enumerate(items):
        if isinstance(observable, str):
            label = observable.upper()
            if not label or set(label) - set("IXYZ"):
                raise BackendError(
                    f"observable {k} is {observable!r}; expected a Pauli label of I, X, Y, Z"
                )
            observable = SparsePauliOp(label)
        elif isinstance(observable, Pauli):
            observable = SparsePauliOp(observable)
        elif not isinstance(observable, SparsePauliOp):
            raise BackendError(
                f"observable {k} has type {type(observable).__name__}; expected a Pauli label "
                "(str) or a qiskit.quantum_info.SparsePauliOp"
            )
        if observable.num_qubits != n_qubits:
            raise BackendError(
                f"observable {k} acts on {observable.num_qubits} qubits; the circuit has "
                f"{n_qubits} (labels are little-endian: the last character is qubit 0)"
            )
        coeffs = observable.coeffs * (-1j) ** observable.paulis.phase
        if np.any(np.abs(coeffs.imag) > 1e-12):
            raise BackendError(f"observable {k} has complex coefficients; expected Hermitian")
        parsed.append(observable)
    return parsed


def _terms(observable: SparsePauliOp):
    """(z (n_terms, n), x (n_terms, n), real coefficients) with phases absorbed."""
    paulis = observable.paulis
    coeffs = (observable.coeffs * (-1j) ** paulis.phase).real
    return np.asarray(paulis.z, bool), np.asarray(paulis.x, bool), coeffs


def is_z_type(observable: SparsePauliOp) -> bool:
    return not np.any(observable.paulis.x)


def readout_confusion(noise_model, n_qubits: int) -> dict[int, np.ndarray]:
    """qubit -> confusion matrix ``A[t, m] = P(measured m | true t)`` (2, 2) of ``noise_model``.

    Only qubits with a readout error appear. Correlated (multi-qubit) readout errors are refused.
    """
    if noise_model is None:
        return {}
    correlated = [k for k in noise_model._local_readout_errors if len(k) != 1]
    default = noise_model._default_readout_error
    if correlated or (default is not None and default.number_of_qubits != 1):
        raise BackendError(
            "only independent one-qubit readout errors are supported; the noise model has a "
            f"correlated one on qubits {correlated[0] if correlated else 'all'}"
        )
    table = {}
    for qubit in range(n_qubits):
        error = noise_model._local_readout_errors.get((qubit,), default)
        if error is not None:
            table[qubit] = np.asarray(error.probabilities, dtype=float)
    return table


def apply_readout(
    observables: list[SparsePauliOp], confusion: dict[int, np.ndarray]
) -> list[SparsePauliOp]:
    """The observables whose ideal expectation values equal the measured ones (module doc)."""
    if not confusion:
        return observables
    n = observables[0].num_qubits
    a = np.zeros(n)
    b = np.ones(n)
    for qubit, matrix in confusion.items():
        a[qubit] = matrix[1, 0] - matrix[0, 1]
        b[qubit] = 1.0 - matrix[0, 1] - matrix[1, 0]
    rewritten = []
    for observable in observables:
        zs, xs, out_coeffs = [], [], []
        for z, x, coeff in zip(*_terms(observable), strict=True):
            support = np.flatnonzero(z | x)
            biased = [q for q in support if a[q] != 0.0]
            for size in range(len(biased) + 1):
                for removed in itertools.combinations(biased, size):
                    kept = np.setdiff1d(support, removed)
                    factor = coeff * np.prod(a[list(removed)]) * np.prod(b[kept])
                    z_new, x_new = z.copy(), x.copy()
                    z_new[list(removed)] = False
                    x_new[list(removed)] = False
                    zs.append(z_new)
                    xs.append(x_new)
                    out_coeffs.append(factor)
        paulis = PauliList.from_symplectic(np.array(zs), np.array(xs))
        rewritten.append(SparsePauliOp(paulis, np.array(out_coeffs, dtype=complex)).simplify(0.0))
    return rewritten


def pad_to_layout(observables: list[SparsePauliOp], circuit) -> list[SparsePauliOp]:
    """Observables on a transpiled ``circuit``'s physical qubits (its layout, or identity
    padding when it only grew wider)."""
    layout = getattr(circuit, "layout", None)
    if layout is not None:
        return [o.apply_layout(layout, circuit.num_qubits) for o in observables]
    width = observables[0].num_qubits
    if circuit.num_qubits == width:
        return observables
    return [o.apply_layout(None, circuit.num_qubits) for o in observables]


# --- measurement groups for sampling ---------------------------------------------------------


@dataclass(frozen=True)
class MeasurementPlan:
    """How to estimate observables from samples in a few measurement bases.

    ``bases[g][q]`` is the basis ('X', 'Y' or 'Z') qubit q is measured in for group g ('Z' where
    the group does not care). Observable k is ``constant[k] + sum_t parity_t @ coeffs[g][t, k]``
    where ``parity_t`` is the mean of (-1)^(popcount(outcome & masks[g][t])) in group g.
    """

    n_qubits: int
    bases: list[str]
    masks: list[np.ndarray]  # per group: (n_terms_g,) int64 bit masks
    coeffs: list[np.ndarray]  # per group: (n_terms_g, n_obs)
    constant: np.ndarray  # (n_obs,)


def measurement_plan(observables: list[SparsePauliOp]) -> MeasurementPlan:
    """Group every Pauli term into qubit-wise commuting bases (all Z-type terms share the
    computational basis), greedily."""
    n = observables[0].num_qubits
    letters = np.array(["I", "X", "Z", "Y"])  # index x + 2 z
    term_list = []
    for k, observable in enumerate(observables):
        for z, x, coeff in zip(*_terms(observable), strict=True):
            term_list.append((k, letters[x.astype(int) + 2 * z.astype(int)], z | x, coeff))
    # Z-type first so that the computational basis is group 0 whenever it is needed.
    term_list.sort(key=lambda t: bool(np.any((t[1] == "X") | (t[1] == "Y"))))
    groups: list[np.ndarray] = []
    members: list[dict[int, np.ndarray]] = []  # per group: mask -> coefficient row
    constant = np.zeros(len(observables))
    for k, basis, support, coeff in term_list:
        if not support.any():
            constant[k] += coeff
            continue
        fits = [
            g
            for g, group in enumerate(groups)
            if np.all((group == "I") | (basis == "I") | (group == basis))
        ]
        if fits:
            g = fits[0]
            groups[g][support] = basis[support]
        else:
            groups.append(basis.copy())
            members.append({})
            g = len(groups) - 1
        mask = int(np.dot(support, 1 << np.arange(n)))
        row = members[g].setdefault(mask, np.zeros(len(observables)))
        row[k] += coeff
    return MeasurementPlan(
        n_qubits=n,
        bases=["".join("Z" if c == "I" else c for c in group) for group in groups],
        masks=[np.array(list(m), dtype=np.int64) for m in members],
        coeffs=[np.array(list(m.values())).reshape(len(m), len(observables)) for m in members],
        constant=constant,
    )


def estimate(plan: MeasurementPlan, outcomes: list[list[tuple[np.ndarray, np.ndarray]]]):
    """Expectation estimates (batch, n_obs) from ``outcomes[g][b] = (keys, counts)``: the
    measured integers (bit q = qubit q) and how often each occurred in group g, sample b."""
    n_batch = len(outcomes[0]) if outcomes else 0
    result = np.tile(plan.constant, (n_batch, 1))
    for masks, coeffs, group in zip(plan.masks, plan.coeffs, outcomes, strict=True):
        for b, (keys, counts) in enumerate(group):
            parity = np.bitwise_count(keys[None, :] & masks[:, None]) & 1  # (n_terms, n_keys)
            means = (1 - 2 * parity.astype(np.float64)) @ counts / counts.sum()
            result[b] += means @ coeffs
    return result


def basis_change(circuit, basis: str):
    """A copy of ``circuit`` with rotations into ``basis`` (``basis[q]`` for qubit q) and a
    measurement of every qubit into a fresh register (clbit q = qubit q)."""
    from qiskit.circuit import ClassicalRegister

    measured = circuit.copy()
    for q, letter in enumerate(basis):
        if letter == "X":
            measured.h(q)
        elif letter == "Y":
            measured.sdg(q)
            measured.h(q)
    register = ClassicalRegister(circuit.num_qubits, "meas")
    measured.add_register(register)
    measured.measure(range(circuit.num_qubits), register)
    return measured
