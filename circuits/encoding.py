"""Data-encoding templates: angle encoding and data re-uploading.

Inputs are ``Parameter``s of a ``ParameterVector`` named by ``prefix`` (default
``"x"``); trainable angles belong to a second vector (default ``"w"``), so the
two are easy to tell apart. Note that ``circuit.parameters`` sorts by name, so
with the defaults the weights ``w[...]`` come before the inputs ``x[...]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from qiskit.circuit import ParameterVector, QuantumCircuit

from circuits import _checks
from circuits._checks import renamed_keywords
from circuits.ansatz import (
    ENTANGLERS,
    ROTATIONS,
    append_entangler,
    append_rotation,
    ring_pairs,
    rotation_names,
)

__all__ = ["angle_encoding", "reuploading"]


def _register(n_qubits: int, qubits: Sequence[int] | None) -> tuple[int, ...]:
    if qubits is None:
        return tuple(range(n_qubits))
    return _checks.qubit_list("qubits", qubits, n_qubits)


def angle_encoding(
    n_qubits: int = 10,
    rotation: str = "ry",
    scale: float = 1.0,
    prefix: str = "x",
    qubits: Sequence[int] | None = None,
) -> tuple[QuantumCircuit, ParameterVector]:
    """Angle encoding: one input per qubit, ``ROT(scale * x_j)`` on qubit ``qubits[j]``.

    Args:
        n_qubits: width of the returned circuit.
        rotation: ``"rx"``, ``"ry"`` or ``"rz"``.
        scale: factor on every angle (``scale=math.pi`` gives ``RY(pi * x)``,
            which maps ``x`` in ``[0, 1]`` onto ``[0, pi]``).
        prefix: name of the input ``ParameterVector``.
        qubits: the qubits that carry inputs (default: all, in order), e.g. the
            data register of a QRNN; the other qubits get no gate.

    Returns:
        ``(circuit, inputs)``: ``inputs`` has ``len(qubits)`` elements, so the
        input tensor is ``(batch, len(qubits))``.
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    rotation = _checks.choice("rotation", rotation, ROTATIONS)
    scale = _checks.real_number("scale", scale)
    prefix = _checks.prefix("prefix", prefix)
    register = _register(n_qubits, qubits)

    inputs = ParameterVector(prefix, len(register))
    circuit = QuantumCircuit(n_qubits, name="angle_encoding")
    for x, qubit in zip(inputs, register, strict=True):
        append_rotation(circuit, rotation, x if scale == 1.0 else scale * x, qubit)
    return circuit, inputs


@renamed_keywords(n_layers="reps")
def reuploading(
    n_qubits: int = 10,
    reps: int = 2,
    n_inputs: int | None = None,
    rotation: str = "ry",
    prefix: str = "x",
    weight_prefix: str = "w",
    qubits: Sequence[int] | None = None,
    scale: float = 1.0,
    rotations: Sequence[str] = ("ry", "rz"),
    entangler: str = "cz",
) -> tuple[QuantumCircuit, ParameterVector, ParameterVector]:
    """Data re-uploading (Pérez-Salinas et al. 2020): encoding interleaved with trainable layers.

    Each of the ``reps`` layers does, on each register qubit ``qubits[k]``
    in turn, the encoding ``ROT(scale * x[k % n_inputs])`` followed by the
    trainable ``rotations`` (default ``RY(w) RZ(w)``), then an entangling ring
    (``entangler`` on ``(q0,q1), (q1,q2), ..., (q_last,q0)`` of the register).
    With fewer inputs than register qubits the inputs are tiled across them.

    Args:
        n_qubits: width of the returned circuit.
        reps: number of (encoding, trainable) layers (``n_layers=`` is a deprecated alias).
        n_inputs: number of inputs; default ``len(qubits)``; at most ``len(qubits)``.
        rotation: encoding gate, ``"rx"``, ``"ry"`` or ``"rz"``.
        prefix, weight_prefix: names of the input and weight ``ParameterVector``s.
        qubits: register to act on (default all qubits); others get no gate.
        scale: factor on every encoding angle.
        rotations: trainable single-qubit gates per qubit and layer.
        entangler: ``"cz"`` or ``"cx"``.

    Returns:
        ``(circuit, inputs, weights)``: ``inputs`` has ``n_inputs`` elements;
        ``weights`` has ``reps * len(qubits) * len(rotations)`` elements,
        element ``(layer * len(qubits) + k) * len(rotations) + r`` on ``qubits[k]``.
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    reps = _checks.positive_int("reps", reps)
    register = _register(n_qubits, qubits)
    if n_inputs is None:
        n_inputs = len(register)
    n_inputs = _checks.positive_int("n_inputs", n_inputs)
    if n_inputs > len(register):
        raise ValueError(
            f"n_inputs={n_inputs} exceeds the {len(register)} qubits that carry inputs; "
            "use at most one input per qubit or a wider register"
        )
    rotation = _checks.choice("rotation", rotation, ROTATIONS)
    prefix = _checks.prefix("prefix", prefix)
    weight_prefix = _checks.prefix("weight_prefix", weight_prefix)
    _checks.distinct_prefixes(prefix=prefix, weight_prefix=weight_prefix)
    scale = _checks.real_number("scale", scale)
    rotations = rotation_names(rotations)
    entangler = _checks.choice("entangler", entangler, ENTANGLERS)

    inputs = ParameterVector(prefix, n_inputs)
    weights = ParameterVector(weight_prefix, reps * len(register) * len(rotations))
    circuit = QuantumCircuit(n_qubits, name="reuploading")
    index = 0
    for _ in range(reps):
        for k, qubit in enumerate(register):
            x = inputs[k % n_inputs]
            append_rotation(circuit, rotation, x if scale == 1.0 else scale * x, qubit)
            for trainable in rotations:
                append_rotation(circuit, trainable, weights[index], qubit)
                index += 1
        for a, b in ring_pairs(len(register)):
            append_entangler(circuit, entangler, (register[a], register[b]))
    return circuit, inputs, weights
