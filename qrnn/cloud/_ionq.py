"""IonQ through qiskit-ionq: the cloud simulator (ideal or with a machine's noise model)
and the QPUs.

The token is qiskit-ionq's own: ``QISKIT_IONQ_API_TOKEN`` (or ``IONQ_API_KEY`` /
``IONQ_API_TOKEN``, or a ``.env`` file), read by ``IonQProvider()``. qiskit-ionq retries a
job POST on HTTP 429/5xx (which can create the job twice) and retries polls without limit;
qrnn calls the client's undecorated methods instead, so a submit is sent exactly once and
polls and fetches follow qrnn's bounded retry policy. The client id travels in the job's
metadata (``qrnn_client_id``), where ``find`` looks for it in IonQ's job listing.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
from typing import Any

from qrnn.cloud._errors import CloudError, CredentialsError, SubmitInputError
from qrnn.cloud._provider import BackendInfo, Provider, Task, price
from qrnn.cloud._retry import Retryable, is_transient

__all__ = ["IonQProvider"]

# backend -> (qiskit-ionq backend, noise model, qrnn preset, circuits.native gate set or
# None for IonQ's QIS gates); QPU widths from the presets
_BACKENDS = {
    "ionq_simulator": ("ionq_simulator", "ideal", "ideal", None),
    "ionq_simulator:aria-1": ("ionq_simulator", "aria-1", "ionq-aria-1", "gpi-ms"),
    "ionq_simulator:forte-1": ("ionq_simulator", "forte-1", "ionq-forte-1", "gpi-zz"),
    "qpu.aria-1": ("ionq_qpu.aria-1", None, "ionq-aria-1", "gpi-ms"),
    "qpu.forte-1": ("ionq_qpu.forte-1", None, "ionq-forte-1", "gpi-zz"),
}
_TAG = "qrnn_client_id"  # the job metadata key that carries qrnn's client id
# Recovering a job by its tag lists the backend's jobs: IonQ API v0.4 `GET /jobs`
# (https://docs.ionq.com/api-reference/v0.4/jobs/get-jobs, spec "last updated April 30, 2026",
# read 2026-12-04; the same fields in IonQ's generated client ionq-core-python, `get_jobs.py`
# and `models/base_job.py`). Query: `target` (a backend, e.g. "qpu.forte-1", "simulator") and
# `next` (the cursor a page returned). Answer: {"jobs": [...], "next": cursor or null}; each
# job has "id", "metadata" (the strings sent with it, or null), "parent_job_id" (set on the
# children of a multi-circuit job) and "submitted_at" (ISO 8601, e.g.
# "2025-05-28T20:47:05.440Z"). The API filters by nothing in the metadata and documents no
# order, so qrnn reads up to this many of the backend's jobs and matches the tag itself.
_LISTED_AT_MOST = 1000
_MAX_SHOTS = 10_000  # qiskit-ionq's IonQQPUBackend max_shots; the simulator is held to it too
_STATES = {
    "submitted": "queued",
    "ready": "queued",
    "started": "running",
    "running": "running",
    "completed": "done",
    "failed": "failed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
}


@contextlib.contextmanager
def _without_global_equivalences():
    """Build qiskit-ionq objects without the U and CX rules it adds to Qiskit's process-wide
    ``SessionEquivalenceLibrary``: those change how every later transpile in the process
    translates gates (qrnn's device presets included). qrnn hands qiskit-ionq circuits that
    are already in IonQ's gates, so nothing here needs the rules."""
    from unittest import mock

    from qiskit_ionq import ionq_backend

    with mock.patch.object(ionq_backend.ionq_equivalence_library, "add_equivalences", lambda: None):
        yield


@functools.cache
def _client_class():
    """qiskit-ionq's client with its retry decorators taken off (see the module docstring)."""
    from qiskit_ionq.ionq_client import IonQClient

    methods = ("submit_job", "retrieve_job", "get_results", "cancel_job")
    return type(
        "OnceIonQClient",
        (IonQClient,),
        {name: getattr(IonQClient, name).__wrapped__ for name in methods},
    )


def _vendor_call(call):
    """Run a qiskit-ionq call; its retriable errors (429, 5xx, dropped connections) become
    :class:`Retryable` for qrnn's retry policy, a refused API key a :class:`CredentialsError`."""
    from qiskit_ionq.exceptions import IonQAPIError, IonQRetriableError

    try:
        return call()
    except IonQRetriableError as error:
        cause = getattr(error, "_cause", None)
        raise Retryable(str(cause or error), getattr(cause, "status_code", None)) from error
    except IonQAPIError as error:
        if error.status_code in (401, 403):
            raise _refused(error.status_code) from None
        raise


def _refused(code: int) -> CredentialsError:
    return CredentialsError(
        f"IonQ refused the API key (HTTP {code}): set a valid QISKIT_IONQ_API_TOKEN (or "
        "IONQ_API_KEY) in the environment or a .env file"
    )


def _tagged(job: dict, tag: str, since: float, until: float) -> bool:
    """Whether ``job`` (an entry of IonQ's job listing) is the one qrnn sent with ``tag``
    between the UNIX times ``since`` and ``until``. A multi-circuit job's children are not:
    their parent is the job qrnn submitted."""
    if job.get("parent_job_id") or (job.get("metadata") or {}).get(_TAG) != tag:
        return False
    submitted = datetime.datetime.fromisoformat(job["submitted_at"])
    if submitted.tzinfo is None:  # the API writes UTC
        submitted = submitted.replace(tzinfo=datetime.UTC)
    return since <= submitted.timestamp() <= until


def _native(circuit, gate_set: str):
    """``circuit`` in IonQ's native gates as ``circuits.native.to_native`` writes them (qrnn's
    GPI/GPI2/MS/ZZ gates: angles in turns, the matrices of qiskit-ionq's). A Z rotation
    left on a qubit that is never measured is dropped: nothing observes it."""
    from qiskit import QuantumCircuit

    from circuits.native import to_native

    native = to_native(circuit, gate_set)
    kept = QuantumCircuit(*native.qregs, *native.cregs, name=circuit.name)
    rotated = set()  # qubits whose trailing Z rotation was dropped
    for item in native.data:
        name = item.operation.name
        if rotated & set(item.qubits):
            raise SubmitInputError(f"a Z rotation precedes {name!r} on the same qubit")
        if name == "rz":
            rotated.update(item.qubits)
        elif name in ("gpi", "gpi2", "ionq_ms", "ionq_zz", "measure", "barrier"):
            kept.append(item)
        else:
            raise SubmitInputError(f"instruction {name!r} cannot run on IonQ")
    return kept


def _ionq_gates(circuit):
    """The same circuit with qiskit-ionq's own gate objects, which its serializer knows (they
    are not stored: QPY mistakes qiskit-ionq's ``MSGate`` for Qiskit's)."""
    from qiskit_ionq.ionq_gates import GPI2Gate, GPIGate, MSGate, ZZGate

    gates = {"gpi": GPIGate, "gpi2": GPI2Gate, "ionq_ms": MSGate, "ionq_zz": ZZGate}
    ionq = circuit.copy_empty_like()
    for item in circuit.data:
        operation = item.operation
        if operation.name in gates:
            operation = gates[operation.name](*[float(a) for a in operation.params])
        ionq.append(operation, item.qubits, item.clbits)
    return ionq


class IonQProvider(Provider):
    name = "ionq"
    extra = "ionq"
    mid_circuit = False  # as qrnn submits to it: final measurements only
    expectation_values = False  # IonQ returns counts (qrnn.backends.cloud estimates from them)
    # several circuits go in one multi-circuit job (ionq.multi-circuit.v1: IonQ runs each as a
    # child job and returns their probabilities keyed by child); qiskit-ionq sets no limit
    max_circuits = None

    def __init__(self) -> None:
        super().__init__()
        self._sdk = None

    def _sdk_check(self) -> None:
        self._require("qiskit_ionq")

    def backends(self) -> list[str]:
        return list(_BACKENDS)

    def _provider(self):
        if self._sdk is None:
            from qiskit_ionq import IonQProvider as SDKProvider

            with _without_global_equivalences():
                sdk = SDKProvider()
            if not sdk.credentials.get("token"):
                raise CredentialsError(
                    "no IonQ API key: set QISKIT_IONQ_API_TOKEN (or IONQ_API_KEY) in the "
                    "environment or a .env file; qrnn never takes it on the command line"
                )
            self._sdk = sdk
        return self._sdk

    def _backend(self, name: str):
        import warnings

        sdk_name, noise, _, gate_set = _BACKENDS[name]
        gateset = "qis" if gate_set is None else "native"
        with warnings.catch_warnings():  # its advice on transpiler levels: qrnn transpiles
            warnings.filterwarnings("ignore", message="Transpiler default optimization_level")
            provider = self._provider()
            with _without_global_equivalences():
                backend = provider.get_backend(sdk_name, gateset=gateset)
        if noise is not None:
            backend.set_options(noise_model=noise)
        backend._client = _client_class()(
            backend._provider.credentials["token"],
            backend._provider.credentials["url"],
            backend._provider.custom_headers,
        )
        return backend

    def backend(self, name: str, *, offline: bool = False) -> BackendInfo:
        if name not in _BACKENDS:
            raise self._unknown_backend(name, self.backends())
        from qrnn import devices

        preset = _BACKENDS[name][2]
        simulator = name.startswith("ionq_simulator")
        qubits = 29 if simulator else devices.get(preset).max_qubits
        if not offline:
            qubits = self._backend(name).num_qubits  # credentials are checked here
        return BackendInfo(name, qubits, _MAX_SHOTS, simulator, local=False, preset=preset)

    def prepare(self, backend: str, circuits: list, observables: list | None, *, offline=False):
        from qiskit import transpile

        if observables is not None:
            raise SubmitInputError(
                "IonQ returns counts: submit without observables (or use --provider ibm or "
                "braket for expectation values)"
            )
        gate_set = _BACKENDS[backend][3]
        if gate_set is not None:  # the machine's own gates, as circuits.native writes them
            return [_native(c, gate_set) for c in circuits], None
        basis = ["rx", "ry", "rz", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "cx", "swap"]
        prepared = [
            transpile(c, basis_gates=[*basis, "measure"], optimization_level=1) for c in circuits
        ]
        return prepared, None

    def submit(self, backend: str, task: Task, tag: str) -> str:
        from qiskit_ionq.exceptions import IonQAPIError

        sdk_backend = self._backend(backend)
        circuits = [_ionq_gates(c) for c in task.circuits]
        circuits = circuits if len(circuits) > 1 else circuits[0]
        try:
            job = sdk_backend.run(circuits, shots=task.shots, extra_metadata={_TAG: tag})
        except IonQAPIError as error:
            if error.status_code in (401, 403):  # refused at the door: no job was made
                raise _refused(error.status_code) from None
            raise
        return job.job_id()

    def status(self, backend: str, vendor_id: str) -> tuple[str, str | None]:
        client = self._backend(backend).client
        response = _vendor_call(lambda: client.retrieve_job(vendor_id))
        raw = str(response.get("status", "")).lower()
        status = _STATES.get(raw, "running")
        detail = None
        if status == "failed":
            failure = response.get("failure") or {}
            detail = str(failure.get("error") or "the job failed")
        return status, detail

    def result(self, backend: str, vendor_id: str, task: Task) -> dict:
        from qiskit_ionq.ionq_job import IonQJob

        sdk_backend = self._backend(backend)

        def fetch() -> Any:
            job = IonQJob(sdk_backend, vendor_id, sdk_backend.client)
            return job.result()

        outcome = _vendor_call(fetch)
        counts = [outcome.get_counts(index) for index in range(len(task.circuits))]
        return {"counts": [{str(k): int(v) for k, v in c.items()} for c in counts]}

    def cancel(self, backend: str, vendor_id: str) -> None:
        client = self._backend(backend).client
        _vendor_call(lambda: client.cancel_job(vendor_id))

    def find(self, backend: str, tag: str, since: float, until: float) -> str | None:
        from qiskit_ionq.exceptions import IonQAPIError

        client = self._backend(backend).client
        target = _BACKENDS[backend][0].removeprefix("ionq_")  # as qiskit-ionq posts it
        params: dict[str, str] = {"target": target}

        def page(query: dict) -> dict:
            response = client.get_with_retry(
                client.make_path("jobs"), params=query, headers=client.api_headers
            )
            IonQAPIError.raise_for_status(response)  # 429/5xx: IonQRetriableError
            return response.json()

        found: list[str] = []
        listed = 0
        while True:
            try:
                answer = _vendor_call(lambda query=dict(params): page(query))
            except IonQAPIError as error:
                if is_transient(error):  # a 500 qiskit-ionq does not class as retriable
                    raise
                raise CloudError(f"IonQ refused to list {target} jobs: {error}") from None
            jobs = answer.get("jobs") or []
            listed += len(jobs)
            found += [job["id"] for job in jobs if _tagged(job, tag, since, until)]
            cursor = answer.get("next")
            if not cursor:
                break
            if listed >= _LISTED_AT_MOST:
                if found:
                    break
                raise CloudError(
                    f"none of the {listed} {target} jobs IonQ listed first carries the tag "
                    f"(the listing has more)"
                )
            params["next"] = cursor
        if len(found) > 1:
            raise CloudError(f"IonQ lists {len(found)} jobs tagged {tag}: check the console")
        return found[0] if found else None

    def estimate(self, backend: str, task: Task, *, offline: bool = False) -> dict:
        """IonQ publishes no direct price (prices.toml): offline, the estimate has machine time
        only; with an account, IonQ's own estimate at the account's rates is added."""
        from qrnn import devices

        preset = _BACKENDS[backend][2]
        entry = price("ionq_simulator" if backend.startswith("ionq_simulator") else "ionq_qpu")
        machine = devices.get(preset)
        seconds = None
        if not backend.startswith("ionq_simulator"):
            seconds = 0.0
            for circuit in task.circuits:
                sized = machine.with_qubits(max(circuit.num_qubits, 1))
                seconds += task.shots * sized.duration(sized.transpile(circuit))
        cost = {
            "usd": None,  # IonQ's prices could not be verified (prices.toml)
            "machine_seconds": seconds,
            "basis": entry["basis"],
            "source": entry["source"],
            "date": entry["date"],
            "note": entry.get("note"),
        }
        return cost if offline else cost | self._account_estimate(backend, task)

    def _account_estimate(self, backend: str, task: Task) -> dict:
        """IonQ's estimate of the job at this account's rates, through qiskit-ionq's
        ``estimate_job``: IonQ API v0.4 ``GET /jobs/estimate``
        (https://docs.ionq.com/api-reference/v0.4/jobs/get-job-estimate, read 2026-12-04:
        query backend, type, qubits, shots, 1q_gates, 2q_gates; answer estimated_cost,
        cost_unit, estimated_at, rate_information). IonQ's guide says the rates and the unit
        (credits or USD) depend on the account's agreement, so only a USD answer is a price.
        A job of several circuits is asked about with their gates summed."""
        client = self._backend(backend).client
        target = _BACKENDS[backend][0].removeprefix("ionq_")
        one = sum(_gates(c, 1) for c in task.circuits)
        two = sum(_gates(c, 2) for c in task.circuits)
        kind = "ionq.multi-circuit.v1" if len(task.circuits) > 1 else "ionq.circuit.v1"
        try:
            answer = _vendor_call(
                lambda: client.estimate_job(
                    backend=target,
                    oneq_gates=one,
                    twoq_gates=two,
                    qubits=max(c.num_qubits for c in task.circuits),
                    shots=task.shots,
                    job_type=kind,
                )
            )
        except Exception as error:  # an estimate informs; it never stops a submission
            return {"note": f"IonQ's own estimate could not be had ({error}); {_NO_PRICE}"}
        figure = f"{answer.cost} {answer.cost_unit}"
        when = answer.estimated_at.isoformat() if answer.estimated_at else "when submitted"
        basis = f"IonQ's estimate at this account's rates: {figure} for {one} one-qubit and "
        basis += f"{two} two-qubit gates x {task.shots} shots"
        priced = isinstance(answer.cost, int | float) and str(answer.cost_unit).lower() == "usd"
        usd = answer.cost if priced else None
        return {
            "usd": None if usd is None else float(usd),
            "basis": basis,
            "source": "IonQ API v0.4 GET /jobs/estimate",
            "date": when,
            "note": None if usd is not None else f"IonQ's estimate is in {answer.cost_unit}",
        }


_NO_PRICE = "IonQ publishes no direct price"


def _gates(circuit, qubits: int) -> int:
    """How many gates of ``circuit`` act on ``qubits`` qubits (measurements and barriers are
    not gates)."""
    return sum(
        1
        for item in circuit.data
        if item.operation.name not in ("measure", "barrier") and len(item.qubits) == qubits
    )
