"""Per-time-step circuits ("cells") of the recurrent model families.

Each builder returns a :class:`Cell`: the circuit of one time step, its input
and weight ``ParameterVector``s, the Pauli labels to read out, and which qubits
hold data and which hold quantum memory. Nothing here executes a circuit. For
executors that run a whole sequence as one circuit, :func:`unroll` writes a
quantum-memory cell's steps one after the other, with a marker (a labelled
barrier where expectation values are read) and a reset of the data register
after every step.

Circuit depth is ``reps`` (repetitions of the ansatz layer), as in Qiskit's
circuit library; ``n_layers`` (and the reservoir's ``depth``) are deprecated
aliases.

Pauli labels follow Qiskit (little-endian): the last character is qubit 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import Barrier, ParameterVector, QuantumCircuit

from circuits import _checks
from circuits import ansatz as _ansatz
from circuits._checks import renamed_keywords
from circuits.ansatz import all_pairs

__all__ = [
    "MARKER_LABEL",
    "Cell",
    "add_marker",
    "pauli_label",
    "qlstm_gate",
    "qrnn_step",
    "reservoir",
    "unroll",
]

# The label of a marker barrier; executors read expectation values where it stands.
MARKER_LABEL = "qrnn.marker"


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
    circuit: QuantumCircuit, name: str, reps: int, weight_prefix: str
) -> ParameterVector:
    block, weights = _ansatz.get(name, circuit.num_qubits, reps, prefix=weight_prefix)
    circuit.compose(block, inplace=True)
    return weights


def _free_prefix(prefix: str, parameters) -> str:
    """``prefix``, with ``_`` prepended until no name in ``parameters`` starts with it (so a
    new ``ParameterVector`` cannot clash with a user's parameters)."""
    names = {p.name for p in parameters}
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    return prefix


@renamed_keywords(n_layers="reps")
def qlstm_gate(
    n_qubits: int = 10,
    n_inputs: int | None = None,
    reps: int = 2,
    ansatz: str = "ion_native",
    input_prefix: str = "x",
    weight_prefix: str = "w",
) -> Cell:
    """The variational circuit of one QLSTM/QGRU gate (Chen, Yoo & Fang, arXiv 2009.01783).

    The classical vector ``v = [x_t, h_{t-1}]`` (after the model's classical
    input projection) has ``n_inputs`` entries; ``v_k`` goes to qubit ``k``.
    Circuit: ``H`` then ``RY(v_k)`` on qubits ``k < n_inputs`` (``H`` alone on
    the rest), then the ansatz ``ansatz`` with ``reps`` layers on all
    qubits; readout ``<Z_q>`` for every qubit ``q``. This is the paper's
    ``H, RY(arctan v)`` encoding without the ``arctan`` and the ``RZ(arctan
    v^2)`` term, which keeps every angle linear in the inputs; a model that
    wants the squashing applies ``arctan`` to its inputs classically.

    Args:
        n_qubits: circuit width.
        n_inputs: number of encoded values, at most ``n_qubits`` (default ``n_qubits``).
        reps: ansatz layers (repetitions); ``n_layers`` is a deprecated alias.
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
    reps = _checks.positive_int("reps", reps)
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
    weights = _ansatz_on(circuit, ansatz, reps, weight_prefix)
    return Cell(
        circuit=circuit,
        inputs=inputs,
        weights=weights,
        observables=[pauli_label(n_qubits, {q: "Z"}) for q in range(n_qubits)],
        data_qubits=tuple(range(n_inputs)),
        hidden_qubits=(),
    )


@renamed_keywords(n_layers="reps")
def qrnn_step(
    n_data: int = 4,
    n_hidden: int = 6,
    reps: int = 2,
    ansatz: str | QuantumCircuit = "ion_native",
    input_prefix: str = "x",
    weight_prefix: str = "w",
) -> Cell:
    """One step of a quantum-memory QRNN (Takaki et al. 2021; Li et al. 2023).

    Layout: data register = qubits ``0 .. n_data-1``, hidden register =
    qubits ``n_data .. n_data+n_hidden-1``. Circuit: ``RY(pi * x_j)`` on data
    qubit ``j``, then the ansatz on all qubits; readout ``<Z>`` of every data
    qubit. Inputs are meant to lie in ``[0, 1]`` (angles in ``[0, pi]``, where
    ``RY`` acting on ``|0>`` is one-to-one); ``[-1, 1]`` also works but ``x``
    and ``-x`` then differ only in a sign of the amplitude.

    The circuit contains no reset: the model keeps the hidden register's state
    from one step to the next and resets the data register to ``|0>`` before
    each step (Takaki et al.'s measure-and-reinitialise; :func:`unroll` writes
    that out), so the same circuit serves exact, density-matrix and hardware
    execution.

    Args:
        n_data, n_hidden: qubits of the data and the hidden register.
        reps: ansatz layers (repetitions) of a named ansatz; ``n_layers`` is a
            deprecated alias. Not used when ``ansatz`` is a circuit.
        ansatz: a name from ``circuits.ansatz.names()``, or a ``QuantumCircuit``
            on ``n_data + n_hidden`` qubits whose parameters all become the
            cell's weights (in ``circuit.parameters`` order).
        input_prefix: name of the inputs' ``ParameterVector`` (with a circuit
            ansatz, ``_`` is prepended while it would clash with its parameters).
        weight_prefix: name of a named ansatz's weights.

    Returns:
        :class:`Cell` on ``n_data + n_hidden`` qubits with ``inputs`` of
        length ``n_data`` (``(batch, n_data)`` input), observables ``Z`` on
        each data qubit (``(batch, n_data)`` output).
    """
    n_data = _checks.positive_int("n_data", n_data)
    n_hidden = _checks.positive_int("n_hidden", n_hidden)
    reps = _checks.positive_int("reps", reps)
    n_qubits = n_data + n_hidden
    input_prefix = _checks.prefix("input_prefix", input_prefix)
    if isinstance(ansatz, QuantumCircuit):
        if ansatz.num_qubits != n_qubits:
            raise ValueError(
                f"the ansatz circuit has {ansatz.num_qubits} qubits; expected n_data + n_hidden "
                f"= {n_qubits}"
            )
        input_prefix = _free_prefix(input_prefix, ansatz.parameters)
    elif isinstance(ansatz, str):
        ansatz = _ansatz_name(ansatz)
        weight_prefix = _checks.prefix("weight_prefix", weight_prefix)
        _checks.distinct_prefixes(input_prefix=input_prefix, weight_prefix=weight_prefix)
    else:
        raise TypeError(
            "ansatz must be a name from circuits.ansatz.names() or a QuantumCircuit, "
            f"got {type(ansatz).__name__}"
        )

    inputs = ParameterVector(input_prefix, n_data)
    circuit = QuantumCircuit(n_qubits, name="qrnn_step")
    for qubit in range(n_data):
        circuit.ry(math.pi * inputs[qubit], qubit)
    if isinstance(ansatz, QuantumCircuit):
        circuit.compose(ansatz, inplace=True)
        weights = list(ansatz.parameters)
    else:
        weights = _ansatz_on(circuit, ansatz, reps, weight_prefix)
    return Cell(
        circuit=circuit,
        inputs=inputs,
        weights=weights,
        observables=[pauli_label(n_qubits, {q: "Z"}) for q in range(n_data)],
        data_qubits=tuple(range(n_data)),
        hidden_qubits=tuple(range(n_data, n_qubits)),
    )


@renamed_keywords(depth="reps")
def reservoir(
    n_qubits: int = 10,
    n_inputs: int = 1,
    seed: int = 0,
    reps: int = 3,
    input_prefix: str = "x",
) -> Cell:
    """Fixed random ion-trap dynamics for quantum reservoir computing.

    Circuit: ``RY(pi * x_k)`` on data qubit ``k < n_inputs``, then ``reps``
    layers of random transverse and longitudinal fields (``RZ(a_q) RX(b_q)``
    on each qubit ``q``, ``a, b`` uniform in ``[0, 2 pi)``) followed by
    all-to-all ``RXX(J_ij)`` couplings (pairs ``i < j`` in lexicographic order,
    ``J`` uniform in ``[0, pi)``). All dynamics angles are fixed floats drawn
    from ``numpy.random.default_rng(seed)``, so the same seed gives the same
    reservoir; only the readout is trained. Inputs are meant to lie in
    ``[0, 1]``. Like :func:`qrnn_step` the circuit contains no reset; the
    qubits ``n_inputs ..`` can carry memory between steps.

    Args:
        n_qubits: circuit width.
        n_inputs: data qubits ``0 .. n_inputs-1``, at most ``n_qubits``.
        seed: seed of the dynamics' angles, >= 0.
        reps: layers of fields and couplings per step; ``depth`` is a
            deprecated alias.
        input_prefix: name of the inputs' ``ParameterVector``.

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
    reps = _checks.positive_int("reps", reps)
    input_prefix = _checks.prefix("input_prefix", input_prefix)

    rng = np.random.default_rng(seed)
    pairs = all_pairs(n_qubits)
    inputs = ParameterVector(input_prefix, n_inputs)
    weights = ParameterVector("w" if input_prefix != "w" else "weights", 0)
    circuit = QuantumCircuit(n_qubits, name="reservoir")
    for qubit in range(n_inputs):
        circuit.ry(math.pi * inputs[qubit], qubit)
    for _ in range(reps):
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


def add_marker(circuit: QuantumCircuit) -> None:
    """Append a marker to ``circuit`` (in place): a barrier on all qubits labelled
    :data:`MARKER_LABEL`. Executors that read expectation values at markers (``qrnn``'s
    backends, ``expval_at_markers``) read the state there; the barrier itself does nothing."""
    circuit.append(Barrier(circuit.num_qubits, label=MARKER_LABEL), circuit.qubits)


def unroll(cell: Cell, steps: int, input_prefix: str = "x") -> tuple[QuantumCircuit, list]:
    """``steps`` time steps of a quantum-memory cell as one circuit, for executors that run a
    whole sequence at once (with mid-circuit reset).

    Step ``t`` is ``cell.circuit`` with its inputs replaced by a fresh ``ParameterVector``
    ``inputs[t]``, then a marker (:func:`add_marker`: the step's readout is taken there), then
    a reset of every data qubit; the hidden qubits carry their state on. The weights stay
    ``cell.weights``, shared by every step.

    Args:
        cell: a cell with data qubits, e.g. :func:`qrnn_step` or :func:`reservoir`.
        steps: number of time steps, >= 1.
        input_prefix: step ``t``'s inputs are named ``f"{input_prefix}{t:06d}"`` (with ``_``
            prepended while that would clash with the cell's weights).

    Returns:
        ``(circuit, inputs)``: the circuit on ``cell.n_qubits`` qubits, named
        ``f"{cell.circuit.name}_x{steps}"``, with ``steps`` markers; ``inputs``, a list of
        ``steps`` ParameterVectors of ``len(cell.inputs)`` parameters each.
    """
    steps = _checks.positive_int("steps", steps)
    input_prefix = _free_prefix(_checks.prefix("input_prefix", input_prefix), cell.weights)
    circuit = QuantumCircuit(cell.n_qubits, name=f"{cell.circuit.name}_x{steps}")
    inputs = []
    for t in range(steps):
        step_inputs = ParameterVector(f"{input_prefix}{t:06d}", len(cell.inputs))
        inputs.append(step_inputs)
        bound = cell.circuit.assign_parameters(dict(zip(cell.inputs, step_inputs, strict=True)))
        circuit.compose(bound, inplace=True)
        add_marker(circuit)
        for qubit in cell.data_qubits:
            circuit.reset(qubit)
    return circuit, inputs
