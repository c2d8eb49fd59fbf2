"""A public quantum cloud behind the backend protocol, for small synchronous experiments:
``qrnn.backends.get("cloud:<provider>:<backend>", shots=N)``, e.g. ``"cloud:ibm:fake_manila"``
or ``"cloud:braket:local"``.

Every ``expval`` or ``counts`` call is one submission through ``qrnn.cloud.submit`` (so it is
recorded in the job store like any other) and waits for its result: one job for the whole
batch where the vendor takes several circuits per job, else one per row; where the vendor
returns counts only (IonQ), one per measurement basis, estimated as every sampling backend
estimates expectation values. There is no
``device=`` or ``noise_model=``: the machine is the device. Expectation values of weighted
Pauli sums are combined here from the vendor's estimates of each Pauli string.

With ``evaluation=`` (a round of ``qrnn.cloud.submit_run``), calls do not wait: each row's
result comes from the job that already holds it, or the row is submitted (tagged with the call
and row it belongs to) and a placeholder stands in until a later round fetches it.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from qrnn.backends._base import Backend
from qrnn.backends._errors import BackendError

__all__ = ["CloudBackend"]


class CloudBackend(Backend):
    """``"cloud:<provider>:<backend>"`` (see the module docstring).

    Options (besides the base ones): ``timeout`` (seconds to wait for each job; default no
    limit), ``store`` (the job store's path; default ``$QRNN_HOME/jobs.sqlite``) and
    ``evaluation`` (a round of ``qrnn.cloud.submit_run``: do not wait, see the module).
    """

    supports_autograd = False
    options = {**Backend.options, "timeout": None, "store": None, "evaluation": None}  # noqa: RUF012

    def __init__(self, target: str, *, device=None, shots=None, **options):
        provider, _, backend = target.partition(":")
        if not provider or not backend:
            raise BackendError(
                f"cloud backend {target!r}: expected 'cloud:<provider>:<backend>', e.g. "
                "'cloud:ibm:fake_manila' or 'cloud:braket:local'"
            )
        if device is not None:
            raise BackendError("a cloud backend runs on its own machine: no device=")
        if shots is None:
            raise BackendError("a cloud backend samples: give shots=")
        self.name = f"cloud:{target}"
        self.provider, self.backend = provider, backend
        super().__init__(device=None, shots=shots, **options)

    def _configure(self, timeout=None, store=None, evaluation=None) -> None:
        if self._noise is not None:
            raise BackendError("a cloud machine has its own noise: no noise_model=")
        self.timeout, self.store, self.evaluation = timeout, store, evaluation
        from qrnn import cloud

        vendor = cloud.provider(self.provider)  # unknown provider or missing extra: here
        self.circuits_per_job = vendor.max_circuits  # None: no limit
        self._estimates = vendor.expectation_values
        self._one_basis = vendor.one_basis_per_job
        # whether circuits may reset qubits (models that need it check this before running)
        self.mid_circuit_reset = vendor.mid_circuit

    def _expval_from_counts(self, circuit, rows: np.ndarray, observables) -> np.ndarray:
        """(batch, n_obs) estimated from counts in each measurement basis, as every sampling
        backend estimates them (``qrnn.backends._measurement``): for vendors that return
        counts only."""
        from qrnn.backends._measurement import estimate, measurement_plan, rotate_into

        plan = measurement_plan(observables)
        outcomes = []
        for basis in plan.bases:
            rotated = rotate_into(circuit, basis, measure=True)  # clbit q = qubit q
            group = []
            for result in self._jobs(rotated, rows):
                counts = result["counts"]
                keys = np.array([int(key.replace(" ", ""), 2) for key in counts], np.int64)
                group.append((keys, np.array(list(counts.values()), np.float64)))
            outcomes.append(group)
        return estimate(plan, outcomes)

    def _jobs(self, circuit, rows: np.ndarray, **options) -> list[dict]:
        """Submit ``circuit`` once per row of parameter values, in as few jobs as the vendor
        allows; the per-circuit results in row order."""
        if self.evaluation is not None:
            return self.evaluation.results(self, circuit, rows, options)
        results = []
        for handle in self.submit_rows(circuit, rows, f"qrnn.backends {self.name}", options):
            result = handle.result(timeout=self.timeout)
            results.extend(_per_circuit(result))
        return results

    def submit_rows(self, circuit, rows: np.ndarray, source: str, options: dict) -> list:
        """Submit ``circuit`` once per row of ``rows`` (parameter values), in as few jobs as
        the vendor allows; the job handles, each for consecutive rows."""
        from qrnn import cloud

        size = self.circuits_per_job or len(rows)
        return [
            cloud.submit(
                [circuit] * len(rows[start : start + size]),
                provider=self.provider,
                backend=self.backend,
                shots=self.shots,
                parameter_values=(
                    rows[start : start + size].tolist() if circuit.num_parameters else None
                ),
                source=source,
                store=self.store,
                **options,
            )
            for start in range(0, len(rows), size)
        ]

    def _call(self):
        """One ``expval``/``counts`` call: a unit of an evaluation's rounds."""
        return contextlib.nullcontext() if self.evaluation is None else self.evaluation.call()

    def _expval(self, circuit, values, observables) -> torch.Tensor:
        with self._call():
            return self._expval_rows(circuit, values, observables)

    def _expval_rows(self, circuit, values, observables) -> torch.Tensor:
        rows = values.detach().cpu().numpy().astype(np.float64).reshape(len(values), -1)
        if not self._estimates:
            return self._output(self._expval_from_counts(circuit, rows, observables), values)
        terms = [op.to_list() for op in observables]
        labels = sorted({label for term in terms for label, _ in term if set(label) != {"I"}})
        estimates = {label: np.ones(len(rows)) for term in terms for label, _ in term}
        groups = _one_basis_groups(labels) if self._one_basis else [labels] if labels else []
        for group in groups:
            for row, result in enumerate(self._jobs(circuit, rows, observables=group)):
                for label, value in zip(group, result["expvals"], strict=True):
                    estimates[label][row] = value
        out = np.stack(
            [sum(coeff.real * estimates[label] for label, coeff in term) for term in terms],
            axis=1,
        )
        return self._output(out, values)

    def _counts(self, circuit, values, shots) -> list[dict[str, int]]:
        if shots != self.shots:
            raise BackendError(f"backend {self.name!r} samples {self.shots} shots per circuit")
        rows = values.detach().cpu().numpy().astype(np.float64).reshape(len(values), -1)
        with self._call():
            counts = [result["counts"] for result in self._jobs(circuit, rows)]
        return [dict(sorted(c.items(), key=lambda item: -item[1])) for c in counts]


def _per_circuit(result: dict) -> list[dict]:
    """A job's result (``{"counts": [...]}`` or ``{"expvals": [...], "stds": [...]}``) as one
    such dict per circuit."""
    size = len(next(iter(result.values())))
    return [{key: result[key][k] for key in result} for k in range(size)]


def _one_basis_groups(labels: list[str]) -> list[list[str]]:
    """``labels`` in groups that measure each qubit in one basis (qubit-wise commuting),
    greedily in order: one job each, for vendors that estimate a job's observables from the
    same shots."""
    groups: list[tuple[list[str], list[str]]] = []  # (labels, the basis letter per position)
    for label in labels:
        for members, basis in groups:
            if all(a == "I" or b == "I" or a == b for a, b in zip(label, basis, strict=True)):
                members.append(label)
                basis[:] = [b if a == "I" else a for a, b in zip(label, basis, strict=True)]
                break
        else:
            groups.append(([label], list(label)))
    return [members for members, _ in groups]
