"""Amazon Braket through amazon-braket-sdk: its ``LocalSimulator`` (offline, here) and QPUs
by ARN (IonQ Forte).

Circuits are transpiled to gates Braket's circuits have one-to-one and rebuilt as
``braket.circuits.Circuit``s; expectation values are Braket result types
(``Circuit.expectation``), estimated by Braket from the shots. Credentials are boto3's own
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or ``AWS_PROFILE`` and ``~/.aws``), and the
client id goes to the task as the tag ``qrnn-client-id``: ``recover`` finds a task by it with
Braket's ``SearchQuantumTasks`` (whose summaries carry the tags).
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
from typing import Any

from qrnn.cloud._errors import CloudError, CredentialsError, SubmitInputError, UnknownJobError
from qrnn.cloud._provider import BackendInfo, Provider, Task, price

__all__ = ["BraketProvider"]

LOCAL = "local"
# ARN -> (qubits, qrnn preset, price key); the QPUs' figures as the presets cite them.
_QPUS = {
    "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1": (36, "ionq-forte-1", "braket_ionq_forte"),
}
# qiskit gate -> Braket Circuit method; the angles have the same meaning on both sides
# (rx(t) = exp(-i t X/2), rxx(t) = exp(-i t XX/2) = Braket's xx(t), ...).
_GATES = {
    "h": "h", "x": "x", "y": "y", "z": "z", "s": "s", "sdg": "si", "t": "t", "tdg": "ti",
    "sx": "v", "sxdg": "vi", "rx": "rx", "ry": "ry", "rz": "rz", "p": "phaseshift",
    "cx": "cnot", "cz": "cz", "swap": "swap", "rxx": "xx", "ryy": "yy", "rzz": "zz",
}  # fmt: skip
_STATES = {
    "CREATED": "queued",
    "QUEUED": "queued",
    "RUNNING": "running",
    "COMPLETED": "done",
    "FAILED": "failed",
    "CANCELLING": "running",
    "CANCELLED": "cancelled",
}
_LOCAL_TASKS: dict[str, tuple[str, Any]] = {}
TAG = "qrnn-client-id"  # the task tag that carries the client id
# At most this many of the device's tasks are looked through for a tag (the search's filters
# on the creation time take a format Braket does not document, so the window is checked here)
_SEARCH_LIMIT = 1000
_LOCK = threading.Lock()


def _import_braket_tasks() -> None:
    """Import ``braket.tasks`` (``braket.devices`` and ``braket.aws`` import it) so that it
    also works where IPython is loaded, as in every Jupyter kernel.

    amazon-braket-sdk before 1.126.1 looks up ``vars(IPython)["get_ipython"]`` when
    ``braket.tasks`` is imported (to apply nest_asyncio inside Jupyter), but IPython 9.17 and
    later define that name lazily through a module ``__getattr__``, so the import raised
    ``KeyError: 'get_ipython'`` (amazon-braket-sdk-python issue 1345). The name is put where
    braket looks for it for the length of the import only.
    """
    ipython = sys.modules.get("IPython")
    if "braket.tasks" in sys.modules or ipython is None or "get_ipython" in vars(ipython):
        importlib.import_module("braket.tasks")
        return
    namespace = vars(ipython)
    namespace["get_ipython"] = ipython.get_ipython
    try:
        importlib.import_module("braket.tasks")
    finally:
        namespace.pop("get_ipython", None)


class BraketProvider(Provider):
    name = "braket"
    extra = "braket"
    max_circuits = 1  # one circuit per Braket task
    mid_circuit = False  # as qrnn submits to it: final measurements only
    one_basis_per_job = True  # a task's result types are estimated from the same shots

    def _sdk_check(self) -> None:
        self._require("braket.circuits")
        _import_braket_tasks()

    def backends(self) -> list[str]:
        return [LOCAL, *_QPUS]

    def backend(self, name: str, *, offline: bool = False) -> BackendInfo:
        if name == LOCAL:
            from braket.devices import LocalSimulator

            properties = LocalSimulator().properties
            return BackendInfo(
                name=name,
                num_qubits=properties.paradigm.qubitCount,
                max_shots=int(min(properties.service.shotsRange[1], 10**9)),
                simulator=True,
                local=True,
                preset="ideal",
            )
        if name not in _QPUS:
            raise self._unknown_backend(name, self.backends(), " (or its ARN's region)")
        qubits, preset, _ = _QPUS[name]
        from qrnn import devices

        max_shots = devices.get(preset).max_shots
        if not offline:
            device = self._device(name)
            qubits = device.properties.paradigm.qubitCount
            max_shots = int(device.properties.service.shotsRange[1])
        return BackendInfo(name, qubits, max_shots, simulator=False, local=False, preset=preset)

    def _session(self, arn: str):
        """Braket's ``AwsSession`` in the device's region (the ARN's fourth field), after
        checking that boto3 finds credentials."""
        import boto3
        from braket.aws import AwsSession

        if boto3.Session().get_credentials() is None:
            raise CredentialsError(
                "no AWS credentials for Amazon Braket: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with ~/.aws/credentials) and "
                "AWS_DEFAULT_REGION=us-east-1; the local backend needs none"
            )
        return AwsSession(braket_client=self._client(arn))

    @staticmethod
    def _client(arn: str):
        import boto3

        return boto3.client("braket", region_name=arn.split(":")[3])

    def _device(self, arn: str):
        from braket.aws import AwsDevice

        return AwsDevice(arn, aws_session=self._session(arn))

    def prepare(self, backend: str, circuits: list, observables: list | None, *, offline=False):
        from qiskit import transpile

        basis = [*_GATES, "measure"]  # (barriers pass through)
        for labels in observables or []:
            _check_one_basis(labels)
        prepared = [transpile(c, basis_gates=basis, optimization_level=1) for c in circuits]
        return prepared, observables  # no layout: qubit k stays qubit k

    @staticmethod
    def _circuit(circuit, labels: list[str] | None):
        """The Braket circuit of a prepared qiskit circuit (final measurements dropped:
        Braket measures every qubit), with one expectation result type per label."""
        from braket.circuits import Circuit, Observable

        program = Circuit()
        for item in circuit.data:
            name = item.operation.name
            if name in ("measure", "barrier"):
                continue
            qubits = [circuit.find_bit(q).index for q in item.qubits]
            angles = [float(a) for a in item.operation.params]
            if name not in _GATES:
                raise SubmitInputError(f"gate {name!r} has no Braket equivalent")
            getattr(program, _GATES[name])(*qubits, *angles)
        if not program.instructions:
            program.i(0)  # Braket refuses an empty circuit; the identity changes nothing
        for label in labels or []:
            factors = [(q, p) for q, p in enumerate(reversed(label)) if p != "I"]
            if not factors:
                raise SubmitInputError(f"observable {label!r} is the identity: nothing to measure")
            observable = getattr(Observable, factors[0][1])()
            for _, letter in factors[1:]:
                observable = observable @ getattr(Observable, letter)()
            program.expectation(observable=observable, target=[q for q, _ in factors])
        return program

    def submit(self, backend: str, task: Task, tag: str) -> str:
        (circuit,) = task.circuits  # one per task (checked in prepare)
        labels = task.observables[0] if task.kind == "expval" else None
        program = self._circuit(circuit, labels)
        if backend == LOCAL:
            from braket.devices import LocalSimulator

            run = LocalSimulator().run(program, shots=task.shots)
            with _LOCK:
                _LOCAL_TASKS[run.id] = (tag, run)
            return run.id
        device = self._device(backend)
        return device.run(program, shots=task.shots, tags={TAG: tag}).id

    def _task(self, backend: str, vendor_id: str):
        if backend == LOCAL:
            with _LOCK:
                entry = _LOCAL_TASKS.get(vendor_id)
            if entry is None:
                raise UnknownJobError(
                    f"Braket local-simulator task {vendor_id} ran inside a qrnn process that "
                    "has ended; its result went with it (submit again: it costs nothing)"
                )
            return entry[1]
        from braket.aws import AwsQuantumTask

        return AwsQuantumTask(vendor_id, aws_session=self._session(backend))

    def status(self, backend: str, vendor_id: str) -> tuple[str, str | None]:
        run = self._task(backend, vendor_id)
        state = _STATES.get(str(run.state()).upper(), "running")
        detail = None
        if state == "failed":
            reason = getattr(run, "metadata", lambda: {})() or {}
            detail = str(reason.get("failureReason", "the task failed"))
        return state, detail

    def result(self, backend: str, vendor_id: str, task: Task) -> dict:
        outcome = self._task(backend, vendor_id).result()
        if outcome is None:  # Braket's answer for a failed or timed-out task
            raise UnknownJobError(f"Braket returned no result for task {vendor_id}")
        (circuit,) = task.circuits
        if task.kind == "expval":
            values = [float(v) for v in outcome.values]
            stds = [math.sqrt(max(0.0, 1.0 - v * v) / task.shots) for v in values]
            return {"expvals": [values], "stds": [stds]}
        return {"counts": [_qiskit_counts(circuit, outcome.measurement_counts, outcome)]}

    def cancel(self, backend: str, vendor_id: str) -> None:
        self._task(backend, vendor_id).cancel()

    def find(self, backend: str, tag: str, since: float, until: float) -> str | None:
        if backend == LOCAL:
            with _LOCK:
                found = [vid for vid, (t, _) in _LOCAL_TASKS.items() if t == tag]
            return found[0] if found else None
        client = self._session(backend).braket_client
        pages = client.get_paginator("search_quantum_tasks").paginate(
            filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [backend]}],
            PaginationConfig={"MaxItems": _SEARCH_LIMIT},
        )
        found = [
            task["quantumTaskArn"]
            for page in pages
            for task in page.get("quantumTasks", [])
            if (task.get("tags") or {}).get(TAG) == tag
            and since <= task["createdAt"].timestamp() <= until
        ]
        if len(found) > 1:
            raise CloudError(f"Braket lists {len(found)} tasks tagged {tag}: check the console")
        return found[0] if found else None

    def estimate(self, backend: str, task: Task, *, offline: bool = False) -> dict:
        key = "braket_local" if backend == LOCAL else _QPUS[backend][2]
        entry = price(key)
        tasks = len(task.circuits)
        usd = entry["usd_per_task"] * tasks + entry["usd_per_shot"] * task.shots * tasks
        seconds = None
        preset = None if backend == LOCAL else _QPUS[backend][1]
        if preset is not None:
            from qrnn import devices

            machine = devices.get(preset)
            seconds = sum(
                task.shots
                * machine.with_qubits(max(c.num_qubits, 1)).duration(
                    machine.with_qubits(max(c.num_qubits, 1)).transpile(c)
                )
                for c in task.circuits
            )
        return {
            "usd": round(usd, 6),
            "machine_seconds": seconds,
            "basis": f"{entry['basis']}: ${entry['usd_per_task']}/task + "
            f"${entry['usd_per_shot']}/shot",
            "source": entry["source"],
            "date": entry["date"],
        }


def _check_one_basis(labels: list[str]) -> None:
    """Braket estimates every observable of a task from the same shots, so they must
    measure each qubit in one basis (qubit-wise commute)."""
    for q in range(len(labels[0]) if labels else 0):
        letters = {label[-1 - q] for label in labels} - {"I"}
        if len(letters) > 1:
            raise SubmitInputError(
                f"observables {labels} measure qubit {q} in bases {sorted(letters)}; Braket "
                "estimates a task's observables from the same shots, so submit those that "
                "differ on a qubit separately"
            )


def _qiskit_counts(circuit, braket_counts: dict, outcome) -> dict[str, int]:
    """Braket's counts (qubit 0 leftmost, every qubit a gate touched) as qiskit's: over the
    circuit's classical bits, clbit 0 rightmost; a qubit no gate touched reads 0."""
    measured = list(outcome.measured_qubits)
    targets = {}  # clbit -> position in Braket's bitstring
    for item in circuit.data:
        if item.operation.name == "measure":
            qubit = circuit.find_bit(item.qubits[0]).index
            if qubit in measured:  # Braket measures the qubits its gates touch
                targets[circuit.find_bit(item.clbits[0]).index] = measured.index(qubit)
    counts: dict[str, int] = {}
    for bits, n in braket_counts.items():
        key = "".join(
            bits[targets[c]] if c in targets else "0" for c in reversed(range(circuit.num_clbits))
        )
        counts[key] = counts.get(key, 0) + n
    return counts
