"""The backend protocol: one ``expval`` over several executors, gradients where they lack them.

A backend turns (circuit, values, observables) into expectation values with exactly the meaning
of ``qrnn.sim.expval``. Subclasses implement ``_expval`` on validated input (values as a
(batch, n_params) tensor, observables as SparsePauliOps); this class validates, resolves the
device, and wraps executors without autograd in ``qrnn.gradients.execute`` so that backward
uses parameter-shift or SPSA.
"""

from __future__ import annotations

import numpy as np
import torch
from qiskit.circuit import Barrier, QuantumCircuit

from circuits.cells import MARKER_LABEL
from qrnn.backends._device import CircuitCache, check_shots, resolve_device
from qrnn.backends._errors import BackendError
from qrnn.backends._observables import parse_observables, readout_confusion

GRADIENT_METHODS = ("backprop", "parameter-shift", "spsa")


def add_marker(circuit: QuantumCircuit) -> None:
    """Append a marker (a barrier on all qubits labelled ``MARKER_LABEL``) to ``circuit``:
    ``Backend.expval_at_markers`` reads expectation values of the state at every marker."""
    circuit.append(Barrier(circuit.num_qubits, label=MARKER_LABEL), circuit.qubits)


def marker_positions(circuit: QuantumCircuit) -> list[int]:
    """Instruction indices of the markers of ``circuit``."""
    return [
        i
        for i, instruction in enumerate(circuit.data)
        if instruction.operation.name == "barrier"
        and getattr(instruction.operation, "label", None) == MARKER_LABEL
    ]


def check_circuit(circuit) -> QuantumCircuit:
    if not isinstance(circuit, QuantumCircuit):
        raise BackendError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}")
    for instruction in circuit.data:
        if instruction.operation.name == "measure" or instruction.clbits:
            raise BackendError(
                f"instruction {instruction.operation.name!r} writes classical bits; backends "
                "compute expectation values, so remove measurements "
                "(QuantumCircuit.remove_final_measurements) and pass observables instead"
            )
    return circuit


def check_values(values, circuit: QuantumCircuit) -> torch.Tensor:
    """``values`` as a (batch, n_params) float tensor (float64 unless float32/float64 given)."""
    width = circuit.num_parameters
    if values is None:
        if width:
            raise BackendError(
                f"the circuit has {width} parameters; pass values of shape (batch, {width})"
            )
        values = torch.zeros(1, 0, dtype=torch.float64)
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise BackendError(
                f"values must be a tensor or array of shape (batch, {width}); {error}"
            ) from None
    if values.is_complex() or not values.is_floating_point():
        values = values.to(torch.float64)
    if values.dim() == 1:
        values = values.unsqueeze(0)
    if values.dim() != 2 or values.shape[1] != width:
        raise BackendError(
            f"values has shape {tuple(values.shape)}; expected (batch, {width}) or ({width},) "
            "in circuit.parameters order"
        )
    if values.numel() and not bool(torch.isfinite(values).all()):
        raise BackendError("values contains NaN or inf; expected finite angles")
    return values


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


class Backend:
    """An executor of expectation values.

    Attributes:
        name: the name ``qrnn.backends.get`` knows it by (``"aer"``, ``"pennylane:..."``).
        shots: ``None`` for exact expectation values, else the samples per circuit.
        device: the ``IonTrapDevice`` whose native gates and noise circuits run with, or None.
        noise_model: the ``NoiseModel`` applied (the device's, or one given), or None.
        supports_autograd: whether ``expval`` is differentiated by torch autograd itself;
            otherwise ``gradient`` ("parameter-shift" or "spsa") computes the backward pass.
    """

    name: str = ""
    supports_autograd: bool = False

    def __init__(
        self,
        *,
        device=None,
        shots=None,
        noise_model=None,
        gradient: str | None = None,
        gradient_options: dict | None = None,
        seed: int | None = None,
    ):
        self.device = resolve_device(device)
        self.shots = check_shots(shots, self.device)
        if noise_model is not None:
            from qiskit_aer.noise import NoiseModel

            if not isinstance(noise_model, NoiseModel):
                raise BackendError(
                    f"noise_model must be a qiskit_aer.noise.NoiseModel, got "
                    f"{type(noise_model).__name__}"
                )
            if self.device is not None:
                raise BackendError(
                    "give either device= (its own noise model is used) or noise_model=, not both"
                )
        self.noise_model = self.device.noise_model() if self.device is not None else noise_model
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise BackendError(f"seed must be None or an int, got {seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
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
        self._prefixes = CircuitCache()
        self.gradient_options = dict(gradient_options or {})
        if gradient == "spsa":
            self.gradient_options.setdefault("seed", self._rng)

    # -- public -------------------------------------------------------------------------------

    def expval(self, circuit, values, observables) -> torch.Tensor:
        """Expectation values, (batch, n_obs) real, in ``values``' float dtype.

        Args:
            circuit: a ``QuantumCircuit`` (no measurements); with a device it is transpiled to
                the device's native gates and run with its noise and readout error.
            values: (batch, n_params) or (n_params,) in ``circuit.parameters`` order; gradients
                flow to it.
            observables: Pauli labels (little-endian) or ``SparsePauliOp``s, n_obs of them.
        """
        circuit = check_circuit(circuit)
        observables = parse_observables(observables, circuit.num_qubits)
        values = check_values(values, circuit)
        return self._run(circuit, values, observables, markers=False)

    def expval_at_markers(self, circuit, values, observables) -> torch.Tensor:
        """Expectation values at every marker (``add_marker``), (batch, n_markers, n_obs).

        The value at a marker is that of the state after every instruction before it, measured
        as at the end of a circuit (readout error included); later resets do not disturb it.
        """
        circuit = check_circuit(circuit)
        observables = parse_observables(observables, circuit.num_qubits)
        values = check_values(values, circuit)
        if not marker_positions(circuit):
            raise BackendError(
                "the circuit has no markers; add them with qrnn.backends.add_marker(circuit)"
            )
        return self._run(circuit, values, observables, markers=True)

    def __repr__(self) -> str:
        device = getattr(self.device, "name", self.device)
        return f"{type(self).__name__}(name={self.name!r}, shots={self.shots}, device={device!r})"

    # -- subclass hooks -----------------------------------------------------------------------

    def _expval(self, circuit, values, observables) -> torch.Tensor:
        """(batch, n_obs) for validated input; may run without autograd."""
        raise NotImplementedError

    def _expval_markers(self, circuit, values, observables) -> torch.Tensor:
        """(batch, n_markers, n_obs); by default one prefix circuit per marker."""
        columns = []
        for stop in marker_positions(circuit):
            prefix = self._prefixes.get(circuit, stop, lambda s=stop: prefix_circuit(circuit, s))
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

        return gradients.execute(
            evaluate, circuit, values, method=self.gradient, **self.gradient_options
        )

    def _readout(self, n_qubits: int) -> dict[int, np.ndarray]:
        return readout_confusion(self.noise_model, n_qubits)

    def _output(self, array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(
            np.array(array, dtype=np.float64), dtype=like.dtype, device=like.device
        )
