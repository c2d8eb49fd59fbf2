"""Per-time-step circuits ("cells") of the recurrent model families.

Each builder returns a :class:`Cell`: the circuit of one time step, its input
and weight ``ParameterVector``s, the Pauli labels to read out, and which qubits
hold data and which hold quantum memory. Nothing here executes a circuit; the
models in ``qrnn.models`` decide what happens between steps (for example the
QRNN resets its data register before the next step).

Pauli labels follow Qiskit (little-endian): the last character is qubit 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import ParameterVector, QuantumCircuit

from circuits import _checks
from circuits import ansatz as _ansatz
from circuits.ansatz import all_pairs

__all__ = ["Cell", "qlstm_gate", "qrnn_step", "reservoir"]


@dataclass(frozen=True)
class Cell:
    """One time step of a recurrent quantum model.

    Attributes:
        circuit: the step circuit on ``n_qubits`` qubits, starting from the
            state the model prepares (``|0...0>`` unless it carries memory).
        inputs: input parameters; the model feeds a ``(batch, len(inputs))`` tensor.
        weights: trainable parameters, ``(len(weights),)``; may be empty.
        observables: Pauli labels read out after the step; the expectation
            values form a ``(batch, len(observables))`` tensor.
        data_qubits: qubits that receive the inputs.
        hidden_qubits: qubits that keep quantum memory between steps (empty
            when the hidden state is classical).
    """

    circuit: QuantumCircuit
    inputs: ParameterVector
    weights: ParameterVector
    observables: list[str]
    data_qubits: tuple[int, ...]
    hidden_qubits: tuple[int, ...]

    @property
    def n_qubits(self) -> int:
        """Number of qubits of :attr:`circuit`."""
        return self.circuit.num_qubits


def pauli_label(n_qubits: int, paulis: dict[int, str]) -> str:
    """Qiskit Pauli label with ``paulis[q]`` on qubit ``q`` and ``I`` elsewhere.

    Example: ``pauli_label(3, {0: "Z"}) == "IIZ"``.
    """
    chars = ["I"] * n_qubits
    for qubit, pauli in paulis.items():
        chars[n_qubits - 1 - qubit] = pauli
    return "".join(chars)


def _ansatz_name(name: object) -> str:
    if not isinstance(name, str) or name not in _ansatz.names():
        raise ValueError(f"unknown ansatz {name!r}; expected one of {list(_ansatz.names())}")
    return name


def _ansatz_on(
    circuit: QuantumCircuit, name: str, n_layers: int, weight_prefix: str
) -> ParameterVector:
    block, weights = _ansatz.get(name, circuit.num_qubits, n_layers, prefix=weight_prefix)
    circuit.compose(block, inplace=True)
    return weights


def qlstm_gate(
    n_qubits: int = 10,
    n_inputs: int | None = None,
    n_layers: int = 2,
    ansatz: str = "ion_native",
    input_prefix: str = "x",
    weight_prefix: str = "w",
) -> Cell:
    """The variational circuit of one QLSTM/QGRU gate (Chen, Yoo & Fang, arXiv 2009.01783).

    The classical vector ``v = [x_t, h_{t-1}]`` (after the model's classical
    input projection) has ``n_inputs`` entries; ``v_k`` goes to qubit ``k``.
    Circuit: ``H`` then ``RY(v_k)`` on qubits ``k < n_inputs`` (``H`` alone on
    the rest), then the ansatz ``ansatz`` with ``n_layers`` layers on all
    qubits; readout ``<Z_q>`` for every qubit ``q``. This is the paper's
    ``H, RY(arctan v)`` encoding without the ``arctan`` and the ``RZ(arctan
    v^2)`` term, which keeps every angle linear in the inputs; a model that
    wants the squashing applies ``arctan`` to its inputs classically.

    Args:
        n_qubits: circuit width.
        n_inputs: number of encoded values, at most ``n_qubits`` (default ``n_qubits``).
        n_layers: ansatz layers.
        ansatz: a name from ``circuits.ansatz.names()``.
        input_prefix, weight_prefix: ParameterVector names; give each gate of
            a QLSTM its own ``weight_prefix`` (e.g. ``"w_forget"``).

    Returns:
        :class:`Cell` with ``inputs`` of length ``n_inputs``, observables
        ``Z_0, ..., Z_{n-1}`` (``(batch, n_qubits)`` output), ``data_qubits =
        (0, ..., n_inputs-1)`` and no hidden qubits (the LSTM state is classical).
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    n_inputs = n_qubits if n_inputs is None else _checks.positive_int("n_inputs", n_inputs)
    if n_inputs > n_qubits:
        raise ValueError(
            f"n_inputs={n_inputs} (the length of [x_t, h_(t-1)]) exceeds n_qubits={n_qubits}; "
            "each input needs its own qubit: raise n_qubits or project the inputs to fewer values"
        )
    n_layers = _checks.positive_int("n_layers", n_layers)
    ansatz = _ansatz_name(ansatz)
    input_prefix = _checks.prefix("input_prefix", input_prefix)
    weight_prefix = _checks.prefix("weight_prefix", weight_prefix)
    _checks.distinct_prefixes(input_prefix=input_prefix, weight_prefix=weight_prefix)

    inputs = ParameterVector(input_prefix, n_inputs)
    circuit = QuantumCircuit(n_qubits, name="qlstm_gate")
    for qubit in range(n_qubits):
        circuit.h(qubit)
        if qubit < n_inputs:
            circuit.ry(inputs[qubit], qubit)
    weights = _ansatz_on(circuit, ansatz, n_layers, weight_prefix)
    return Cell(
        circuit=circuit,
        inputs=inputs,
        weights=weights,
        observables=[pauli_label(n_qubits, {q: "Z"}) for q in range(n_qubits)],
        data_qubits=tuple(range(n_inputs)),
        hidden_qubits=(),
    )


def qrnn_step(
    n_data: int = 4,
    n_hidden: int = 6,
    n_layers: int = 2,
    ansatz: str = "ion_native",
    input_prefix: str = "x",
    weight_prefix: str = "w",
) -> Cell:
    """One step of a quantum-memory QRNN (Takaki et al. 2021; Li et al. 2023).

    Layout: data register = qubits ``0 .. n_data-1``, hidden register =
    qubits ``n_data .. n_data+n_hidden-1``. Circuit: ``RY(pi * x_j)`` on data
    qubit ``j``, then the ansatz ``ansatz`` on all qubits; readout ``<Z>`` of
    every data qubit. Inputs are meant to lie in ``[0, 1]`` (angles in
    ``[0, pi]``, where ``RY`` acting on ``|0>`` is one-to-one); ``[-1, 1]``
    also works but ``x`` and ``-x`` then differ only in a sign of the
    amplitude.

    The circuit contains no reset: the model keeps the hidden register's state
    from one step to the next and resets the data register to ``|0>`` before
    each step (Takaki et al.'s measure-and-reinitialise), so the same circuit
    serves exact, density-matrix and hardware execution.

    Returns:
        :class:`Cell` on ``n_data + n_hidden`` qubits with ``inputs`` of
        length ``n_data`` (``(batch, n_data)`` input), observables ``Z`` on
        each data qubit (``(batch, n_data)`` output).
    """
    n_data = _checks.positive_int("n_data", n_data)
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    n_layers = _checks.positive_int("n_layers", n_layers)
    ansatz = _ansatz_name(ansatz)
    input_prefix = _checks.prefix("input_prefix", input_prefix)
    weight_prefix = _checks.prefix("weight_prefix", weight_prefix)
    _checks.distinct_prefixes(input_prefix=input_prefix, weight_prefix=weight_prefix)

    n_qubits = n_data + n_hidden
    inputs = ParameterVector(input_prefix, n_data)
    circuit = QuantumCircuit(n_qubits, name="qrnn_step")
    for qubit in range(n_data):
        circuit.ry(math.pi * inputs[qubit], qubit)
    weights = _ansatz_on(circuit, ansatz, n_layers, weight_prefix)
    return Cell(
        circuit=circuit,
        inputs=inputs,
        weights=weights,
        observables=[pauli_label(n_qubits, {q: "Z"}) for q in range(n_data)],
        data_qubits=tuple(range(n_data)),
        hidden_qubits=tuple(range(n_data, n_qubits)),
    )


def reservoir(
    n_qubits: int = 10,
    n_inputs: int = 1,
    seed: int = 0,
    depth: int = 3,
    input_prefix: str = "x",
) -> Cell:
    """Fixed random ion-trap dynamics for quantum reservoir computing.

    Circuit: ``RY(pi * x_k)`` on data qubit ``k < n_inputs``, then ``depth``
    layers of random transverse and longitudinal fields (``RZ(a_q) RX(b_q)``
    on each qubit ``q``, ``a, b`` uniform in ``[0, 2 pi)``) followed by
    all-to-all ``RXX(J_ij)`` couplings (pairs ``i < j`` in lexicographic order,
    ``J`` uniform in ``[0, pi)``). All dynamics angles are fixed floats drawn
    from ``numpy.random.default_rng(seed)``, so the same seed gives the same
    reservoir; only the readout is trained. Inputs are meant to lie in
    ``[0, 1]``. Like :func:`qrnn_step` the circuit contains no reset; the
    qubits ``n_inputs ..`` can carry memory between steps.

    Returns:
        :class:`Cell` with ``inputs`` of length ``n_inputs``, no weights, and
        observables ``Z_0, ..., Z_{n-1}`` followed by ``Z_i Z_{i+1}`` for
        ``i = 0 .. n-2`` (``(batch, 2 n_qubits - 1)`` output).
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    n_inputs = _checks.positive_int("n_inputs", n_inputs)
    if n_inputs > n_qubits:
        raise ValueError(f"n_inputs={n_inputs} exceeds n_qubits={n_qubits}; one input per qubit")
    seed = _checks.positive_int("seed", seed, minimum=0)
    depth = _checks.positive_int("depth", depth)
    input_prefix = _checks.prefix("input_prefix", input_prefix)

    rng = np.random.default_rng(seed)
    pairs = all_pairs(n_qubits)
    inputs = ParameterVector(input_prefix, n_inputs)
    weights = ParameterVector("w" if input_prefix != "w" else "weights", 0)
    circuit = QuantumCircuit(n_qubits, name="reservoir")
    for qubit in range(n_inputs):
        circuit.ry(math.pi * inputs[qubit], qubit)
    for _ in range(depth):
        fields = rng.uniform(0.0, 2.0 * math.pi, size=(n_qubits, 2))
        couplings = rng.uniform(0.0, math.pi, size=len(pairs))
        for qubit in range(n_qubits):
            circuit.rz(float(fields[qubit, 0]), qubit)
            circuit.rx(float(fields[qubit, 1]), qubit)
        for pair, angle in zip(pairs, couplings, strict=True):
            circuit.rxx(float(angle), *pair)
    observables = [pauli_label(n_qubits, {q: "Z"}) for q in range(n_qubits)]
    observables += [pauli_label(n_qubits, {q: "Z", q + 1: "Z"}) for q in range(n_qubits - 1)]
    return Cell(
        circuit=circuit,
        inputs=inputs,
        weights=weights,
        observables=observables,
        data_qubits=tuple(range(n_inputs)),
        hidden_qubits=tuple(range(n_inputs, n_qubits)),
    )
