"""Amazon Braket through amazon-braket-sdk's LocalSimulator: gate translation exact against
qiskit.quantum_info, sampled results within their statistical bound, bad input, cost."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from braket.devices import LocalSimulator
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

import qrnn.cloud as cloud
from qrnn.cloud._braket import BraketProvider

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


def _every_gate() -> QuantumCircuit:
    """A 3-qubit circuit that uses every gate the translation knows, and some it must
    decompose (u, ccx)."""
    rng = np.random.default_rng(7)
    circuit = QuantumCircuit(3, name="every_gate")
    for gate in ("h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg"):
        getattr(circuit, gate)(int(rng.integers(3)))
    for gate in ("rx", "ry", "rz", "p"):
        getattr(circuit, gate)(float(rng.uniform(-3, 3)), int(rng.integers(3)))
    circuit.cx(0, 1)
    circuit.cz(1, 2)
    circuit.swap(0, 2)
    for gate in ("rxx", "ryy", "rzz"):
        getattr(circuit, gate)(float(rng.uniform(-3, 3)), 0, 2)
    circuit.u(0.3, -1.1, 2.0, 1)
    circuit.ccx(0, 1, 2)
    return circuit


def test_the_translation_to_braket_is_exact():
    circuit = _every_gate()
    labels = ["IIZ", "XYZ", "ZXI", "YYY"]
    provider = BraketProvider()
    (prepared,), _ = provider.prepare("local", [circuit], None)
    state = Statevector(circuit)
    for label in labels:  # one exact (shots=0) Braket run per observable
        program = provider._circuit(prepared, [label])
        (value,) = LocalSimulator().run(program, shots=0).result().values
        exact = state.expectation_value(SparsePauliOp(label)).real
        assert math.isclose(value, exact, abs_tol=1e-9), label


def test_counts_match_the_exact_distribution_within_the_statistical_bound():
    circuit = QuantumCircuit(3, 2, name="partial")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(1.0, 2)
    circuit.measure([2, 0], [0, 1])  # clbit 0 <- qubit 2, clbit 1 <- qubit 0
    shots = 2000
    handle = cloud.submit(circuit, provider="braket", backend="local", shots=shots)
    (counts,) = handle.result(timeout=60)["counts"]
    assert sum(counts.values()) == shots
    probabilities = Statevector(circuit.remove_final_measurements(inplace=False))
    exact = probabilities.probabilities_dict(qargs=[2, 0])  # key: qubit 0 then qubit 2
    for key, p in exact.items():
        n = counts.get(key, 0)
        assert abs(n - p * shots) <= 5 * math.sqrt(shots * p * (1 - p)) + 1, (key, n, p)
    assert handle.job().status == "done"


def test_expectation_values_match_the_exact_state_within_the_statistical_bound():
    circuit = QuantumCircuit(3, name="ghz_rxx")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.rxx(0.4, 0, 2)
    labels = ["ZZI", "ZIZ", "IZI"]  # one basis per qubit: Braket measures them together
    handle = cloud.submit(
        circuit, provider="braket", backend="local", shots=3000, observables=labels
    )
    result = handle.result(timeout=60)
    state = Statevector(circuit)
    for value, std, label in zip(result["expvals"][0], result["stds"][0], labels, strict=True):
        exact = state.expectation_value(SparsePauliOp(label)).real
        assert abs(value - exact) <= 5 * std + 1e-12, (label, value, exact)


def test_observables_in_different_bases_on_one_qubit_are_refused():
    circuit = QuantumCircuit(1)
    circuit.h(0)
    with pytest.raises(cloud.SubmitInputError, match=r"measure qubit 0 in bases \['X', 'Z'\]"):
        cloud.submit(circuit, provider="braket", backend="local", shots=10, observables=["Z", "X"])


def test_a_dry_run_on_ionq_forte_prices_it_and_simulates_its_preset():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    plan = cloud.dry_run(circuit, provider="braket", backend=FORTE, shots=100)
    assert math.isclose(plan.cost["usd"], 0.30 + 100 * 0.08)  # the published figures
    assert "aws.amazon.com/braket/pricing" in plan.cost["source"] and plan.cost["date"]
    assert plan.cost["machine_seconds"] > 0
    assert "ionq-forte-1" in plan.expected["simulator"]
    (counts,) = plan.expected["counts"]
    assert counts.get("00", 0) + counts.get("11", 0) > 90


def test_a_qpu_without_aws_credentials_says_what_sets_them(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    circuit = QuantumCircuit(1)
    with pytest.raises(cloud.CredentialsError, match="AWS_ACCESS_KEY_ID"):
        cloud.submit(circuit, provider="braket", backend=FORTE, shots=10)


def test_an_unknown_braket_backend_lists_the_known_ones():
    with pytest.raises(cloud.UnknownBackendError, match=r"'sv2'; known: local, arn:aws:braket"):
        cloud.submit(QuantumCircuit(1), provider="braket", backend="sv2", shots=10)


def test_a_circuit_with_a_reset_is_refused_before_it_is_recorded():
    circuit = QuantumCircuit(2, name="with_reset")
    circuit.h(0)
    circuit.reset(0)
    circuit.cx(0, 1)
    with pytest.raises(cloud.SubmitInputError, match=r"'with_reset' resets a qubit; braket"):
        cloud.submit(circuit, provider="braket", backend="local", shots=10)
    circuit = QuantumCircuit(2, 2, name="mid")
    circuit.measure(0, 0)
    circuit.cx(0, 1)
    with pytest.raises(cloud.SubmitInputError, match="measures a qubit mid-circuit"):
        cloud.dry_run(circuit, provider="braket", backend="local", shots=10)
    from qrnn.cloud.jobs import default_path

    assert not default_path().exists()


def test_the_local_simulator_runs_where_ipython_is_loaded_as_in_jupyter():
    # IPython >= 9.17 defines get_ipython lazily; amazon-braket-sdk < 1.126.1 read it from
    # IPython's module dict when braket.tasks was imported: a KeyError in every notebook.
    script = (
        "import IPython\n"
        "import qrnn.cloud as cloud\n"
        "from qiskit import QuantumCircuit\n"
        "circuit = QuantumCircuit(1)\n"
        "circuit.x(0)\n"
        "handle = cloud.submit(circuit, provider='braket', backend='local', shots=10)\n"
        "print(handle.result(timeout=60)['counts'], 'get_ipython' in vars(IPython))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    # every shot reads 1, and IPython's module is left as it was
    assert process.stdout.split() == ["[{'1':", "10}]", "False"]


def test_a_task_left_pending_is_found_by_its_tag_with_braket_search(monkeypatch):
    """`recover` through boto3's own Braket client, its HTTP answered by botocore's Stubber:
    the task tagged with the client id, created in the window, is found; others are not."""
    import datetime

    import boto3
    from botocore.stub import ANY, Stubber

    from qrnn.cloud import JobStore
    from qrnn.cloud.jobs import default_path

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-not-real")
    client = boto3.client("braket", region_name="us-east-1")
    monkeypatch.setattr(BraketProvider, "_client", staticmethod(lambda arn: client))
    with JobStore(default_path(), create=True) as store:
        ours, other = (
            store.create(
                provider="braket",
                backend=FORTE,
                kind="counts",
                circuits=[QuantumCircuit(1)],
                shots=10,
            )
            for _ in range(2)
        )
    now = datetime.datetime.now(tz=datetime.UTC)
    arn = "arn:aws:braket:us-east-1:123456789012:quantum-task/{}"

    def task(name: str, tag: str, age_s: float) -> dict:
        return {"quantumTaskArn": arn.format(name), "status": "QUEUED", "deviceArn": FORTE,
                "shots": 10, "outputS3Bucket": "b", "outputS3Directory": "d",
                "createdAt": now - datetime.timedelta(seconds=age_s),
                "tags": {"qrnn-client-id": tag}}  # fmt: skip

    search = {"filters": [{"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]}]}
    listed = [task("a", "someone-else", 5), task("b", ours.id, 5), task("c", other.id, 86400)]
    with Stubber(client) as stub:  # newest row first: `other`, then `ours` and its status
        stub.add_response("search_quantum_tasks", {"quantumTasks": listed}, search)
        stub.add_response("search_quantum_tasks", {"quantumTasks": listed}, search)
        status = {"quantumTaskArn": arn.format("b"), "status": "RUNNING", "deviceArn": FORTE,
                  "deviceParameters": "{}", "shots": 10, "outputS3Bucket": "b",
                  "outputS3Directory": "d", "createdAt": now}  # fmt: skip
        expected = {"quantumTaskArn": arn.format("b"), "additionalAttributeNames": ANY}
        stub.add_response("get_quantum_task", status, expected)
        with JobStore(default_path()) as store:
            changed = {job.id: job for job in cloud.recover(store)}
        stub.assert_no_pending_responses()
    assert changed[ours.id].vendor_id == arn.format("b") and changed[ours.id].status == "running"
    # "c" carries the other tag but was created a day before its row: not taken for it
    assert changed[other.id].status == "unknown" and changed[other.id].vendor_id is None
    assert "the vendor has no job with this tag" in changed[other.id].error


def test_polls_are_retried_on_5xx_and_timeouts_then_a_clear_error(monkeypatch):
    """A QPU task's poll through boto3's own client (its HTTP answered by botocore's Stubber):
    server errors and a read timeout are retried; a Braket that keeps failing is a clear error
    and the row is kept. (amazon-braket-sdk retries a ThrottlingException itself.)"""
    import datetime

    import boto3
    from botocore.exceptions import ReadTimeoutError
    from botocore.stub import ANY, Stubber

    from qrnn.cloud import JobStore
    from qrnn.cloud.jobs import default_path

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-not-real")
    client = boto3.client("braket", region_name="us-east-1")
    monkeypatch.setattr(BraketProvider, "_client", staticmethod(lambda arn: client))
    arn = "arn:aws:braket:us-east-1:123456789012:quantum-task/t1"
    with JobStore(default_path(), create=True) as store:
        job = store.create(
            provider="braket", backend=FORTE, kind="counts", circuits=[QuantumCircuit(1)], shots=10
        )
        store.mark_submitted(job.id, arn)
    answer = client.get_quantum_task
    timeouts = [ReadTimeoutError(endpoint_url="https://braket.us-east-1.amazonaws.com")]

    def network(**kwargs):  # the connection drops once, as botocore reports it
        if timeouts:
            raise timeouts.pop()
        return answer(**kwargs)

    client.get_quantum_task = network
    now = datetime.datetime.now(tz=datetime.UTC)
    running = {"quantumTaskArn": arn, "status": "RUNNING", "deviceArn": FORTE,
               "deviceParameters": "{}", "shots": 10, "outputS3Bucket": "b",
               "outputS3Directory": "d", "createdAt": now}  # fmt: skip
    expected = {"quantumTaskArn": arn, "additionalAttributeNames": ANY}
    handle = cloud.JobHandle(job.id, default_path())
    with Stubber(client) as stub:
        stub.add_client_error("get_quantum_task", "InternalServiceException", http_status_code=500)
        stub.add_client_error("get_quantum_task", "ServiceUnavailable", http_status_code=502)
        stub.add_response("get_quantum_task", running, expected)
        assert handle.status() == "running"
        stub.assert_no_pending_responses()
        assert timeouts == []
        for _ in range(4):
            stub.add_client_error("get_quantum_task", "ServiceUnavailable", http_status_code=503)
        with pytest.raises(cloud.TransientError, match=r"polling job .* failed 4 times.*HTTP 503"):
            handle.status()
    assert handle.job().status == "running"  # kept: try again later
