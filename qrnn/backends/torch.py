"""The torch engine as a backend: ``qrnn.sim`` behind the backend protocol.

Exact mode is ``qrnn.sim`` itself (autograd, CPU or CUDA, precision follows ``values``); with a
device or noise model the engine runs the backend's ``executable`` form with the noise model
(errors where Aer puts them, readout error as the observable rewrite, both in ``qrnn.sim``).
Shots mode samples the engine's exact outcome distribution in each measurement basis (readout
error applied to the distribution, one multinomial draw of ``shots`` per sample and basis,
seeded by the ``seed`` option): one simulation per basis, however many shots. It has no
autograd: gradients then come from ``qrnn.gradients`` (parameter-shift or SPSA on sampled
values). A quantum-memory model's sequence (markers) is transpiled once; with noise or resets
its states pass through it once, read at every marker (``_at_stops``), each step's readout
exact or sampled from the exact state there (``_expval_markers`` says what this
approximates); columns equal in every sample (a model's weights) are bound once per weight
state (``_bound``). Counts sample final measurements the same way.
"""

from __future__ import annotations

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp

from qrnn import sim
from qrnn.backends._base import (
    Backend,
    final_measurements,
    marker_positions,
    prefix_circuit,
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
    z_type,
)
from qrnn.sim import check_values, parse_observables


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
        return self._exact(
            runnable,
            select_columns(values, circuit, runnable),
            pad_to_layout(observables, runnable),
        )

    def _exact(self, runnable, values, observables):
        """Exact (batch, n_obs) of an executable circuit, by a program compiled once."""
        bound, inputs = self._bound(runnable, values, observables)
        if bound is not None:
            return bound.expval(inputs)
        key = ("program", _observables_key(observables))
        program = self._cache.get(
            runnable, key, lambda: sim.compile(runnable, observables, noise_model=self.noise_model)
        )
        return program.expval(values)

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
        """With noise and exact values (``shots=None``, backprop): the executable circuit
        compiled with ``weight_params`` as weights (``sim.compile(..., weight_params=)``, with
        the markers as stops ``at_markers``, when ``_at_stops`` would run them) and bound to
        ``weights``, so the noisy engine builds the weight-only blocks once per call and,
        under autograd, differentiates them once for the whole batch. Else None."""
        if self.noise_model is None or self.shots is not None or self.gradient != "backprop":
            return None
        observables = parse_observables(observables, circuit.num_qubits)
        runnable = self.executable(circuit)
        stops = ()
        if at_markers:
            stops = _stops_at_markers(circuit, runnable, observables)
            if not stops:
                return None
        physical = physical_qubits(runnable, circuit.num_qubits)
        final = None if state_qubits is None else [physical[q] for q in state_qubits]
        present = set(runnable.parameters)
        kept = [k for k, p in enumerate(weight_params) if p in present]
        kept_inputs = [k for k, p in enumerate(input_params) if p in present]
        key = ("bind", _observables_key(observables), tuple(weight_params), tuple(input_params))

        def build():
            return sim.compile(
                runnable,
                pad_to_layout(observables, runnable),
                noise_model=self.noise_model,
                weight_params=[weight_params[k] for k in kept],
                input_params=[input_params[k] for k in kept_inputs],
                stops=stops,
            )

        bound = self._cache.get(runnable, (*key, stops), build).bind(weights[kept])
        n_inputs = len(input_params)

        def run(inputs: torch.Tensor) -> torch.Tensor:
            inputs = check_values(inputs, n_inputs, "inputs")[:, kept_inputs]
            if at_markers:
                return bound.expval_at_stops(inputs, final_qubits=final)
            return bound.expval(inputs)

        return run

    def _bound(self, runnable, values, observables, stops=()):
        """``(bound program, inputs)`` when a model's weights arrive expanded over the batch
        of a noisy run (else ``(None, None)``): the columns equal in every sample are bound
        once, so the noisy engine does their work (weight-only blocks, observables evolved
        back) once per weight state, not per sample; the last bind is kept while its values
        are unchanged. Not under autograd: each row of a column would then need its own
        gradient."""
        if (
            self.noise_model is None
            or values.shape[0] < 2
            or (values.requires_grad and torch.is_grad_enabled())
        ):
            return None, None
        same = tuple((values == values[:1]).all(0).tolist())
        if not any(same) or all(same):
            return None, None
        parameters = list(runnable.parameters)
        shared = [k for k, flag in enumerate(same) if flag]
        varying = [k for k, flag in enumerate(same) if not flag]

        def build():
            return sim.compile(
                runnable,
                observables,
                noise_model=self.noise_model,
                weight_params=[parameters[k] for k in shared],
                input_params=[parameters[k] for k in varying],
                stops=stops,
            )

        # the last bind lives beside its program in the circuit cache, so it goes with it
        key = ("bound", _observables_key(observables), same, stops)
        program, last = self._cache.get(runnable, key, lambda: (build(), []))
        weights = values[0, shared].detach()
        if not last or not _same_tensor(last[0], weights):
            last[:] = [weights.clone(), program.bind(weights)]
        return last[1], values[:, varying]

    def _expval_markers(self, circuit, values, observables):
        """(batch, n_markers, n_obs): the executable circuit is made once; a mixed one runs
        as one pass read at its markers (``_at_stops``), a pure one is cut at its markers and
        each prefix run exactly or sampled in the computational basis.

        This is a quantum-memory model's sequence: with shots, each step's readout is sampled
        from the exact outcome distribution of the state at its marker (the device's noise and
        readout error included), ``shots`` read-outs per step. That is what a device gives
        step by step: measuring the data register and then resetting it leaves the hidden
        register as the reset alone does, so each step's outcome statistics are exactly the
        device's. The one approximation: the steps are sampled independently, whereas a
        device's shots read every step of one sequence run, so its per-step estimates are
        correlated across steps (each one's distribution is the same). Aer's prefix circuits
        sample the same way. A readout that touches qubits carried on (QReservoir reads every
        qubit) is, as on every executor's markers, taken without the back-action a device's
        measurement would have on them. Observables with X or Y terms (whose basis rotations
        a device's virtual-Z frames would cross markers with) take one prefix circuit per
        marker."""
        joint = self._at_stops(circuit, values, observables, None)
        if joint is not None:
            return joint
        runnable = self.executable(circuit)
        stops = _stops_at_markers(circuit, runnable, observables)
        if stops is None:
            return super()._expval_markers(circuit, values, observables)
        columns = select_columns(values, circuit, runnable)
        padded = pad_to_layout(observables, runnable)
        plan = None if self.shots is None else measurement_plan(observables)
        out = []
        for stop in stops:
            prefix = self._cache.get(
                runnable, ("prefix", stop), lambda s=stop: prefix_circuit(runnable, s)
            )
            prefix_values = select_columns(columns, runnable, prefix)
            if plan is None:
                out.append(self._exact(prefix, prefix_values, padded))
            elif not plan.bases:
                out.append(self._output(np.tile(plan.constant, (values.shape[0], 1)), values))
            else:  # Z-type terms only: one group, the computational basis
                group = self._sample(prefix, prefix_values, circuit.num_qubits)
                out.append(self._output(estimate(plan, [group]), values))
        return torch.stack(out, dim=1)

    def _markers_and_state(self, circuit, values, observables, qubits):
        if self.supports_autograd:
            return self._at_stops(circuit, values, observables, qubits)
        with torch.no_grad():
            return self._at_stops(circuit, values, observables, qubits)

    def _at_stops(self, circuit, values, observables, qubits):
        """A mixed sequence (noise or resets) as ONE pass of its states through the executable
        circuit, the observables read at each marker on the way (``sim.compile(...,
        stops=...)``), exact or sampled per marker; with ``qubits`` also the final state
        reduced to them: ``(batch, n_markers, n_obs)`` or that and ``(batch, 2**k, 2**k)``.
        None where this does not apply (pure circuits run as statevector prefixes; observables
        with X or Y terms, see ``_expval_markers``).

        Exact: a marker's readout does not disturb the state that runs on (there is no
        feed-forward: nothing later is conditioned on an outcome), and a measurement
        followed by a reset of the same qubits is the reset alone, so the state after a
        marker and the resets that follow it is the unconditioned post-measurement state a
        device's next step sees. The values equal those of the prefix circuits."""
        runnable = self.executable(circuit)
        stops = _stops_at_markers(circuit, runnable, observables)
        mixed = self.noise_model is not None or any(
            i.operation.name == "reset" for i in runnable.data
        )
        if stops is None or not mixed:
            return None
        columns = select_columns(values, circuit, runnable)
        physical = physical_qubits(runnable, circuit.num_qubits)
        final = None if qubits is None else [physical[q] for q in qubits]
        if self.shots is None:
            return self._run_stops(
                runnable, columns, pad_to_layout(observables, runnable), stops, final
            )
        plan = measurement_plan(observables)
        masks = np.bitwise_or.reduce(np.concatenate([[0], *plan.masks]))
        support = [physical[q] for q in range(circuit.num_qubits) if (int(masks) >> q) & 1]
        parities = _parity_observables(support, runnable.num_qubits)
        result = self._run_stops(runnable, columns, parities, stops, final)
        expectations, state = result if final is not None else (result, None)
        out = self._sample_stops(plan, expectations, support, physical, values)
        return out if final is None else (out, state)

    def _run_stops(self, runnable, values, observables, stops, final):
        bound, inputs = self._bound(runnable, values, observables, stops)
        if bound is not None:
            return bound.expval_at_stops(inputs, final_qubits=final)
        key = ("stops", _observables_key(observables), stops)
        program = self._cache.get(
            runnable,
            key,
            lambda: sim.compile(runnable, observables, noise_model=self.noise_model, stops=stops),
        )
        return program.expval_at_stops(values, final_qubits=final)

    def _sample_stops(self, plan, parities, support, physical, like):
        """(batch, n_stops, n_obs) estimates from ``shots`` read-outs per sample and stop,
        drawn from the read-out distribution over the ``support`` qubits (physical) that the
        parities ``(batch, n_stops, 2**k - 1)`` of their readout-rewritten Z strings give."""
        batch, n_stops = parities.shape[:2]
        if not plan.bases:
            return self._output(np.tile(plan.constant, (batch, n_stops, 1)), like)
        k = len(support)
        outcomes = np.arange(2**k)
        signs = 1.0 - 2.0 * (np.bitwise_count(outcomes[:, None] & outcomes[None, :]) & 1)
        parities = parities.double().cpu().numpy()
        full = np.concatenate([np.ones((batch, n_stops, 1)), parities], axis=2)
        probabilities = full @ signs.T / 2**k  # (batch, n_stops, 2**k): readout included
        on_physical = np.zeros_like(outcomes)
        for j, qubit in enumerate(support):
            on_physical |= ((outcomes >> j) & 1) << qubit
        logical = relabel(on_physical, physical)
        out = []
        for stop in range(n_stops):
            counts = sample(probabilities[:, stop], self.shots, {}, self._rng)
            group = []
            for row in counts:
                seen = np.flatnonzero(row)
                group.append((logical[seen], row[seen].astype(np.float64)))
            out.append(estimate(plan, [group]))
        return self._output(np.stack(out, axis=1), like)

    def _density_matrix(self, circuit, values, qubits):
        runnable = self.executable(circuit)
        rho = self._state_program(runnable).density_matrix(
            select_columns(values, circuit, runnable)
        )
        physical = physical_qubits(runnable, circuit.num_qubits)
        return reduce_state(rho, [physical[q] for q in qubits])

    def _state_program(self, runnable) -> sim.Program:
        """``runnable`` compiled once with the noise model, for its final states."""
        return self._cache.get(
            runnable, "state-program", lambda: sim.compile(runnable, noise_model=self.noise_model)
        )

    def _probabilities(self, runnable, values) -> np.ndarray:
        """(batch, 2**n) exact outcome distribution of the measurement-free ``runnable``."""
        mixed = self.noise_model is not None or any(
            i.operation.name == "reset" for i in runnable.data
        )
        program = self._state_program(runnable)
        if mixed:
            rho = program.density_matrix(values)
            probabilities = torch.diagonal(rho, dim1=-2, dim2=-1).real
        else:
            probabilities = program.statevector(values).abs() ** 2
        return probabilities.double().cpu().numpy()

    def _expval_sampled(self, circuit, values, observables):
        plan = measurement_plan(observables)
        outcomes = []
        for basis in plan.bases:
            runnable = self._cache.get(
                circuit, ("basis", basis), lambda b=basis: self.executable(rotate_into(circuit, b))
            )
            columns = select_columns(values, circuit, runnable)
            outcomes.append(self._sample(runnable, columns, circuit.num_qubits))
        if not plan.bases:
            return self._output(np.tile(plan.constant, (values.shape[0], 1)), values)
        return self._output(estimate(plan, outcomes), values)

    def _sample(self, runnable, values, n_logical: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sample ``(logical outcomes, counts)`` of ``shots`` read-outs of the executable
        ``runnable`` (readout error applied), drawn from its exact outcome distribution."""
        with torch.no_grad():
            probabilities = self._probabilities(runnable, values)
        counts = sample(probabilities, self.shots, self._readout(runnable.num_qubits), self._rng)
        logical = relabel(np.arange(counts.shape[1]), physical_qubits(runnable, n_logical))
        group = []
        for row in counts:
            seen = np.flatnonzero(row)
            group.append((logical[seen], row[seen].astype(np.float64)))
        return group

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


def _parity_observables(support: list[int], n_qubits: int) -> list[SparsePauliOp]:
    """The ``2**k - 1`` Z strings on the ``support`` qubits (string z: Z on ``support[j]`` for
    each bit j of z), whose expectation values give the outcome distribution there."""
    labels = []
    for z in range(1, 2 ** len(support)):
        label = ["I"] * n_qubits
        for j, qubit in enumerate(support):
            if (z >> j) & 1:
                label[n_qubits - 1 - qubit] = "Z"
        labels.append("".join(label))
    return [SparsePauliOp(label) for label in labels]


def _observables_key(observables) -> tuple:
    return tuple(
        (tuple(o.paulis.to_labels()), tuple(np.round(o.coeffs, 15).tolist())) for o in observables
    )


def _same_tensor(kept: torch.Tensor, new: torch.Tensor) -> bool:
    """Equal values, dtype and device (``torch.equal`` alone calls float32 and float64 equal,
    and a bind keeps the precision of the values it was made from)."""
    return kept.dtype == new.dtype and kept.device == new.device and torch.equal(kept, new)


def _stops_at_markers(circuit, runnable, observables) -> tuple[int, ...] | None:
    """The executable circuit's marker positions where the markers can be read off its state
    as it runs: Z-type observables, and every marker of ``circuit`` kept by transpilation;
    else None (then one prefix circuit per marker)."""
    stops = tuple(marker_positions(runnable))
    if not z_type(observables) or len(stops) != len(marker_positions(circuit)):
        return None
    return stops
