"""IonQ through the real qiskit-ionq client, against a stand-in of IonQ's v0.4 REST API
served by `responses`: what is sent, what comes back, and the faults of a real network."""

from __future__ import annotations

import json
import math
import re
import time
import uuid

import pytest
import requests
import responses
import torch
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

import qrnn.cloud as cloud
from qrnn.cloud import JobStore
from qrnn.cloud.jobs import default_path

API = "https://api.ionq.co/v0.4"
TOKEN = "ionq-test-token-7d41c9"


class FakeIonQ:
    """IonQ's REST API as qiskit-ionq 1.1 calls it: jobs are created by POST, report
    ``submitted`` then ``completed`` (or what a test sets), and answer with the
    probabilities a test gives (little-endian integers as keys, as IonQ's API does).
    ``GET /jobs`` lists them newest first, ``page`` a page, in the shape IonQ documents
    (https://docs.ionq.com/api-reference/v0.4/jobs/get-jobs), with ``others``: jobs that
    someone else posted."""

    def __init__(self, mock: responses.RequestsMock, probabilities: dict[str, float]):
        self.posts: list[dict] = []
        self.headers: list[dict] = []
        self.states: dict[str, list[str]] = {}
        # path kind -> HTTP codes (or exceptions, raised as the network would) to answer first
        self.failures: dict[str, list] = {}
        self.probabilities = probabilities
        self.others: list[dict] = []
        self.page = 2
        self.listings: list[dict] = []  # the query of every GET /jobs
        mock.add_callback(responses.POST, f"{API}/jobs", callback=self._create)
        listing = re.compile(rf"{re.escape(API)}/jobs(\?.*)?$")
        mock.add_callback(responses.GET, listing, callback=self._list)
        self.unit = "USD"  # the unit of this account's estimates
        self.estimates: list[dict] = []  # the query of every GET /jobs/estimate
        mock.add_callback(responses.GET, f"{API}/jobs/estimate", callback=self._estimate)
        job = re.compile(rf"{re.escape(API)}/jobs/([0-9a-f-]+)$")
        mock.add_callback(responses.GET, job, callback=self._job)
        results = re.compile(rf"{re.escape(API)}/jobs/([0-9a-f-]+)/results/probabilities.*")
        mock.add_callback(responses.GET, results, callback=self._results)
        cancel = re.compile(rf"{re.escape(API)}/jobs/([0-9a-f-]+)/status/cancel")
        mock.add_callback(responses.PUT, cancel, callback=self._cancel)
        backends = re.compile(rf"{re.escape(API)}/backends/(.+)")
        mock.add_callback(responses.GET, backends, callback=self._backend)

    def _fail(self, kind: str):
        codes = self.failures.get(kind)
        if codes:
            code = codes.pop(0)
            if isinstance(code, Exception):
                return code
            return code, {}, json.dumps({"error": {"type": "busy", "message": f"HTTP {code}"}})
        return None

    def _estimate(self, request):
        """A cost at made-up rates, in the shape https://docs.ionq.com/api-reference/v0.4/
        jobs/get-job-estimate documents."""
        from urllib.parse import parse_qs, urlsplit

        if failed := self._fail("estimate"):
            return failed
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.estimates.append(query)
        rates = {"job_cost_minimum": 1.0, "cost_1q_gate": 1e-4, "cost_2q_gate": 1e-3}
        shots = int(query["shots"])
        gates = rates["cost_1q_gate"] * int(query["1q_gates"]) + rates["cost_2q_gate"] * int(
            query["2q_gates"]
        )
        answer = {
            "input_values": query, "estimated_at": "2026-12-04T15:00:00.000Z",
            "cost_unit": self.unit, "rate_information": rates | {"organization": "test"},
            "estimated_cost": max(rates["job_cost_minimum"], gates * shots),
            "estimated_execution_time": 1.5, "current_predicted_queue_time": 60,
        }  # fmt: skip
        return 200, {}, json.dumps(answer)

    def _list(self, request):
        from urllib.parse import parse_qs, urlsplit

        if failed := self._fail("list"):
            return failed
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.listings.append(query)
        ours = [listed_job(p["id"], p["metadata"], p["backend"], p["at"]) for p in self.posts
                if "id" in p]  # fmt: skip
        jobs = sorted(ours + self.others, key=lambda job: job["submitted_at"], reverse=True)
        jobs = [job for job in jobs if job["backend"] == query.get("target", job["backend"])]
        start = next(i for i, job in enumerate(jobs) if job["id"] == query["next"]) if (
            "next" in query) else 0  # fmt: skip
        page = jobs[start : start + self.page]
        cursor = jobs[start + self.page]["id"] if start + self.page < len(jobs) else None
        return 200, {}, json.dumps({"jobs": page, "next": cursor})

    def _create(self, request):
        self.headers.append(dict(request.headers))
        self.posts.append(json.loads(request.body))
        if failed := self._fail("post"):
            return failed
        job_id = str(uuid.uuid4())
        self.states[job_id] = ["submitted", "completed"]
        self.posts[-1]["id"] = job_id
        self.posts[-1]["at"] = time.time()
        if "circuits" in self.posts[-1]["input"]:  # a multi-circuit job: a child per circuit
            self.posts[-1]["children"] = [
                str(uuid.uuid4()) for _ in self.posts[-1]["input"]["circuits"]
            ]
        return 200, {}, json.dumps({"id": job_id, "status": "submitted"})

    def _job(self, request):
        if failed := self._fail("get"):
            return failed
        job_id = request.url.rsplit("/", 1)[-1]
        posted = next(p for p in self.posts if p.get("id") == job_id)
        states = self.states[job_id]
        state = states.pop(0) if len(states) > 1 else states[0]
        body = {"id": job_id, "status": state, "metadata": posted["metadata"], "stats": {}}
        if state == "completed":
            url = f"/v0.4/jobs/{job_id}/results/probabilities"
            body["results"] = {"probabilities": {"url": url}}
            if "children" in posted:
                body["child_job_ids"] = posted["children"]
        if state == "failed":
            body["failure"] = {"error": "ion chain lost", "code": "ExecutionError"}
        return 200, {}, json.dumps(body)

    def _results(self, request):
        if failed := self._fail("results"):
            return failed
        job_id = request.url.split("/jobs/")[1].split("/")[0]
        posted = next(p for p in self.posts if p.get("id") == job_id)
        program = posted["input"]
        if "children" in posted:  # probabilities keyed by child job, in circuit order
            answers = {
                child: _run_native({"qubits": program["qubits"], "circuit": c["circuit"]})
                for child, c in zip(posted["children"], program["circuits"], strict=True)
            }
            return 200, {}, json.dumps(answers)
        if program.get("gateset") == "native":
            return 200, {}, json.dumps(_run_native(program))
        return 200, {}, json.dumps(self.probabilities)

    def _cancel(self, request):
        job_id = request.url.split("/jobs/")[1].split("/")[0]
        self.states[job_id] = ["canceled"]
        return 200, {}, json.dumps({"id": job_id, "status": "canceled"})

    def _backend(self, request):
        name = request.url.rsplit("/", 1)[-1]
        qubits = {"simulator": 29, "qpu.aria-1": 25, "qpu.forte-1": 36}.get(name, 11)
        return 200, {}, json.dumps({"backend": name, "qubits": qubits, "status": "available"})


def listed_job(job_id: str, metadata: dict | None, backend: str, at: float, **fields) -> dict:
    """One entry of IonQ's v0.4 job listing, with the fields its documentation shows."""
    import datetime

    submitted = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return {
        "id": job_id, "status": "submitted", "type": "ionq.circuit.v1", "backend": backend,
        "dry_run": False, "submitter_id": "64b03577072d45001c85e9c4",
        "project_id": "1333d459-cf47-4a5e-acc1-8d4eb4f7b025", "parent_job_id": None,
        "session_id": None, "metadata": metadata, "name": None,
        "submitted_at": submitted.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "started_at": None, "completed_at": None, "predicted_execution_duration_ms": None,
        "predicted_wait_time_ms": None, "execution_duration_ms": None, "shots": 100,
        "noise": {"model": "ideal"}, "failure": None, "settings": {"compilation": {}},
        "stats": {}, "results": None, "output": {},
    } | fields  # fmt: skip


def _run_native(program: dict) -> dict[str, float]:
    """What IonQ's ideal simulator answers for a posted native-gate program: its outcome
    probabilities, rebuilt with qiskit-ionq's own gate classes (the matrices IonQ documents)."""
    from qiskit_ionq.ionq_gates import GPI2Gate, GPIGate, MSGate, ZZGate

    circuit = QuantumCircuit(program["qubits"])
    for gate in program["circuit"]:
        if gate["gate"] in ("gpi", "gpi2"):
            cls = GPIGate if gate["gate"] == "gpi" else GPI2Gate
            circuit.append(cls(gate["phase"]), [gate["target"]])
        elif gate["gate"] == "ms":
            circuit.append(MSGate(*gate["phases"], gate["angle"]), gate["targets"])
        else:
            circuit.append(ZZGate(gate["angle"]), gate["targets"])
    return _ionq_probabilities(circuit)


def _bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.7, 1)
    return circuit


def _ionq_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """The circuit's exact outcome probabilities keyed as IonQ's API keys them: the outcome
    as an integer, qubit 0 the least significant bit."""
    probabilities = Statevector(circuit).probabilities()
    return {str(i): float(p) for i, p in enumerate(probabilities) if p > 1e-12}


@pytest.fixture
def ionq(monkeypatch):
    monkeypatch.setenv("QISKIT_IONQ_API_TOKEN", TOKEN)
    monkeypatch.chdir(default_path().parent.parent)  # no stray .env file is read
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeIonQ(mock, _ionq_probabilities(_bell()))


def test_a_job_is_sent_once_with_its_tag_and_its_counts_come_back(ionq):
    shots = 4000
    handle = cloud.submit(_bell(), provider="ionq", backend="ionq_simulator:aria-1", shots=shots)
    (post,) = ionq.posts
    assert post["metadata"]["qrnn_client_id"] == handle.id
    assert post["shots"] == shots and post["backend"] == "simulator"
    assert post["noise"]["model"] == "aria-1"
    assert ionq.headers[0]["Authorization"] == f"apiKey {TOKEN}"  # the SDK's own credential
    assert handle.status() == "queued"  # the API said "submitted"
    (counts,) = handle.result(timeout=30)["counts"]
    assert sum(counts.values()) == shots
    exact = Statevector(_bell()).probabilities_dict()
    for key, p in exact.items():
        n = counts.get(key, 0)
        assert abs(n - p * shots) <= 5 * math.sqrt(shots * p * (1 - p)) + 1, (key, n, p)
    job = handle.job()
    assert job.status == "done" and job.vendor_id == post["id"]
    assert [s for _, s, _ in job.history] == ["pending", "queued", "done", "done"]
    assert job.history[-1][2] == "result fetched"


def test_a_submission_records_ionqs_own_estimate_and_a_dry_run_asks_nothing(ionq):
    """IonQ publishes no direct price: a dry run says so and shows machine time only; a
    submission records what IonQ's estimate endpoint answers for the gates it is sent."""
    from circuits import ansatz

    circuit, _ = ansatz.get("hardware_efficient", n_qubits=3, reps=2)
    circuit = circuit.assign_parameters([0.1 * (k + 1) for k in range(circuit.num_parameters)])
    plan = cloud.dry_run(circuit, provider="ionq", backend="qpu.forte-1", shots=500)
    assert plan.cost["usd"] is None and plan.cost["date"] == "unverified"
    assert plan.cost["machine_seconds"] > 0 and ionq.estimates == [] and ionq.posts == []

    handle = cloud.submit(circuit, provider="ionq", backend="qpu.forte-1", shots=500)
    (post,) = ionq.posts
    (asked,) = ionq.estimates
    sent = post["input"]["circuit"]  # IonQ's native JSON: "target" or "targets"
    one, two = (sum(1 for g in sent if ("targets" in g) == (n == 2)) for n in (1, 2))
    assert two > 0 and one > 0
    assert asked == {"backend": "qpu.forte-1", "type": "ionq.circuit.v1", "qubits": "3",
                     "shots": "500", "1q_gates": str(one), "2q_gates": str(two),
                     "error_mitigation": "false", "session": "false"}  # fmt: skip
    cost = handle.job().cost
    assert math.isclose(cost["usd"], max(1.0, (1e-4 * one + 1e-3 * two) * 500))
    assert cost["source"] == "IonQ API v0.4 GET /jobs/estimate" and cost["date"].startswith("2026")
    assert cost["machine_seconds"] == plan.cost["machine_seconds"]

    ionq.unit = "credits"  # an account billed in credits: no dollar figure
    credits = cloud.submit(circuit, provider="ionq", backend="qpu.forte-1", shots=500).job().cost
    assert credits["usd"] is None and "credits" in credits["note"]
    ionq.failures = {"estimate": [404]}  # no estimate: the submission goes all the same
    missing = cloud.submit(circuit, provider="ionq", backend="qpu.forte-1", shots=500).job()
    assert missing.cost["usd"] is None and "could not be had" in missing.cost["note"]
    assert len(ionq.posts) == 3


def test_polls_and_fetches_are_retried_on_429_5xx_and_timeouts(ionq):
    handle = cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=100)
    ionq.failures = {
        "get": [429, requests.ReadTimeout("poll timed out"), 503],
        "results": [requests.ConnectTimeout("fetch timed out"), 502],
    }
    assert sum(handle.result(timeout=30)["counts"][0].values()) == 100
    assert ionq.failures == {"get": [], "results": []}


def test_an_api_that_keeps_failing_is_a_clear_error_and_the_job_is_kept(ionq):
    handle = cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=100)
    ionq.failures = {"get": [503] * 20}
    with pytest.raises(cloud.TransientError, match=r"polling job .* failed 4 times.*503"):
        handle.status()
    assert handle.job().status == "queued"
    ionq.failures = {}
    assert handle.status() in ("queued", "done")


def test_a_submit_answered_with_503_is_not_sent_again(ionq):
    ionq.failures = {"post": [503, 503]}
    with pytest.raises(cloud.CloudError, match="not retried"):
        cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=10)
    assert len(ionq.posts) == 1  # qiskit-ionq alone would have posted up to 5 times
    with JobStore(default_path()) as store:
        (job,) = store.list()
        assert job.status == "pending"
        (recovered,) = cloud.recover(store)
    assert (
        recovered.status == "unknown" and "the vendor has no job with this tag" in recovered.error
    )
    assert "check the vendor's console for a job between" in recovered.error
    assert ionq.listings == [{"target": "simulator"}]  # the job never reached IonQ


def test_a_job_killed_after_submitting_is_found_by_its_tag_in_ionqs_job_listing(ionq, monkeypatch):
    """The job reached IonQ but the process died before recording its id: `recover` pages
    through the backend's jobs and takes the one carrying the client id, sent in the window;
    while IonQ cannot be asked, the row stays pending."""

    def dies(*args, **kwargs):
        raise KeyboardInterrupt  # stands for the kill: the row stays pending

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(JobStore, "mark_submitted", dies)
        cloud.submit(_bell(), provider="ionq", backend="qpu.forte-1", shots=100)
    (post,) = ionq.posts
    tag = post["metadata"]["qrnn_client_id"]
    now = time.time()
    ionq.others = [  # the decoys: a stranger's tag, ours a day early, a child, another QPU
        listed_job(str(uuid.uuid4()), {"qrnn_client_id": str(uuid.uuid4())}, "qpu.forte-1", now),
        listed_job(str(uuid.uuid4()), {"qrnn_client_id": tag}, "qpu.forte-1", now - 86400),
        listed_job(str(uuid.uuid4()), {"qrnn_client_id": tag}, "qpu.forte-1", now,
                   parent_job_id=post["id"]),
        listed_job(str(uuid.uuid4()), None, "qpu.forte-1", now - 60),
        listed_job(str(uuid.uuid4()), {"qrnn_client_id": tag}, "qpu.aria-1", now),
    ]  # fmt: skip
    ionq.failures = {"list": [503] * 20}
    with JobStore(default_path()) as store:
        (waiting,) = cloud.recover(store)
        assert waiting.status == "pending" and waiting.vendor_id is None
        assert "not looked up" in waiting.history[-1][2] and "503" in waiting.history[-1][2]
        ionq.failures = {"list": [429, requests.ConnectTimeout("listing timed out")]}
        (recovered,) = cloud.recover(store)
    assert recovered.vendor_id == post["id"] and recovered.status == "queued"
    # five jobs on Forte, two a page: the cursor of each page asked for the next
    assert [q.get("next") is None for q in ionq.listings] == [True, False, False]
    assert {q["target"] for q in ionq.listings} == {"qpu.forte-1"}
    handle = cloud.JobHandle(recovered.id, default_path())
    assert sum(handle.result(timeout=30)["counts"][0].values()) == 100
    assert len(ionq.posts) == 1  # found, not sent again


def test_recovery_reads_a_bounded_part_of_a_long_job_listing(ionq, monkeypatch):
    from qrnn.cloud import _ionq

    monkeypatch.setattr(_ionq, "_LISTED_AT_MOST", 4)
    ionq.failures = {"post": [503]}
    with pytest.raises(cloud.CloudError, match="not retried"):
        cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=10)
    ionq.others = [listed_job(str(uuid.uuid4()), None, "simulator", time.time()) for _ in range(9)]
    with JobStore(default_path()) as store:
        (recovered,) = cloud.recover(store)
    assert recovered.status == "unknown" and len(ionq.listings) == 2
    assert "none of the 4 simulator jobs IonQ listed first carries the tag" in recovered.error


def test_a_failed_job_is_recorded_with_the_vendors_reason(ionq):
    handle = cloud.submit(_bell(), provider="ionq", backend="qpu.aria-1", shots=100)
    ionq.states[handle.job().vendor_id] = ["failed"]
    with pytest.raises(cloud.JobFailedError, match="failed: ion chain lost"):
        handle.result(timeout=30)
    assert handle.job().status == "failed" and handle.job().error == "ion chain lost"


def test_a_cancelled_job_is_recorded_as_such(ionq):
    handle = cloud.submit(_bell(), provider="ionq", backend="qpu.forte-1", shots=100)
    assert handle.cancel() == "cancelled"
    with pytest.raises(cloud.JobFailedError, match="is cancelled"):
        handle.result(timeout=30)


def test_bad_input_for_ionq(ionq, monkeypatch):
    wide = QuantumCircuit(30)
    with pytest.raises(cloud.SubmitInputError, match="uses 30 qubits but ionq backend"):
        cloud.submit(wide, provider="ionq", backend="ionq_simulator", shots=10)
    with pytest.raises(cloud.SubmitInputError, match="more than ionq backend"):
        cloud.submit(_bell(), provider="ionq", backend="qpu.aria-1", shots=10_001)
    with pytest.raises(cloud.UnknownBackendError, match="known: ionq_simulator, "):
        cloud.submit(_bell(), provider="ionq", backend="harmony", shots=10)
    monkeypatch.delenv("QISKIT_IONQ_API_TOKEN")
    with pytest.raises(cloud.CredentialsError, match="QISKIT_IONQ_API_TOKEN"):
        cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=10)
    assert ionq.posts == [] and not default_path().exists()


def test_a_refused_api_key_says_which_variable_sets_it(ionq):
    ionq.failures = {"post": [401]}  # IonQ made no job: the row is closed, not left pending
    with pytest.raises(
        cloud.CredentialsError, match=r"refused the API key .*QISKIT_IONQ_API_TOKEN"
    ):
        cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=10)
    handle = cloud.submit(_bell(), provider="ionq", backend="ionq_simulator", shots=10)
    ionq.failures = {"get": [403]}
    with pytest.raises(cloud.CredentialsError, match=r"HTTP 403\): set a valid"):
        handle.status()
    with JobStore(default_path()) as store:
        refused, sent = sorted(store.list(), key=lambda job: job.created_at)
    assert refused.status == "failed" and "not submitted" in refused.error
    assert sent.status == "queued" and TOKEN not in refused.error


def test_the_token_reaches_only_the_vendor(ionq, capsys, caplog):
    from qrnn.cli import main

    caplog.set_level("DEBUG")
    path = default_path().parent.parent / "bell.qpy"
    from circuits.interop import save_qpy

    save_qpy(_bell(), path)
    assert main(["submit", str(path), "--provider", "ionq", "--backend", "qpu.aria-1"]) == 0
    assert main(["jobs", "fetch", ionq.posts[0]["metadata"]["qrnn_client_id"]]) == 0
    assert main(["jobs", "show", ionq.posts[0]["metadata"]["qrnn_client_id"], "--json"]) == 0
    out, err = capsys.readouterr()
    assert "done" in out
    stored = b"".join(p.read_bytes() for p in default_path().parent.rglob("*") if p.is_file())
    assert TOKEN not in out + err + caplog.text and TOKEN.encode() not in stored
    assert ionq.headers[0]["Authorization"].endswith(TOKEN)  # it did go to the vendor


@pytest.mark.parametrize(("backend", "two_qubit"), [("qpu.aria-1", "ms"), ("qpu.forte-1", "zz")])
def test_qpus_get_the_machines_native_gates_and_the_same_distribution(ionq, backend, two_qubit):
    from circuits import ansatz

    circuit, _ = ansatz.get("hardware_efficient", n_qubits=3, reps=2)
    values = [0.1 * (k + 1) for k in range(circuit.num_parameters)]
    handle = cloud.submit(
        circuit, provider="ionq", backend=backend, shots=100, parameter_values=values
    )
    (post,) = ionq.posts
    assert post["input"]["gateset"] == "native"
    assert {gate["gate"] for gate in post["input"]["circuit"]} == {"gpi2", two_qubit}
    # the native circuit that was recorded (and sent) gives the original's distribution
    with JobStore(default_path()) as store:
        (native,) = store.circuits(handle.id)
    sent = Statevector(native.remove_final_measurements(inplace=False)).probabilities()
    exact = Statevector(circuit.assign_parameters(values)).probabilities()
    assert max(abs(sent - exact)) < 1e-9


def test_qrnns_native_gates_are_qiskit_ionqs_gates():
    from qiskit.quantum_info import Operator
    from qiskit_ionq import ionq_gates

    from circuits import native

    rng = [0.13, -0.41, 0.22]
    pairs = [
        (native.GPIGate(rng[0]), ionq_gates.GPIGate(rng[0])),
        (native.GPI2Gate(rng[1]), ionq_gates.GPI2Gate(rng[1])),
        (native.IonQMSGate(*rng), ionq_gates.MSGate(*rng)),
        (native.IonQZZGate(rng[2]), ionq_gates.ZZGate(rng[2])),
    ]
    for ours, theirs in pairs:
        assert Operator(ours).equiv(Operator(theirs)), ours.name
        assert abs(Operator(ours).data - Operator(theirs).data).max() < 1e-12, ours.name


def test_using_ionq_leaves_qiskits_global_translation_rules_alone(ionq):
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.circuit.library import CXGate, UGate

    before = [len(SessionEquivalenceLibrary.get_entry(g)) for g in (CXGate(), UGate(1, 2, 3))]
    handle = cloud.submit(_bell(), provider="ionq", backend="qpu.aria-1", shots=10)
    handle.result(timeout=30)
    after = [len(SessionEquivalenceLibrary.get_entry(g)) for g in (CXGate(), UGate(1, 2, 3))]
    assert after == before


def test_expectation_values_through_ionq_come_from_counts_in_each_basis(ionq):
    """`qrnn.backends.get("cloud:ionq:...")`: one job per measurement basis, native gates on
    the wire, estimates within the statistical bound of the exact values."""
    from qiskit.circuit import Parameter
    from qiskit.quantum_info import SparsePauliOp

    from qrnn import backends

    theta = Parameter("theta")
    circuit = QuantumCircuit(2, name="entangled")
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    backend = backends.get("cloud:ionq:qpu.aria-1", shots=4000)
    labels = ["ZZ", "XX", "IZ"]
    values = torch.tensor([[0.4], [1.9]], dtype=torch.float64)
    result = backend.expval(circuit, values, labels)
    # the Z basis and the X basis: one multi-circuit job each, a circuit per row
    assert [post["type"] for post in ionq.posts] == ["ionq.multi-circuit.v1"] * 2
    assert [len(post["input"]["circuits"]) for post in ionq.posts] == [2, 2]
    for row, angle in enumerate([0.4, 1.9]):
        state = Statevector(circuit.assign_parameters([angle]))
        for column, label in enumerate(labels):
            exact = state.expectation_value(SparsePauliOp(label)).real
            bound = 5 * math.sqrt(max(1 - exact**2, 1e-4) / 4000) + 1e-9
            assert abs(result[row, column].item() - exact) <= bound, (label, angle)


def test_a_run_directory_is_submitted_and_fetched_round_by_round(ionq, capsys, tiny_run):
    """`qrnn submit RUN_DIR` returns once the first time step's circuits are sent; each
    `qrnn jobs fetch EVAL` fetches what finished and sends the next step; the metrics are
    those of the exact model, up to the shots (the QPU path counts shots x probabilities)."""
    from qrnn.cli import main
    from qrnn.runs import evaluate_run

    argv = ["submit", str(tiny_run), "--provider", "ionq", "--backend", "qpu.aria-1"]
    assert main([*argv, "--shots", "10000"]) == 0
    out = capsys.readouterr().out
    evaluation = re.search(r"evaluation ([0-9a-f-]{36}) .*: round 1, waiting for (\d+)", out)
    first = len(ionq.posts)
    assert first == int(evaluation.group(2)) > 0 and "next: qrnn jobs fetch" in out
    assert {post["input"]["gateset"] for post in ionq.posts} == {"native"}
    # step 1 of 3 val + 3 test windows through 4 gate circuits: a job per gate and split
    assert first == 8 and sum(len(post["input"]["circuits"]) for post in ionq.posts) == 24
    eid = evaluation.group(1)
    assert main(["jobs", "fetch", eid[:8]]) == 0  # IonQ still says "submitted"
    out = capsys.readouterr().out
    assert f"evaluation {eid} " in out and f"round 2, waiting for {first} jobs" in out
    assert len(ionq.posts) == first
    rounds = 2
    while "done after" not in out:  # one round per step of the circuits' dependencies
        overnight(ionq)
        sent = len(ionq.posts)
        assert main(["jobs", "fetch", eid]) == 0
        out = capsys.readouterr().out
        rounds += 1
        assert (len(ionq.posts) > sent) != ("done after" in out) and rounds < 12
    # one round per time step (the 4 gates of a step go together), and one to collect
    assert rounds == 4 and f"done after {rounds} rounds" in out
    assert "test metrics (original units)" in out
    with JobStore(default_path()) as store:
        sources = [job.source for job in store.list()]
    assert len(sources) == len(set(sources)) == len(ionq.posts)  # nothing sent twice
    home = default_path().parent  # the store and the evaluation's record: no token
    assert list(home.glob(f"evaluations/{eid}.json"))
    assert not any(TOKEN.encode() in p.read_bytes() for p in home.rglob("*") if p.is_file())
    metrics = cloud.fetch_run(eid).evaluation.metrics["model"]["metrics"]
    exact = evaluate_run(tiny_run).metrics["model"]["metrics"]
    for split in ("val", "test"):
        assert math.isclose(metrics[split]["mse"], exact[split]["mse"], rel_tol=0.02, abs_tol=1e-6)
    posts = len(ionq.posts)
    assert main(["jobs", "fetch", eid]) == 0  # a finished evaluation: from its record
    assert f"done after {rounds} rounds" in capsys.readouterr().out
    assert len(ionq.posts) == posts


def overnight(ionq: FakeIonQ) -> None:
    """Every job IonQ holds has finished."""
    for job_id in ionq.states:
        ionq.states[job_id] = ["completed"]
