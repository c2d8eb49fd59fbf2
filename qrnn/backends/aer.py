"""Qiskit Aer backend: exact or sampled expectation values, noise, GPU; one Aer run per batch.

Every parameter binding of a batch (and every measurement-basis circuit, marker prefix or
shifted gradient row) goes to Aer in ONE ``run`` call via ``parameter_binds``. Gate angles are
evaluated here as one matrix product (every angle is affine in the parameters) and bound as
plain parameters, because Aer binds parameter expressions one value at a time in Python; on a
CPU Aer binds them as the run goes (``runtime_parameter_bind_enable``), not in one copied circuit
per binding. Noise-free circuits run with each wire's runs of one-qubit gates fused into one
``u`` gate per row (``_fusion``).

Exact mode (``shots=None``) saves one expectation value per observable (and per marker), or,
when every observable is diagonal on at most ``MAX_PROBABILITY_QUBITS`` qubits, one probability
vector they are all read from; readout error, which Aer ignores for saved values, enters as the
observable rewrite of ``qrnn.sim.apply_readout``. With quantum errors or resets exact mode needs
the ``density_matrix`` method (``automatic`` picks it): the statevector method would sample them.

Shots mode measures: Z-type terms of all observables come from the same counts; the other terms
are grouped into qubit-wise commuting bases, one circuit per basis (rotations appended before
the device transpiles, as on hardware). Aer applies the noise model's readout errors to counts.

With ``executor`` (a Dask ``distributed.Client`` or any ``concurrent.futures.Executor``) a run's
experiments (one per circuit and binding, in Aer's order) are cut into jobs of
``max_job_size`` and simulated on the executor's workers, then put back in order.
Aer's own ``executor``/``max_job_size`` options are accepted by qiskit-aer 0.18 but ignored
(its jobs run on its private thread pool), so the split is done here, with Aer's seeding:
experiment ``i`` of a run is seeded ``seed_simulator + i * stride``, and a job starting at
experiment ``k`` gets ``seed_simulator + k * stride``, so every experiment has the seed it has
in one process and the samples are the same.

Threads: a local CPU run uses as many OpenMP threads as torch (``torch.get_num_threads()``, which
``qrnn train --threads`` sets), read at each run. Aer's default (every core) makes its threads
wait on each other whenever another program holds a core: a 4-qubit batch of 16 bindings took
0.88 s with the default and 0.02 s with one thread on a loaded 2-core machine.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qrnn import gradients
from qrnn._aer_jobs import run_aer_job
from qrnn.backends._base import Backend, marker_positions, prefix_circuit, select_columns
from qrnn.backends._errors import BackendError, GPUUnavailableError
from qrnn.backends._fusion import fuse
from qrnn.backends._measurement import (
    estimate,
    measurement_plan,
    pad_to_layout,
    physical_qubits,
    rotate_into,
    z_type,
)
from qrnn.sim import apply_readout, simulated_form

METHODS = ("automatic", "statevector", "density_matrix")
PRECISIONS = ("double", "single")
GPU_INSTALL_HINT = (
    'install the GPU build with `pip install "qrnn-iontrap[gpu]"` (qiskit-aer-gpu, CUDA 12, '
    "Linux x86_64) and run on a machine with an NVIDIA CUDA GPU"
)


def gpu_available() -> bool:
    """Whether this qiskit-aer can simulate on a GPU here."""
    from qiskit_aer import AerSimulator

    return "GPU" in AerSimulator().available_devices()


class AerBackend(Backend):
    """Qiskit Aer executor (see the module doc); build with ``qrnn.backends.get("aer", ...)``.

    Args:
        device: preset name or ``IonTrapDevice``: transpile to native gates, run its noise.
        shots: None (exact) or samples per circuit and binding.
        method: "automatic" (exact: density_matrix with noise or resets, else statevector),
            "statevector" or "density_matrix".
        gpu: run on a CUDA GPU (needs qiskit-aer-gpu); never falls back to CPU.
        seed: seeds the sampling (each run draws its simulator seed from it).
        precision: "double" (CPU default) or "single" (GPU default).
        noise_model: a ``NoiseModel`` to run circuits with as given (instead of a device).
        gradient: "parameter-shift" (default) or "spsa"; gradient_options go to the method.
    """

    name = "aer"
    supports_autograd = False
    options: ClassVar[dict[str, object]] = Backend.options | {
        "method": "automatic",
        "gpu": False,
        "precision": None,
        "executor": None,
        "max_job_size": None,
    }

    def _configure(self, method, gpu, precision, executor, max_job_size) -> None:
        if method not in METHODS:
            raise BackendError(f"method must be one of {list(METHODS)}, got {method!r}")
        if not isinstance(gpu, bool):
            raise BackendError(f"gpu must be True or False, got {gpu!r}")
        if precision is None:
            precision = "single" if gpu else "double"
        if precision not in PRECISIONS:
            raise BackendError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        if gpu and not gpu_available():
            raise GPUUnavailableError(
                "gpu=True but this qiskit-aer cannot use a GPU here (AerSimulator()"
                f".available_devices() has no 'GPU'); {GPU_INSTALL_HINT}"
            )
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise BackendError(
                "executor must be a Dask distributed.Client or a concurrent.futures.Executor "
                f"(an object with submit), got {type(executor).__name__}"
            )
        if max_job_size is not None and (
            isinstance(max_job_size, bool) or not isinstance(max_job_size, int) or max_job_size < 1
        ):
            raise BackendError(f"max_job_size must be None or an int >= 1, got {max_job_size!r}")
        if max_job_size is not None and executor is None:
            raise BackendError("max_job_size splits runs over an executor; give executor= too")
        self.method = method
        self.gpu = gpu
        self.precision = precision
        self.executor = executor
        self.max_job_size = max_job_size
        from qiskit_aer import AerSimulator

        options = {"device": "GPU" if gpu else "CPU", "precision": precision}
        if gpu:
            # Batch the bindings of one run on the GPU; a 10-qubit density matrix counts as 20.
            options.update(batched_shots_gpu=True, batched_shots_gpu_max_qubits=20)
        if self.noise_model is not None:
            options["noise_model"] = self.noise_model
        self.simulator = AerSimulator(**options)
        self._simulator_options = options
        self.runs = 0  # Aer runs made (one per batch; split or not)

    # -- preparation --------------------------------------------------------------------------

    def executable(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """``Backend.executable``, with anything Aer does not simulate expanded even without
        noise (``qrnn.sim.simulated_form``)."""
        return simulated_form(super().executable(circuit))

    def _prepared(self, circuit: QuantumCircuit, key=None):
        """``_compiled(executable circuit)``, cached per circuit and ``key``."""
        return self._cache.get(circuit, key, lambda: self._compiled(self.executable(circuit)))

    def _compiled(self, exe: QuantumCircuit):
        """(``exe``, its expansion with one parameter per gate angle or None, that expansion
        with its one-qubit runs fused (``_fusion``; noise-free only) or None)."""
        try:
            expanded = gradients.expand_parameters(exe)
        except gradients.GradientError:  # non-affine angles: let Aer bind them
            return exe, None, None
        return exe, expanded, fuse(expanded.circuit) if self._noise_free() else None

    def _method(self, circuit: QuantumCircuit) -> str:
        noisy = not self._noise_free()
        resets = any(i.operation.name == "reset" for i in circuit.data)
        if self.shots is not None:
            return self.method
        if self.method == "statevector" and (noisy or resets):
            raise BackendError(
                "exact expectation values (shots=None) with "
                f"{'noise' if noisy else 'resets'} need method='density_matrix' (or "
                "'automatic'); the statevector method samples them"
            )
        if self.method == "automatic":
            return "density_matrix" if (noisy or resets) else "statevector"
        return self.method

    def _noise_free(self) -> bool:
        return self._noise is None or not self._noise.has_quantum_errors

    # -- execution ----------------------------------------------------------------------------

    def _binds(self, logical, compiled, values: torch.Tensor):
        """(circuit to run, parameter_binds dict or None) for ``values`` (batch, n_params) and
        ``compiled`` (``_compiled``)."""
        exe, expanded, fused = compiled
        columns = select_columns(values.detach(), logical, exe).to(torch.float64)
        if expanded is not None and expanded.circuit.num_parameters:
            angles = expanded.angles(columns).cpu().numpy()
            if fused is not None:
                return fused.circuit, fused.binds(angles)
            params = expanded.circuit.parameters
            return expanded.circuit, {p: angles[:, k].tolist() for k, p in enumerate(params)}
        if exe.num_parameters:
            array = columns.cpu().numpy()
            return exe, {p: array[:, j].tolist() for j, p in enumerate(exe.parameters)}
        return (expanded.circuit if expanded is not None else exe), None

    def _submit(self, jobs: list[tuple[QuantumCircuit, dict | None]], batch: int, method, shots):
        """Run every (circuit, binds) in ONE Aer call; results in circuit-major order, ``batch``
        per circuit."""
        circuits, binds = [], []
        for circuit, bind in jobs:
            if bind is None:  # no parameters: repeat the circuit once per sample
                circuits.extend([circuit] * batch)
                binds.extend([{}] * batch)
            else:
                circuits.append(circuit)
                binds.append(bind)
        options = {"method": method, "shots": shots}
        if not self.gpu and self.executor is None:
            options["max_parallel_threads"] = torch.get_num_threads()
        if self.seed is not None:
            options["seed_simulator"] = int(self._rng.integers(2**31))
        if any(binds) and not self.gpu:
            # bound as the run goes, not one copied circuit per binding: a ten-qubit
            # parameter-shift batch ran 1.4x faster (same results and seeds)
            options["runtime_parameter_bind_enable"] = True
        self.runs += 1
        if self.executor is not None:
            result = self._split_run(circuits, binds, options)
        elif any(binds):
            result = self.simulator.run(circuits, parameter_binds=binds, **options).result()
        else:
            result = self.simulator.run(circuits, **options).result()
        if not result.success:
            raise BackendError(f"Aer simulation failed: {result.status}")
        return result

    def _split_run(self, circuits, binds, options):
        """One run's experiments in jobs of ``max_job_size`` on the executor; the results in
        Aer's order, each experiment seeded as in one process (see the module doc)."""
        from qiskit.result import Result

        sizes = [len(next(iter(bind.values()))) if bind else 1 for bind in binds]
        size = self.max_job_size or sum(sizes)
        seed = options.get("seed_simulator")
        stride = _seed_stride() if seed is not None else 0
        futures, first = [], 0
        for job in _jobs(circuits, binds, sizes, size):
            job_options = dict(options)
            if seed is not None:
                job_options["seed_simulator"] = seed + first * stride
            futures.append(
                self.executor.submit(run_aer_job, self._simulator_options, *job, job_options)
            )
            first += sum(len(next(iter(b.values()))) if b else 1 for b in job[1])
        parts = [future.result() for future in futures]
        results = [experiment for part in parts for experiment in part.results]
        if seed is not None and all(part.success for part in parts):
            seeds = [experiment.seed_simulator for experiment in results]
            if seeds != [seed + i * stride for i in range(len(results))]:
                raise BackendError(  # qiskit-aer changed how it seeds the experiments of a run
                    "Aer's per-experiment seeds differ from one process's; split runs would not "
                    "reproduce its samples with this qiskit-aer"
                )
        failed = [part for part in parts if not part.success]
        return Result(
            backend_name=parts[0].backend_name,
            backend_version=parts[0].backend_version,
            job_id=parts[0].job_id,
            success=not failed,
            results=results,
            status=failed[0].status if failed else parts[0].status,
        )

    def _expval(self, circuit, values, observables):
        return self._many(circuit, [circuit], values, observables)[:, 0]

    def _expval_markers(self, circuit, values, observables):
        # Saving at the markers of one circuit needs its states there to be the logical ones.
        # Device transpilation moves virtual Z rotations across barriers, which changes X/Y
        # (not Z-type) expectation values there; shots cannot be taken mid-circuit either. In
        # those cases: one prefix circuit per marker, all in the same run.
        if self.shots is None and (self.device is None or z_type(observables)):
            exe = self._prepared(circuit)[0]
            if len(marker_positions(exe)) == len(marker_positions(circuit)):
                return self._many(circuit, [circuit], values, observables, at_markers=True)
        prefixes = [
            self._cache.get(circuit, stop, lambda s=stop: prefix_circuit(circuit, s))
            for stop in marker_positions(circuit)
        ]
        return self._many(circuit, prefixes, values, observables)

    def _many(self, logical, circuits, values, observables, at_markers=False) -> torch.Tensor:
        """(batch, n_points, n_obs) for ``circuits`` (each sharing ``logical``'s parameters):
        the final state of each, or (``at_markers``) the marker states of the one circuit."""
        n_points = len(marker_positions(circuits[0])) if at_markers else len(circuits)
        if values.shape[0] == 0:
            return values.new_zeros(0, n_points, len(observables))
        if self.shots is None:
            out = self._exact(logical, circuits, values, observables, at_markers)
        else:
            out = self._sampled(logical, circuits, values, observables)
        return self._output(out.reshape(values.shape[0], n_points, len(observables)), values)

    def _exact(self, logical, circuits, values, observables, at_markers):
        jobs = []  # (circuit with its saves, binds, [(label, signs or None)] per reading)
        method = "statevector"
        for c, circuit in enumerate(circuits):
            compiled = self._prepared(circuit)
            exe = compiled[0]
            run_circuit, bind = self._binds(logical, compiled, values)
            confusion = self._readout(exe.num_qubits)
            mapped = apply_readout(pad_to_layout(observables, exe), confusion)
            stops = marker_positions(run_circuit) if at_markers else [len(run_circuit.data)]
            support, signs = _diagonal_reading(mapped)
            saving, reads, start = run_circuit.copy_empty_like(), [], 0
            for m, stop in enumerate(stops):
                for instruction in run_circuit.data[start:stop]:
                    saving.append(instruction)
                if signs is not None:
                    reads.append((f"c{c}m{m}", signs))
                    saving.save_probabilities(support, label=reads[-1][0])
                else:
                    for k, observable in enumerate(mapped):
                        reads.append((f"c{c}m{m}o{k}", None))
                        saving.save_expectation_value(
                            observable, list(range(saving.num_qubits)), label=reads[-1][0]
                        )
                start = stop
            jobs.append((saving, bind, reads))
            if self._method(exe) == "density_matrix":
                method = "density_matrix"
        batch = values.shape[0]
        result = self._submit([(job, bind) for job, bind, _ in jobs], batch, method, 1)
        columns = []
        for c, (_, _, reads) in enumerate(jobs):
            # each experiment's saved data as attributes (Result.data(i) copies it into a dict)
            data = [result.results[c * batch + b].data for b in range(batch)]
            for label, signs in reads:
                if signs is None:
                    columns.append(np.array([getattr(d, label) for d in data]).real[:, None])
                else:
                    columns.append(np.stack([getattr(d, label) for d in data]) @ signs)
        return np.concatenate(columns, axis=1)  # (batch, n_circuits * n_markers * n_obs)

    def _sampled(self, logical, circuits, values, observables):
        plan = measurement_plan(observables)
        batch = values.shape[0]
        if not plan.bases:
            return np.tile(plan.constant, (batch, len(circuits)))
        jobs = []
        for circuit in circuits:
            for basis in plan.bases:
                compiled = self._cache.get(
                    circuit,
                    ("basis", basis),
                    lambda b=basis, c=circuit: self._compiled(
                        self.executable(rotate_into(c, b, True))
                    ),
                )
                jobs.append((*self._binds(logical, compiled, values), compiled[0], circuit))
        method = self._method(jobs[0][2])
        result = self._submit([(c, b) for c, b, _, _ in jobs], batch, method, self.shots)
        estimates = []
        n_groups = len(plan.bases)
        for c in range(len(circuits)):
            outcomes = []
            for g in range(n_groups):
                j = c * n_groups + g
                exe, circuit = jobs[j][2], jobs[j][3]
                offset = exe.num_clbits - circuit.num_qubits  # our register is the last one
                group = []
                for b in range(batch):
                    counts = result.data(j * batch + b)["counts"]
                    keys = np.array([int(k, 16) >> offset for k in counts], dtype=np.int64)
                    group.append((keys, np.array(list(counts.values()), dtype=np.float64)))
                outcomes.append(group)
            estimates.append(estimate(plan, outcomes))
        return np.concatenate(estimates, axis=1)

    def _density_matrix(self, circuit, values, qubits):
        compiled = self._prepared(circuit)
        exe = compiled[0]
        run_circuit, bind = self._binds(circuit, compiled, values)
        physical = physical_qubits(exe, circuit.num_qubits)
        saving = run_circuit.copy()
        saving.save_density_matrix([physical[q] for q in qubits], label="state")
        result = self._submit([(saving, bind)], values.shape[0], "density_matrix", 1)
        states = np.stack([np.asarray(result.data(b)["state"]) for b in range(values.shape[0])])
        dtype = torch.complex64 if values.dtype == torch.float32 else torch.complex128
        return torch.as_tensor(states, dtype=dtype, device=values.device)

    def _counts(self, circuit, values, shots):
        run_circuit, bind = self._binds(circuit, self._prepared(circuit, "counts"), values)
        result = self._submit([(run_circuit, bind)], values.shape[0], self.method, shots)
        return [
            dict(sorted(result.get_counts(b).items(), key=lambda item: (-item[1], item[0])))
            for b in range(values.shape[0])
        ]

    def __repr__(self) -> str:
        device = getattr(self.device, "name", self.device)
        split = "" if self.executor is None else f", max_job_size={self.max_job_size}"
        return (
            f"AerBackend(shots={self.shots}, device={device!r}, method={self.method!r}, "
            f"gpu={self.gpu}, precision={self.precision!r}{split})"
        )


# Diagonal observables on at most this many qubits are read from one saved probability vector
# (2**k values per binding) instead of one saved expectation value each: ten <Z_i> on ten qubits
# ran 1.3x faster.
MAX_PROBABILITY_QUBITS = 10


def _diagonal_reading(observables: list[SparsePauliOp]):
    """(qubits, signs (2**k, n_obs)) with ``values = probabilities(qubits) @ signs`` when every
    observable is diagonal (only I and Z factors) on at most ``MAX_PROBABILITY_QUBITS`` qubits
    (``qubits[i]`` is bit i of a probability's index), else (None, None)."""
    if not z_type(observables):
        return None, None
    used = np.zeros(observables[0].num_qubits, dtype=bool)
    for observable in observables:
        used |= np.any(observable.paulis.z, axis=0)
    qubits = [int(q) for q in np.flatnonzero(used)]
    if not 1 <= len(qubits) <= MAX_PROBABILITY_QUBITS:
        return None, None
    outcomes = np.arange(2 ** len(qubits))[:, None] >> np.arange(len(qubits)) & 1  # (2**k, k)
    signs = np.zeros((len(outcomes), len(observables)))
    for k, observable in enumerate(observables):
        parities = outcomes @ observable.paulis.z[:, qubits].T.astype(int) % 2  # (2**k, terms)
        signs[:, k] = (1 - 2 * parities) @ observable.coeffs.real
    return qubits, signs


def _jobs(circuits, binds, sizes, size):
    """(circuits, binds) of consecutive jobs of at most ``size`` experiments (a circuit's
    bindings may be cut between two jobs)."""
    job_circuits, job_binds, room = [], [], size
    for circuit, bind, count in zip(circuits, binds, sizes, strict=True):
        start = 0
        while start < count:
            take = min(room, count - start)
            job_circuits.append(circuit)
            job_binds.append({p: v[start : start + take] for p, v in bind.items()} if bind else {})
            start += take
            room -= take
            if room == 0:
                yield job_circuits, job_binds
                job_circuits, job_binds, room = [], [], size
    if job_circuits:
        yield job_circuits, job_binds


_STRIDE: list[int] = []


def _seed_stride() -> int:
    """How far apart Aer seeds consecutive experiments of one run (asked of Aer once)."""
    if not _STRIDE:
        from qiskit_aer import AerSimulator

        probe = QuantumCircuit(1)
        probe.measure_all()
        result = AerSimulator().run([probe, probe], shots=1, seed_simulator=0).result()
        _STRIDE.append(
            int(result.results[1].seed_simulator) - int(result.results[0].seed_simulator)
        )
    return _STRIDE[0]
