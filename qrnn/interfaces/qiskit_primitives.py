"""Qiskit primitives over the torch engine: ``EstimatorV2`` and ``SamplerV2``.

Code written for Qiskit's primitives (``StatevectorEstimator``, Aer's or IBM's ``EstimatorV2``,
qiskit-machine-learning's ``EstimatorQNN``) runs on qrnn's engine by swapping the object:

    from qrnn.interfaces.qiskit_primitives import EstimatorV2
    estimator = EstimatorV2(device="iontrap-10q")     # or EstimatorV2(): the ideal machine
    result = estimator.run([(circuit, ["ZI", "IZ"], values)]).result()
    result[0].data.evs                                # shape: values' and observables' broadcast

PUBs are Qiskit's own (``EstimatorPub`` / ``SamplerPub``: broadcast ``BindingsArray`` of
parameter values, ``ObservablesArray``), results are Qiskit's ``PrimitiveResult``.

**One engine call per circuit.** The speed of the engine comes from running a whole batch at
once, and primitives' callers tend to send many small PUBs (``EstimatorQNN`` sends one PUB per
observable, its parameter-shift gradient one per shifted binding). So all PUBs of a ``run`` on
the same circuit object go to the engine together: the estimator runs every distinct binding
against every distinct observable of those PUBs in one ``expval`` call (duplicated bindings run
once) and hands each PUB its entries; the sampler draws every binding of the same circuit and
shot count in one ``counts`` call. (Where that cross product would be both more than four times
the (binding, observable) pairs asked for and large, each PUB gets its own call instead.)

**Precision** (estimator): 0 (the default) gives the exact expectation values of the engine --
with a device or noise model, the noisy-exact ones (density matrix, readout error) -- and
``stds`` of 0. ``precision > 0`` adds Gaussian noise of that standard deviation to each value
and reports it as ``stds``: Aer's ``EstimatorV2`` convention (``StatevectorEstimator`` adds the
same noise but reports 0), the spread of a shot estimate with about ``1 / precision**2`` shots.

**Shots** (sampler): each binding is sampled ``shots`` times from the engine's exact outcome
distribution of its final measurements (with a device: native gates, noise, readout error);
shots come in random order. Mid-circuit measurements are refused (``qrnn.backends.get("aer")``
simulates them).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from numbers import Real

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers import (
    BindingsArray,
    BitArray,
    DataBin,
    EstimatorPubLike,
    PrimitiveResult,
    PubResult,
    SamplerPubLike,
    SamplerPubResult,
)
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.primitives.primitive_job import PrimitiveJob
from qiskit.quantum_info import SparsePauliOp

from qrnn import backends

__all__ = ["EstimatorV2", "SamplerV2"]

# PUBs on one circuit share one engine call unless its cross product of bindings and
# observables is both more than this many times the values asked for and more than this many
# amplitudes' worth of observable work (an engine call costs about 10 ms before any of that).
_SHARED_CALL_WASTE = 4
_SHARED_CALL_BUDGET = 2**27


class EstimatorV2(BaseEstimatorV2):
    """Qiskit ``BaseEstimatorV2`` on qrnn's torch engine (see the module doc).

    Args:
        device: None (the ideal machine), an ion-trap preset name (``qrnn.devices.names()``)
            or an ``IonTrapDevice``: circuits run transpiled to its native gates, with its
            noise and readout error.
        noise_model: a ``qiskit_aer.noise.NoiseModel`` to run circuits with as given (instead
            of a device).
        default_precision: the precision of PUBs that give none (0: exact).
        seed: an int, a ``numpy.random.Generator`` or None; seeds the Gaussian noise of
            ``precision > 0``.

    Result of a PUB of shape ``S`` (the broadcast of its parameter values' shape and its
    observables' shape): ``data.evs`` and ``data.stds``, float64 arrays of shape ``S``;
    metadata ``target_precision`` and ``circuit_metadata``.

    Raises:
        ValueError: a negative precision; a PUB whose parameter values do not fit its circuit
            (before anything runs). qrnn.backends.BackendError: a bad device or noise model.
    """

    def __init__(self, device=None, *, noise_model=None, default_precision=0.0, seed=None):
        self._default_precision = _check_precision(default_precision, "default_precision")
        self._rng = np.random.default_rng(seed)
        self._backend = backends.get("torch", device=device, noise_model=noise_model)

    @property
    def default_precision(self) -> float:
        """The precision of PUBs that give none."""
        return self._default_precision

    @property
    def backend(self) -> backends.Backend:
        """The torch-engine backend the PUBs run on (``qrnn.backends.get("torch", ...)``)."""
        return self._backend

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> PrimitiveJob[PrimitiveResult[PubResult]]:
        """Run ``pubs`` (``(circuit, observables[, parameter values[, precision]])`` each).

        Args:
            pubs: estimator PUBs or PUB-likes.
            precision: for PUBs that give none; default ``default_precision``.

        Returns:
            a job whose ``result()`` is a ``PrimitiveResult`` with one ``PubResult`` per PUB.
        """
        if precision is None:
            precision = self._default_precision
        precision = _check_precision(precision, "precision")
        pubs = list(pubs)
        for index, pub in enumerate(pubs):
            if isinstance(pub, tuple):
                if len(pub) > 3 and pub[3] is not None:
                    _check_precision(pub[3], f"the precision of PUB {index}")
                _check_bindings(index, pub, values_at=2)
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult[PubResult]:
        evs = [None] * len(pubs)
        for group in _by_circuit(pubs, lambda pub: None):
            for index, values in zip(group, self._evaluate([pubs[i] for i in group]), strict=True):
                evs[index] = values
        results = []
        for pub, values in zip(pubs, evs, strict=True):
            if pub.precision > 0:
                values = self._rng.normal(values, pub.precision)
            data = DataBin(
                evs=values, stds=np.full(values.shape, float(pub.precision)), shape=values.shape
            )
            metadata = {"target_precision": pub.precision, "circuit_metadata": pub.circuit.metadata}
            results.append(PubResult(data, metadata=metadata))
        return PrimitiveResult(results, metadata={"version": 2})

    def _evaluate(self, pubs: list[EstimatorPub]) -> list[np.ndarray]:
        """Exact expectation values of PUBs on one circuit, from one engine call (one per PUB
        where the cross product of distinct bindings and observables would be both wasteful
        and large: ``_SHARED_CALL_WASTE``, ``_SHARED_CALL_BUDGET``)."""
        circuit = pubs[0].circuit
        names = _names(circuit)
        rows, row_ids = _distinct_rows([_bindings(pub, names) for pub in pubs])
        observables, obs_ids = _distinct_observables(pubs)
        asked = sum(int(np.prod(pub.shape, dtype=int)) for pub in pubs)
        computed = rows.shape[0] * len(observables)
        if (
            len(pubs) > 1
            and computed > _SHARED_CALL_WASTE * asked
            and computed * 2**circuit.num_qubits > _SHARED_CALL_BUDGET
        ):
            return [self._evaluate([pub])[0] for pub in pubs]
        if rows.shape[0] == 0:
            table = np.zeros((0, len(observables)))
        else:
            values = torch.as_tensor(rows, dtype=torch.float64)
            with torch.no_grad():
                table = self._backend.expval(circuit, values, observables).numpy()
        out = []
        for pub, row_id, obs_id in zip(pubs, row_ids, obs_ids, strict=True):
            row_id = row_id.reshape(pub.parameter_values.shape)
            row_id, obs_id = np.broadcast_arrays(row_id, obs_id)
            out.append(np.asarray(table[row_id, obs_id], dtype=np.float64))
        return out


class SamplerV2(BaseSamplerV2):
    """Qiskit ``BaseSamplerV2`` on qrnn's torch engine (see the module doc).

    Args:
        device: None (the ideal machine), an ion-trap preset name or an ``IonTrapDevice``
            (native gates, noise, readout error).
        noise_model: a ``qiskit_aer.noise.NoiseModel`` to run circuits with as given.
        default_shots: the shots of PUBs that give none (a positive int).
        seed: an int, a ``numpy.random.Generator`` or None; seeds the sampling.

    Result of a PUB of shape ``S`` (its parameter values' shape): one ``BitArray`` per
    classical register in ``data`` (named as the register), of shape ``S`` with ``shots``
    samples each; metadata ``shots`` and ``circuit_metadata``.

    Raises:
        ValueError: shots that are not a positive int; a PUB whose parameter values do not fit
            its circuit (before anything runs). qrnn.backends.BackendError: a circuit that
            measures mid-circuit.
    """

    def __init__(self, device=None, *, noise_model=None, default_shots=1024, seed=None):
        self._default_shots = _check_shots(default_shots, "default_shots")
        self._rng = np.random.default_rng(seed)
        self._backend = backends.get(
            "torch", device=device, noise_model=noise_model, seed=_int_seed(self._rng)
        )

    @property
    def default_shots(self) -> int:
        """The shots of PUBs that give none."""
        return self._default_shots

    @property
    def backend(self) -> backends.Backend:
        """The torch-engine backend the PUBs run on (``qrnn.backends.get("torch", ...)``)."""
        return self._backend

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None
    ) -> PrimitiveJob[PrimitiveResult[SamplerPubResult]]:
        """Run ``pubs`` (``circuit`` or ``(circuit[, parameter values[, shots]])`` each).

        Args:
            pubs: sampler PUBs or PUB-likes.
            shots: for PUBs that give none; default ``default_shots``.

        Returns:
            a job whose ``result()`` is a ``PrimitiveResult`` with one ``SamplerPubResult``
            per PUB.
        """
        shots = _check_shots(self._default_shots if shots is None else shots, "shots")
        pubs = list(pubs)
        for index, pub in enumerate(pubs):
            if isinstance(pub, QuantumCircuit):
                pub = (pub,)
            if isinstance(pub, tuple):
                if len(pub) > 2 and pub[2] is not None:
                    _check_shots(pub[2], f"the shots of PUB {index}")
                _check_bindings(index, pub, values_at=1)
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        if any(not pub.circuit.cregs for pub in coerced):
            warnings.warn(
                "a PUB's circuit has no classical registers, so its result is empty; did you "
                "mean to measure (circuit.measure_all())?",
                UserWarning,
                stacklevel=2,
            )
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[SamplerPub]) -> PrimitiveResult[SamplerPubResult]:
        data = [None] * len(pubs)
        for group in _by_circuit(pubs, lambda pub: pub.shots):
            for index, bits in zip(group, self._sample([pubs[i] for i in group]), strict=True):
                data[index] = bits
        results = [
            SamplerPubResult(
                DataBin(**bits, shape=pub.shape),
                metadata={"shots": pub.shots, "circuit_metadata": pub.circuit.metadata},
            )
            for pub, bits in zip(pubs, data, strict=True)
        ]
        return PrimitiveResult(results, metadata={"version": 2})

    def _sample(self, pubs: list[SamplerPub]) -> list[dict[str, BitArray]]:
        """``{register name: BitArray}`` of PUBs on one circuit with the same shots, from one
        engine call."""
        circuit, shots = pubs[0].circuit, pubs[0].shots
        registers = [
            (r.name, len(r), -(-len(r) // 8), [circuit.find_bit(b).index for b in r])
            for r in circuit.cregs
        ]
        names = _names(circuit)
        per_pub = [_bindings(pub, names) for pub in pubs]
        values = np.concatenate(per_pub, axis=0)
        n_rows = values.shape[0]
        arrays = {name: np.zeros((n_rows, shots, size), np.uint8) for name, _, size, _ in registers}
        measures = any(i.operation.name == "measure" for i in circuit.data)
        if registers and measures and n_rows:
            with torch.no_grad():
                counts = self._backend.counts(
                    circuit, torch.as_tensor(values, dtype=torch.float64), shots
                )
            for row, row_counts in enumerate(counts):
                # Shot order is random: shuffle the multiset of outcomes, the same order for
                # every register (shot k of each register is the same shot).
                order = self._rng.permutation(
                    np.repeat(np.arange(len(row_counts)), list(row_counts.values()))
                )
                words = [key.split(" ")[::-1] for key in row_counts]
                for r, (name, _, size, _) in enumerate(registers):
                    table = np.array(
                        [list(int(w[r] or "0", 2).to_bytes(size, "big")) for w in words],
                        dtype=np.uint8,
                    ).reshape(len(words), size)
                    arrays[name][row] = table[order]
        out, start = [], 0
        for pub, rows in zip(pubs, per_pub, strict=True):
            stop = start + rows.shape[0]
            out.append(
                {
                    name: BitArray(
                        arrays[name][start:stop].reshape(*pub.shape, shots, size), num_bits
                    )
                    for name, num_bits, size, _ in registers
                }
            )
            start = stop
        return out


# -- shared helpers ---------------------------------------------------------------------------


def _check_precision(precision, what: str) -> float:
    if isinstance(precision, bool) or not isinstance(precision, Real) or not precision >= 0:
        raise ValueError(
            f"{what} must be a real number >= 0 (0: exact expectation values), got {precision!r}"
        )
    if not np.isfinite(precision):
        raise ValueError(f"{what} must be finite, got {precision!r}")
    return float(precision)


def _check_shots(shots, what: str) -> int:
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"{what} must be a positive integer, got {shots!r}")
    return int(shots)


def _int_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**63 - 1))


def _check_bindings(index: int, pub: tuple, values_at: int) -> None:
    """A clear error, before any work, for a PUB tuple whose parameter values do not fit its
    circuit (Qiskit's own check prints the whole array, or only counts)."""
    circuit = pub[0] if pub else None
    if not isinstance(circuit, QuantumCircuit):
        return  # Qiskit's coercion names what a PUB must be
    given = pub[values_at] if len(pub) > values_at else None
    n_params = circuit.num_parameters
    names = ", ".join(str(p) for p in list(circuit.parameters)[:5])
    names += ", ..." if n_params > 5 else ""
    expected = (
        f"circuit {circuit.name!r} has {n_params} parameters ({names}): expected values of "
        f"shape (..., {n_params}) in circuit.parameters order"
    )
    if given is None:
        if n_params:
            raise ValueError(f"PUB {index} gives no parameter values, but {expected}")
        return
    if isinstance(given, (BindingsArray, Mapping)):
        bindings = BindingsArray.coerce(given)
        width, shape = bindings.num_parameters, (*bindings.shape, bindings.num_parameters)
    else:
        shape = np.shape(given)
        width = shape[-1] if shape else 1
    if width != n_params:
        raise ValueError(
            f"PUB {index}: parameter values of shape {tuple(shape)} give {width} values per "
            f"binding (the last axis), but {expected}"
        )


def _by_circuit(pubs, extra) -> list[list[int]]:
    """Indices of ``pubs`` grouped by circuit object (and ``extra(pub)``), in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for index, pub in enumerate(pubs):
        groups.setdefault((id(pub.circuit), extra(pub)), []).append(index)
    return list(groups.values())


def _bindings(pub, names: tuple[str, ...]) -> np.ndarray:
    """(n_bindings, n_params) values of ``pub`` in ``circuit.parameters`` order (bindings in
    C order of the bindings' shape); ``names``: the circuit's parameter names in that order."""
    bindings = pub.parameter_values
    n_bindings = int(np.prod(bindings.shape, dtype=int))
    if not names:
        return np.zeros((n_bindings, 0))
    data = bindings.data
    if len(data) == 1 and next(iter(data)) == names:  # a plain array: no reordering to do
        values = next(iter(data.values()))
    else:
        values = bindings.as_array(pub.circuit.parameters)
    return np.asarray(values, dtype=np.float64).reshape(n_bindings, len(names))


def _names(circuit: QuantumCircuit) -> tuple[str, ...]:
    return tuple(p.name for p in circuit.parameters)


def _distinct_rows(blocks: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(distinct rows of all blocks, per block the index of each of its rows among them)."""
    stacked = np.concatenate(blocks, axis=0)
    if stacked.shape[1] == 0:
        rows = np.zeros((min(1, stacked.shape[0]), 0))
        inverse = np.zeros(stacked.shape[0], dtype=np.int64)
    else:
        rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    splits = np.cumsum([b.shape[0] for b in blocks])[:-1]
    return rows, np.split(inverse, splits)


def _observable_key(observable: Mapping) -> tuple:
    return tuple(sorted(observable.items()))


def _distinct_observables(pubs) -> tuple[list[SparsePauliOp], list[np.ndarray]]:
    """(distinct observables of all PUBs as ``SparsePauliOp``s, per PUB the index of each of
    its observables among them, in the observables array's shape)."""
    index: dict[tuple, int] = {}
    observables: list[SparsePauliOp] = []
    ids = []
    for pub in pubs:
        sparse = pub.observables.sparse_observables_array()
        pub_ids = np.empty(pub.observables.shape, dtype=np.int64)
        for position in np.ndindex(*pub.observables.shape):
            key = _observable_key(pub.observables[position])
            if key not in index:
                index[key] = len(observables)
                # projectors (0, 1, +, -, r, l) become sums of Paulis
                observables.append(SparsePauliOp.from_sparse_observable(sparse[position]))
            pub_ids[position] = index[key]
        ids.append(pub_ids)
    return observables, ids
