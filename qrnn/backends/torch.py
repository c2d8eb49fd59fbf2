"""The torch engine as a backend: ``qrnn.sim`` behind the backend protocol.

Exact mode is ``qrnn.sim`` itself (autograd, CPU or CUDA, precision follows ``values``); with a
device or noise model the engine runs the backend's ``executable`` form with the noise model
(errors where Aer puts them, readout error as the observable rewrite, both in ``qrnn.sim``).
Shots mode samples the engine's exact outcome distribution in each measurement basis (readout
error applied to the distribution) and has no autograd: gradients then come from
``qrnn.gradients``. Counts sample final measurements the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from qrnn import sim
from qrnn.backends._base import (
    Backend,
    final_measurements,
    reduce_state,
    select_columns,
    without_measurements,
)
from qrnn.backends._measurement import (
    clbit_counts,
    estimate,
    measurement_plan,
    pad_to_layout,
    physical_qubits,
    relabel,
    rotate_into,
    sample,
)


class TorchBackend(Backend):
    """``qrnn.sim`` executor; build with ``qrnn.backends.get("torch", ...)``.

    ``shots=None`` is exact and differentiable by autograd; with shots, expectation values are
    sampled per measurement basis. Options: those of every backend (``Backend``).
    """

    name = "torch"

    def _configure(self) -> None:
        self.supports_autograd = self.shots is None

    @property
    def exact_engine(self) -> bool:
        """True when circuits run on ``qrnn.sim`` as given: no device, noise or shots (models
        then use the engine's compiled programs directly)."""
        return self.device is None and self.noise_model is None and self.shots is None

    def _expval(self, circuit, values, observables):
        if self.shots is not None:
            return self._expval_sampled(circuit, values, observables)
        runnable = self.executable(circuit)
        values = select_columns(values, circuit, runnable)
        observables = pad_to_layout(observables, runnable)
        key = ("program", _observables_key(observables))
        program = self._cache.get(
            runnable, key, lambda: sim.compile(runnable, observables, noise_model=self.noise_model)
        )
        return program.expval(values)

    def _density_matrix(self, circuit, values, qubits):
        runnable = self.executable(circuit)
        rho = sim.density_matrix(
            runnable, select_columns(values, circuit, runnable), noise_model=self.noise_model
        )
        physical = physical_qubits(runnable, circuit.num_qubits)
        return reduce_state(rho, [physical[q] for q in qubits])

    def _probabilities(self, runnable, values) -> np.ndarray:
        """(batch, 2**n) exact outcome distribution of the measurement-free ``runnable``."""
        mixed = self.noise_model is not None or any(
            i.operation.name == "reset" for i in runnable.data
        )
        if mixed:
            rho = sim.density_matrix(runnable, values, noise_model=self.noise_model)
            probabilities = torch.diagonal(rho, dim1=-2, dim2=-1).real
        else:
            probabilities = sim.statevector(runnable, values).abs() ** 2
        return probabilities.double().cpu().numpy()

    def _expval_sampled(self, circuit, values, observables):
        plan = measurement_plan(observables)
        outcomes = []
        for basis in plan.bases:
            runnable = self._cache.get(
                circuit, ("basis", basis), lambda b=basis: self.executable(rotate_into(circuit, b))
            )
            columns = select_columns(values, circuit, runnable)
            with torch.no_grad():
                probabilities = self._probabilities(runnable, columns)
            counts = sample(
                probabilities, self.shots, self._readout(runnable.num_qubits), self._rng
            )
            logical = relabel(
                np.arange(counts.shape[1]), physical_qubits(runnable, circuit.num_qubits)
            )
            group = []
            for row in counts:
                seen = np.flatnonzero(row)
                group.append((logical[seen], row[seen].astype(np.float64)))
            outcomes.append(group)
        if not plan.bases:
            return self._output(np.tile(plan.constant, (values.shape[0], 1)), values)
        return self._output(estimate(plan, outcomes), values)

    def _counts(self, circuit, values, shots):
        runnable = self.executable(circuit)
        measured = final_measurements(runnable)
        unitary = self._cache.get(circuit, "unitary-part", lambda: without_measurements(runnable))
        probabilities = self._probabilities(unitary, select_columns(values, circuit, unitary))
        counts = sample(probabilities, shots, self._readout(runnable.num_qubits), self._rng)
        outcomes = np.arange(counts.shape[1])
        clbits = np.zeros_like(outcomes)
        for clbit, qubit in measured.items():
            clbits |= ((outcomes >> qubit) & 1) << clbit
        return [clbit_counts(circuit, clbits, row) for row in counts]


def _observables_key(observables) -> tuple:
    return tuple(
        (tuple(o.paulis.to_labels()), tuple(np.round(o.coeffs, 15).tolist())) for o in observables
    )
