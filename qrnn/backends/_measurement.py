"""Measurement as hardware does it: bases, sampling, counts; shared by every backend.

Expectation values with shots are estimated from samples in a few measurement bases
(``measurement_plan``: qubit-wise commuting groups; X and Y factors are rotated into Z with
``rotate_into``, as hardware does, so readout error applies to them too). Counts come from
exact outcome distributions (``sample``: readout confusion, then one multinomial draw) or from
an executor's own samples, and are reported in Qiskit's key format (``clbit_counts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit.circuit import ClassicalRegister, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qrnn.sim import read_distribution


def _terms(observable: SparsePauliOp):
    """(z (n_terms, n), x (n_terms, n), real coefficients) with phases absorbed."""
    paulis = observable.paulis
    coeffs = (observable.coeffs * (-1j) ** paulis.phase).real
    return np.asarray(paulis.z, bool), np.asarray(paulis.x, bool), coeffs


def z_type(observables: list[SparsePauliOp]) -> bool:
    """True when no term has an X or Y factor: every value is read in the computational basis
    (so at a mid-circuit marker too, where a device's virtual-Z frames move basis rotations)."""
    return not any(np.any(o.paulis.x) for o in observables)


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


def rotate_into(circuit: QuantumCircuit, basis: str, measure: bool = False) -> QuantumCircuit:
    """A copy of ``circuit`` (global phase dropped) with each qubit q rotated from ``basis[q]``
    ('X', 'Y' or 'Z') into Z: H for X, S^+ then H for Y. With ``measure``, every qubit is then
    measured into a fresh register (clbit q = qubit q)."""
    rotated = circuit.copy()
    rotated.global_phase = 0.0
    for q, letter in enumerate(basis):
        if letter == "X":
            rotated.h(q)
        elif letter == "Y":
            rotated.sdg(q)
            rotated.h(q)
    if measure:
        register = ClassicalRegister(circuit.num_qubits, "meas")
        rotated.add_register(register)
        rotated.measure(range(circuit.num_qubits), register)
    return rotated


def physical_qubits(native: QuantumCircuit, n_logical: int) -> list[int]:
    """Physical qubit of each logical qubit of a transpiled circuit (identity without layout)."""
    layout = getattr(native, "layout", None)
    if layout is None:
        return list(range(n_logical))
    return list(layout.final_index_layout())[:n_logical]


def sample(probabilities: np.ndarray, shots: int, confusion: dict, rng) -> np.ndarray:
    """Counts ``(batch, 2**n)`` of ``shots`` read-outs per row of true outcome distributions
    ``probabilities (batch, 2**n)`` (index bit q = qubit q): readout confusion, one multinomial
    draw per row."""
    p = np.clip(
        read_distribution(np.asarray(probabilities, dtype=np.float64), confusion), 0.0, None
    )
    p /= p.sum(axis=1, keepdims=True)
    return rng.multinomial(shots, p)


def relabel(outcomes: np.ndarray, qubits: list[int]) -> np.ndarray:
    """Integers over ``qubits`` (bit j = qubit ``qubits[j]`` of ``outcomes``) -> integers whose
    bit j is that bit: physical outcomes as logical ones, or qubits as clbits."""
    result = np.zeros_like(outcomes)
    for j, qubit in enumerate(qubits):
        result |= ((outcomes >> qubit) & 1) << j
    return result


def clbit_counts(circuit: QuantumCircuit, clbits: np.ndarray, counts: np.ndarray) -> dict:
    """Qiskit's counts dict ``{key: count}`` from outcome integers over ``circuit``'s clbits
    (bit c = clbit c) and their counts: one bitstring per register (clbit 0 rightmost), the
    last register first, separated by spaces; most frequent first."""
    merged: dict[str, int] = {}
    for value, count in zip(clbits.tolist(), counts.tolist(), strict=True):
        if count:
            key = _clbit_key(circuit, value)
            merged[key] = merged.get(key, 0) + int(count)
    return dict(sorted(merged.items(), key=lambda item: (-item[1], item[0])))


def _clbit_key(circuit: QuantumCircuit, value: int) -> str:
    if not circuit.cregs:
        return format(value, f"0{circuit.num_clbits}b") if circuit.num_clbits else ""
    words = []
    for register in reversed(circuit.cregs):
        indices = [circuit.find_bit(bit).index for bit in register]
        words.append("".join(str((value >> i) & 1) for i in reversed(indices)))
    return " ".join(words)
