"""IBM Quantum through qiskit-ibm-runtime: ``SamplerV2`` / ``EstimatorV2`` in job mode.

Open Plan accounts refuse sessions, so every submission is one job. Circuits are transpiled
to the backend's ISA with ``generate_preset_pass_manager`` and observables mapped to the
circuit's layout with ``SparsePauliOp.apply_layout``.

Backends named ``fake_*`` (``fake_manila``, ``fake_brisbane``, ...) are qiskit-ibm-runtime's
snapshots of real machines, run in its *local testing mode* (the fake backend passed as the
primitive's ``mode``): Aer simulates them here, with the machine's noise, offline and free.
Every other name is a real backend of the account that ``QiskitRuntimeService()`` finds in
its own configuration (``QiskitRuntimeService.save_account``) or in the environment
(``QISKIT_IBM_TOKEN``, ``QISKIT_IBM_INSTANCE``, ``QISKIT_IBM_CHANNEL``).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import threading
import warnings
from typing import Any

from qrnn.cloud._errors import CloudError, CredentialsError, UnknownJobError
from qrnn.cloud._provider import BackendInfo, Provider, Task, price

__all__ = ["IBMProvider"]

_DEFAULT_MAX_SHOTS = 100_000  # what IBM's backends' configurations state (fake_brisbane's)
_STATUS = {
    "INITIALIZING": "queued",
    "QUEUED": "queued",
    "VALIDATING": "queued",
    "RUNNING": "running",
    "DONE": "done",
    "ERROR": "failed",
    "CANCELLED": "cancelled",
}

# Jobs of the local testing mode live in this process: vendor id -> (client tag, job).
_LOCAL_JOBS: dict[str, tuple[str, Any]] = {}
_LOCAL_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_context():
    """qiskit-ibm-runtime 0.50 deprecated SamplerV2/EstimatorV2 in favour of client-side
    primitives that are not yet the default; the V2 primitives are the ones its job mode and
    local testing mode document, so their deprecation notice is silenced here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="qiskit_ibm_runtime")
        warnings.filterwarnings("ignore", message=".*(SamplerV2|EstimatorV2).*deprecated")
        warnings.filterwarnings("ignore", message="Properties of fake_", category=UserWarning)
        yield


def _mapped(label: str, layout) -> str:
    """A Pauli label moved onto the physical qubits the transpiler chose."""
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp(label).apply_layout(layout).paulis[0].to_label()


class IBMProvider(Provider):
    name = "ibm"
    extra = "ibm"

    def __init__(self) -> None:
        super().__init__()
        self._service = None
        self._backends: dict[str, Any] = {}

    def _sdk_check(self) -> None:
        self._require("qiskit_ibm_runtime")

    # ------------------------------------------------------------------ backends

    @staticmethod
    @functools.cache
    def _fake_names() -> list[str]:
        from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sorted(backend.name for backend in FakeProviderForBackendV2().backends())

    def _service_or_raise(self):
        if self._service is None:
            from qiskit_ibm_runtime import QiskitRuntimeService
            from qiskit_ibm_runtime.accounts import AccountNotFoundError

            try:
                self._service = QiskitRuntimeService()
            except AccountNotFoundError:
                raise CredentialsError(
                    "no IBM Quantum account found: set QISKIT_IBM_TOKEN (and "
                    "QISKIT_IBM_INSTANCE) in the environment, or save one once with "
                    "QiskitRuntimeService.save_account(token=..., instance=...); the fake_* "
                    "backends need none"
                ) from None
        return self._service

    def backends(self) -> list[str]:
        names = self._fake_names()
        try:
            service = self._service_or_raise()
        except CredentialsError:
            return names
        return sorted({*names, *(b.name for b in service.backends())})

    def _sdk_backend(self, name: str, *, offline: bool = False):
        """The SDK's backend object; ``offline`` (a dry run) uses the fake snapshot of a
        real machine (``ibm_brisbane`` -> ``fake_brisbane``) instead of the account."""
        key = (name, offline)
        if key in self._backends:
            return self._backends[key]
        if name.startswith("fake_") or offline:
            fake = name if name.startswith("fake_") else "fake_" + name.removeprefix("ibm_")
            if fake not in self._fake_names():
                more = (
                    f" (a dry run of {name!r} needs the snapshot {fake!r}, which this "
                    "qiskit-ibm-runtime lacks)"
                    if not name.startswith("fake_")
                    else "; real machines (ibm_*) with an account"
                )
                raise self._unknown_backend(name, self._fake_names(), more)
            from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

            with _quiet_context():
                backend = FakeProviderForBackendV2().backend(fake)
        else:
            service = self._service_or_raise()
            try:
                backend = service.backend(name)
            except Exception as error:
                if "not found" not in str(error).lower() and "no backend" not in str(error).lower():
                    raise
                known = sorted(b.name for b in service.backends())
                raise self._unknown_backend(name, known, "; and the fake_* snapshots") from None
        self._backends[key] = backend
        return backend

    def backend(self, name: str, *, offline: bool = False) -> BackendInfo:
        backend = self._sdk_backend(name, offline=offline)
        max_shots = _DEFAULT_MAX_SHOTS
        configuration = getattr(backend, "configuration", None)
        if callable(configuration):
            max_shots = getattr(configuration(), "max_shots", None) or max_shots
        local = name.startswith("fake_")
        return BackendInfo(
            name=name,
            num_qubits=backend.num_qubits,
            max_shots=int(max_shots),
            simulator=local,
            local=local,
        )

    # ------------------------------------------------------------------ jobs

    def prepare(
        self, backend: str, circuits: list, observables: list | None, *, offline: bool = False
    ):
        from qiskit.transpiler import generate_preset_pass_manager

        target = self._sdk_backend(backend, offline=offline)
        manager = generate_preset_pass_manager(
            optimization_level=1, backend=target, seed_transpiler=0
        )
        isa = [manager.run(circuit) for circuit in circuits]
        if observables is None:
            return isa, None
        mapped = [
            [_mapped(label, circuit.layout) for label in labels]
            for circuit, labels in zip(isa, observables, strict=True)
        ]
        return isa, mapped

    def _primitive(self, backend: str, task: Task, tag: str):
        from qiskit_ibm_runtime import EstimatorV2, SamplerV2

        mode = self._sdk_backend(backend)
        options: dict[str, Any] = {"environment": {"job_tags": [tag]}}
        if task.kind == "counts":
            options["default_shots"] = task.shots
            return SamplerV2(mode=mode, options=options)
        options["default_shots"] = task.shots
        return EstimatorV2(mode=mode, options=options)

    @staticmethod
    def _pubs(task: Task) -> list[tuple]:
        from qiskit.quantum_info import SparsePauliOp

        values = task.parameter_values or [None] * len(task.circuits)
        pubs = []
        for index, circuit in enumerate(task.circuits):
            pub: list[Any] = [circuit]
            if task.kind == "expval":
                pub.append([SparsePauliOp(label) for label in task.observables[index]])
            if values[index] is not None and circuit.num_parameters:
                pub.append(values[index])
            pubs.append(tuple(pub))
        return pubs

    def submit(self, backend: str, task: Task, tag: str) -> str:
        with _quiet_context():
            primitive = self._primitive(backend, task, tag)
            job = primitive.run(self._pubs(task))
        vendor_id = job.job_id()
        if backend.startswith("fake_"):
            with _LOCAL_LOCK:
                _LOCAL_JOBS[vendor_id] = (tag, job)
        return vendor_id

    def _job(self, backend: str, vendor_id: str):
        if backend.startswith("fake_"):
            with _LOCAL_LOCK:
                entry = _LOCAL_JOBS.get(vendor_id)
            if entry is None:
                raise UnknownJobError(
                    f"IBM local testing-mode job {vendor_id} ran inside a qrnn process that has "
                    "ended; its result went with it (submit again: it costs nothing)"
                )
            return entry[1]
        return self._service_or_raise().job(vendor_id)

    def status(self, backend: str, vendor_id: str) -> tuple[str, str | None]:
        job = self._job(backend, vendor_id)
        raw = job.status()
        name = getattr(raw, "name", str(raw)).upper()
        status = _STATUS.get(name, "running")
        detail = None
        if status == "failed":
            detail = str(getattr(job, "error_message", lambda: None)() or "the job failed")
        return status, detail

    def result(self, backend: str, vendor_id: str, task: Task) -> dict:
        job = self._job(backend, vendor_id)
        with _quiet_context():
            outcome = job.result()
        if task.kind == "counts":
            return {"counts": [dict(pub.join_data().get_counts()) for pub in outcome]}
        return {
            "expvals": [[float(v) for v in pub.data.evs] for pub in outcome],
            "stds": [[float(v) for v in pub.data.stds] for pub in outcome],
        }

    def cancel(self, backend: str, vendor_id: str) -> None:
        job = self._job(backend, vendor_id)
        job.cancel()

    def find(self, backend: str, tag: str, since: float, until: float) -> str | None:
        if backend.startswith("fake_"):
            with _LOCAL_LOCK:
                found = [vid for vid, (t, _) in _LOCAL_JOBS.items() if t == tag]
            return found[0] if found else None
        service = self._service_or_raise()
        start = datetime.datetime.fromtimestamp(since, tz=datetime.UTC)
        end = datetime.datetime.fromtimestamp(until, tz=datetime.UTC)
        jobs = service.jobs(job_tags=[tag], created_after=start, created_before=end, limit=2)
        if len(jobs) > 1:
            raise CloudError(f"IBM lists {len(jobs)} jobs tagged {tag}: check the console")
        return jobs[0].job_id() if jobs else None

    def estimate(self, backend: str, task: Task, *, offline: bool = False) -> dict:
        target = self._sdk_backend(backend, offline=offline)
        rep_delay = float(getattr(target, "default_rep_delay", None) or 250e-6)
        seconds = 0.0
        for circuit in task.circuits:
            try:
                per_shot = circuit.estimate_duration(target.target, unit="s")
            except Exception:  # a target without durations: no machine-time estimate
                seconds = None
                break
            seconds += task.shots * (float(per_shot) + rep_delay)
        entry = price("ibm_local" if backend.startswith("fake_") else "ibm_qpu")
        usd = 0.0 if backend.startswith("fake_") else None  # per-second price unverified
        return {
            "usd": usd,
            "machine_seconds": seconds,
            "basis": entry["basis"]
            + ("" if seconds is None else "; time = shots x (circuit + repetition delay)"),
            "source": entry["source"],
            "date": entry["date"],
            "note": entry.get("note"),
        }
