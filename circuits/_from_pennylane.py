"""PennyLane operations in: the reverse of ``to_pennylane`` (private; see ``interop``).

Each PennyLane operation with a Qiskit equivalent becomes that gate (others are replaced by
their PennyLane decompositions first); each numeric gate parameter becomes one ``Parameter``
of a ``ParameterVector``, in the order the operations list them (for a tape of translatable
operations: ``tape.get_parameters(trainable_only=False)``), so that ``circuit.parameters`` has
the same order. ``SUPPORTED_OPERATIONS`` is the one list of what translates: ``qrnn.torch``'s
PennyLane device stops PennyLane's decomposition at exactly these operations.

PennyLane is imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.quantum_info import SparsePauliOp

# append(circuit, angles, qubits): queue one PennyLane operation's gates
_Append = Callable[[QuantumCircuit, list[Any], list[int]], None]


def _gate(gate_class: type) -> _Append:
    return lambda qc, p, q: qc.append(gate_class(*p), q)


def _rot(qc: QuantumCircuit, p: list[Any], q: list[int]) -> None:
    # qml.Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi), phases included
    qc.rz(p[0], q[0])
    qc.ry(p[1], q[0])
    qc.rz(p[2], q[0])


def _global_phase(qc: QuantumCircuit, p: list[Any], q: list[int]) -> None:
    # qml.GlobalPhase(phi) multiplies the state by e^{-i phi}; Qiskit's global phase g by e^{ig}
    qc.global_phase -= p[0]


# PauliRot words with a Qiskit gate: word -> (gate class, qubit order)
_PAULI_ROTATIONS = {
    "X": (lib.RXGate, (0,)),
    "Y": (lib.RYGate, (0,)),
    "Z": (lib.RZGate, (0,)),
    "XX": (lib.RXXGate, (0, 1)),
    "YY": (lib.RYYGate, (0, 1)),
    "ZZ": (lib.RZZGate, (0, 1)),
    # Qiskit's RZX(theta) = exp(-i theta/2 Z_q0 X_q1): Z on its first qubit
    "ZX": (lib.RZXGate, (0, 1)),
    "XZ": (lib.RZXGate, (1, 0)),
}


def _pauli_rotation(word: str) -> _Append:
    gate_class, order = _PAULI_ROTATIONS[word]
    return lambda qc, p, q: qc.append(gate_class(p[0]), [q[k] for k in order])


# PennyLane name -> the Qiskit gate class with the same matrix and parameters
_GATES: dict[str, type] = {
    "PauliX": lib.XGate,
    "PauliY": lib.YGate,
    "PauliZ": lib.ZGate,
    "Hadamard": lib.HGate,
    "S": lib.SGate,
    "Adjoint(S)": lib.SdgGate,
    "T": lib.TGate,
    "Adjoint(T)": lib.TdgGate,
    "SX": lib.SXGate,
    "Adjoint(SX)": lib.SXdgGate,
    "RX": lib.RXGate,
    "RY": lib.RYGate,
    "RZ": lib.RZGate,
    "PhaseShift": lib.PhaseGate,
    "U3": lib.UGate,
    "CNOT": lib.CXGate,
    "CY": lib.CYGate,
    "CZ": lib.CZGate,
    "CH": lib.CHGate,
    "SWAP": lib.SwapGate,
    "ISWAP": lib.iSwapGate,
    "ECR": lib.ECRGate,
    "CRX": lib.CRXGate,
    "CRY": lib.CRYGate,
    "CRZ": lib.CRZGate,
    "ControlledPhaseShift": lib.CPhaseGate,
    "IsingXX": lib.RXXGate,
    "IsingYY": lib.RYYGate,
    "IsingZZ": lib.RZZGate,
    "Toffoli": lib.CCXGate,
    "CCZ": lib.CCZGate,
    "CSWAP": lib.CSwapGate,
}

#: PennyLane operation names that translate to a Qiskit gate (``PauliRot`` and ``MultiRZ``
#: on one or two wires, ``QubitUnitary`` with a constant, unbatched matrix).
SUPPORTED_OPERATIONS = frozenset(
    {*_GATES, "Identity", "Barrier", "Rot", "GlobalPhase", "PauliRot", "MultiRZ", "QubitUnitary"}
)


def supports_operation(op: Any) -> bool:
    """Whether the PennyLane operation ``op`` translates to a Qiskit gate as it is (else
    PennyLane's ``qml.decompose`` can take it apart first)."""
    import pennylane as qml

    name = op.name
    if name not in SUPPORTED_OPERATIONS:
        return False
    if name == "PauliRot":
        return op.hyperparameters["pauli_word"] in _PAULI_ROTATIONS
    if name == "MultiRZ":
        return len(op.wires) <= 2
    if name == "QubitUnitary":
        matrix = op.data[0]
        return qml.math.ndim(matrix) == 2 and not qml.math.requires_grad(matrix)
    return True


def _append_for(op: Any) -> tuple[_Append, int]:
    """(append, number of angle parameters) for a supported ``op``."""
    name = op.name
    if name in _GATES:
        return _gate(_GATES[name]), op.num_params
    if name == "Identity":
        return (lambda qc, p, q: None), 0
    if name == "Barrier":
        return (lambda qc, p, q: qc.barrier(q)), 0
    if name == "Rot":
        return _rot, 3
    if name == "GlobalPhase":
        return _global_phase, 1
    if name == "PauliRot":
        return _pauli_rotation(op.hyperparameters["pauli_word"]), 1
    if name == "MultiRZ":
        return _pauli_rotation("Z" * len(op.wires)), 1
    raise AssertionError(name)  # QubitUnitary is handled by the caller


def _translatable(op: Any, depth: int = 0) -> list[Any]:
    """``op`` if it translates, else the translatable operations of its decomposition."""
    if supports_operation(op):
        return [op]
    if not op.has_decomposition or depth > 64:
        raise _unsupported(op, "from_pennylane")
    return [leaf for sub in op.decomposition() for leaf in _translatable(sub, depth + 1)]


def _unsupported(op: Any, context: str) -> ValueError:
    hint = ""
    if op.name in ("PauliRot", "MultiRZ"):
        hint = " (PauliRot/MultiRZ translate on one or two wires, words X Y Z XX YY ZZ ZX XZ)"
    elif op.name == "QubitUnitary":
        hint = " (QubitUnitary translates with a constant, unbatched matrix)"
    return ValueError(
        f"{context}: the PennyLane operation {op.name!r} on wires {list(op.wires)} has no "
        f"Qiskit equivalent here{hint} and no decomposition into operations of "
        "circuits.interop.SUPPORTED_OPERATIONS"
    )


def operations_circuit(
    operations: Sequence[Any], wires: Sequence[Any], name: str = "theta"
) -> tuple[QuantumCircuit, list[Any]]:
    """A parameterized circuit for PennyLane ``operations`` and the values of its parameters.

    Args:
        operations: PennyLane operations (a tape's ``operations``), each supported
            (``supports_operation``).
        wires: the PennyLane wire of each qubit (qubit k = ``wires[k]``).
        name: the name of the ``ParameterVector`` that holds the parameters.

    Returns:
        ``(circuit, values)``: ``circuit.parameters`` are ``name[0], name[1], ...`` in the order
        the operations list their numeric parameters; ``values`` are those parameters as given
        (floats, arrays or tensors of shape ``()`` or ``(batch,)``; gradients are kept).

    Raises:
        ValueError: an operation without an equivalent, or on a wire not in ``wires``.
    """
    qubit_of = {wire: k for k, wire in enumerate(wires)}
    steps = []
    values: list[Any] = []
    for op in operations:
        if not supports_operation(op):
            raise _unsupported(op, "cannot translate")
        missing = [w for w in op.wires if w not in qubit_of]
        if missing:
            raise ValueError(
                f"the PennyLane operation {op.name!r} acts on wire {missing[0]!r}, which is not "
                f"one of the wires {list(wires)}"
            )
        qubits = [qubit_of[w] for w in op.wires]
        if op.name == "QubitUnitary":
            # PennyLane's matrices are big-endian over the op's wires, Qiskit's little-endian
            matrix = np.asarray(_numeric(op.data[0]), dtype=complex)
            steps.append((lambda qc, p, q, m=matrix: qc.unitary(m, q[::-1]), 0, qubits))
            continue
        append, n_angles = _append_for(op)
        steps.append((append, n_angles, qubits))
        values.extend(op.data[:n_angles])
    circuit = QuantumCircuit(len(wires))
    parameters = ParameterVector(name, len(values))
    start = 0
    for append, n_angles, qubits in steps:
        append(circuit, list(parameters[start : start + n_angles]), qubits)
        start += n_angles
    return circuit, values


def _numeric(value: Any) -> Any:
    """A float / numpy array of a tensor of any interface, detached."""
    import pennylane as qml

    return np.asarray(
        qml.math.to_numpy(value) if qml.math.get_interface(value) != "numpy" else value
    )


def _real(value: Any, what: str) -> float:
    number = complex(np.asarray(_numeric(value)).item())
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)):
        raise ValueError(f"{what} must be real, got {number}")
    return number.real


def observable_to_sparse(observable: Any, wires: Sequence[Any]) -> SparsePauliOp:
    """The PennyLane observable ``observable`` as a ``SparsePauliOp`` over ``len(wires)``
    qubits (qubit k = ``wires[k]``, Qiskit's little-endian labels).

    Raises:
        ValueError: the observable is not a real combination of Pauli words (e.g.
            ``qml.Hermitian``), or acts on a wire not in ``wires``.
    """
    sentence = observable.pauli_rep
    if sentence is None:
        raise ValueError(
            f"the observable {observable} is not a sum of Pauli words; only Pauli observables "
            "become SparsePauliOps"
        )
    qubit_of = {wire: k for k, wire in enumerate(wires)}
    n = len(wires)
    labels, coefficients = [], []
    for word, coefficient in sentence.items():
        label = ["I"] * n
        for wire, pauli in word.items():
            if wire not in qubit_of:
                raise ValueError(
                    f"the observable {observable} acts on wire {wire!r}, which is not one of "
                    f"the wires {list(wires)}"
                )
            label[n - 1 - qubit_of[wire]] = pauli
        labels.append("".join(label))
        coefficients.append(_real(coefficient, f"the coefficient of {word} in {observable}"))
    if not labels:
        return SparsePauliOp(["I" * n], [0.0])
    return SparsePauliOp(labels, coefficients).simplify(atol=0.0)


@dataclass(frozen=True)
class PennyLaneImport:
    """What ``from_pennylane`` made of a PennyLane quantum function.

    Attributes:
        circuit: the operations as a ``QuantumCircuit``; ``circuit.parameters`` (a
            ``ParameterVector``) in PennyLane's order of the gate parameters.
        observables: the ``qml.expval`` observables returned, as ``SparsePauliOp``s (in order).
        values: the traced gate parameters, ``(n_params,)`` float64, or
            ``(batch, n_params)`` when PennyLane broadcast them; ``circuit.assign_parameters``
            of one row is the traced circuit.
        wires: the PennyLane wire of each qubit (qubit k = ``wires[k]``).
    """

    circuit: QuantumCircuit
    observables: list[SparsePauliOp]
    values: np.ndarray
    wires: tuple[Any, ...]


def from_pennylane(
    qfunc: Callable[..., Any], *args: Any, wires: Sequence[Any] | None = None, **kwargs: Any
) -> PennyLaneImport:
    """A PennyLane quantum function as a parameterized ``QuantumCircuit``.

    ``qfunc(*args, **kwargs)`` is traced once (as a QNode would call it); every numeric gate
    parameter becomes a circuit parameter, in the order PennyLane lists them, so
    ``values`` (the traced numbers) bind it back. Observables of the ``qml.expval``
    measurements it returns become ``SparsePauliOp``s. Example::

        def qfunc(x, w):
            qml.AngleEmbedding(x, wires=range(4))
            qml.BasicEntanglerLayers(w, wires=range(4))
            return [qml.expval(qml.PauliZ(q)) for q in range(4)]

        imported = from_pennylane(qfunc, x, w)
        qrnn.sim.expval(imported.circuit, imported.values, imported.observables)

    Operations of ``SUPPORTED_OPERATIONS`` are translated as they are; any other operation
    (a template, ``CRot``, ...) is replaced by its PennyLane decomposition first, recursively,
    and the parameters are then the angles of the decomposed gates.

    Args:
        qfunc: a PennyLane quantum function.
        *args, **kwargs: its arguments.
        wires: the PennyLane wire of each qubit (qubit k = ``wires[k]``); default the wires
            used, sorted when they are all integers, else in order of first use.

    Returns:
        A :class:`PennyLaneImport` (circuit, observables, values, wires).

    Raises:
        ValueError: an operation with neither a Qiskit equivalent nor a PennyLane
            decomposition (named, e.g. ``DoubleExcitationPlus``), a measurement other
            than ``qml.expval`` of a Pauli observable, or a wire not in ``wires``.
    """
    import pennylane as qml

    if not callable(qfunc):
        raise TypeError(f"qfunc must be a PennyLane quantum function, got {qfunc!r}")
    tape = qml.tape.make_qscript(qfunc)(*args, **kwargs)
    if wires is None:
        used = list(tape.wires)
        wires = sorted(used) if all(isinstance(w, int) for w in used) else used
    wires = tuple(wires)
    if len(set(wires)) != len(wires):
        raise ValueError(f"wires must be distinct, got {list(wires)}")
    operations = [leaf for op in tape.operations for leaf in _translatable(op)]
    observables = []
    for measurement in tape.measurements:
        if not isinstance(measurement, qml.measurements.ExpectationMP) or measurement.obs is None:
            raise ValueError(
                f"from_pennylane reads qml.expval measurements of Pauli observables; "
                f"{measurement} is not one"
            )
        observables.append(observable_to_sparse(measurement.obs, wires))
    circuit, raw = operations_circuit(operations, wires)
    columns = [np.asarray(_numeric(v), dtype=float) for v in raw]
    batch = tape.batch_size
    if batch is None:
        values = np.array([float(c) for c in columns], dtype=float)
    else:
        values = np.stack([np.broadcast_to(c, (batch,)) for c in columns], axis=-1).reshape(
            batch, len(columns)
        )
    return PennyLaneImport(circuit, observables, values, wires)


__all__ = [
    "SUPPORTED_OPERATIONS",
    "PennyLaneImport",
    "from_pennylane",
    "observable_to_sparse",
    "operations_circuit",
    "supports_operation",
]
