"""IBM Quantum through qiskit-ibm-runtime's local testing mode (a fake backend as the
primitive's mode): results against exact references, the store's record, faults."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.fake_provider import FakeLagosV2, FakeManilaV2
from qiskit_ibm_runtime.fake_provider.local_runtime_job import LocalRuntimeJob

import qrnn.cloud as cloud
from qrnn.cloud import JobStore
from qrnn.cloud.jobs import default_path

BACKEND = "fake_manila"  # 5 qubits: quick to simulate with its noise


def _bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


def test_counts_of_a_bell_pair_come_back_and_are_recorded():
    handle = cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=400)
    result = handle.result(timeout=120)
    (counts,) = result["counts"]
    assert sum(counts.values()) == 400
    # exact: half 00, half 11; the machine's noise moves a few percent elsewhere
    assert counts.get("00", 0) + counts.get("11", 0) > 0.85 * 400
    assert abs(counts.get("00", 0) - counts.get("11", 0)) < 0.25 * 400
    job = handle.job()
    assert job.status == "done" and job.result == result and job.vendor_id
    assert job.history[0][1] == "pending" and job.history[-1][1] == "done"
    assert job.cost["usd"] == 0.0 and job.cost["machine_seconds"] > 0
    (stored,) = JobStore(default_path()).circuits(job.id)
    # the ISA circuit went, on the machine's 5 qubits and in its gates, not the original
    assert stored.num_qubits == 5
    assert set(stored.count_ops()) <= {*FakeManilaV2().target.operation_names, "barrier"}


def test_expectation_values_match_the_machine_noise_model_simulated_by_aer():
    theta = Parameter("theta")
    circuit = QuantumCircuit(3, name="ry_chain")
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    handle = cloud.submit(
        circuit,
        provider="ibm",
        backend=BACKEND,
        shots=4000,
        observables=["ZZI", "Z0", "X0X1X2"],
        parameter_values=[1.1],
    )
    result = handle.result(timeout=120)
    job = handle.job()
    assert job.parameter_values == [[1.1]]
    # The reference: the ISA circuit that was sent, sampled straight from Aer under the fake
    # machine's noise model (gates and readout), each Pauli measured in its own basis.
    (isa,) = JobStore(default_path()).circuits(job.id)
    labels = job.observables[0]
    assert [len(label) for label in labels] == [5, 5, 5]
    exact = Statevector(circuit.assign_parameters([1.1]))
    assert math.isclose(exact.expectation_value(SparsePauliOp("IIZ")).real, math.cos(1.1))
    simulator = AerSimulator.from_backend(FakeManilaV2(), seed_simulator=11)
    (values,), (stds,) = result["expvals"], result["stds"]
    for value, std, label in zip(values, stds, labels, strict=True):
        reference, reference_std = _sampled_pauli(simulator, isa, label, shots=40_000)
        bound = 5 * math.hypot(std, reference_std) + 0.01  # + the basis change's own error
        assert abs(value - reference) < bound, (label, value, reference)


def _sampled_pauli(simulator, circuit, label: str, shots: int) -> tuple[float, float]:
    """<label> from counts of ``circuit`` measured in the label's basis: mean and its
    standard error."""
    qubits = [q for q, letter in enumerate(reversed(label)) if letter != "I"]
    probe = QuantumCircuit(circuit.num_qubits, len(qubits))
    probe.compose(circuit, inplace=True)
    for q in qubits:
        if label[-1 - q] == "X":  # H, in the machine's gates
            probe.rz(math.pi / 2, q)
            probe.sx(q)
            probe.rz(math.pi / 2, q)
    probe.measure(qubits, range(len(qubits)))
    counts = simulator.run(probe, shots=shots).result().get_counts()
    mean = sum((-1) ** bits.count("1") * n for bits, n in counts.items()) / shots
    return mean, math.sqrt((1 - mean**2) / shots)


def test_bad_input_is_refused_before_anything_is_written():
    wide = QuantumCircuit(6, name="wide")
    wide.h(range(6))
    with pytest.raises(cloud.SubmitInputError, match="uses 6 qubits but ibm backend"):
        cloud.submit(wide, provider="ibm", backend=BACKEND, shots=10)
    with pytest.raises(cloud.SubmitInputError, match=r"200000 shots .* allows per circuit"):
        cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=200_000)
    with pytest.raises(
        cloud.UnknownBackendError, match=r"unknown ibm backend 'fake_nowhere'.*fake_manila"
    ):
        cloud.submit(_bell(), provider="ibm", backend="fake_nowhere", shots=10)
    with pytest.raises(
        cloud.UnknownProviderError, match="'rigetti'; expected one of: braket, ibm, ionq"
    ):
        cloud.submit(_bell(), provider="rigetti", backend="x", shots=10)
    theta = Parameter("theta")
    loose = QuantumCircuit(1, name="loose")
    loose.rx(theta, 0)
    with pytest.raises(cloud.SubmitInputError, match=r"1 unbound parameters \(theta\)"):
        cloud.submit(loose, provider="ibm", backend=BACKEND, shots=10)
    assert not default_path().exists()


def test_a_circuit_with_parameters_is_named_as_given_in_messages():
    theta = Parameter("theta")
    wide = QuantumCircuit(6, name="wide")
    wide.rx(theta, range(6))
    with pytest.raises(cloud.SubmitInputError, match="circuit 'wide' uses 6 qubits but ibm"):
        cloud.submit(wide, provider="ibm", backend=BACKEND, shots=10, parameter_values=[0.3])


def test_a_real_machine_without_an_account_says_which_variable_to_set(tmp_path, monkeypatch):
    from qiskit_ibm_runtime.accounts import management

    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / "no.json"))
    with pytest.raises(cloud.CredentialsError, match="QISKIT_IBM_TOKEN"):
        cloud.submit(_bell(), provider="ibm", backend="ibm_brisbane", shots=10)
    assert not default_path().exists()


def test_a_dry_run_of_a_real_machine_needs_no_account(tmp_path, monkeypatch):
    from qiskit_ibm_runtime.accounts import management

    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / "no.json"))
    plan = cloud.dry_run(
        _bell(), provider="ibm", backend="ibm_lagos", shots=300, observables=["ZZ"]
    )
    assert plan.stats[0]["two_qubit_gates"] == 1 and plan.stats[0]["gates"]["cx"] == 1
    assert "cx $" in plan.qasm3[0] and plan.qasm3[0].startswith("OPENQASM 3")
    assert plan.cost["usd"] is None and plan.cost["date"] == "unverified"
    assert 0 < plan.cost["machine_seconds"] < 1
    assert "fake_lagos" in plan.expected["simulator"]  # the machine's offline snapshot
    (label,) = plan.observables[0]
    lagos = AerSimulator.from_backend(FakeLagosV2(), seed_simulator=5)
    reference, reference_std = _sampled_pauli(lagos, plan.circuits[0], label, shots=20_000)
    ((value,),), ((std,),) = plan.expected["expvals"], plan.expected["stds"]
    assert abs(value - reference) < 5 * math.hypot(std, reference_std) + 0.01
    assert not default_path().exists()  # nothing written


def _flaky(monkeypatch, method: str, failures: list[int]):
    """``LocalRuntimeJob.<method>`` answers the HTTP errors in ``failures`` first."""
    real = getattr(LocalRuntimeJob, method)
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if failures:
            code = failures.pop(0)
            raise RequestsApiError(f"'{code} Server Error'", status_code=code)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LocalRuntimeJob, method, flaky)
    return calls


def test_polls_and_fetches_are_retried_on_429_and_5xx(monkeypatch):
    handle = cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=50)
    polls = _flaky(monkeypatch, "status", [429, 503])
    fetches = _flaky(monkeypatch, "result", [502])
    assert sum(handle.result(timeout=120)["counts"][0].values()) == 50
    assert polls["n"] >= 3 and fetches["n"] == 2


def test_a_vendor_that_keeps_failing_is_a_clear_error_and_the_job_is_kept(monkeypatch):
    handle = cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=50)
    with monkeypatch.context() as patch:
        _flaky(patch, "status", [503] * 10)
        with pytest.raises(cloud.TransientError, match=r"polling job .* failed 4 times.*HTTP 503"):
            handle.status()
    assert handle.job().status in ("queued", "running")  # not marked failed: try again later
    assert sum(handle.result(timeout=120)["counts"][0].values()) == 50


def test_a_submit_is_never_retried(monkeypatch):
    from qiskit_ibm_runtime import SamplerV2

    calls = []

    def refused(self, pubs, **options):
        calls.append(pubs)
        raise RequestsApiError("'503 Service Unavailable'", status_code=503)

    monkeypatch.setattr(SamplerV2, "run", refused)
    with pytest.raises(cloud.CloudError, match="not retried: run `qrnn jobs recover`"):
        cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=10)
    assert len(calls) == 1
    with JobStore(default_path()) as store:
        job = store.get(store.list()[0].id)
    assert job.status == "pending" and "may or may not" in job.history[-1][2]


@pytest.mark.parametrize(
    ("vendor_status", "recorded"), [(JobStatus.ERROR, "failed"), (JobStatus.CANCELLED, "cancelled")]
)
def test_a_failed_or_cancelled_vendor_job_is_recorded_as_such(monkeypatch, vendor_status, recorded):
    handle = cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=10)
    monkeypatch.setattr(LocalRuntimeJob, "status", lambda self: vendor_status)
    monkeypatch.setattr(LocalRuntimeJob, "error_message", lambda self: "qubit 3 is down")
    with pytest.raises(cloud.JobFailedError, match=f"is {recorded}"):
        handle.result(timeout=30)
    job = handle.job()
    assert job.status == recorded and job.final
    if recorded == "failed":
        assert job.error == "qubit 3 is down"


def test_a_job_killed_after_submitting_is_found_by_its_tag(monkeypatch):
    """The vendor took the job but the process died before recording its id."""

    def dies(self, job_id, vendor_id, status="queued"):
        raise KeyboardInterrupt  # stands for the kill: the row stays pending

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(JobStore, "mark_submitted", dies)
        cloud.submit(_bell(), provider="ibm", backend=BACKEND, shots=20)
    with JobStore(default_path()) as store:
        (job,) = store.list()
        assert job.status == "pending" and job.vendor_id is None
        (recovered,) = cloud.recover(store)
        assert recovered.id == job.id and recovered.vendor_id is not None
    handle = cloud.JobHandle(job.id, default_path())
    assert sum(handle.result(timeout=120)["counts"][0].values()) == 20


def test_kill_9_between_store_write_and_submit_is_recovered(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal
        from qiskit import QuantumCircuit
        import qrnn.cloud as cloud
        from qrnn.cloud._ibm import IBMProvider

        IBMProvider.submit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        circuit = QuantumCircuit(1)
        circuit.x(0)
        cloud.submit(circuit, provider="ibm", backend="fake_manila", shots=5)
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, timeout=120
    )
    assert process.returncode == -signal.SIGKILL
    with JobStore(default_path()) as store:
        (job,) = store.list()
        assert job.status == "pending"
        (recovered,) = cloud.recover(store)
    assert recovered.status == "unknown" and recovered.id == job.id
    assert "check the vendor's console for a job between" in recovered.error
    assert job.id in recovered.error and "UTC" in recovered.error
    assert np.isfinite(recovered.created_at)
