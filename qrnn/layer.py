"""``QuantumLayer``: a parameterized circuit as a ``torch.nn.Module``.

The layer owns the circuit's trainable angles as one ``nn.Parameter`` called ``weight`` (so any
optimizer sees them) and maps a batch of input angles to expectation values:

    layer = QuantumLayer(circuit, inputs, weights, ["IIZ", "IZI", "ZII"])
    z = layer(x)                      # x: (batch, len(inputs)) -> z: (batch, 3)

Recurrent models call the same circuit at every time step with the same weights. The
weight-only work (on the torch backend: gate matrices of weight-only blocks and the input-free
head of the circuit, see ``qrnn.sim.Program.bind``) is done once and reused while the weights
are unchanged (``qrnn._cache.WeightCache``: an optimizer step, ``load_state_dict``, an in-place
edit or a backward pass makes the next call redo it), so the natural loop

    for x_t in sequence:              # per time step
        z_t = layer(x_t)

costs what the explicit form costs: ``step = layer.prepare()`` once, then ``step(x_t)``.

Backends (``qrnn.backends.resolve``): the exact torch engine (``"torch"``, the default) runs
``qrnn.sim``'s compiled program directly (exact, autograd). Any other backend gets the full
``(batch, n_params)`` value tensor in ``circuit.parameters`` order through
``backend.expval(circuit, values, observables)``; gradients then come from that backend
(autograd, parameter-shift or SPSA). A backend that can bind the weights itself
(``Backend.bind``: the torch engine with device noise, exact) gets them once per weight state
instead, and their gradient once for the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from qiskit.circuit import Parameter, QuantumCircuit
from torch import nn

from qrnn import backends, sim
from qrnn._cache import WeightCache
from qrnn._checks import real_dtype, torch_device

__all__ = ["QuantumLayer"]


def _parameter_list(name: str, params: object, circuit: QuantumCircuit) -> tuple[Parameter, ...]:
    if isinstance(params, Parameter):
        params = [params]
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{name} must be a sequence of qiskit Parameters (e.g. a ParameterVector), "
            f"got {type(params).__name__}"
        )
    params = tuple(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"{name} must hold qiskit Parameters, got {p!r} ({type(p).__name__})")
    seen: set[Parameter] = set()
    for p in params:
        if p in seen:
            raise ValueError(f"{name} lists parameter {p} twice")
        seen.add(p)
    return params


def _check_parameters(
    circuit: QuantumCircuit,
    inputs: tuple[Parameter, ...],
    weights: tuple[Parameter, ...],
) -> None:
    both = set(inputs) & set(weights)
    if both:
        raise ValueError(
            f"parameter {sorted(both, key=str)[0]} is both an input and a weight; "
            "each circuit parameter must be exactly one of them"
        )
    circuit_params = set(circuit.parameters)
    extra = [p for p in (*inputs, *weights) if p not in circuit_params]
    if extra:
        raise ValueError(f"parameter {extra[0]} is not a parameter of the circuit")
    given = set(inputs) | set(weights)
    missing = [p for p in circuit.parameters if p not in given]
    if missing:
        names = ", ".join(str(p) for p in missing[:5])
        raise ValueError(
            f"circuit parameters {names}{', ...' if len(missing) > 5 else ''} are neither inputs "
            "nor weights; pass every circuit parameter in input_params or weight_params"
        )


class QuantumLayer(nn.Module):
    """A parameterized circuit whose trainable angles are an ``nn.Parameter``.

    Args:
        circuit: a ``QuantumCircuit`` whose parameters are split into inputs and weights.
        input_params: the per-sample input parameters, in the column order of ``forward``'s
            input (a ``ParameterVector`` or a sequence of ``Parameter``s).
        weight_params: the trainable parameters, in the order of ``weight``.
        observables: a list of Pauli labels (Qiskit little-endian: ``"IIZ"`` is Z on qubit 0),
            ``Pauli``s or ``SparsePauliOp``s (``qrnn.sim.parse_observables``); one output
            column each.
        backend: ``"torch"`` (``qrnn.sim``: exact, autograd), another name that
            ``qrnn.backends.get`` accepts (``"aer"``, ``"pennylane:default.qubit"``), or a
            ``qrnn.backends.Backend`` (e.g. ``qrnn.backends.get("aer", device=...)``).
        device, dtype: of ``weight`` (default: CPU, ``torch.get_default_dtype()``). The
            simulation precision follows it: float32 -> complex64, float64 -> complex128.

    Attributes:
        weight: ``(len(weight_params),)`` trainable angles, initialised uniformly in
            ``[0, 2 pi)`` from torch's global generator (``torch.manual_seed`` makes it
            reproducible; ``reset_parameters(generator)`` takes a private one).

    Shapes:
        ======  ====================================================
        input   ``(batch, n_inputs)`` or ``(n_inputs,)``
        output  ``(batch, n_outputs)`` or ``(n_outputs,)``, real
        ======  ====================================================

    Raises:
        qrnn.sim.SimulationMemoryError: on the torch engine, a circuit too wide to simulate
            even one sample (before anything of size ``2**n`` is allocated).
        qrnn.backends.GPUUnavailableError: a CUDA ``device`` that torch cannot use.
    """

    def __init__(
        self,
        circuit: QuantumCircuit,
        input_params: Sequence[Parameter],
        weight_params: Sequence[Parameter],
        observables: Sequence[object],
        backend: str | backends.Backend = backends.TORCH,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(
                f"circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__}"
            )
        inputs = _parameter_list("input_params", input_params, circuit)
        weights = _parameter_list("weight_params", weight_params, circuit)
        _check_parameters(circuit, inputs, weights)
        if isinstance(observables, str) or not isinstance(observables, Sequence):
            raise sim.ObservableError(
                "observables must be a list (one output column each) of Pauli labels, Paulis "
                f"or SparsePauliOps, got {type(observables).__name__}"
            )
        observables = list(observables)
        sim.parse_observables(observables, circuit.num_qubits)  # the one check, before work
        dtype = real_dtype(dtype)
        torch_device(device)

        self.circuit = circuit
        self.input_params = inputs
        self.weight_params = weights
        self.observables = observables
        self._program = None
        self._bound = WeightCache()  # the bound program, while the weights are unchanged
        self._set_backend(backend)
        # Full values for other backends: circuit.parameters order from cat([weights, inputs]).
        column = {p: i for i, p in enumerate((*weights, *inputs))}
        self._full_order = torch.tensor([column[p] for p in circuit.parameters], dtype=torch.long)

        self.weight = nn.Parameter(torch.empty(len(weights), device=device, dtype=dtype))
        self.reset_parameters()

    @property
    def n_inputs(self) -> int:
        """Input columns per sample."""
        return len(self.input_params)

    @property
    def n_outputs(self) -> int:
        """Output columns per sample (one per observable)."""
        return len(self.observables)

    @property
    def n_qubits(self) -> int:
        return self.circuit.num_qubits

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Redraw ``weight`` uniformly in ``[0, 2 pi)`` (torch's global generator by default)."""
        with torch.no_grad():
            values = torch.rand(self.weight.shape, generator=generator, dtype=torch.float64)
            self.weight.copy_(values * (2 * math.pi))

    def extra_repr(self) -> str:
        return (
            f"n_qubits={self.n_qubits}, n_inputs={self.n_inputs}, "
            f"n_weights={self.weight.numel()}, n_outputs={self.n_outputs}, "
            f"backend={self.backend!r}"
        )

    def set_backend(self, backend: str | backends.Backend) -> QuantumLayer:
        """Run this layer on another executor from now on; ``weight`` is unchanged.

        Args:
            backend: ``"torch"`` (``qrnn.sim``: exact, autograd), another name that
                ``qrnn.backends.get`` accepts (default options), or a ``qrnn.backends.Backend``
                (e.g. ``qrnn.backends.get("aer", device="ionq-aria-1", shots=1000)``: native
                gates, noise, shots).

        Returns:
            ``self`` (switched in place, like ``nn.Module.to``).
        """
        self._set_backend(backend)
        return self

    def _set_backend(self, backend) -> None:
        resolved = backends.resolve(backend)
        if backends.is_engine(resolved) and self._program is None:
            self._program = sim.compile(
                self.circuit,
                self.observables,
                weight_params=self.weight_params,
                input_params=self.input_params,
            )
        self._backend = resolved
        self._bound.clear()
        self.backend = backend if isinstance(backend, str) else resolved.name

    def prepare(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The per-step map ``inputs (batch, n_inputs) -> (batch, n_outputs)`` for the current
        weights, with the weight-only work done once (and reused by ``forward`` while the
        weights are unchanged). The callable keeps the weights it was made with in its autograd
        graph: take a new one after the weights change (an optimizer step)."""
        if backends.is_engine(self._backend):
            bound = self._bound.get((self.weight,), lambda weights: self._program.bind(*weights))

            def run(inputs: torch.Tensor) -> torch.Tensor:
                out = bound.expval(inputs)  # the engine checks inputs (sim.check_values)
                return out[0] if _unbatched(inputs) else out

            return run

        backend, weight = self._backend, self.weight
        bound = self._bound.get(
            (weight,),
            lambda weights: backend.bind(
                self.circuit, self.observables, self.weight_params, self.input_params, *weights
            ),
        )
        if bound is not None:  # the backend binds the weights once (the noisy torch engine)

            def run_bound(inputs: torch.Tensor) -> torch.Tensor:
                out = bound(sim.check_values(inputs, self.n_inputs, "inputs").to(weight.dtype))
                return out[0] if _unbatched(inputs) else out

            return run_bound

        def run_backend(inputs: torch.Tensor) -> torch.Tensor:
            unbatched = _unbatched(inputs)
            inputs = sim.check_values(inputs, self.n_inputs, "inputs").to(weight.dtype)
            values = torch.cat([weight.expand(inputs.shape[0], -1), inputs], dim=1)
            values = values[:, self._full_order.to(values.device)]
            out = backend.expval(self.circuit, values, self.observables)
            return out[0] if unbatched else out

        return run_backend

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Expectation values: ``(batch, n_inputs)`` -> ``(batch, n_outputs)`` (see class)."""
        return self.prepare()(inputs)


def _unbatched(inputs) -> bool:
    """One sample given as ``(n_inputs,)``: the output is ``(n_outputs,)``."""
    return getattr(inputs, "ndim", None) == 1
