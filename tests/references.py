"""Independent reference values for the backend, model and command-line tests.

Noise-free states come from ``qiskit.quantum_info``. Noisy states come from Aer itself (its
density-matrix method with the noise model, the circuit transpiled for Aer as a Qiskit user
would), because Aer defines where a noise model's errors act. Readout error is applied by brute
force: a Pauli term is "measured" by rotating into its basis, taking the outcome distribution,
pushing it through the per-qubit confusion matrices outcome by outcome, and averaging the parity.
``address_space_limit`` caps the process's memory for tests of what must be refused before
it is allocated. Nothing here uses qrnn. ``tests/`` is on ``sys.path`` (it holds the root
``conftest.py``), so every test module imports this one as ``references``.
"""

from __future__ import annotations

import itertools
import resource
from contextlib import contextmanager

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import DensityMatrix, Operator, SparsePauliOp, Statevector
from qiskit_aer import AerSimulator


def as_op(observable) -> SparsePauliOp:
    return SparsePauliOp(observable) if isinstance(observable, str) else observable


def density_matrix(circuit: QuantumCircuit, noise_model=None) -> DensityMatrix:
    """Final state of a bound circuit: with ``noise_model``, what Aer's density-matrix method
    gives for ``transpile(circuit, AerSimulator(...), optimization_level=0)`` (Aer's own
    placement of errors); without, ``qiskit.quantum_info`` (resets included)."""
    if noise_model is None:
        rho = DensityMatrix.from_label("0" * circuit.num_qubits)
        for instruction in circuit.data:
            qubits = [circuit.find_bit(q).index for q in instruction.qubits]
            if instruction.operation.name == "reset":
                rho = rho.reset(qubits)
            elif instruction.operation.name != "barrier":
                rho = rho.evolve(Operator(instruction.operation), qargs=qubits)
        return rho
    simulator = AerSimulator(method="density_matrix", noise_model=noise_model)
    runnable = transpile(circuit, AerSimulator(method="density_matrix"), optimization_level=0)
    runnable.save_density_matrix()
    result = simulator.run(runnable).result()
    assert result.success, result.status
    return DensityMatrix(result.data(0)["density_matrix"])


def measured_pauli(rho: DensityMatrix, label: str, confusion: dict) -> float:
    """Mean product of +-1 outcomes when measuring Pauli ``label`` with readout errors
    ``confusion[q][true, read]``."""
    n = rho.num_qubits
    rotated = rho
    for q, letter in enumerate(reversed(label)):
        if letter == "X":
            rotated = rotated.evolve(Operator.from_label("H"), qargs=[q])
        elif letter == "Y":
            to_z = Operator.from_label("H") @ Operator.from_label("S").adjoint()
            rotated = rotated.evolve(to_z, qargs=[q])
    true_probabilities = rotated.probabilities()
    support = [q for q, letter in enumerate(reversed(label)) if letter != "I"]
    total = 0.0
    for true in range(2**n):
        if true_probabilities[true] < 1e-15:
            continue
        for read in itertools.product((0, 1), repeat=len(support)):
            weight = true_probabilities[true]
            for q, bit in zip(support, read, strict=True):
                matrix = confusion.get(q, np.eye(2))
                weight *= matrix[(true >> q) & 1, bit]
            total += weight * (-1) ** sum(read)
    return float(total)


class Reference:
    """Expectation values (batch, n_obs) and, for shot tests, a bound on the standard error."""

    def __init__(self, circuit, values, observables, noise_model=None, confusion=None):
        values = np.atleast_2d(np.asarray(values, dtype=float))
        ops = [as_op(o) for o in observables]
        confusion = confusion or {}
        exact_states = noise_model is None and not confusion and not _has_reset(circuit)
        self.terms = []  # per sample: per observable: [(coeff, exact term value)]
        for row in values:
            bound = circuit.assign_parameters(row) if circuit.num_parameters else circuit
            if exact_states:
                state = Statevector(bound)
                per_obs = [
                    [(c.real, state.expectation_value(p).real) for p, c in _items(op)] for op in ops
                ]
            else:
                rho = density_matrix(bound, noise_model)
                per_obs = [
                    [(c.real, measured_pauli(rho, p.to_label(), confusion)) for p, c in _items(op)]
                    for op in ops
                ]
            self.terms.append(per_obs)
        self.values = np.array(
            [[sum(c * e for c, e in obs) for obs in sample] for sample in self.terms]
        )

    def sigma(self, shots: int) -> np.ndarray:
        """(batch, n_obs) upper bound on the standard error with ``shots`` per basis: the sum of
        the terms' standard errors (triangle inequality; correlations cannot exceed it)."""

        def error(c, e):
            return abs(c) * np.sqrt(max(1.0 - e * e, 0.0) / shots)

        return np.array([[sum(error(c, e) for c, e in obs) for obs in s] for s in self.terms])


def _items(op: SparsePauliOp):
    return zip(op.paulis, op.coeffs, strict=True)


def _has_reset(circuit) -> bool:
    return any(i.operation.name == "reset" for i in circuit.data)


def finite_difference(function, values, h=1e-5) -> np.ndarray:
    """Central differences (batch, n_obs, n_params) of ``function(values) -> (batch, n_obs)``."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    columns = []
    for j in range(values.shape[1]):
        step = np.zeros_like(values)
        step[:, j] = h
        columns.append((function(values + step) - function(values - step)) / (2 * h))
    return np.stack(columns, axis=-1)


@contextmanager
def address_space_limit(extra_bytes: int = 2 * 2**30):
    """Cap this process's address space at its current size plus ``extra_bytes``, so that
    code under test that tries to allocate a huge array fails at once instead of filling the
    machine's memory. Skips the calling test where the cap cannot be set (not Linux)."""
    import pytest

    try:
        with open("/proc/self/status") as status:
            size_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        pytest.skip("needs /proc and RLIMIT_AS (Linux) to cap memory safely")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size_kib * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
