"""The torch engine as a PennyLane device: ``qml.device("qrnn.torch", wires=n)``.

A thin device over the engine, on PennyLane's ``Device`` API:

* ``preprocess_transforms`` decomposes every operation that ``circuits.interop`` does not
  translate (``supports_operation`` is the stopping condition, so PennyLane's decompositions
  do the rest) and validates wires, measurements and observables with PennyLane's own
  transforms and errors (``DeviceError``).
* ``execute`` translates each tape's operations into a parameterized ``QuantumCircuit``
  (``circuits.interop.operations_circuit``, the code ``from_pennylane`` uses; one circuit per
  tape structure, so the engine compiles it once) and stacks the gate parameters into the
  engine's ``values (batch, n_params)``: PennyLane's parameter broadcasting is the engine's
  batch. Analytic expectation values of Pauli observables are the engine's ``expval`` (the
  numbers of ``qrnn.backends.get("torch", device=...)``); every other measurement, and every
  measurement with shots, is read from the engine's final state (statevector, or density
  matrix with noise) by PennyLane's own measurement and sampling functions.
* Derivatives: ``backprop`` through torch (interface torch; the engine's backward is its own
  adjoint pass) and ``adjoint``: the same backward pass run by the device for any interface.

Noise: ``qrnn_device`` (a preset name such as ``"iontrap-10q"``, a device file or an
``IonTrapDevice``) runs circuits as that machine would: transpiled to its native gates, with
its quantum errors on the density-matrix path and its readout error on measured wires.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np
import pennylane as qml
import torch
from pennylane import math
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    no_sampling,
    validate_device_wires,
    validate_measurements,
    validate_observables,
)
from pennylane.exceptions import DeviceError
from pennylane.measurements import (
    ClassicalShadowMP,
    ExpectationMP,
    ProbabilityMP,
    SampleMeasurement,
    ShadowExpvalMP,
    StateMeasurement,
    VarianceMP,
)
from pennylane.transforms import defer_measurements
from pennylane.transforms.core import CompilePipeline

from circuits.interop import SUPPORTED_OPERATIONS, operations_circuit, supports_operation
from qrnn import sim
from qrnn.backends import get as get_backend

NAME = "qrnn.torch"
# compiled circuits kept per device (one per tape structure)
_CACHE_SIZE = 64
_TORCH = math.Interface.TORCH
# interfaces whose parameters cannot enter the engine's torch graph: backprop is torch's
_FOREIGN = {
    math.Interface.AUTOGRAD,
    math.Interface.JAX,
    math.Interface.JAX_JIT,
    math.Interface.TF,
    math.Interface.TF_AUTOGRAPH,
}


def _stopping_condition(op) -> bool:
    return supports_operation(op)


def _decomposer(op):
    """PennyLane's decomposition; an operation without one but with a matrix (e.g.
    ``DoubleExcitationPlus``, ``BlockEncode``) becomes a ``QubitUnitary`` of that matrix."""
    if not op.has_decomposition and op.has_matrix:
        return [qml.QubitUnitary(op.matrix(), wires=op.wires)]
    return op.decomposition()


def _accepts_observable(observable, expval: bool = False) -> bool:
    """Observables PennyLane's measurement functions can read: diagonalizable ones, and for
    expectation values also ``Hermitian`` and ``SparseHamiltonian`` (read as matrices)."""
    if isinstance(observable, qml.ops.CompositeOp):
        return all(_accepts_observable(o, expval) for o in observable.operands)
    if isinstance(observable, qml.ops.SymbolicOp):
        return _accepts_observable(observable.base, expval)
    if expval and isinstance(observable, qml.Hermitian | qml.SparseHamiltonian):
        return True
    return observable.has_diagonalizing_gates


def _any_observable(observable) -> bool:
    return _accepts_observable(observable, expval=True)


def _analytic_measurement(mp) -> bool:
    if isinstance(mp, ClassicalShadowMP | ShadowExpvalMP) or not isinstance(mp, StateMeasurement):
        return False
    return mp.obs is None or _accepts_observable(mp.obs, isinstance(mp, ExpectationMP))


def _sample_measurement(mp) -> bool:
    if not isinstance(mp, SampleMeasurement):
        return False
    return mp.obs is None or _accepts_observable(mp.obs)


def _differentiable(tape) -> bool:
    """Measurements the adjoint method differentiates: real-valued analytic ones."""
    return not tape.shots and all(
        isinstance(m, ExpectationMP | VarianceMP | ProbabilityMP) for m in tape.measurements
    )


@simulator_tracking
@single_tape_support
class TorchDevice(Device):
    """qrnn's torch engine as a PennyLane device.

    ``qml.device("qrnn.torch", wires=4)``; ``qml.device("qrnn.torch", wires=4,
    qrnn_device="iontrap-10q")`` for a noisy ion-trap machine. Parameter broadcasting runs as
    one engine batch: results of a tape with ``batch_size`` B have a leading axis of size B.

    Args:
        wires: number of wires or their labels (None: the wires each circuit uses).
        shots: default shots (PennyLane prefers ``qml.set_shots`` on the QNode); None is exact.
        seed: seeds the sampling with shots (an int, or None for fresh entropy).
        qrnn_device: None (ideal), or a qrnn device (``qrnn.devices.names()`` preset name,
            device file or ``IonTrapDevice``) whose native gates, noise and readout error
            circuits run with. (Named so as not to clash with PennyLane's word "device".)

    Derivatives: ``diff_method="backprop"`` (the default for exact runs; torch interface)
    and ``diff_method="adjoint"`` (expectation values, variances and probabilities; any
    interface). With shots, PennyLane's parameter-shift applies.
    """

    def __init__(self, wires=None, shots=None, seed=None, qrnn_device=None):
        super().__init__(wires=wires, shots=shots)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise DeviceError(f"seed must be None or an int, got {seed!r}")
        self._rng = np.random.default_rng(seed)
        try:
            self._backend = get_backend("torch", device=qrnn_device)
        except (TypeError, ValueError, LookupError, OSError) as error:
            reason = error.args[0] if error.args else error  # (a KeyError quotes str())
            raise DeviceError(f"{NAME}: qrnn_device={qrnn_device!r}: {reason}") from None
        self.qrnn_device = self._backend.device
        device = self.qrnn_device
        if device is not None and self.wires is not None and len(self.wires) > device.n_qubits:
            raise DeviceError(
                f"{NAME}: {len(self.wires)} wires do not fit the {device.n_qubits}-qubit "
                f"qrnn_device {device.name!r}"
            )
        self._noisy = self._backend.noise_model is not None
        self._circuits: OrderedDict = OrderedDict()  # tape structure -> _Compiled

    @property
    def name(self) -> str:
        return NAME

    def __repr__(self) -> str:
        noise = "" if self.qrnn_device is None else f", qrnn_device={self.qrnn_device.name!r}"
        wires = "" if self.wires is None else f"wires={len(self.wires)}"
        return f"<{NAME} device ({wires}{noise}) at {hex(id(self))}>"

    # -- configuration ------------------------------------------------------------------------

    def supports_derivatives(self, execution_config=None, circuit=None) -> bool:
        if execution_config is None:
            return True
        method = execution_config.gradient_method
        if method == "best":  # as setup_execution_config resolves it
            method = "adjoint" if execution_config.interface in _FOREIGN else "backprop"
        if method == "backprop":
            if execution_config.interface in _FOREIGN:
                return False
            return circuit is None or not circuit.shots
        if method == "adjoint":
            return circuit is None or _differentiable(circuit)
        return False

    def setup_execution_config(self, config=None, circuit=None) -> ExecutionConfig:
        config = config or ExecutionConfig()
        for option in config.device_options:
            raise DeviceError(f"{NAME} has no device option {option!r}")
        method = config.gradient_method
        if method == "best":
            method = "adjoint" if config.interface in _FOREIGN else "backprop"
        updates = {"gradient_method": method}
        if config.use_device_gradient is None:
            updates["use_device_gradient"] = method in ("backprop", "adjoint")
        if config.use_device_jacobian_product is None:
            updates["use_device_jacobian_product"] = method == "adjoint"
        if config.grad_on_execution is None:
            updates["grad_on_execution"] = False
        mcm = config.mcm_config
        if mcm.mcm_method not in (None, "deferred"):
            raise DeviceError(
                f"{NAME} runs mid-circuit measurements deferred only (mcm_method='deferred'), "
                f"got mcm_method={mcm.mcm_method!r}"
            )
        updates["mcm_config"] = replace(mcm, mcm_method="deferred")
        return replace(config, **updates)

    def preprocess_transforms(self, execution_config=None) -> CompilePipeline:
        config = execution_config or ExecutionConfig()
        pipeline = CompilePipeline()
        pipeline.add_transform(defer_measurements, allow_postselect=False)
        pipeline.add_transform(
            decompose,
            stopping_condition=_stopping_condition,
            skip_initial_state_prep=False,
            decomposer=_decomposer,
            device_wires=self.wires,
            target_gates=SUPPORTED_OPERATIONS,
            name=NAME,
        )
        pipeline.add_transform(validate_device_wires, self.wires, name=NAME)
        pipeline.add_transform(
            validate_measurements,
            analytic_measurements=_analytic_measurement,
            sample_measurements=_sample_measurement,
            name=NAME,
        )
        pipeline.add_transform(validate_observables, stopping_condition=_any_observable, name=NAME)
        if config.gradient_method == "backprop":
            pipeline.add_transform(no_sampling, name=f"backprop + {NAME}")
        return pipeline

    # -- execution ----------------------------------------------------------------------------

    def execute(self, circuits, execution_config=None):
        return tuple(self._run(tape) for tape in circuits)

    def compute_derivatives(self, circuits, execution_config=None):
        return tuple(self._run_and_jacobian(tape)[1] for tape in circuits)

    def execute_and_compute_derivatives(self, circuits, execution_config=None):
        pairs = [self._run_and_jacobian(tape) for tape in circuits]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    def compute_vjp(self, circuits, cotangents, execution_config=None):
        return tuple(self._run_and_vjp(t, c)[1] for t, c in zip(circuits, cotangents, strict=True))

    def execute_and_compute_vjp(self, circuits, cotangents, execution_config=None):
        pairs = [self._run_and_vjp(t, c) for t, c in zip(circuits, cotangents, strict=True)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    def supports_vjp(self, execution_config=None, circuit=None) -> bool:
        return execution_config is None or execution_config.gradient_method == "adjoint"

    # -- one tape -----------------------------------------------------------------------------

    def _compiled(self, tape) -> _Compiled:
        """The circuit of ``tape`` (standard wires 0..n-1): one object per tape structure, so
        that the engine's programs for it are compiled once."""
        n = len(tape.wires)
        key = (n, *(_structure(op) for op in tape.operations))
        compiled = self._circuits.get(key)
        if compiled is None:
            compiled = _Compiled(operations_circuit(tape.operations, list(range(n)))[0])
            self._circuits[key] = compiled
            if len(self._circuits) > _CACHE_SIZE:
                self._circuits.popitem(last=False)
        else:
            self._circuits.move_to_end(key)
        return compiled

    def _run(self, tape):
        """Results of one tape: torch tensors when its parameters are torch, else numpy."""
        uses_torch = any(math.get_interface(d) == "torch" for d in tape.get_parameters(False))
        with torch.set_grad_enabled(uses_torch and torch.is_grad_enabled()):
            result = self._simulate(tape)
        return result if uses_torch else _to_numpy(result)

    def _simulate(self, tape):
        tape = tape.map_to_standard_wires()
        compiled = self._compiled(tape)
        circuit = compiled.circuit
        n = circuit.num_qubits
        batch = tape.batch_size
        # every numeric parameter of a translated operation is a circuit parameter, in order,
        # except a QubitUnitary's matrix (a constant of the circuit, part of its key)
        raw = [d for op in tape.operations if op.name != "QubitUnitary" for d in op.data]
        values = _stack(raw, batch)  # (B, n_params)
        terms = None if tape.shots else _pauli_terms(tape)
        if terms is not None:
            observables = compiled.observables(terms, tape)
            if self._noisy:
                out = self._backend.expval(circuit, values, observables)
            else:
                out = compiled.program(terms, observables).expval(values)  # (B, n_obs)
            columns = [out[:, j] if batch is not None else out[0, j] for j in range(out.shape[1])]
            return columns[0] if len(columns) == 1 else tuple(columns)
        keep_torch = torch.is_grad_enabled() and values.requires_grad
        if self._noisy:
            rho = self._backend.density_matrix(circuit, values)  # (B, 2**n, 2**n)
            rho = _big_endian_matrix(rho, n)
            return self._measure_mixed(tape, rho if keep_torch else rho.cpu().numpy(), batch)
        program = compiled.program(None, None)
        state = _big_endian_state(program.statevector(values), n)  # (B, 2, ..., 2)
        if batch is None:
            state = state[0]
        if not keep_torch:
            state = state.cpu().numpy()
        from pennylane.devices.qubit.simulate import measure_final_state

        return measure_final_state(tape, state, batch is not None, rng=self._rng)

    def _measure_mixed(self, tape, rho, batch):
        from pennylane.devices.qubit_mixed.measure import measure
        from pennylane.devices.qubit_mixed.sampling import measure_with_samples

        if batch is None:
            rho = rho[0]
        batched = batch is not None
        readout = self._readout_errors(len(tape.wires))
        if tape.shots:
            results = measure_with_samples(
                tape.measurements,
                rho,
                shots=tape.shots,
                is_state_batched=batched,
                rng=self._rng,
                readout_errors=readout,
            )
            if len(tape.measurements) == 1:
                return (
                    tuple(r[0] for r in results) if tape.shots.has_partitioned_shots else results[0]
                )
            return results
        results = tuple(
            measure(
                m,
                rho,
                is_state_batched=batched,
                # readout error belongs to reading bits, not to the state itself
                readout_errors=readout if isinstance(m, SampleMeasurement) else None,
            )
            for m in tape.measurements
        )
        return results[0] if len(results) == 1 else results

    def _readout_errors(self, n_qubits):
        """Per-wire readout channels (Kraus ``sqrt(A[t, m]) |m><t|``) of the noise model."""
        confusion = sim.NoiseReader(self._backend.noise_model).readout(n_qubits)
        if not confusion:
            return None

        def channel(wire):
            matrix = confusion.get(int(wire))
            if matrix is None:
                return qml.Identity(wire)
            kraus = []
            for true in (0, 1):
                for read in (0, 1):
                    k = np.zeros((2, 2), dtype=complex)
                    k[read, true] = np.sqrt(matrix[true, read])
                    kraus.append(k)
            return qml.QubitChannel(kraus, wires=wire)

        return [channel]

    # -- adjoint ------------------------------------------------------------------------------

    def _leaf_tape(self, tape):
        """``tape`` with its trainable parameters as float64 torch leaves (requires_grad)."""
        if not _differentiable(tape):
            raise DeviceError(
                f"{NAME} differentiates expectation values, variances and probabilities of "
                "exact (shots=None) circuits with diff_method='adjoint'; got "
                f"{[type(m).__name__ for m in tape.measurements]}"
                + (f" with shots={tape.shots}" if tape.shots else "")
            )
        data = tape.get_parameters(trainable_only=True)
        leaves = [
            torch.tensor(np.asarray(_numeric(d), dtype=np.float64), requires_grad=True)
            for d in data
        ]
        return tape.bind_new_parameters(leaves, tape.trainable_params), leaves

    def _run_and_jacobian(self, tape):
        bound, leaves = self._leaf_tape(tape)
        with torch.enable_grad():
            result = self._simulate(bound)
            outputs = result if isinstance(result, tuple) else (result,)
            jacobians = []
            for out in outputs:
                flat = out.reshape(-1)
                rows = []
                for i in range(flat.shape[0]):
                    grads = torch.autograd.grad(
                        flat[i], leaves, retain_graph=True, allow_unused=True
                    )
                    rows.append(
                        [
                            torch.zeros_like(l) if g is None else g
                            for g, l in zip(grads, leaves, strict=True)
                        ]
                    )
                per_param = []
                for p, leaf in enumerate(leaves):
                    column = torch.stack([r[p] for r in rows]) if rows else torch.zeros(0)
                    # (output..., parameter shape): a broadcast parameter's own batch axis
                    # is summed into the output's (PennyLane's convention: diagonal)
                    column = column.reshape(tuple(out.shape) + tuple(leaf.shape))
                    if leaf.dim() == 1 and out.dim() >= 1 and leaf.shape[0] == out.shape[0]:
                        column = torch.diagonal(column, dim1=0, dim2=-1).movedim(-1, 0)
                    per_param.append(column.detach().cpu().numpy())
                jacobians.append(per_param[0] if len(per_param) == 1 else tuple(per_param))
        value = _to_numpy(result)
        jacobian = jacobians[0] if len(jacobians) == 1 else tuple(jacobians)
        return value, jacobian

    def _run_and_vjp(self, tape, cotangent):
        bound, leaves = self._leaf_tape(tape)
        with torch.enable_grad():
            result = self._simulate(bound)
            outputs = result if isinstance(result, tuple) else (result,)
            cotangents = cotangent if isinstance(result, tuple) else (cotangent,)
            total = sum(
                (out * torch.as_tensor(np.asarray(_numeric(c)), dtype=out.dtype)).sum()
                for out, c in zip(outputs, cotangents, strict=True)
            )
            grads = torch.autograd.grad(total, leaves, allow_unused=True) if leaves else ()
        vjp = tuple(
            (torch.zeros_like(l) if g is None else g).cpu().numpy()
            for g, l in zip(grads, leaves, strict=True)
        )
        return _to_numpy(result), vjp


# -- helpers ----------------------------------------------------------------------------------


def _structure(op) -> tuple:
    """What makes two operations compile to the same circuit (not their angles)."""
    extra = None
    if op.name == "PauliRot":
        extra = op.hyperparameters["pauli_word"]
    elif op.name == "QubitUnitary":
        extra = np.asarray(_numeric(op.data[0]), dtype=complex).tobytes()
    return (op.name, tuple(op.wires), extra)


def _numeric(value):
    return qml.math.to_numpy(value) if math.get_interface(value) != "numpy" else value


def _stack(raw, batch) -> torch.Tensor:
    """Gate parameters (each scalar or (batch,)) -> values (B, n_params), float64, on the
    torch device of the torch parameters (the engine runs there); torch parameters keep their
    graph."""
    rows = batch or 1
    on = next((v.device for v in raw if math.get_interface(v) == "torch"), torch.device("cpu"))
    columns = []
    for value in raw:
        if math.get_interface(value) == "torch":
            column = value.to(torch.float64)
        else:
            column = torch.as_tensor(np.asarray(_numeric(value), dtype=np.float64), device=on)
        columns.append(column.reshape(-1).expand(rows) if column.dim() else column.expand(rows))
    if not columns:
        return torch.zeros(rows, 0, dtype=torch.float64, device=on)
    return torch.stack(columns, dim=-1)


def _pauli_terms(tape):
    """A key of the tape's observables (their Pauli words and coefficients) when every
    measurement is the expectation value of a Pauli observable with constant coefficients,
    else None: those run as the engine's ``expval``."""
    key = []
    for m in tape.measurements:
        if not isinstance(m, ExpectationMP) or m.obs is None:
            return None
        sentence = m.obs.pauli_rep
        if sentence is None:
            return None
        terms = []
        for word, coefficient in sentence.items():
            if math.requires_grad(coefficient):
                return None  # trainable coefficients: PennyLane's measurement keeps their graph
            terms.append((tuple(sorted(word.items())), complex(_numeric(coefficient))))
        key.append(tuple(terms))
    return tuple(key) or None


class _Compiled:
    """A tape structure's circuit, its observables and the engine's programs for it."""

    def __init__(self, circuit):
        self.circuit = circuit
        self._observables: dict = {}
        self._programs: dict = {}

    def observables(self, terms, tape):
        """The tape's observables as ``SparsePauliOp``s (cached by their ``terms``)."""
        from circuits.interop import observable_to_sparse

        if terms not in self._observables:
            wires = list(range(self.circuit.num_qubits))
            self._observables[terms] = [
                observable_to_sparse(m.obs, wires) for m in tape.measurements
            ]
        return self._observables[terms]

    def program(self, terms, observables):
        """The engine's program for these observables (None: for states)."""
        if terms not in self._programs:
            self._programs[terms] = sim.compile(self.circuit, observables)
        return self._programs[terms]


def _big_endian_state(state: torch.Tensor, n: int) -> torch.Tensor:
    """(B, 2**n) with qubit k at bit k -> (B, 2, ..., 2) with wire 0 first (PennyLane)."""
    return state.reshape(state.shape[0], *[2] * n).permute(0, *range(n, 0, -1))


def _big_endian_matrix(rho: torch.Tensor, n: int) -> torch.Tensor:
    """(B, 2**n, 2**n) -> (B, 2, ..., 2 (row wires), 2, ..., 2 (column wires)), wire 0 first."""
    tensor = rho.reshape(rho.shape[0], *[2] * (2 * n))
    return tensor.permute(0, *range(n, 0, -1), *range(2 * n, n, -1))


def _to_numpy(result):
    if isinstance(result, tuple):
        return tuple(_to_numpy(r) for r in result)
    if isinstance(result, dict):
        return result
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    return result


__all__ = ["NAME", "TorchDevice"]
