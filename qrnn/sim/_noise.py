"""Where a ``qiskit_aer.noise.NoiseModel`` acts: the one reader every executor asks.

Aer defines the rules, and this module writes them down once (checked against Aer itself in
``tests/sim/test_sim_noise_rules.py``):

* **Which instructions.** Aer runs a circuit in its own instruction set; anything else (a custom
  gate, ``ch``, ``iswap``, a native ion-trap gate...) is expanded first, and errors attach to
  what is left. :func:`simulated_form` is that expansion; every executor runs its output when a
  noise model has quantum errors, so all of them put noise on the same instructions.
* **Which error.** After each instruction, the error keyed by the instruction's *label* when it
  has one, else by its *name* (a labelled ``rx`` does not get the errors of ``rx``). An error on
  exactly that ordered tuple of qubits replaces the all-qubit error. Barriers never get one,
  labelled or not; resets, delays and identities do.
* **Readout.** One-qubit confusion matrices ``A[t, m] = P(read m | true t)``. Aer applies them
  to sampled counts only; exact expectation values get them through :func:`apply_readout`, an
  exact rewrite of the observables, so that every executor's expectation values include readout
  error the way hardware measures it (rotate into the Pauli's basis, read, multiply the +-1
  outcomes). Sampling uses :func:`read_distribution` (on a distribution) or :func:`read_bits` (on
  bits).

Readout rewrite. With ``a_q = A_q[1, 0] - A_q[0, 1]`` and ``b_q = 1 - A_q[0, 1] - A_q[1, 0]``,
a read +-1 outcome of qubit q has mean ``a_q + b_q (-1)^t`` for true bit t, so a Pauli term on
support S becomes ``P_S -> sum_{U subset S} prod_{q in U} a_q prod_{q in S \\ U} b_q P_{S \\ U}``
(P with the qubits of U replaced by I): ordinary expectation values of the rewritten
observables are the measured ones.
"""

from __future__ import annotations

import copy
import functools
import itertools

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import PauliList, SparsePauliOp

from qrnn.sim._errors import UnsupportedNoiseError

__all__ = ["NoiseReader", "apply_readout", "read_bits", "read_distribution", "simulated_form"]

# Kraus operators by ``QuantumError.id`` (a uuid per error, kept by its copies; errors are not
# changed in place). Converting one costs 0.1-0.3 s, and every program compiled with the same
# noise model -- one per circuit of a model, per backend -- meets the same few errors.
_KRAUS: dict[str, list[np.ndarray]] = {}
_KRAUS_ENTRIES = 256


@functools.cache
def _aer_instructions() -> frozenset[str]:
    """Instructions Aer's density-matrix method simulates without expanding them."""
    from qiskit_aer import AerSimulator

    return frozenset(AerSimulator(method="density_matrix").configuration().basis_gates) | {
        "barrier",
        "measure",
    }


@functools.cache
def _expander():
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import BasisTranslator, HighLevelSynthesis

    basis = sorted(_aer_instructions())
    return PassManager(
        [
            HighLevelSynthesis(basis_gates=basis),
            BasisTranslator(SessionEquivalenceLibrary, basis),
        ]
    )


def simulated_form(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` in the instructions Aer simulates: the others expanded as Aer's compiler
    expands them (definitions, then Qiskit's equivalence library); kept instructions keep their
    labels, parameters stay symbolic. Returns ``circuit`` itself when nothing needs expanding."""
    known = _aer_instructions()
    if all(instruction.operation.name in known for instruction in circuit.data):
        return circuit
    return _expander().run(circuit)


class NoiseReader:
    """A ``NoiseModel`` read with Aer's rules (module docstring).

    Args:
        noise_model: a ``qiskit_aer.noise.NoiseModel``.

    Raises:
        TypeError: ``noise_model`` is something else.
        UnsupportedNoiseError: a correlated (multi-qubit) readout error.
    """

    def __init__(self, noise_model):
        from qiskit_aer.noise import NoiseModel

        if not isinstance(noise_model, NoiseModel):
            raise TypeError(
                f"noise_model must be a qiskit_aer.noise.NoiseModel, got "
                f"{type(noise_model).__name__}"
            )
        # Aer's NoiseModel keeps its errors in private tables with no public reader; this is
        # the one place that reads them.
        self.model = noise_model
        self._local = noise_model._local_quantum_errors
        self._default = noise_model._default_quantum_errors
        self._local_readout = noise_model._local_readout_errors
        self._default_readout = noise_model._default_readout_error
        correlated = [qubits for qubits in self._local_readout if len(qubits) != 1]
        if correlated or (
            self._default_readout is not None and self._default_readout.number_of_qubits != 1
        ):
            where = f"qubits {correlated[0]}" if correlated else "all qubits"
            raise UnsupportedNoiseError(
                f"only independent one-qubit readout errors are supported; the noise model has "
                f"a correlated readout error on {where}"
            )
        self._without_readout = None

    @property
    def has_quantum_errors(self) -> bool:
        """Whether any instruction gets a quantum error (else only readout errors, or none)."""
        return bool(self._default or self._local)

    @property
    def has_readout_errors(self) -> bool:
        return self._default_readout is not None or bool(self._local_readout)

    def error(self, operation, qubits) -> object | None:
        """The ``QuantumError`` after ``operation`` on ``qubits`` (indices), or None.

        Raises:
            UnsupportedNoiseError: the error acts on another number of qubits.
        """
        name = operation.name
        if name == "barrier":
            return None
        key = getattr(operation, "label", None) or name
        qubits = tuple(qubits)
        error = self._local.get(key, {}).get(qubits)
        if error is None:
            error = self._default.get(key)
        if error is not None and error.num_qubits != len(qubits):
            raise UnsupportedNoiseError(
                f"the noise model's error on {key!r} acts on {error.num_qubits} qubits but the "
                f"instruction acts on {len(qubits)} (qubits {list(qubits)})"
            )
        return error

    def kraus(self, operation, qubits) -> list[np.ndarray] | None:
        """Kraus operators ``(2**k, 2**k)`` of :meth:`error` (local bit j = ``qubits[j]``)."""
        error = self.error(operation, qubits)
        if error is None:
            return None
        if error.id not in _KRAUS:
            from qiskit.quantum_info import Kraus

            try:
                operators = [np.asarray(k, dtype=complex) for k in Kraus(error).data]
            except Exception as exc:  # Kraus() rejects errors with classical parts
                raise UnsupportedNoiseError(
                    f"the error on {operation.name!r} cannot be converted to Kraus form: {exc}"
                ) from exc
            if len(_KRAUS) >= _KRAUS_ENTRIES:
                _KRAUS.pop(next(iter(_KRAUS)), None)  # the oldest (another thread may too)
            _KRAUS[error.id] = operators
        return _KRAUS[error.id]

    def readout(self, n_qubits: int) -> dict[int, np.ndarray]:
        """qubit -> confusion matrix ``A[t, m] = P(read m | true t)``, (2, 2), for the qubits
        ``0 .. n_qubits-1`` that have a readout error."""
        table = {}
        for qubit in range(n_qubits):
            error = self._local_readout.get((qubit,), self._default_readout)
            if error is not None:
                table[qubit] = np.asarray(error.probabilities, dtype=float)
        return table

    def without_readout(self):
        """A copy of the noise model with its readout errors removed (for executors that apply
        readout error as an observable rewrite instead)."""
        if not self.has_readout_errors:
            return self.model
        if self._without_readout is None:
            model = copy.deepcopy(self.model)
            model._default_readout_error = None
            model._local_readout_errors = {}
            self._without_readout = model
        return self._without_readout


def apply_readout(
    observables: list[SparsePauliOp], confusion: dict[int, np.ndarray]
) -> list[SparsePauliOp]:
    """The observables whose ideal expectation values equal the measured ones (module doc).

    Args:
        observables: ``SparsePauliOp``s on n qubits.
        confusion: qubit -> ``(2, 2)`` confusion matrix, as :meth:`NoiseReader.readout`.
    """
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
        paulis = observable.paulis
        coefficients = observable.coeffs * (-1j) ** paulis.phase
        zs, xs, out = [], [], []
        for z, x, coefficient in zip(paulis.z, paulis.x, coefficients, strict=True):
            support = np.flatnonzero(z | x)
            biased = [q for q in support if a[q] != 0.0]
            for size in range(len(biased) + 1):
                for removed in itertools.combinations(biased, size):
                    kept = np.setdiff1d(support, removed)
                    z_new, x_new = z.copy(), x.copy()
                    z_new[list(removed)] = False
                    x_new[list(removed)] = False
                    zs.append(z_new)
                    xs.append(x_new)
                    out.append(coefficient * np.prod(a[list(removed)]) * np.prod(b[kept]))
        terms = PauliList.from_symplectic(np.array(zs), np.array(xs))
        rewritten.append(SparsePauliOp(terms, np.array(out, dtype=complex)).simplify(0.0))
    return rewritten


def read_distribution(probabilities: np.ndarray, confusion: dict[int, np.ndarray]) -> np.ndarray:
    """Read-out distributions from true ones: ``probabilities (batch, 2**n)`` (index bit q =
    qubit q) through each qubit's confusion matrix; same shape."""
    if not confusion:
        return probabilities
    batch, dim = probabilities.shape
    n = dim.bit_length() - 1
    p = probabilities.reshape((batch,) + (2,) * n)  # axis 1 is qubit n-1
    for qubit, matrix in confusion.items():
        axis = n - qubit
        p = np.moveaxis(np.tensordot(p, matrix, axes=([axis], [0])), -1, axis)
    return p.reshape(batch, dim)


def read_bits(bits: np.ndarray, confusion: dict[int, np.ndarray], rng) -> np.ndarray:
    """Read-out bits from true ones: ``bits (..., n)`` (last axis: qubit) flipped independently
    with ``P(m != t | t)`` of each qubit's confusion matrix; same shape."""
    if not confusion:
        return bits
    bits = bits.copy()
    for qubit, matrix in confusion.items():
        true = bits[..., qubit]
        flip_probability = np.where(true == 0, matrix[0, 1], matrix[1, 0])
        bits[..., qubit] = true ^ (rng.random(true.shape) < flip_probability)
    return bits
