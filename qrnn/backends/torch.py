"""The torch engine as a backend: ``qrnn.sim`` behind the backend protocol.

Exact mode is ``qrnn.sim`` itself (autograd, CPU or CUDA, precision follows ``values``); with a
device, circuits are transpiled to its native gates and run with ``noise_model=device.
noise_model()`` (the engine applies its readout errors to Z-type observables; for X/Y terms the
observables are rewritten as in ``_observables.apply_readout``, the same maths the other
backends use). Shots mode samples the engine's exact outcome distribution in each measurement
basis (readout error applied to the distribution) and has no autograd: gradients then come from
``qrnn.gradients``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from qrnn import sim
from qrnn.backends._base import Backend, select_columns
from qrnn.backends._device import CircuitCache
from qrnn.backends._observables import (
    apply_readout,
    estimate,
    is_z_type,
    measurement_plan,
    pad_to_layout,
)


class TorchBackend(Backend):
    """``qrnn.sim`` executor; build with ``qrnn.backends.get("torch", ...)``.

    Args:
        device: preset name or ``IonTrapDevice``: transpile to native gates, run its noise.
        shots: None (exact, differentiable by autograd) or samples per circuit and basis.
        noise_model: a ``NoiseModel`` to run circuits with as given (instead of a device).
        seed: seeds the sampling with shots.
        gradient: "backprop" (default when exact), "parameter-shift" (default with shots)
            or "spsa"; gradient_options go to the method.
    """

    name = "torch"

    def __init__(
        self,
        *,
        device=None,
        shots=None,
        noise_model=None,
        seed: int | None = None,
        gradient: str | None = None,
        gradient_options: dict | None = None,
    ):
        self.supports_autograd = shots is None
        super().__init__(
            device=device,
            shots=shots,
            noise_model=noise_model,
            gradient=gradient,
            gradient_options=gradient_options,
            seed=seed,
        )
        self._cache = CircuitCache()
        self._noise_without_readout = None

    def _native(self, circuit):
        if self.device is None:
            return circuit
        return self._cache.get(circuit, "native", lambda: self.device.transpile(circuit))

    def _expval(self, circuit, values, observables):
        if self.shots is not None:
            return self._expval_sampled(circuit, values, observables)
        native = self._native(circuit)
        values = select_columns(values, circuit, native)
        observables = pad_to_layout(observables, native)
        noise_model = self.noise_model
        confusion = self._readout(native.num_qubits)
        if confusion and not all(is_z_type(o) for o in observables):
            observables = apply_readout(observables, confusion)
            noise_model = self._without_readout()
        key = ("program", _observables_key(observables), noise_model is self.noise_model)
        program = self._cache.get(
            native, key, lambda: sim.compile(native, observables, noise_model=noise_model)
        )
        return program.expval(values)

    def _without_readout(self):
        """A copy of the noise model without its readout errors (applied as a rewrite)."""
        if self._noise_without_readout is None:
            model = copy.deepcopy(self.noise_model)
            model._default_readout_error = None
            model._local_readout_errors = {}
            self._noise_without_readout = model
        return self._noise_without_readout

    # -- shots --------------------------------------------------------------------------------

    def _rotated(self, circuit, basis: str):
        def build():
            rotated = circuit.copy()
            rotated.global_phase = 0.0
            for q, letter in enumerate(basis):
                if letter == "X":
                    rotated.h(q)
                elif letter == "Y":
                    rotated.sdg(q)
                    rotated.h(q)
            return self.device.transpile(rotated) if self.device is not None else rotated

        return self._cache.get(circuit, ("basis", basis), build)

    def _expval_sampled(self, circuit, values, observables):
        plan = measurement_plan(observables)
        outcomes = []
        for basis in plan.bases:
            native = self._rotated(circuit, basis)
            columns = select_columns(values, circuit, native)
            mixed = self.noise_model is not None or any(
                i.operation.name == "reset" for i in native.data
            )
            with torch.no_grad():
                if mixed:
                    rho = sim.density_matrix(native, columns, noise_model=self.noise_model)
                    probabilities = torch.diagonal(rho, dim1=-2, dim2=-1).real
                else:
                    probabilities = sim.statevector(native, columns).abs() ** 2
            outcomes.append(self._sample(probabilities.double().cpu().numpy(), native, circuit))
        batch = values.shape[0]
        if not plan.bases:
            return self._output(np.tile(plan.constant, (batch, 1)), values)
        return self._output(estimate(plan, outcomes), values)

    def _sample(self, probabilities, native, circuit):
        """Counts per sample: readout error on the distribution, then a multinomial draw;
        outcomes as logical-qubit integers."""
        n_physical = native.num_qubits
        shape = (probabilities.shape[0],) + (2,) * n_physical  # axis 1 is qubit n-1
        p = probabilities.reshape(shape)
        for q, matrix in self._readout(n_physical).items():
            axis = n_physical - q
            p = np.moveaxis(np.tensordot(p, matrix, axes=([axis], [0])), -1, axis)
        p = np.clip(p.reshape(probabilities.shape), 0.0, None)
        p /= p.sum(axis=1, keepdims=True)
        counts = self._rng.multinomial(self.shots, p)
        physical = _physical_qubits(native, circuit.num_qubits)
        index = np.arange(2**n_physical)
        logical = np.zeros_like(index)
        for q, phys in enumerate(physical):
            logical |= ((index >> phys) & 1) << q
        group = []
        for row in counts:
            seen = np.flatnonzero(row)
            group.append((logical[seen].astype(np.int64), row[seen].astype(np.float64)))
        return group


def _physical_qubits(native, n_logical: int) -> list[int]:
    """Physical qubit of each logical qubit of a transpiled circuit."""
    layout = getattr(native, "layout", None)
    if layout is None:
        return list(range(n_logical))
    return list(layout.final_index_layout())[:n_logical]


def _observables_key(observables) -> tuple:
    return tuple(
        (tuple(o.paulis.to_labels()), tuple(np.round(o.coeffs, 15).tolist())) for o in observables
    )
