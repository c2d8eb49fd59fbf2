"""The ion-trap device model: plain data that compilers and simulators query."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Delay, Gate, Measure, Parameter, Reset
from qiskit.circuit.library import RGate, RXXGate, RZGate, RZZGate
from qiskit.transpiler import InstructionProperties, Target
from qiskit_aer.noise import (
    NoiseModel,
    QuantumError,
    ReadoutError,
    depolarizing_error,
    thermal_relaxation_error,
)

from circuits.native import (
    GATE_SETS,
    NATIVE_GATES,
    ONE_QUBIT_GATES,
    TWO_QUBIT_GATES,
    VIRTUAL_GATES,
    GPI2Gate,
    GPIGate,
    IonQMSGate,
    IonQZZGate,
    U1qGate,
    ZZMaxGate,
    to_native,
)
from qrnn._checks import integer

__all__ = ["IonTrapDevice"]

_TWO_PI = 2 * math.pi
_PASSTHROUGH = frozenset({"measure", "reset", "barrier", "delay"})
_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case"})
_DELAY_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}
# The two-qubit Aer instruction each gate set's entangler becomes in aer_circuit().
_AER_ENTANGLER = {"gpi-ms": "rxx", "gpi-zz": "rzz", "u1q-rzz": "rzz", "r-rxx": "rxx"}


@dataclass(frozen=True)
class IonTrapDevice:
    """A simulated trapped-ion machine: size, native gates, timing, errors and limits.

    Plain data (like Qiskit's ``Target``) with methods that derive what compilers and
    simulators need from it. Build one with :func:`qrnn.devices.get`; construct it
    directly only for a custom model (every field is validated).

    Attributes:
        name: device name, e.g. ``"ionq-aria-1"``.
        n_qubits: qubits in use (circuits may be at most this wide).
        max_qubits: the machine's size; ``n_qubits <= max_qubits``.
        gate_set: key of :data:`circuits.native.GATE_SETS` (``"gpi-ms"``, ``"gpi-zz"``,
            ``"u1q-rzz"`` or ``"r-rxx"``).
        depolarizing_1q: parameter λ of the depolarizing channel
            ``ρ -> (1-λ) ρ + λ I/2`` applied after every physical one-qubit gate
            (= ``qiskit_aer.noise.depolarizing_error(λ, 1)``).
        depolarizing_2q: the same after every two-qubit gate, ``ρ -> (1-λ) ρ + λ I/4``.
        readout_p1_given_0: probability of reading 1 when the qubit is in ``|0>``.
        readout_p0_given_1: probability of reading 0 when the qubit is in ``|1>``.
        t1: energy relaxation time in seconds (``math.inf``: none).
        t2: dephasing time in seconds (``math.inf``: none); ``t2 <= 2 * t1``.
        duration_1q: seconds per physical one-qubit gate (``rz`` is virtual: 0 s).
        duration_2q: seconds per two-qubit gate.
        duration_measure: seconds per measurement.
        duration_reset: seconds per reset.
        mid_circuit_measurement: whether a measured qubit may be used again.
        mid_circuit_reset: whether a qubit may be reset after it was used.
        parallel_gates: timing model of :meth:`duration`: ``False`` runs every
            operation one after another, ``True`` runs operations on disjoint qubits
            at the same time (critical path).
        min_shots: smallest shot count a job may ask for.
        max_shots: largest shot count a job may ask for.
        description: one-line description of the machine.
        sources: figure name (a field name above) -> where the figure comes from.
        unpublished: names of the figures the vendor does not publish (chosen values).
    """

    name: str
    n_qubits: int
    max_qubits: int
    gate_set: str
    depolarizing_1q: float
    depolarizing_2q: float
    readout_p1_given_0: float
    readout_p0_given_1: float
    t1: float
    t2: float
    duration_1q: float
    duration_2q: float
    duration_measure: float
    duration_reset: float
    mid_circuit_measurement: bool
    mid_circuit_reset: bool
    parallel_gates: bool
    min_shots: int
    max_shots: int
    description: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    unpublished: frozenset[str] = field(default_factory=frozenset, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for key in ("n_qubits", "max_qubits", "min_shots", "max_shots"):
            integer(key, getattr(self, key), minimum=1)
        if self.n_qubits > self.max_qubits:
            raise ValueError(
                f"n_qubits={self.n_qubits} exceeds the {self.max_qubits} qubits of "
                f"device {self.name!r}"
            )
        if self.min_shots > self.max_shots:
            raise ValueError(f"min_shots={self.min_shots} must be <= max_shots={self.max_shots}")
        if self.gate_set not in GATE_SETS:
            raise ValueError(f"gate_set must be one of {sorted(GATE_SETS)}, got {self.gate_set!r}")
        for key in (
            "depolarizing_1q",
            "depolarizing_2q",
            "readout_p1_given_0",
            "readout_p0_given_1",
        ):
            value = _check_real(key, getattr(self, key))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be a probability in [0, 1], got {value!r}")
        for key in ("t1", "t2"):
            value = _check_real(key, getattr(self, key))
            if not value > 0:
                raise ValueError(f"{key} must be > 0 seconds (inf for none), got {value!r}")
        if self.t2 > 2 * self.t1:
            raise ValueError(f"t2={self.t2} s must be <= 2 * t1 = {2 * self.t1} s")
        for key in ("duration_1q", "duration_2q", "duration_measure", "duration_reset"):
            value = _check_real(key, getattr(self, key))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be a finite number of seconds >= 0, got {value!r}")
        for key in ("mid_circuit_measurement", "mid_circuit_reset", "parallel_gates"):
            if not isinstance(getattr(self, key), bool):
                raise TypeError(f"{key} must be a bool, got {getattr(self, key)!r}")
        object.__setattr__(self, "sources", dict(self.sources))  # a copy; plain dict pickles
        object.__setattr__(self, "unpublished", frozenset(self.unpublished))

    # -- basic queries -------------------------------------------------------------
    @property
    def native_gates(self) -> tuple[str, ...]:
        """Instruction names of the native gates (``rz`` is virtual: no time, no error)."""
        return GATE_SETS[self.gate_set]

    @property
    def error_1q(self) -> float:
        """Average gate infidelity of a one-qubit gate: ``λ (d-1)/d`` with d = 2."""
        return self.depolarizing_1q / 2

    @property
    def error_2q(self) -> float:
        """Average gate infidelity of a two-qubit gate: ``λ (d-1)/d`` with d = 4."""
        return self.depolarizing_2q * 3 / 4

    @property
    def readout_error(self) -> float:
        """Mean readout error ``(p(1|0) + p(0|1)) / 2``."""
        return (self.readout_p1_given_0 + self.readout_p0_given_1) / 2

    def with_qubits(self, n_qubits: int) -> IonTrapDevice:
        """The same machine using ``n_qubits`` qubits (1 to ``max_qubits``)."""
        integer("n_qubits", n_qubits, minimum=1)
        return replace(self, n_qubits=n_qubits)

    def check_shots(self, shots: int) -> int:
        """Return ``shots`` if it is an int in ``[min_shots, max_shots]``, else raise."""
        if isinstance(shots, bool) or not isinstance(shots, numbers.Integral):
            raise TypeError(f"shots must be an integer, got {shots!r}")
        if not self.min_shots <= shots <= self.max_shots:
            raise ValueError(
                f"shots={shots} is outside the limits of device {self.name!r}: "
                f"{self.min_shots} to {self.max_shots}"
            )
        return int(shots)

    def describe(self) -> str:
        """One line with the key figures (used by ``qrnn devices``)."""
        return (
            f"{self.name:<16} {self.n_qubits:>2}/{self.max_qubits:<3} qubits  "
            f"depol 1q {self.depolarizing_1q:.2e}  2q {self.depolarizing_2q:.2e}  "
            f"readout {self.readout_error:.2e}  2q time {self.duration_2q * 1e6:.0f} us  "
            f"gates {self.gate_set}"
        )

    # -- compilation ---------------------------------------------------------------
    def target(self) -> Target:
        """A Qiskit ``Target`` with the native gates on all qubits and all ordered pairs.

        Durations are in seconds; ``error`` is the average gate infidelity (measure:
        the mean readout error). ``reset`` is listed only if mid-circuit reset is
        supported.
        """
        target = Target(description=f"{self.name} ({self.gate_set})", num_qubits=self.n_qubits)
        qubits = range(self.n_qubits)
        for name in self.native_gates:
            if name in VIRTUAL_GATES:
                props = {(q,): InstructionProperties(duration=0.0, error=0.0) for q in qubits}
            elif name in ONE_QUBIT_GATES:
                one = InstructionProperties(duration=self.duration_1q, error=self.error_1q)
                props = {(q,): one for q in qubits}
            else:
                two = InstructionProperties(duration=self.duration_2q, error=self.error_2q)
                props = {(a, b): two for a in qubits for b in qubits if a != b}
            target.add_instruction(_template(name), props)
        readout = InstructionProperties(duration=self.duration_measure, error=self.readout_error)
        target.add_instruction(Measure(), {(q,): readout for q in qubits})
        if self.mid_circuit_reset:
            reset = InstructionProperties(duration=self.duration_reset, error=0.0)
            target.add_instruction(Reset(), {(q,): reset for q in qubits})
        return target

    def transpile(
        self, circuit: QuantumCircuit, optimization_level: int = 1, seed: int | None = None
    ) -> QuantumCircuit:
        """Translate ``circuit`` into this device's native gates.

        Qubit ``k`` stays qubit ``k`` (all-to-all connectivity needs no routing) and the
        result equals ``circuit`` as an operator, global phase included; parameters
        stay symbolic. See :func:`circuits.native.to_native` for the method.

        Raises:
            TypeError: ``circuit`` is not a ``QuantumCircuit``.
            ValueError: the circuit is wider than ``n_qubits``, measures or resets a
                qubit mid-circuit on a device without that feature, uses control flow,
                or contains a gate that cannot be translated.
        """
        self._check_circuit(circuit)
        native = to_native(circuit, self.gate_set, optimization_level=optimization_level, seed=seed)
        self._check_circuit(native)  # e.g. an ``initialize`` expands into a reset
        return native

    def duration(self, circuit: QuantumCircuit) -> float:
        """Estimated run time in seconds of one shot of ``circuit`` on this machine.

        A circuit that is not yet in native gates is transpiled first (level 1).
        Physical one- and two-qubit gates, measurements and resets take the device's
        durations, ``rz`` and barriers take none, delays their own length. With
        ``parallel_gates=False`` (every preset: ions in one trap are driven one gate
        at a time) the estimate is the sum over all operations; with ``True`` it is
        the critical path, operations on disjoint qubits overlapping. Ion transport,
        cooling and classical latency are not modelled.
        """
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a QuantumCircuit, got {type(circuit).__name__}")
        allowed = set(self.native_gates) | _PASSTHROUGH
        if any(i.operation.name not in allowed for i in circuit.data):
            circuit = self.transpile(circuit)
        clock = dict.fromkeys(circuit.qubits, 0.0)
        total = 0.0
        for instruction in circuit.data:
            seconds = self._seconds(instruction.operation)
            total += seconds
            start = max((clock[q] for q in instruction.qubits), default=0.0)
            for qubit in instruction.qubits:
                clock[qubit] = start + seconds
        if self.parallel_gates:
            return max(clock.values(), default=0.0)
        return total

    # -- noise ---------------------------------------------------------------------
    def gate_error(self, num_qubits: int) -> QuantumError | None:
        """The error after every physical ``num_qubits``-qubit gate, or None if ideal.

        Composition: first ``depolarizing_error(λ, n)``, then Aer's
        ``thermal_relaxation_error(t1, t2, duration)`` on each of the gate's qubits
        (amplitude damping ``1 - exp(-t/T1)``, coherences times ``exp(-t/T2)``).
        Idle qubits are not given relaxation noise: the vendors' published error models
        are per gate, and the idle time of an ion depends on scheduling we do not model.
        """
        if num_qubits not in (1, 2):
            raise ValueError(f"num_qubits must be 1 or 2, got {num_qubits!r}")
        return _gate_error(self, num_qubits)

    def noise_model(self) -> NoiseModel:
        """This device's noise as a ``qiskit_aer.noise.NoiseModel``.

        Errors (:meth:`gate_error`) are attached to the native gate *names* (``gpi``,
        ``ionq_ms``, ``u1q``, ``r``, ...); ``rz`` is virtual and noiseless. Aer looks
        noise up by an instruction's label when it has one, so run the circuit returned by
        :meth:`aer_circuit`, whose instructions carry the native names as labels: each
        native gate then receives its error exactly once. The readout error is
        included but Aer applies it to sampled counts only, never to saved
        expectation values: ``qrnn.backends`` apply it to those
        (``qrnn.sim.apply_readout``). ``basis_gates`` lists the native names and the Aer
        instructions of :meth:`aer_circuit`.
        """
        basis = set(self.native_gates) | {"r", "rz", _AER_ENTANGLER[self.gate_set]}
        model = NoiseModel(basis_gates=sorted(basis))
        for num_qubits, names in ((1, ONE_QUBIT_GATES), (2, TWO_QUBIT_GATES)):
            error = self.gate_error(num_qubits)
            targets = [name for name in self.native_gates if name in names]
            if error is not None and targets:
                model.add_all_qubit_quantum_error(error, targets)
        if self.readout_p1_given_0 > 0 or self.readout_p0_given_1 > 0:
            model.add_all_qubit_readout_error(ReadoutError(self.readout_confusion()[0]))
        return model

    def aer_circuit(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """``circuit`` (native gates) rewritten into instructions Aer simulates.

        Each native gate becomes Aer-native gates (``r``, ``rz``, ``rxx``, ``rzz``)
        with the same matrix, global phase included; exactly one of them carries the
        native name as its label, so :meth:`noise_model` attaches the gate's error
        once: ``gpi`` -> ``r(π, 2πφ)`` (phase π/2), ``gpi2`` -> ``r(π/2, 2πφ)``,
        ``ionq_ms`` -> ``rz`` ``rxx(2πθ)`` ``rz`` (label on the ``rxx``; its error is
        then followed by the closing ``rz`` pair, which commutes with depolarizing and
        thermal-relaxation channels, so the result is the same), ``ionq_zz`` ->
        ``rzz(2πθ)``, ``u1q`` -> ``r``, ``zzmax`` -> ``rzz(π/2)``; ``r``/``rz``/``rxx``/
        ``rzz`` keep their class and get their own name as label. Parameters stay
        symbolic, so one converted circuit serves all ``parameter_binds``. Non-gate
        instructions (measure, reset, barrier, delay, Aer save instructions) pass
        through.

        Raises:
            ValueError: a gate that is not native to this device (transpile first).
        """
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a QuantumCircuit, got {type(circuit).__name__}")
        out = circuit.copy_empty_like()
        native = set(self.native_gates)
        for instruction in circuit.data:
            operation, qubits = instruction.operation, instruction.qubits
            name = operation.name
            if isinstance(operation, Gate) and name not in native:
                raise ValueError(
                    f"gate {name!r} is not native to device {self.name!r} "
                    f"(native: {list(self.native_gates)}); call device.transpile(circuit) first"
                )
            if not isinstance(operation, Gate):
                out.append(operation, qubits, instruction.clbits, copy=False)
                continue
            params = operation.params
            if name == "gpi":
                out.append(RGate(math.pi, _TWO_PI * params[0], label=name), qubits, copy=False)
                out.global_phase = out.global_phase + math.pi / 2  # GPI = i R(π, 2πφ)
            elif name == "gpi2":
                out.append(RGate(math.pi / 2, _TWO_PI * params[0], label=name), qubits, copy=False)
            elif name == "ionq_ms":
                phi0, phi1, theta = params
                first, second = qubits
                out.append(RZGate(-_TWO_PI * phi0), [first], copy=False)
                out.append(RZGate(-_TWO_PI * phi1), [second], copy=False)
                out.append(RXXGate(_TWO_PI * theta, label=name), qubits, copy=False)
                out.append(RZGate(_TWO_PI * phi0), [first], copy=False)
                out.append(RZGate(_TWO_PI * phi1), [second], copy=False)
            elif name == "ionq_zz":
                out.append(RZZGate(_TWO_PI * params[0], label=name), qubits, copy=False)
            elif name == "u1q":
                out.append(RGate(params[0], params[1], label=name), qubits, copy=False)
            elif name == "zzmax":
                out.append(RZZGate(math.pi / 2, label=name), qubits, copy=False)
            else:  # r, rz, rxx, rzz: already Aer gates
                out.append(NATIVE_GATES[name](*params, label=name), qubits, copy=False)
        return out

    def readout_confusion(self) -> np.ndarray:
        """Per-qubit readout confusion matrices, shape ``(n_qubits, 2, 2)``.

        ``[q, prepared, read]`` is the probability of reading ``read`` from qubit ``q``
        prepared in ``prepared`` (Qiskit ``ReadoutError`` row convention).
        """
        p10, p01 = self.readout_p1_given_0, self.readout_p0_given_1
        one = np.array([[1.0 - p10, p10], [p01, 1.0 - p01]])
        return np.broadcast_to(one, (self.n_qubits, 2, 2)).copy()

    # -- private -------------------------------------------------------------------
    def _check_circuit(self, circuit: QuantumCircuit) -> None:
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a QuantumCircuit, got {type(circuit).__name__}")
        if circuit.num_qubits > self.n_qubits:
            raise ValueError(
                f"circuit {circuit.name!r} uses {circuit.num_qubits} qubits but device "
                f"{self.name!r} is set up with {self.n_qubits} (the machine has "
                f"{self.max_qubits}); use qrnn.devices.get({self.name!r}, "
                f"n_qubits={circuit.num_qubits})"
                if circuit.num_qubits <= self.max_qubits
                else f"circuit {circuit.name!r} uses {circuit.num_qubits} qubits but device "
                f"{self.name!r} has only {self.max_qubits}"
            )
        measured: set[object] = set()
        used: set[object] = set()
        for instruction in circuit.data:
            name = instruction.operation.name
            if name in _CONTROL_FLOW:
                raise ValueError(
                    f"control flow ({name!r}) is not supported on device {self.name!r}"
                )
            if name == "barrier":
                continue
            for qubit in instruction.qubits:
                index = circuit.find_bit(qubit).index
                if qubit in measured and not self.mid_circuit_measurement:
                    raise ValueError(
                        f"device {self.name!r} does not support mid-circuit measurement: "
                        f"qubit {index} is used by {name!r} after it was measured"
                    )
                if name == "reset" and qubit in used and not self.mid_circuit_reset:
                    raise ValueError(
                        f"device {self.name!r} does not support mid-circuit reset: "
                        f"qubit {index} is reset after it was used"
                    )
                if name == "measure":
                    measured.add(qubit)
                if name != "reset" or qubit in used:
                    used.add(qubit)

    def _seconds(self, operation: object) -> float:
        name = operation.name
        if name in VIRTUAL_GATES or name == "barrier":
            return 0.0
        if name in ONE_QUBIT_GATES:
            return self.duration_1q
        if name in TWO_QUBIT_GATES:
            return self.duration_2q
        if name == "measure":
            return self.duration_measure
        if name == "reset":
            return self.duration_reset
        if isinstance(operation, Delay):
            scale = _DELAY_UNITS.get(operation.unit)
            if scale is None or isinstance(operation.duration, Parameter):
                raise ValueError(
                    f"cannot time a delay of {operation.duration!r} {operation.unit!r}; "
                    f"use a number with one of the units {sorted(_DELAY_UNITS)}"
                )
            return float(operation.duration) * scale
        raise ValueError(f"cannot time instruction {name!r} on device {self.name!r}")


def _template(name: str) -> Gate:
    """A native gate with free parameters, as ``Target.add_instruction`` expects."""
    theta, phi = Parameter("theta"), Parameter("phi")
    templates = {
        "gpi": lambda: GPIGate(phi),
        "gpi2": lambda: GPI2Gate(phi),
        "ionq_ms": lambda: IonQMSGate(Parameter("phi0"), Parameter("phi1"), theta),
        "ionq_zz": lambda: IonQZZGate(theta),
        "u1q": lambda: U1qGate(theta, phi),
        "zzmax": ZZMaxGate,
        "r": lambda: RGate(theta, phi),
        "rz": lambda: RZGate(Parameter("lambda")),
        "rxx": lambda: RXXGate(theta),
        "rzz": lambda: RZZGate(theta),
    }
    return templates[name]()


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return float(value)


# The same error object for equal devices, so that the Kraus form the simulators derive from it
# (cached by the error's id) is computed once, however many noise models and backends use it.
@functools.lru_cache(maxsize=64)
def _gate_error(device: IonTrapDevice, num_qubits: int) -> QuantumError | None:
    strength = device.depolarizing_1q if num_qubits == 1 else device.depolarizing_2q
    seconds = device.duration_1q if num_qubits == 1 else device.duration_2q
    error = depolarizing_error(strength, num_qubits) if strength > 0 else None
    if seconds > 0 and (math.isfinite(device.t1) or math.isfinite(device.t2)):
        relax = thermal_relaxation_error(device.t1, device.t2, seconds)
        if num_qubits == 2:
            relax = relax.tensor(relax)
        error = relax if error is None else error.compose(relax)
    return error
