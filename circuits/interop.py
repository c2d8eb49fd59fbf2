"""Circuit interchange: PennyLane, OpenQASM 3 (and 2) and QPY.

* :func:`to_pennylane` turns a ``QuantumCircuit`` into a callable that queues
  equivalent PennyLane operations inside a QNode (wire ``k`` = qubit ``k``).
* :func:`from_pennylane` is the reverse: a PennyLane quantum function becomes a
  parameterized ``QuantumCircuit`` and ``SparsePauliOp`` observables
  (``_from_pennylane.py``; ``operations_circuit`` is the same for a tape's operations).
* :func:`pauli_observable` turns a Qiskit Pauli label or ``SparsePauliOp``
  into a PennyLane observable with the same qubit order.
* :func:`to_qasm3` / :func:`from_qasm3` (and :func:`from_qasm2`) and
  :func:`save_qpy` / :func:`load_qpy` write and read circuits; a program that
  cannot be read is a :class:`QASMError` naming the line, the column and the
  parser's reason.

Qubit order: Qiskit labels are little-endian (the last character is qubit 0)
while PennyLane's ``qml.state()`` is big-endian over wires (wire 0 is the most
significant bit); compare states after reversing the wire order.

PennyLane is imported on first use, so ``import circuits`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import qasm3, qpy
from qiskit.circuit import (
    Barrier,
    ControlledGate,
    Delay,
    Measure,
    Parameter,
    ParameterExpression,
    ParameterVector,
    QuantumCircuit,
    Reset,
)
from qiskit.circuit import library as lib
from qiskit.quantum_info import Pauli, SparsePauliOp

from circuits import _checks
from circuits._from_pennylane import (
    SUPPORTED_OPERATIONS,
    PennyLaneImport,
    from_pennylane,
    observable_to_sparse,
    operations_circuit,
    supports_operation,
)

__all__ = [
    "SUPPORTED_OPERATIONS",
    "PennyLaneCircuit",
    "PennyLaneImport",
    "QASMError",
    "from_pennylane",
    "from_qasm2",
    "from_qasm3",
    "load_qpy",
    "observable_to_sparse",
    "operations_circuit",
    "pauli_observable",
    "save_qpy",
    "supports_operation",
    "to_pennylane",
    "to_qasm3",
]

# Nested gate definitions deeper than this are taken to be self-referential.
_MAX_DEFINITION_DEPTH = 64


class _Linear:
    """An angle ``constant + sum(coefficient * values[..., index])`` (precomputed once)."""

    __slots__ = ("constant", "terms")

    def __init__(self, constant: float, terms: tuple[tuple[int, float], ...] = ()) -> None:
        self.constant = constant
        self.terms = terms

    def __add__(self, other: _Linear) -> _Linear:
        merged: dict[int, float] = dict(self.terms)
        for index, coefficient in other.terms:
            merged[index] = merged.get(index, 0.0) + coefficient
        terms = tuple((i, c) for i, c in sorted(merged.items()) if c != 0.0)
        return _Linear(self.constant + other.constant, terms)

    def is_zero(self) -> bool:
        return self.constant == 0.0 and not self.terms

    def evaluate(self, values: Any) -> Any:
        if not self.terms:
            return self.constant
        if len(self.terms) == 1 and self.constant == 0.0 and self.terms[0][1] == 1.0:
            return values[..., self.terms[0][0]]  # plain parameter: pass the slice through
        result = None
        for index, coefficient in self.terms:
            term = values[..., index] if coefficient == 1.0 else coefficient * values[..., index]
            result = term if result is None else result + term
        return result + self.constant if self.constant != 0.0 else result


def _real(value: complex, what: str) -> float:
    number = complex(value)
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)):
        raise ValueError(f"{what} must be real, got {number}")
    return number.real


def _linear(value: object, index_of: dict[Parameter, int], gate_name: str) -> _Linear:
    """Express a gate parameter (float or ParameterExpression) as a :class:`_Linear`."""
    if not isinstance(value, ParameterExpression):
        return _Linear(_real(value, f"parameter of gate {gate_name!r}"))  # type: ignore[arg-type]
    if isinstance(value, Parameter):
        return _Linear(0.0, ((index_of[value], 1.0),))
    parameters = value.parameters
    terms = []
    for parameter in sorted(parameters, key=lambda p: index_of[p]):
        slope = value.gradient(parameter)
        if isinstance(slope, ParameterExpression):
            if slope.parameters:
                raise ValueError(
                    f"to_pennylane supports parameter expressions linear in the parameters; "
                    f"gate {gate_name!r} has the angle {value}"
                )
            slope = slope.numeric()
        terms.append((index_of[parameter], _real(slope, f"slope of {value}")))
    offset = value.bind(dict.fromkeys(parameters, 0.0))
    if isinstance(offset, ParameterExpression):
        offset = offset.numeric()
    constant = _real(offset, f"constant term of {value}")
    return _Linear(constant, tuple(t for t in terms if t[1] != 0.0))


@functools.cache
def _gate_table() -> dict[type, Callable[[list[Any], list[int]], None]]:
    """Qiskit standard gate class -> function(angles, wires) that queues PennyLane ops."""
    import pennylane as qml

    def plain(op_class: Any) -> Callable[[list[Any], list[int]], None]:
        return lambda p, w: op_class(*p, wires=w)

    def adjoint(op_class: Any) -> Callable[[list[Any], list[int]], None]:
        return lambda p, w: qml.adjoint(op_class(wires=w))

    half_pi = math.pi / 2
    return {
        lib.IGate: plain(qml.Identity),
        lib.XGate: plain(qml.PauliX),
        lib.YGate: plain(qml.PauliY),
        lib.ZGate: plain(qml.PauliZ),
        lib.HGate: plain(qml.Hadamard),
        lib.SGate: plain(qml.S),
        lib.SdgGate: adjoint(qml.S),
        lib.TGate: plain(qml.T),
        lib.TdgGate: adjoint(qml.T),
        lib.SXGate: plain(qml.SX),
        lib.SXdgGate: adjoint(qml.SX),
        lib.RXGate: plain(qml.RX),
        lib.RYGate: plain(qml.RY),
        lib.RZGate: plain(qml.RZ),
        lib.PhaseGate: plain(qml.PhaseShift),
        lib.U1Gate: plain(qml.PhaseShift),
        lib.UGate: plain(qml.U3),
        lib.U3Gate: plain(qml.U3),
        lib.U2Gate: lambda p, w: qml.U3(half_pi, p[0], p[1], wires=w),
        # R(theta, phi) = RZ(phi) RX(theta) RZ(-phi) = RZ(phi - pi/2) RY(theta) RZ(pi/2 - phi)
        lib.RGate: lambda p, w: qml.Rot(half_pi - p[1], p[0], p[1] - half_pi, wires=w),
        lib.RXXGate: plain(qml.IsingXX),
        lib.RYYGate: plain(qml.IsingYY),
        lib.RZZGate: plain(qml.IsingZZ),
        # Qiskit's RZX(theta) = exp(-i theta/2 Z_q0 X_q1): Z on the first qubit.
        lib.RZXGate: lambda p, w: qml.PauliRot(p[0], "ZX", wires=w),
        lib.CXGate: plain(qml.CNOT),
        lib.CYGate: plain(qml.CY),
        lib.CZGate: plain(qml.CZ),
        lib.CHGate: plain(qml.CH),
        lib.CRXGate: plain(qml.CRX),
        lib.CRYGate: plain(qml.CRY),
        lib.CRZGate: plain(qml.CRZ),
        lib.CPhaseGate: plain(qml.ControlledPhaseShift),
        lib.SwapGate: plain(qml.SWAP),
        lib.iSwapGate: plain(qml.ISWAP),
        lib.ECRGate: plain(qml.ECR),
        lib.CCXGate: plain(qml.Toffoli),
        lib.CSwapGate: plain(qml.CSWAP),
    }


class PennyLaneCircuit:
    """A ``QuantumCircuit`` translated for PennyLane; call it inside a QNode.

    ``apply(values)`` queues the operations. ``values`` is indexed on its last
    axis in :attr:`parameters` order (``circuit.parameters``): shape
    ``(n_params,)`` or ``(batch, n_params)`` (PennyLane parameter
    broadcasting). numpy arrays, PennyLane/autograd arrays and torch tensors
    are used as given, so gradients flow through. A circuit without
    parameters takes ``apply()``.

    Attributes:
        parameters: the circuit's parameters, in the order ``values`` uses.
        num_qubits: number of qubits; the ops act on wires ``0 .. num_qubits-1``.
    """

    def __init__(self, circuit: QuantumCircuit, global_phase: bool) -> None:
        self.parameters: tuple[Parameter, ...] = tuple(circuit.parameters)
        self.num_qubits: int = circuit.num_qubits
        self._steps: list[tuple[Callable[[list[Any], list[int]], None], list[Any], list[int]]] = []
        index_of = {p: i for i, p in enumerate(self.parameters)}
        phase = _Linear(0.0)
        phase = self._translate(circuit, list(range(circuit.num_qubits)), index_of, phase, 0)
        self._phase = phase if global_phase and not phase.is_zero() else None

    @property
    def wires(self) -> list[int]:
        """Wires the circuit acts on: ``list(range(num_qubits))``."""
        return list(range(self.num_qubits))

    def _translate(
        self,
        circuit: QuantumCircuit,
        wires_of: list[int],
        index_of: dict[Parameter, int],
        phase: _Linear,
        depth: int,
    ) -> _Linear:
        """Append steps for ``circuit`` whose qubit ``k`` is wire ``wires_of[k]``."""
        if depth > _MAX_DEFINITION_DEPTH:
            raise ValueError(
                f"gate definitions nest deeper than {_MAX_DEFINITION_DEPTH} levels "
                f"(in {circuit.name!r}); is a gate defined in terms of itself?"
            )
        phase = phase + _linear(circuit.global_phase, index_of, "global_phase")
        table = _gate_table()
        for instruction in circuit.data:
            op = instruction.operation
            wires = [wires_of[circuit.find_bit(q).index] for q in instruction.qubits]
            if isinstance(op, Barrier | Delay):
                continue  # no effect on the state
            if isinstance(op, Reset):
                self._steps.append((_reset, [], wires))
                continue
            if isinstance(op, Measure) or instruction.clbits:
                raise ValueError(
                    f"to_pennylane cannot translate {op.name!r} on qubits {wires} (it writes "
                    "classical bits); remove measurements (circuit.remove_final_measurements()) "
                    "and read observables instead"
                )
            if isinstance(op, lib.GlobalPhaseGate):
                phase = phase + _linear(op.params[0], index_of, op.name)
                continue
            if isinstance(op, lib.UnitaryGate):
                # Qiskit matrices are little-endian over the gate's qubits, PennyLane's
                # big-endian over the listed wires: list the wires in reverse.
                self._steps.append((_unitary, [op.to_matrix()], wires[::-1]))
                continue
            emit = table.get(getattr(op, "base_class", type(op)))
            if isinstance(op, ControlledGate) and op.ctrl_state != 2**op.num_ctrl_qubits - 1:
                emit = None  # open controls: use the definition, which flips them
            if emit is not None:
                angles = [_linear(p, index_of, op.name) for p in op.params]
                self._steps.append((emit, angles, wires))
                continue
            definition = getattr(op, "definition", None)
            if definition is None:
                raise ValueError(
                    f"to_pennylane cannot translate the instruction {op.name!r} "
                    f"({type(op).__name__}) on qubits {wires}: it is not a known gate and has "
                    "no definition to decompose"
                )
            phase = self._translate(definition, wires, index_of, phase, depth + 1)
        return phase

    def __call__(self, values: Any = None) -> None:
        n_params = len(self.parameters)
        if values is None:
            if n_params:
                raise ValueError(
                    f"this circuit has {n_params} parameters; pass values of shape "
                    f"(..., {n_params}) in circuit.parameters order"
                )
        else:
            if isinstance(values, list | tuple):
                values = np.asarray(values, dtype=float)
            shape = getattr(values, "shape", None)
            if shape is None:
                raise TypeError(
                    f"values must be an array or tensor of shape (..., {n_params}), "
                    f"got {type(values).__name__}"
                )
            if len(shape) == 0 or shape[-1] != n_params:
                raise ValueError(
                    f"values must have shape (..., {n_params}) (last axis = circuit.parameters), "
                    f"got {tuple(shape)}"
                )
        constant = _constant_like(values)
        for emit, angles, wires in self._steps:
            emit(
                [constant(a.evaluate(values) if isinstance(a, _Linear) else a) for a in angles],
                wires,
            )
        if self._phase is not None:
            import pennylane as qml

            # Qiskit's global phase g multiplies the state by e^{ig}; qml.GlobalPhase(g) by e^{-ig}.
            qml.GlobalPhase(-self._phase.evaluate(values))

    def __repr__(self) -> str:
        return (
            f"PennyLaneCircuit(num_qubits={self.num_qubits}, "
            f"num_parameters={len(self.parameters)}, num_ops={len(self._steps)})"
        )


def _constant_like(values: Any):
    """Constant angles in the values' array type: PennyLane cannot mix a numpy float with
    torch tensors inside one gate (U3(t, 0.3, t) fails in its matrix)."""
    if type(values).__module__.startswith("torch"):
        return lambda a: values.new_tensor(float(a)) if isinstance(a, float | int) else a
    return lambda a: a


def _reset(angles: list[Any], wires: list[int]) -> None:
    import pennylane as qml

    qml.measure(wires[0], reset=True)


def _unitary(angles: list[Any], wires: list[int]) -> None:
    import pennylane as qml

    qml.QubitUnitary(angles[0], wires=wires)


def to_pennylane(circuit: QuantumCircuit, global_phase: bool = True) -> PennyLaneCircuit:
    """Translate ``circuit`` once; call the result inside a QNode to queue its operations.

    Example::

        apply = to_pennylane(circuit)

        @qml.qnode(qml.device("default.qubit", wires=circuit.num_qubits), interface="torch")
        def expvals(values):  # values: (batch, circuit.num_parameters)
            apply(values)
            return [qml.expval(pauli_observable(label)) for label in labels]

    Wire ``k`` is qubit ``k``. Gate angles may be floats or parameter
    expressions linear in the parameters (``2 * theta + 0.5``). Standard gates
    map to their PennyLane equivalents (``r`` becomes ``qml.Rot``, ``rzx`` a
    ``PauliRot``, ``unitary`` a ``QubitUnitary``); any other gate, such as the
    ion-trap gates of ``circuits.native``, is decomposed through its
    ``definition``, recursively. Barriers and delays are skipped.

    ``reset`` becomes ``qml.measure(wire, reset=True)``, a mid-circuit
    measurement: the QNode needs a device and ``mcm_method`` that support it
    (``default.qubit`` defers it onto an extra wire per reset; native
    mid-circuit measurements do not broadcast).

    Args:
        circuit: the circuit; measurements and classical control are rejected.
        global_phase: apply ``circuit.global_phase`` (and the phases of
            decomposed definitions) as one ``qml.GlobalPhase``, so that
            ``qml.state()`` matches ``Statevector(circuit)`` exactly. Expectation
            values do not depend on it; turn it off for devices without
            ``GlobalPhase`` support.

    Returns:
        A :class:`PennyLaneCircuit` ``apply``; ``apply(values)`` with ``values``
        of shape ``(n_params,)`` or ``(batch, n_params)``.
    """
    _checks.circuit("circuit", circuit)
    if not isinstance(global_phase, bool):
        raise TypeError(f"global_phase must be a bool, got {global_phase!r}")
    return PennyLaneCircuit(circuit, global_phase)


def pauli_observable(observable: str | Pauli | SparsePauliOp) -> Any:
    """PennyLane observable for a Qiskit Pauli label, ``Pauli`` or ``SparsePauliOp``.

    Qubit order is Qiskit's: character ``i`` from the right of a label acts on
    qubit (= wire) ``i``, so ``"IXZ"`` is ``Z(0) @ X(1)``. A label or ``Pauli``
    gives a Pauli word (``qml.Identity`` on all its wires for ``"II..I"``, a
    ``-1`` scaled word for ``"-Z"``); a ``SparsePauliOp`` gives a
    ``qml.Hamiltonian`` and must be Hermitian (real coefficients).
    """
    import pennylane as qml

    if isinstance(observable, str):
        try:
            observable = Pauli(observable)
        except Exception as error:
            raise ValueError(
                f"not a Pauli label: {observable!r} (expected characters I, X, Y, Z, e.g. 'IIZ')"
            ) from error
    if isinstance(observable, Pauli):
        coefficient = _pauli_sign(observable)
        word = _pauli_word(observable, qml)
        return word if coefficient == 1.0 else qml.s_prod(coefficient, word)
    if isinstance(observable, SparsePauliOp):
        coefficients = []
        words = []
        for pauli, coefficient in zip(observable.paulis, observable.coeffs, strict=True):
            coefficients.append(
                _real(coefficient * (-1j) ** pauli.phase, f"coefficient of {pauli.to_label()}")
            )
            words.append(_pauli_word(pauli, qml))
        return qml.Hamiltonian(coefficients, words)
    raise TypeError(
        f"observable must be a Pauli label (str), Pauli or SparsePauliOp, "
        f"got {type(observable).__name__}"
    )


def _pauli_sign(pauli: Pauli) -> float:
    factor = (-1j) ** pauli.phase
    if abs(factor.imag) > 0.5:
        raise ValueError(f"the Pauli {pauli.to_label()!r} is not Hermitian (imaginary phase)")
    return float(factor.real)


def _pauli_word(pauli: Pauli, qml: Any) -> Any:
    factors = []
    for qubit in range(pauli.num_qubits):
        x, z = bool(pauli.x[qubit]), bool(pauli.z[qubit])
        if x and z:
            factors.append(qml.PauliY(qubit))
        elif x:
            factors.append(qml.PauliX(qubit))
        elif z:
            factors.append(qml.PauliZ(qubit))
    if not factors:
        return qml.Identity(wires=list(range(pauli.num_qubits)))
    return factors[0] if len(factors) == 1 else qml.prod(*factors)


def to_qasm3(circuit: QuantumCircuit) -> str:
    """OpenQASM 3 text of ``circuit`` (``qiskit.qasm3.dumps``).

    Parameters become ``input float[64]`` declarations; Qiskit names a
    ``ParameterVector`` element ``x[3]`` as ``_x_3_`` (see :func:`from_qasm3`).
    Gates outside ``stdgates.inc`` are written with their definitions.
    """
    _checks.circuit("circuit", circuit)
    return qasm3.dumps(circuit)


# The exporter writes ParameterVector element "name[i]" as "_name_i_".
_VECTOR_ELEMENT = re.compile(r"^_(?P<name>[A-Za-z_][A-Za-z0-9_]*?)_(?P<index>\d+)_$")


class QASMError(ValueError):
    """An OpenQASM program that cannot be read.

    Attributes:
        reason: the parser's or importer's reason, e.g. ``"expected ';', found 'cx'"``.
        line, column: where, 1-based; None where the reader gives no position.
    """

    def __init__(self, reason: str, line: int | None = None, column: int | None = None):
        self.reason, self.line, self.column = reason, line, column
        where = ""
        if line is not None:
            where = f"line {line}" + ("" if column is None else f", column {column}") + ": "
        super().__init__(where + reason)


def from_qasm3(text: str, restore_vectors: bool = True) -> QuantumCircuit:
    """Read an OpenQASM 3 program (``qiskit.qasm3.loads``).

    With ``restore_vectors`` every input named like ``_x_3_`` (how
    :func:`to_qasm3` writes the ``ParameterVector`` element ``x[3]``) becomes
    element 3 of a ``ParameterVector`` named ``x`` (length = largest index + 1),
    so the parameter names, and with them ``circuit.parameters`` order, match
    the exported circuit. The elements are new objects: bind by position or
    name, not with the original ``Parameter`` objects.

    Raises:
        QASMError: the program cannot be read (a syntax error, an undefined gate or
            symbol, a construct Qiskit cannot represent), with the line and column
            where the reader says so.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be an OpenQASM 3 program (str), got {type(text).__name__}")
    try:
        # ANTLR's console listener would also print a lexer error to stderr: keep it quiet
        with contextlib.redirect_stderr(io.StringIO()):
            circuit = qasm3.loads(text)
    except Exception as error:  # the parser and the importer raise many types
        raise _qasm3_error(error, text) from error
    if not restore_vectors:
        return circuit
    elements: dict[str, list[tuple[int, Parameter]]] = {}
    for parameter in circuit.parameters:
        match = _VECTOR_ELEMENT.match(parameter.name)
        if match:
            elements.setdefault(match["name"], []).append((int(match["index"]), parameter))
    if not elements:
        return circuit
    taken = {p.name for p in circuit.parameters}
    mapping: dict[Parameter, Parameter] = {}
    for name, found in elements.items():
        if name in taken:
            continue  # a plain parameter already has the vector's name: leave these alone
        vector = ParameterVector(name, max(index for index, _ in found) + 1)
        mapping.update({parameter: vector[index] for index, parameter in found})
    return circuit.assign_parameters(mapping) if mapping else circuit


def from_qasm2(text: str) -> QuantumCircuit:
    """Read an OpenQASM 2 program (``QuantumCircuit.from_qasm_str``).

    Raises:
        QASMError: the program cannot be read, with the line and column the reader gives.
    """
    from qiskit.qasm2 import QASM2Error

    if not isinstance(text, str):
        raise TypeError(f"text must be an OpenQASM 2 program (str), got {type(text).__name__}")
    try:
        return QuantumCircuit.from_qasm_str(text)
    except Exception as error:  # the reader raises QASM2Error, and others on odd input
        match = _QASM2_POSITION.match(_message(error))
        if match is None:
            reason = _message(error) if isinstance(error, QASM2Error) else repr(error)
            raise QASMError(reason) from error
        line, column = int(match["line"]), int(match["column"]) + 1
        raise QASMError(match["reason"], line, column) from error


# "<input>:5,0: reason" (qiskit.qasm2; 0-based column)
_QASM2_POSITION = re.compile(r"^<input>:(?P<line>\d+),(?P<column>\d+): (?P<reason>.*)$", re.DOTALL)
# "L3:C7: reason" (the openqasm3 lexer) and "4,0: reason" (qiskit_qasm3_import); 0-based columns
_POSITIONED = re.compile(
    r"^(?:L(?P<l>\d+):C(?P<c>\d+)|(?P<line>\d+),(?P<column>\d+)): (?P<reason>.*)$"
)


def _qasm3_error(error: Exception, text: str) -> QASMError:
    """The position and reason of a failed ``qasm3.loads``, wherever in the exception chain
    the reader put them."""
    if not _strip_comments(text).strip():
        return QASMError("the program is empty")
    cause: BaseException | None = error
    while cause is not None:
        recognition = next((a for a in cause.args if hasattr(a, "offendingToken")), None)
        if hasattr(cause, "offendingToken"):
            recognition = cause
        if recognition is not None and recognition.offendingToken is not None:
            return _syntax_error(recognition)
        match = _POSITIONED.match(_message(cause))
        if match:
            line = int(match["l"] or match["line"])
            column = _column_in_line(text, line, int(match["c"] or match["column"]))
            return QASMError(match["reason"], line, column + 1)
        cause = cause.__cause__ or cause.__context__
    return QASMError(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


def _syntax_error(recognition: Any) -> QASMError:
    """An ANTLR ``RecognitionException``: the token found and, where few, those expected."""
    token = recognition.offendingToken
    found = "the end of the program" if token.text == "<EOF>" else repr(token.text)
    reason = f"unexpected {found}"
    parser = recognition.recognizer
    try:
        expected = recognition.getExpectedTokens()
        names = expected.toString(parser.literalNames, parser.symbolicNames)
    except Exception:  # not every exception knows what was expected
        names = ""
    if names and "<EOF>" not in names and len(expected) <= 4:
        reason = f"expected {names.strip('{}')}, found {found}"
    return QASMError(reason, token.line, token.column + 1)


def _message(error: BaseException) -> str:
    """The message itself (Qiskit's errors quote it in ``str``)."""
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return message
    return str(error.args[0]) if error.args else str(error)


def _column_in_line(text: str, line: int, column: int) -> int:
    """``column`` within ``line`` (0-based). The importer reports some positions as offsets
    from the start of the program; such an offset is past the end of its line."""
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines) or column <= len(lines[line - 1].rstrip("\r\n")):
        return column
    start = sum(len(previous) for previous in lines[: line - 1])
    return column - start if start <= column <= start + len(lines[line - 1]) else column


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def save_qpy(circuit: QuantumCircuit, path: str | os.PathLike[str]) -> Path:
    """Write ``circuit`` to a QPY file at ``path`` (temp file + rename). Returns the path.

    QPY keeps everything, including ``ParameterVector``s and custom gates.
    """
    _checks.circuit("circuit", circuit)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {str(path.parent)!r} for {str(path)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            qpy.dump(circuit, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_qpy(path: str | os.PathLike[str]) -> QuantumCircuit:
    """Read the single circuit of a QPY file written by :func:`save_qpy`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no QPY file at {str(path)!r}")
    with path.open("rb") as file:
        programs = qpy.load(file)
    if len(programs) != 1 or not isinstance(programs[0], QuantumCircuit):
        raise ValueError(
            f"{str(path)!r} holds {len(programs)} QPY programs; load_qpy expects one circuit"
        )
    return programs[0]
