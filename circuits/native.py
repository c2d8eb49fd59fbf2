"""Trapped-ion native gates and translation of any circuit into one native gate set.

Gates (Qiskit ``Gate`` subclasses; each has a ``definition`` in standard gates, so
every executor that knows ``r``/``rz``/``rxx``/``rzz`` understands them, and a
matrix via ``to_matrix()`` once its parameters are bound):

=============  ============  ====================================================
class          name          matrix (Qiskit little-endian; first qubit = qubit 0)
=============  ============  ====================================================
GPIGate        ``gpi``       ``[[0, e^{-2πiφ}], [e^{2πiφ}, 0]]``; φ in turns
GPI2Gate       ``gpi2``      ``[[1, -i e^{-2πiφ}], [-i e^{2πiφ}, 1]] / √2``
IonQMSGate     ``ionq_ms``   ``exp(-iπθ σ(φ0) ⊗ σ(φ1))``, σ(φ) = cos2πφ X + sin2πφ Y
IonQZZGate     ``ionq_zz``   ``exp(-iπθ Z⊗Z)`` = diag(e^{-iπθ}, e^{iπθ}, e^{iπθ}, e^{-iπθ})
U1qGate        ``u1q``       ``exp(-iθ/2 (cosφ X + sinφ Y))``; radians (= Qiskit ``RGate``)
ZZMaxGate      ``zzmax``     ``exp(-iπ/4 Z⊗Z)`` (= ``RZZGate(π/2)``)
=============  ============  ====================================================

Sources of the matrices: IonQ's gates (angles in *turns*, 1 turn = 2π) follow the
IonQ native-gate guide (docs.ionq.com/guides/getting-started-with-native-gates) and
qiskit-ionq ``qiskit_ionq/ionq_gates.py`` (github.com/qiskit-community/qiskit-ionq,
read at commit 220daa6, 2026-07), whose matrices are written in Qiskit's
little-endian order; PennyLane-IonQ's ``pennylane_ionq.ops.MS`` writes the same gate
in big-endian order. The names differ from IonQ's ``ms``/``zz`` so they never collide
with Qiskit's own ``MSGate`` (name ``ms``, other parameters). Quantinuum's gates follow
the H-series native gate table (docs.quantinuum.com, "System Operation": U1q, Rz,
ZZ(), RZZ in radians). AQT's native gates are Qiskit's ``RGate``, ``RZGate`` and
``RXXGate`` themselves (qiskit-aqt-provider ``aqt_resource.make_transpiler_target``).

Gate sets (``GATE_SETS``): ``gpi-ms`` (IonQ Aria), ``gpi-zz`` (IonQ Forte),
``u1q-rzz`` (Quantinuum H-series) and ``r-rxx`` (AQT and the generic ion trap). Each
contains ``rz`` as a *virtual* gate: ions do Z rotations in software by shifting the
phase of later pulses, so they cost no time and carry no error.

Translation (:func:`to_native`) works in two stages:

1. Qiskit's preset pass manager rewrites the circuit into ``u`` gates plus the set's
   two-qubit rotation (``rxx`` or ``rzz``), optimising at the requested level. The
   pass that elides swaps by relabelling qubits is removed, so qubit ``k`` of the
   result is qubit ``k`` of the input (observables keep their meaning).
2. A virtual-Z pass walks the circuit once, keeping a pending Z rotation ("frame")
   per qubit: each ``u`` becomes at most one physical rotation (two ``gpi2`` for an
   arbitrary IonQ angle), Z rotations move into the phases of later gates (IonQ's
   MS phases, R's axis angle) and numeric angles are folded into the hardware ranges
   (``r``: θ in [0, π]; ``rxx``/``ionq_ms``: 0 < angle ≤ π/2, i.e. ≤ 0.25 turns).
   Frames are dropped at a measurement or reset (a Z rotation does not change
   Z-basis outcomes) and left as trailing ``rz`` on qubits that end unmeasured, so
   the result is exactly equivalent to the input as an operator, global phase
   included. Symbolic angles are kept symbolic (and not folded): bind parameters
   and translate again to get hardware-range angles for submission.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, ParameterExpression
from qiskit.circuit.library import RGate, RXXGate, RZGate, RZZGate
from qiskit.transpiler import PassManager, generate_preset_pass_manager
from qiskit.transpiler.exceptions import TranspilerError
from qiskit.transpiler.passes import ElidePermutations

__all__ = [
    "GATE_SETS",
    "NATIVE_GATES",
    "ONE_QUBIT_GATES",
    "TWO_QUBIT_GATES",
    "VIRTUAL_GATES",
    "GPI2Gate",
    "GPIGate",
    "IonQMSGate",
    "IonQZZGate",
    "U1qGate",
    "ZZMaxGate",
    "to_native",
]

_TWO_PI = 2 * math.pi
_ATOL = 1e-9  # angles closer than this to a special value are treated as equal to it


def _array(matrix: np.ndarray, dtype: object, copy: object) -> np.ndarray:
    """Finish an ``__array__`` call the way numpy 2 expects."""
    if copy is False:
        raise ValueError("unable to avoid copy while creating an array as requested")
    return matrix if dtype is None else matrix.astype(dtype, copy=False)


def _sigma(phase: float) -> np.ndarray:
    """``cos(phase) X + sin(phase) Y`` for ``phase`` in radians."""
    return np.array([[0, np.exp(-1j * phase)], [np.exp(1j * phase), 0]], dtype=complex)


class GPIGate(Gate):
    r"""IonQ GPI(φ): a π rotation about the axis at angle 2πφ in the XY plane.

    .. math:: GPI(\phi) = \begin{pmatrix} 0 & e^{-2\pi i\phi} \\ e^{2\pi i\phi} & 0 \end{pmatrix}

    ``phi`` is in turns. Definition: ``R(π, 2πφ)`` with global phase π/2.
    """

    def __init__(self, phi: float | ParameterExpression, label: str | None = None):
        super().__init__("gpi", 1, [phi], label=label)

    def _define(self) -> None:
        (phi,) = self.params
        definition = QuantumCircuit(1, name=self.name, global_phase=math.pi / 2)
        definition.append(RGate(math.pi, _TWO_PI * phi), [0])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> GPIGate:
        """GPI is its own inverse."""
        return GPIGate(self.params[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return _array(_sigma(_TWO_PI * float(self.params[0])), dtype, copy)


class GPI2Gate(Gate):
    r"""IonQ GPI2(φ): a π/2 rotation about the axis at angle 2πφ in the XY plane.

    .. math:: GPI2(\phi) = \frac{1}{\sqrt 2}
              \begin{pmatrix} 1 & -i e^{-2\pi i\phi} \\ -i e^{2\pi i\phi} & 1 \end{pmatrix}

    ``phi`` is in turns. Definition: ``R(π/2, 2πφ)`` exactly.
    """

    def __init__(self, phi: float | ParameterExpression, label: str | None = None):
        super().__init__("gpi2", 1, [phi], label=label)

    def _define(self) -> None:
        (phi,) = self.params
        definition = QuantumCircuit(1, name=self.name)
        definition.append(RGate(math.pi / 2, _TWO_PI * phi), [0])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> GPI2Gate:
        """GPI2(φ)⁻¹ = GPI2(φ + 1/2): the same rotation about the opposite axis."""
        return GPI2Gate(self.params[0] + 0.5)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        phase = _TWO_PI * float(self.params[0])
        matrix = (np.eye(2) - 1j * _sigma(phase)) / math.sqrt(2)
        return _array(matrix, dtype, copy)


class IonQMSGate(Gate):
    r"""IonQ Mølmer–Sørensen gate MS(φ0, φ1, θ) of the Aria systems.

    .. math:: MS(\phi_0, \phi_1, \theta) = \exp\left(-i\pi\theta\,
              \sigma(\phi_0) \otimes \sigma(\phi_1)\right),\quad
              \sigma(\phi) = \cos(2\pi\phi) X + \sin(2\pi\phi) Y

    with σ(φ0) on the gate's first qubit. All three angles are in turns; θ = 0.25
    (the default) is fully entangling and IonQ accepts 0 ≤ θ ≤ 0.25. Definition:
    ``rz(-2πφ0)⊗rz(-2πφ1)``, ``rxx(2πθ)``, ``rz(2πφ0)⊗rz(2πφ1)`` (exact).
    """

    def __init__(
        self,
        phi0: float | ParameterExpression,
        phi1: float | ParameterExpression,
        theta: float | ParameterExpression = 0.25,
        label: str | None = None,
    ):
        super().__init__("ionq_ms", 2, [phi0, phi1, theta], label=label)

    def _define(self) -> None:
        phi0, phi1, theta = self.params
        definition = QuantumCircuit(2, name=self.name)
        definition.append(RZGate(-_TWO_PI * phi0), [0])
        definition.append(RZGate(-_TWO_PI * phi1), [1])
        definition.append(RXXGate(_TWO_PI * theta), [0, 1])
        definition.append(RZGate(_TWO_PI * phi0), [0])
        definition.append(RZGate(_TWO_PI * phi1), [1])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> IonQMSGate:
        """MS(φ0, φ1, θ)⁻¹ = MS(φ0 + 1/2, φ1, θ): flipping one axis flips the rotation."""
        phi0, phi1, theta = self.params
        return IonQMSGate(phi0 + 0.5, phi1, theta)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        phi0, phi1, theta = (float(p) for p in self.params)
        # Qiskit's kron order: the second factor acts on qubit 0
        generator = np.kron(_sigma(_TWO_PI * phi1), _sigma(_TWO_PI * phi0))
        angle = math.pi * theta
        matrix = math.cos(angle) * np.eye(4) - 1j * math.sin(angle) * generator
        return _array(matrix, dtype, copy)


class IonQZZGate(Gate):
    r"""IonQ ZZ(θ) gate of the Forte systems.

    .. math:: ZZ(\theta) = \exp(-i\pi\theta\, Z\otimes Z)
              = \mathrm{diag}(e^{-i\pi\theta}, e^{i\pi\theta}, e^{i\pi\theta}, e^{-i\pi\theta})

    ``theta`` is in turns. Definition: ``rzz(2πθ)`` exactly.
    """

    def __init__(self, theta: float | ParameterExpression, label: str | None = None):
        super().__init__("ionq_zz", 2, [theta], label=label)

    def _define(self) -> None:
        (theta,) = self.params
        definition = QuantumCircuit(2, name=self.name)
        definition.append(RZZGate(_TWO_PI * theta), [0, 1])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> IonQZZGate:
        """ZZ(θ)⁻¹ = ZZ(-θ)."""
        return IonQZZGate(-self.params[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        phase = np.exp(1j * math.pi * float(self.params[0]))
        matrix = np.diag([phase.conjugate(), phase, phase, phase.conjugate()])
        return _array(matrix, dtype, copy)


class U1qGate(Gate):
    r"""Quantinuum U1q(θ, φ): rotation by θ about the axis at angle φ in the XY plane.

    .. math:: U_{1q}(\theta, \phi) = \exp\left(-i\frac{\theta}{2}
              (\cos\phi\, X + \sin\phi\, Y)\right)

    Angles in radians. This is Qiskit's ``RGate``; definition ``R(θ, φ)`` exactly.
    """

    def __init__(
        self,
        theta: float | ParameterExpression,
        phi: float | ParameterExpression,
        label: str | None = None,
    ):
        super().__init__("u1q", 1, [theta, phi], label=label)

    def _define(self) -> None:
        theta, phi = self.params
        definition = QuantumCircuit(1, name=self.name)
        definition.append(RGate(theta, phi), [0])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> U1qGate:
        """U1q(θ, φ)⁻¹ = U1q(-θ, φ)."""
        theta, phi = self.params
        return U1qGate(-theta, phi)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        theta, phi = (float(p) for p in self.params)
        matrix = math.cos(theta / 2) * np.eye(2) - 1j * math.sin(theta / 2) * _sigma(phi)
        return _array(matrix, dtype, copy)


class ZZMaxGate(Gate):
    r"""Quantinuum's fully entangling ZZ() gate.

    .. math:: ZZ() = \exp\left(-i\frac{\pi}{4} Z\otimes Z\right)

    Definition: ``rzz(π/2)`` exactly.
    """

    def __init__(self, label: str | None = None):
        super().__init__("zzmax", 2, [], label=label)

    def _define(self) -> None:
        definition = QuantumCircuit(2, name=self.name)
        definition.append(RZZGate(math.pi / 2), [0, 1])
        self.definition = definition

    def inverse(self, annotated: bool = False) -> RZZGate:
        """ZZ()⁻¹ = RZZ(-π/2), which is not a ZZ() gate."""
        return RZZGate(-math.pi / 2)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        phase = np.exp(1j * math.pi / 4)
        matrix = np.diag([phase.conjugate(), phase, phase, phase.conjugate()])
        return _array(matrix, dtype, copy)


#: Every native gate by instruction name: the classes above plus Qiskit's R, RZ, RXX, RZZ.
NATIVE_GATES: dict[str, type[Gate]] = {
    "gpi": GPIGate,
    "gpi2": GPI2Gate,
    "ionq_ms": IonQMSGate,
    "ionq_zz": IonQZZGate,
    "u1q": U1qGate,
    "zzmax": ZZMaxGate,
    "r": RGate,
    "rz": RZGate,
    "rxx": RXXGate,
    "rzz": RZZGate,
}

#: Native gate sets by name: the instruction names a circuit may contain after translation.
GATE_SETS: dict[str, tuple[str, ...]] = {
    "gpi-ms": ("gpi", "gpi2", "ionq_ms", "rz"),
    "gpi-zz": ("gpi", "gpi2", "ionq_zz", "rz"),
    "u1q-rzz": ("u1q", "rzz", "zzmax", "rz"),
    "r-rxx": ("r", "rxx", "rz"),
}

ONE_QUBIT_GATES = frozenset({"gpi", "gpi2", "u1q", "r"})
"""Physical one-qubit gates (they take time and carry the one-qubit error)."""
TWO_QUBIT_GATES = frozenset({"ionq_ms", "ionq_zz", "rzz", "zzmax", "rxx"})
"""Physical two-qubit gates (they take time and carry the two-qubit error)."""
VIRTUAL_GATES = frozenset({"rz"})
"""Gates done in software by phase tracking: no time, no error."""

# The two-qubit rotation that stage 1 targets for each gate set.
_ENTANGLER = {"gpi-ms": "rxx", "gpi-zz": "rzz", "u1q-rzz": "rzz", "r-rxx": "rxx"}
# Non-gate instructions a translated circuit may keep.
_PASSTHROUGH = frozenset({"measure", "reset", "barrier", "delay"})


def to_native(
    circuit: QuantumCircuit,
    gate_set: str,
    *,
    optimization_level: int = 1,
    seed: int | None = None,
) -> QuantumCircuit:
    """Translate ``circuit`` into the native gates of ``gate_set``.

    Args:
        circuit: any circuit Qiskit can translate (parameters allowed); measurements,
            resets, barriers and delays are kept. No control flow.
        gate_set: a key of :data:`GATE_SETS`.
        optimization_level: Qiskit preset level 0-3 for stage 1.
        seed: seed of Qiskit's randomised passes (``seed_transpiler``).

    Returns:
        A new circuit on the same qubits and clbits (qubit ``k`` stays qubit ``k``),
        containing only the gates of ``GATE_SETS[gate_set]`` plus measure, reset,
        barrier and delay; equal to ``circuit`` as an operator including the global
        phase (see the module docstring for what happens at measurements).

    Raises:
        KeyError: unknown ``gate_set`` (the message lists the known ones).
        TypeError: ``circuit`` is not a ``QuantumCircuit``.
        ValueError: bad ``optimization_level``, control flow, or a gate Qiskit cannot
            translate (the message names it).
    """
    if gate_set not in GATE_SETS:
        raise KeyError(f"unknown gate set {gate_set!r}; known gate sets: {sorted(GATE_SETS)}")
    if not isinstance(circuit, QuantumCircuit):
        raise TypeError(f"circuit must be a QuantumCircuit, got {type(circuit).__name__}")
    if isinstance(optimization_level, bool) or optimization_level not in (0, 1, 2, 3):
        raise ValueError(f"optimization_level must be 0, 1, 2 or 3, got {optimization_level!r}")
    for instruction in circuit.data:
        if instruction.operation.name in ("if_else", "while_loop", "for_loop", "switch_case"):
            raise ValueError(
                f"control flow ({instruction.operation.name!r}) cannot be translated to "
                f"native ion-trap gates; use measure and reset only"
            )
    entangler = _ENTANGLER[gate_set]
    manager = generate_preset_pass_manager(
        optimization_level=optimization_level,
        basis_gates=["u", entangler, "measure", "reset", "delay"],
        seed_transpiler=seed,
    )
    # Eliding swaps would relabel qubits; keep qubit k = qubit k instead.
    if manager.init is not None:
        kept = [
            task
            for task in manager.init._tasks
            if not any(isinstance(p, ElidePermutations) for p in _passes_of(task))
        ]
        init = PassManager()
        for task in kept:
            init.append(task)
        manager.init = init
    try:
        flat = manager.run(circuit)
    except TranspilerError as exc:
        raise ValueError(
            f"cannot translate circuit {circuit.name!r} into the {gate_set!r} gate set: {exc}"
        ) from exc
    layout = flat.layout
    if layout is not None and layout.final_layout is not None:
        permutation = layout.final_index_layout(filter_ancillas=True)
        if permutation != list(range(circuit.num_qubits)):  # pragma: no cover - guard
            raise RuntimeError(f"stage 1 permuted the qubits: {permutation}")
    return _VirtualZ(flat, gate_set).run()


def _passes_of(task: object) -> list[object]:
    """The passes inside one pass-manager task (a pass or a list of passes)."""
    return list(task) if isinstance(task, list | tuple) else [task]


def _number(value: object) -> float | None:
    """``value`` as a float, or None while it still contains free parameters."""
    if isinstance(value, ParameterExpression):
        if value.parameters:
            return None
        return float(complex(value).real)
    return float(value)


def _close(a: float, b: float) -> bool:
    return abs(a - b) < _ATOL


def _wrap(angle: float, period: float) -> float:
    """``angle`` reduced into ``[0, period)``."""
    reduced = math.fmod(angle, period)
    if reduced < 0:
        reduced += period
    return 0.0 if _close(reduced, period) else reduced


class _VirtualZ:
    """Stage 2: rewrite a ``u`` + ``rxx``/``rzz`` circuit into native gates."""

    def __init__(self, source: QuantumCircuit, gate_set: str):
        self.source = source
        self.gate_set = gate_set
        self.out = source.copy_empty_like()
        # Pending Z rotation per qubit: the logical state is Rz(frame) applied to the
        # state the emitted gates prepare.
        self.frame: dict[object, float | ParameterExpression] = dict.fromkeys(source.qubits, 0.0)
        handlers: dict[str, Callable] = {"u": self._u, "rxx": self._rxx, "rzz": self._rzz}
        self.handlers = handlers

    def run(self) -> QuantumCircuit:
        for instruction in self.source.data:
            operation = instruction.operation
            name = operation.name
            if name in self.handlers:
                self.handlers[name](operation, instruction.qubits)
            elif name in ("measure", "reset"):
                # Z rotations do not change Z-basis outcomes and act as a phase on |0>.
                for qubit in instruction.qubits:
                    self.frame[qubit] = 0.0
                self.out.append(operation, instruction.qubits, instruction.clbits, copy=False)
            elif name in _PASSTHROUGH:
                self.out.append(operation, instruction.qubits, instruction.clbits, copy=False)
            else:
                raise ValueError(
                    f"cannot translate instruction {name!r} into the {self.gate_set!r} gate set"
                )
        for qubit, angle in self.frame.items():
            self._flush(qubit, angle)
        return self.out

    # -- helpers -------------------------------------------------------------------
    def _phase(self, delta: float | ParameterExpression) -> None:
        phase = self.out.global_phase + delta
        value = _number(phase)
        self.out.global_phase = phase if value is None else _wrap(value, _TWO_PI)

    def _set_frame(self, qubit: object, angle: float | ParameterExpression) -> None:
        value = _number(angle)
        self.frame[qubit] = angle if value is None else _wrap(value, 4 * math.pi)

    def _flush(self, qubit: object, angle: float | ParameterExpression) -> None:
        """Emit the pending frame of ``qubit`` as a (virtual) rz and clear it."""
        self.frame[qubit] = 0.0
        value = _number(angle)
        if value is not None:
            value = _wrap(value, 4 * math.pi)  # Rz has period 4π
            if _close(value, 0.0):
                return
            if _close(value, 2 * math.pi):  # Rz(2π) = -I
                self._phase(math.pi)
                return
            angle = value
        self.out.append(RZGate(angle), [qubit], copy=False)

    def _turns(self, angle: float | ParameterExpression) -> float | ParameterExpression:
        """An angle in radians as turns, reduced into [0, 1) when numeric."""
        value = _number(angle)
        return angle / _TWO_PI if value is None else _wrap(value / _TWO_PI, 1.0)

    def _rotation(self, qubit: object, theta: object, axis: object) -> None:
        """Emit R(θ, axis) = exp(-iθ/2 (cos axis X + sin axis Y)) physically on ``qubit``."""
        theta_value = _number(theta)
        axis_value = _number(axis)
        if theta_value is not None:
            # R(θ + 4π) = R(θ), R(θ + 2π) = -R(θ), R(-θ, a) = R(θ, a + π): fold θ into [0, π].
            theta_value = _wrap(theta_value, 4 * math.pi)
            if theta_value > 2 * math.pi:
                theta_value -= 2 * math.pi
                self._phase(math.pi)
            if theta_value > math.pi + _ATOL:
                theta_value = 2 * math.pi - theta_value
                self._phase(math.pi)
                axis = axis + math.pi if axis_value is None else axis_value + math.pi
            if _close(theta_value, 0.0):
                return
            theta = theta_value
        axis_value = _number(axis)
        if axis_value is not None:
            axis = _wrap(axis_value, _TWO_PI)
        if self.gate_set == "r-rxx":
            self.out.append(RGate(theta, axis), [qubit], copy=False)
        elif self.gate_set == "u1q-rzz":
            self.out.append(U1qGate(theta, axis), [qubit], copy=False)
        elif theta_value is not None and _close(theta_value, math.pi / 2):
            self.out.append(GPI2Gate(self._turns(axis)), [qubit], copy=False)
        elif theta_value is not None and _close(theta_value, math.pi):
            self.out.append(GPIGate(self._turns(axis)), [qubit], copy=False)
            self._phase(-math.pi / 2)  # R(π, a) = -i GPI(a / 2π)
        else:
            # R(θ, a) = Rz(θ) · R(π/2, a + π/2 - θ) · R(π/2, a - π/2): two GPI2, Z moved on
            self.out.append(GPI2Gate(self._turns(axis - math.pi / 2)), [qubit], copy=False)
            second = GPI2Gate(self._turns(axis + math.pi / 2 - theta))
            self.out.append(second, [qubit], copy=False)
            self._set_frame(qubit, self.frame[qubit] + theta)

    # -- handlers ------------------------------------------------------------------
    def _u(self, operation: Gate, qubits: list) -> None:
        # U(θ, φ, λ) = e^{i(φ+λ)/2} Rz(φ) R(θ, π/2) Rz(λ), and
        # R(θ, a) Rz(f) = Rz(f) R(θ, a - f): the physical rotation is R(θ, π/2 - λ - f).
        theta, phi, lam = operation.params
        (qubit,) = qubits
        frame = self.frame[qubit]
        self._phase((phi + lam) / 2)
        self._set_frame(qubit, frame + phi + lam)
        self._rotation(qubit, theta, math.pi / 2 - lam - frame)

    def _rxx(self, operation: Gate, qubits: list) -> None:
        (theta,) = operation.params
        first, second = qubits
        if self.gate_set == "r-rxx":
            # Z rotations do not commute with XX: apply them now (they are virtual).
            self._flush(first, self.frame[first])
            self._flush(second, self.frame[second])
        value = _number(theta)
        if value is not None:
            # RXX(θ + 2π) = -RXX(θ); RXX(θ) = RXX(θ ∓ π) · (∓i X⊗X) folds |θ| ≤ π/2.
            turns = round(value / _TWO_PI)
            value -= _TWO_PI * turns
            self._phase(math.pi * turns)
            if abs(value) > math.pi / 2 + _ATOL:
                sign = 1.0 if value > 0 else -1.0
                # X·Rz(f) = Rz(f)·σ(-f) = Rz(f)·(i R(π, -f)): two R(π) with phase +π/2 each
                for qubit in (first, second):
                    self._phase(math.pi / 2)
                    self._rotation(qubit, math.pi, -self.frame[qubit])
                self._phase(-sign * math.pi / 2)
                value -= sign * math.pi
            if _close(value, 0.0):
                return
            theta = value
        if self.gate_set == "r-rxx":
            if value is not None and value < 0:
                # (Z⊗I) XX (Z⊗I) = -XX: RXX(θ) = Rz(π)_0 RXX(-θ) Rz(-π)_0
                self.out.append(RZGate(-math.pi), [first], copy=False)
                self.out.append(RXXGate(-value), [first, second], copy=False)
                self.frame[first] = math.pi
            else:
                self.out.append(RXXGate(theta), [first, second], copy=False)
            return
        # IonQ: RXX(θ) (Rz(f0)⊗Rz(f1)) = (Rz(f0)⊗Rz(f1)) MS(-f0/2π, -f1/2π, θ/2π)
        axis0, axis1 = -self.frame[first], -self.frame[second]
        if value is not None and value < 0:
            axis0, theta = axis0 + math.pi, -value  # σ(a + π) = -σ(a) flips the rotation
        gate = IonQMSGate(self._turns(axis0), self._turns(axis1), theta / _TWO_PI)
        self.out.append(gate, [first, second], copy=False)

    def _rzz(self, operation: Gate, qubits: list) -> None:
        # ZZ commutes with Z rotations: frames pass through unchanged.
        (theta,) = operation.params
        value = _number(theta)
        if value is not None:
            turns = round(value / _TWO_PI)  # RZZ(θ + 2π) = -RZZ(θ)
            value -= _TWO_PI * turns
            self._phase(math.pi * turns)
            if _close(value, 0.0):
                return
            theta = value
        if self.gate_set == "gpi-zz":
            self.out.append(IonQZZGate(theta / _TWO_PI), list(qubits), copy=False)
        elif value is not None and _close(value, math.pi / 2):
            self.out.append(ZZMaxGate(), list(qubits), copy=False)
        else:
            self.out.append(RZZGate(theta), list(qubits), copy=False)
