"""`qrnn.backends.get("cloud:...")`: the backend protocol over a cloud, through the store."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from qrnn import backends
from qrnn.cloud import JobStore
from qrnn.cloud.jobs import default_path


def _circuit() -> QuantumCircuit:
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(2, name="two_angles")
    circuit.ry(a, 0)
    circuit.cx(0, 1)
    circuit.rx(b, 1)
    return circuit


def test_expval_on_braket_matches_the_exact_state_within_the_statistical_bound():
    backend = backends.get("cloud:braket:local", shots=4000)
    values = torch.tensor([[0.3, 1.2], [2.0, -0.4]], dtype=torch.float64)
    observables = ["ZI", "IZ", SparsePauliOp(["ZZ", "II"], coeffs=[0.5, 0.25])]
    result = backend.expval(_circuit(), values, observables)
    assert result.shape == (2, 3) and result.dtype == torch.float64
    for row, angles in enumerate(values.tolist()):
        state = Statevector(_circuit().assign_parameters(angles))
        for column, label in enumerate(["ZI", "IZ"]):
            exact = state.expectation_value(SparsePauliOp(label)).real
            bound = 5 * math.sqrt((1 - exact**2) / 4000) + 1e-9
            assert abs(result[row, column].item() - exact) <= bound
        exact = 0.5 * state.expectation_value(SparsePauliOp("ZZ")).real + 0.25
        assert abs(result[row, 2].item() - exact) <= 0.5 * 5 * math.sqrt(1 / 4000) + 1e-9
    with JobStore(default_path()) as store:
        assert len(store.list(status="done")) == 2  # Braket: one task per row


def test_counts_on_ibm_local_mode_are_one_job_for_the_batch():
    backend = backends.get("cloud:ibm:fake_manila", shots=500)
    circuit = _circuit()
    circuit.measure_all()
    counts = backend.counts(circuit, np.array([[0.0, 0.0], [math.pi, 0.0]]))
    assert [sum(c.values()) for c in counts] == [500, 500]
    assert max(counts[0], key=counts[0].get) == "00"  # |00>, up to the machine's noise
    assert max(counts[1], key=counts[1].get) == "11"
    with JobStore(default_path()) as store:
        (job,) = store.list()
    assert job.parameter_values == [[0.0, 0.0], [math.pi, 0.0]]


def test_a_cloud_backend_refuses_what_a_machine_cannot_be_given():
    with pytest.raises(backends.BackendError, match="give shots="):
        backends.get("cloud:braket:local")
    with pytest.raises(backends.BackendError, match="no device="):
        backends.get("cloud:braket:local", device="ionq-aria-1", shots=10)
    with pytest.raises(backends.BackendError, match="expected 'cloud:<provider>:<backend>'"):
        backends.get("cloud:ibm", shots=10)


def test_a_model_that_resets_qubits_is_refused_by_a_machine_that_cannot():
    from qrnn.models import QRNN, to_backend

    model = QRNN(input_size=1, hidden_size=2)
    with pytest.raises(ValueError, match="needs mid-circuit reset; backend 'cloud:braket:local'"):
        to_backend(model, "cloud:braket:local", shots=10)
    assert not default_path().exists()  # refused before any job
