"""The backend protocol: expectation values and counts over several executors.

A backend turns (circuit, values, observables) into expectation values with exactly the meaning
of ``qrnn.sim.expval``, and (circuit, values, shots) into counts. This class validates the
input (one parser for observables, one check for values and shots), resolves the device, puts
every circuit in the form all executors share (``executable``), and wraps executors without
autograd in ``qrnn.gradients.execute`` so that backward uses parameter-shift or SPSA.
Subclasses implement ``_expval`` (and ``_counts``) on validated input.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit

from circuits.cells import MARKER_LABEL, add_marker
from qrnn._cache import CircuitCache
from qrnn.backends._device import check_noise_model, check_shots, resolve_device
from qrnn.backends._errors import BackendError
from qrnn.sim import NoiseReader, check_values, parse_observables, simulated_form

GRADIENT_METHODS = ("backprop", "parameter-shift", "spsa")


__all__ = ["MARKER_LABEL", "Backend", "add_marker", "marker_positions"]


def marker_positions(circuit: QuantumCircuit) -> list[int]:
    """Instruction indices of the markers of ``circuit``."""
    return [
        i
        for i, instruction in enumerate(circuit.data)
        if instruction.operation.name == "barrier"
        and getattr(instruction.operation, "label", None) == MARKER_LABEL
    ]


def check_circuit(circuit, measured: bool = False) -> QuantumCircuit:
    """``circuit`` if it is a ``QuantumCircuit`` without (``measured=False``) or with
    (``measured=True``) measurements, else a ``BackendError`` that says what to do."""
    if not isinstance(circuit, QuantumCircuit):
        raise BackendError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}")
    measures = any(i.operation.name == "measure" or i.clbits for i in circuit.data)
    if measures and not measured:
        raise BackendError(
            f"circuit {circuit.name!r} writes classical bits; expectation values need a circuit "
            "without measurements (QuantumCircuit.remove_final_measurements) and observables"
        )
    if measured and not measures:
        raise BackendError(
            f"circuit {circuit.name!r} measures nothing; counts need measurements "
            "(e.g. circuit.measure_all())"
        )
    return circuit


def prefix_circuit(circuit: QuantumCircuit, stop: int) -> QuantumCircuit:
    """The first ``stop`` instructions of ``circuit`` (same qubits, no global phase)."""
    prefix = circuit.copy_empty_like()
    prefix.global_phase = 0.0
    for instruction in circuit.data[:stop]:
        prefix.append(instruction)
    return prefix


def select_columns(values: torch.Tensor, source: QuantumCircuit, target: QuantumCircuit):
    """Columns of ``values`` (in ``source.parameters`` order) for ``target.parameters``."""
    if list(target.parameters) == list(source.parameters):
        return values
    index = {p: i for i, p in enumerate(source.parameters)}
    missing = [p for p in target.parameters if p not in index]
    if missing:
        raise BackendError(f"parameter {missing[0]} is not a parameter of the input circuit")
    return values[:, [index[p] for p in target.parameters]]


def final_measurements(circuit: QuantumCircuit) -> dict[int, int]:
    """clbit -> qubit of a circuit whose measurements all come last on their qubits; a
    ``BackendError`` for mid-circuit measurements (which only Aer simulates)."""
    measured: dict[int, int] = {}
    done: set[int] = set()
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        name = instruction.operation.name
        if name == "barrier":
            continue
        if name == "measure":
            measured[circuit.find_bit(instruction.clbits[0]).index] = qubits[0]
            done.add(qubits[0])
        elif done.intersection(qubits) or instruction.clbits:
            raise BackendError(
                f"circuit {circuit.name!r} measures mid-circuit (instruction {name!r} after a "
                "measurement, or classical control); this backend samples final measurements "
                "only: use the 'aer' backend"
            )
    return measured


def without_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with its (final) measurements left out; clbits kept, so indices agree."""
    unitary = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name != "measure":
            unitary.append(instruction)
    return unitary


def reduce_state(rho: torch.Tensor, keep: list[int]) -> torch.Tensor:
    """Partial trace of ``rho (batch, 2**n, 2**n)`` (index bit q = qubit q) onto the qubits
    ``keep`` (bit j of the result = qubit ``keep[j]``)."""
    batch, dim = rho.shape[0], rho.shape[-1]
    n = dim.bit_length() - 1
    if list(keep) == list(range(n)):
        return rho
    # tensor axes: 1..n are row qubits n-1..0, n+1..2n the column qubits in the same order
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = [letters[k] for k in range(n)]
    cols = [letters[k].upper() for k in range(n)]
    traced = [q for q in range(n) if q not in keep]
    for q in traced:
        cols[n - 1 - q] = rows[n - 1 - q]
    out_rows = "".join(rows[n - 1 - q] for q in reversed(keep))
    out_cols = "".join(cols[n - 1 - q] for q in reversed(keep))
    equation = f"z{''.join(rows)}{''.join(cols)}->z{out_rows}{out_cols}"
    reduced = torch.einsum(equation, rho.reshape(batch, *([2] * (2 * n))))
    size = 2 ** len(keep)
    return reduced.reshape(batch, size, size)


class Backend:
    """An executor of expectation values and counts.

    Attributes:
        name: the name ``qrnn.backends.get`` knows it by (``"aer"``, ``"pennylane:..."``).
        shots: ``None`` for exact expectation values, else the samples per circuit.
        device: the ``IonTrapDevice`` whose native gates and noise circuits run with, or None.
        noise_model: the ``NoiseModel`` applied (the device's, or one given), or None.
        supports_autograd: whether ``expval`` is differentiated by torch autograd itself;
            otherwise ``gradient`` ("parameter-shift" or "spsa") computes the backward pass.

    Options (keyword arguments of every backend; subclasses add theirs to ``options``):
        noise_model: a ``NoiseModel`` to run circuits with as given, or, with a device, on
            its native circuits instead of its own noise (errors keyed by its native gate
            names; an error on an instruction the device does not have is refused).
        seed: seeds the sampling with shots (and SPSA's perturbations).
        gradient: "backprop" (default where ``supports_autograd``), "parameter-shift" (default
            elsewhere) or "spsa"; ``gradient_options`` go to the method.
    """

    name: str = ""
    supports_autograd: bool = False
    # option -> default, declared once here and extended by each subclass
    options: ClassVar[dict[str, object]] = {
        "noise_model": None,
        "seed": None,
        "gradient": None,
        "gradient_options": None,
    }

    def __init__(self, *, device=None, shots=None, **options):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(
                f"backend {self.name!r} has no option {unknown[0]!r}; its options are "
                f"{sorted(self.options)} (and device=, shots=)"
            )
        settings = {**self.options, **options}
        self.device = resolve_device(device)
        self.shots = check_shots(shots, self.device)
        noise_model = settings.pop("noise_model")
        if noise_model is not None and self.device is not None:
            check_noise_model(noise_model, self.device)  # replaces the device's own noise
        elif self.device is not None:
            noise_model = self.device.noise_model()
        self._noise = None if noise_model is None else NoiseReader(noise_model)
        self.noise_model = noise_model
        seed = settings.pop("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise BackendError(f"seed must be None or an int, got {seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        gradient = settings.pop("gradient")
        gradient_options = settings.pop("gradient_options")
        self._cache = CircuitCache()
        self._configure(**settings)  # the subclass's own options; may set supports_autograd
        if gradient is None:
            gradient = "backprop" if self.supports_autograd else "parameter-shift"
        if gradient not in GRADIENT_METHODS:
            raise BackendError(
                f"gradient must be one of {list(GRADIENT_METHODS)}, got {gradient!r}"
            )
        if gradient == "backprop" and not self.supports_autograd:
            raise BackendError(
                f"backend {self.name!r} (shots={self.shots}) has no autograd; use "
                "gradient='parameter-shift' or 'spsa'"
            )
        self.gradient = gradient
        self.gradient_options = dict(gradient_options or {})
        if gradient == "spsa":
            self.gradient_options.setdefault("seed", self._rng)

    def _configure(self, **options) -> None:
        """Validate and store the subclass's own options (``options`` minus the base ones)."""

    # -- public -------------------------------------------------------------------------------

    def expval(self, circuit, values, observables) -> torch.Tensor:
        """Expectation values, (batch, n_obs) real, in ``values``' float dtype.

        Args:
            circuit: a ``QuantumCircuit`` (no measurements); with a device it is transpiled to
                the device's native gates and run with its noise and readout error.
            values: (batch, n_params) or (n_params,) in ``circuit.parameters`` order; gradients
                flow to it.
            observables: Pauli labels (little-endian), ``Pauli``s or ``SparsePauliOp``s, n_obs
                of them (``qrnn.sim.parse_observables``).
        """
        circuit = check_circuit(circuit)
        observables = parse_observables(observables, circuit.num_qubits)
        values = check_values(values, circuit.num_parameters, "values", circuit.parameters)
        return self._run(circuit, values, observables, markers=False)

    def expval_at_markers(self, circuit, values, observables, state_qubits=None):
        """Expectation values at every marker (``add_marker``), (batch, n_markers, n_obs).

        The value at a marker is that of the state after every instruction before it, measured
        as at the end of a circuit (readout error included); later resets do not disturb it.
        With ``state_qubits`` (a list of qubits, as ``density_matrix`` takes them) the result
        is the pair ``(values, density_matrix(circuit, values, state_qubits))``: a
        quantum-memory model's outputs and final hidden state, which an executor may take
        from one simulation (the torch engine does).
        """
        circuit = check_circuit(circuit)
        observables = parse_observables(observables, circuit.num_qubits)
        values = check_values(values, circuit.num_parameters, "values", circuit.parameters)
        if not marker_positions(circuit):
            raise BackendError(
                "the circuit has no markers; add them with qrnn.backends.add_marker(circuit)"
            )
        if state_qubits is None:
            return self._run(circuit, values, observables, markers=True)
        qubits = self._check_qubits(circuit, state_qubits)
        if self.gradient == "backprop" or not (values.requires_grad and torch.is_grad_enabled()):
            joint = self._markers_and_state(circuit, values, observables, qubits)
            if joint is not None:
                return joint
        return (
            self._run(circuit, values, observables, markers=True),
            self.density_matrix(circuit, values, qubits),
        )

    def counts(self, circuit, values=None, shots: int | None = None) -> list[dict[str, int]]:
        """Measurement outcomes of ``circuit``, sampled as the device would give them.

        Args:
            circuit: a ``QuantumCircuit`` that measures (``measure_all()`` measures every
                qubit); with a device: native gates, noise and readout error.
            values: (batch, n_params) or (n_params,) in ``circuit.parameters`` order, or None
                for a circuit without parameters.
            shots: samples per row of ``values``; default the backend's ``shots``.

        Returns:
            ``batch`` dicts ``{bitstring: count}`` in Qiskit's format (clbit 0 rightmost,
            registers separated by spaces, the last register first), most frequent first.
        """
        circuit = check_circuit(circuit, measured=True)
        shots = self.shots if shots is None else check_shots(shots, self.device)
        if shots is None:
            raise BackendError(
                f"backend {self.name!r} is exact (shots=None); pass shots= to counts()"
            )
        values = check_values(values, circuit.num_parameters, "values", circuit.parameters)
        with torch.no_grad():
            return self._counts(circuit, values, shots)

    def density_matrix(self, circuit, values=None, qubits=None) -> torch.Tensor:
        """The state the executor simulates at the end of ``circuit``, reduced to ``qubits``.

        This is a simulator's own state (noise included; no readout error and no sampling,
        since neither is part of the state): what a quantum-memory model carries as its hidden
        state. Real hardware cannot return it.

        Args:
            circuit: a ``QuantumCircuit`` without measurements.
            values: (batch, n_params) or (n_params,) in ``circuit.parameters`` order, or None.
            qubits: the logical qubits to keep (default all); bit j of the result's indices is
                ``qubits[j]``.

        Returns:
            ``(batch, 2**k, 2**k)`` complex (complex128 for float64 values, complex64 for
            float32), k = ``len(qubits)``; differentiable where ``supports_autograd``.
        """
        circuit = check_circuit(circuit)
        values = check_values(values, circuit.num_parameters, "values", circuit.parameters)
        qubits = self._check_qubits(circuit, qubits)
        if self.supports_autograd:
            return self._density_matrix(circuit, values, qubits)
        with torch.no_grad():
            return self._density_matrix(circuit, values, qubits)

    def __repr__(self) -> str:
        device = getattr(self.device, "name", self.device)
        return f"{type(self).__name__}(name={self.name!r}, shots={self.shots}, device={device!r})"

    @staticmethod
    def _check_qubits(circuit, qubits) -> list[int]:
        """``qubits`` (default: all) as distinct qubit indices of ``circuit``."""
        if qubits is None:
            qubits = list(range(circuit.num_qubits))
        qubits = [int(q) for q in qubits]
        if len(set(qubits)) != len(qubits) or not all(0 <= q < circuit.num_qubits for q in qubits):
            raise BackendError(
                f"qubits must be distinct qubits of the circuit (0 to {circuit.num_qubits - 1}), "
                f"got {qubits}"
            )
        return qubits

    # -- the form every executor runs ---------------------------------------------------------

    def executable(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """What runs for ``circuit``: with a device, its native gates written as Aer gates
        whose labels carry the native names (``IonTrapDevice.aer_circuit``: each native gate
        gets its error once); with quantum noise, only instructions Aer simulates
        (``qrnn.sim.simulated_form``), so that every executor puts errors on the same
        instructions. Cached per circuit object."""

        def build():
            runnable = circuit
            if self.device is not None:
                runnable = self.device.aer_circuit(self.device.transpile(circuit))
            if self._noise is not None and self._noise.has_quantum_errors:
                runnable = simulated_form(runnable)
            return runnable

        return self._cache.get(circuit, "executable", build)

    def _readout(self, n_qubits: int) -> dict[int, np.ndarray]:
        """qubit -> readout confusion matrix of the noise model (empty without one)."""
        return {} if self._noise is None else self._noise.readout(n_qubits)

    # -- subclass hooks -----------------------------------------------------------------------

    def _expval(self, circuit, values, observables) -> torch.Tensor:
        """(batch, n_obs) for validated input; may run without autograd."""
        raise NotImplementedError

    def _counts(self, circuit, values, shots) -> list[dict[str, int]]:
        """Counts per row of ``values`` for a validated, measuring circuit."""
        raise NotImplementedError

    def _density_matrix(self, circuit, values, qubits) -> torch.Tensor:
        """(batch, 2**k, 2**k) reduced final state for validated input."""
        raise NotImplementedError

    def bind(
        self,
        circuit,
        observables,
        weight_params,
        input_params,
        weights,
        *,
        at_markers=False,
        state_qubits=None,
    ):
        """A map ``inputs (batch, len(input_params)) -> (batch, n_obs)`` with ``weights``
        (``(len(weight_params),)``, a model's trainable angles) bound once, or None where the
        executor has none (then call ``expval`` with the weights in every row of the values).

        Where it exists it equals ``expval`` on ``cat(weights.expand(batch, -1), inputs)``
        (columns put in ``circuit.parameters`` order), and gradients reach ``weights`` once,
        summed over the batch, instead of through one copy per sample. With ``at_markers``
        (and ``state_qubits``) it is ``expval_at_markers`` instead.

        Raises:
            BackendError: ``weights`` not of shape ``(len(weight_params),)``, a parameter in
            both lists or not in ``circuit``, bad ``state_qubits``; before any compiling.
        """
        circuit = check_circuit(circuit)
        present = set(circuit.parameters)
        weight_params, input_params = list(weight_params), list(input_params)
        both = set(weight_params) & set(input_params)
        missing = [p for p in weight_params + input_params if p not in present]
        if both or missing:
            raise BackendError(
                "weight_params and input_params must be distinct parameters of the circuit; "
                f"in both: {sorted(p.name for p in both)}, not in the circuit: "
                f"{[p.name for p in missing]}"
            )
        if tuple(weights.shape) != (len(weight_params),):
            raise BackendError(
                f"weights must have shape ({len(weight_params)},) (one per weight parameter), "
                f"got {tuple(weights.shape)}"
            )
        if state_qubits is not None:
            state_qubits = self._check_qubits(circuit, state_qubits)
        return self._bind(
            circuit,
            observables,
            weight_params,
            input_params,
            weights,
            at_markers=at_markers,
            state_qubits=state_qubits,
        )

    def _bind(
        self,
        circuit,
        observables,
        weight_params,
        input_params,
        weights,
        *,
        at_markers,
        state_qubits,
    ):
        """``bind`` after its checks; None where the executor has no such path."""
        return None

    def _markers_and_state(self, circuit, values, observables, qubits):
        """``(values at the markers, reduced final state)`` from one simulation, or None where
        the executor has no such path (then they are computed apart)."""
        return None

    def _expval_markers(self, circuit, values, observables) -> torch.Tensor:
        """(batch, n_markers, n_obs); by default one prefix circuit per marker."""
        columns = []
        for stop in marker_positions(circuit):
            prefix = self._cache.get(circuit, stop, lambda s=stop: prefix_circuit(circuit, s))
            columns.append(
                self._expval(prefix, select_columns(values, circuit, prefix), observables)
            )
        return torch.stack(columns, dim=1)

    # -- plumbing -----------------------------------------------------------------------------

    def _evaluate(self, circuit, values, observables, markers):
        if markers:
            return self._expval_markers(circuit, values, observables)
        return self._expval(circuit, values, observables)

    def _run(self, circuit, values, observables, markers):
        if self.gradient == "backprop":
            return self._evaluate(circuit, values, observables, markers)
        if not (values.requires_grad and torch.is_grad_enabled()):
            with torch.no_grad():
                return self._evaluate(circuit, values, observables, markers)
        from qrnn import gradients

        def evaluate(c, v):
            with torch.no_grad():
                return self._evaluate(c, v, observables, markers)

        options = self.gradient_options
        if self.gradient == "parameter-shift" and self._noise_free():
            options = {**options, "observables": observables}
        return gradients.execute(evaluate, circuit, values, method=self.gradient, **options)

    def _noise_free(self) -> bool:
        """Whether this executor's runs are certainly free of quantum errors (parameter-shift
        then skips slots that cannot change the observables, ``qrnn._shift_cones``); False
        unless a subclass knows."""
        return False

    def _output(self, array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(
            np.array(array, dtype=np.float64), dtype=like.dtype, device=like.device
        )
