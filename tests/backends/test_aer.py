"""Aer-specific behaviour: one Aer run per batch, methods, GPU requests, seeds, precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error
from references import Reference, finite_difference

import qrnn.backends as backends
from circuits import ansatz, encoding
from qrnn.backends.aer import gpu_available


def layered(n_qubits=3) -> QuantumCircuit:
    x = ParameterVector("x", 2 * n_qubits)
    qc = QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        qc.ry(x[q], q)
    for q in range(n_qubits - 1):
        qc.rzz(x[n_qubits + q], q, q + 1)
    qc.rx(2 * x[-1] + 0.1, 0)
    return qc


@pytest.fixture
def aer_runs(monkeypatch):
    """Counts AerSimulator.run calls and the experiments each one carries."""
    calls = []
    original = AerSimulator.run

    def spy(self, circuits, parameter_binds=None, **options):
        listed = circuits if isinstance(circuits, list) else [circuits]
        n_binds = [len(next(iter(b.values()))) if b else 1 for b in (parameter_binds or [{}])]
        calls.append({"circuits": len(listed), "experiments": sum(n_binds), "options": options})
        return original(self, circuits, parameter_binds=parameter_binds, **options)

    monkeypatch.setattr(AerSimulator, "run", spy)
    return calls


@pytest.mark.parametrize("shots", [None, 500])
def test_one_run_per_batch_forward_backward_and_markers(aer_runs, shots):
    circuit = layered()
    values = torch.rand(7, circuit.num_parameters, dtype=torch.float64).requires_grad_()
    observables = ["IIZ", "ZZI", "XIX", "YII"]  # three measurement bases with shots
    backend = backends.get("aer", shots=shots, seed=1)
    out = backend.expval(circuit, values, observables)
    assert len(aer_runs) == 1
    assert aer_runs[0]["experiments"] == 7 * (1 if shots is None else 3)
    out.sum().backward()  # parameter-shift: 2 rows per gate angle, all in one run
    assert len(aer_runs) == 2
    n_slots = 2 * circuit.num_qubits  # ry x3, rzz x2, rx x1
    assert aer_runs[1]["experiments"] == 7 * 2 * n_slots * (1 if shots is None else 3)
    marked = circuit.copy()
    backends.add_marker(marked)
    marked.ry(0.3, 1)
    backends.add_marker(marked)
    assert backend.expval_at_markers(marked, values.detach(), observables).shape == (7, 2, 4)
    assert len(aer_runs) == 3
    assert backend.runs == 3


def test_aer_uses_as_many_threads_as_torch(aer_runs):
    """Aer's default (every core) stalls on a machine where another program holds a core."""
    circuit, threads = layered(), torch.get_num_threads()
    backend = backends.get("aer")
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            backend.expval(circuit, torch.rand(2, circuit.num_parameters), ["ZII"])
            assert aer_runs[-1]["options"]["max_parallel_threads"] == n
    finally:
        torch.set_num_threads(threads)


def test_exact_noise_needs_density_matrix():
    model = NoiseModel(basis_gates=["ry", "rzz", "rx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["ry"])
    circuit = layered()
    values = torch.rand(2, circuit.num_parameters, dtype=torch.float64)
    with pytest.raises(backends.BackendError, match="method='density_matrix'"):
        statevector = backends.get("aer", noise_model=model, method="statevector")
        statevector.expval(circuit, values, ["ZII"])
    automatic = backends.get("aer", noise_model=model).expval(circuit, values, ["ZII"])
    explicit = backends.get("aer", noise_model=model, method="density_matrix")
    torch.testing.assert_close(automatic, explicit.expval(circuit, values, ["ZII"]))


def test_gpu_request_without_gpu_is_a_clear_error():
    if gpu_available():
        pytest.skip("this machine has an Aer GPU")
    with pytest.raises(backends.GPUUnavailableError, match=r'pip install "qrnn-iontrap\[gpu\]"'):
        backends.get("aer", gpu=True)


def test_bad_aer_options():
    with pytest.raises(backends.BackendError, match="method must be one of"):
        backends.get("aer", method="matrix_product_state")
    with pytest.raises(backends.BackendError, match="precision must be one of"):
        backends.get("aer", precision="half")
    with pytest.raises(backends.BackendError, match="gpu must be True or False"):
        backends.get("aer", gpu="yes")
    with pytest.raises(backends.BackendError, match="no autograd"):
        backends.get("aer", gradient="backprop")


def test_seeded_shots_are_reproducible_and_vary_between_runs():
    circuit = layered()
    values = torch.rand(3, circuit.num_parameters, dtype=torch.float64)
    first = backends.get("aer", shots=200, seed=5)
    second = backends.get("aer", shots=200, seed=5)
    a = first.expval(circuit, values, ["ZZZ"])
    torch.testing.assert_close(a, second.expval(circuit, values, ["ZZZ"]))
    assert not torch.equal(a, first.expval(circuit, values, ["ZZZ"]))  # a fresh draw


def test_single_precision_and_circuits_without_parameters():
    circuit = layered().assign_parameters(np.linspace(0.1, 1.2, 6))
    reference = Reference(circuit, np.zeros((1, 0)), ["ZZI", "IXI"]).values
    out = backends.get("aer", precision="single").expval(circuit, None, ["ZZI", "IXI"])
    np.testing.assert_allclose(out.numpy(), reference, atol=1e-5)
    batch = backends.get("aer").expval(circuit, torch.zeros(4, 0), ["ZZI"])
    assert batch.shape == (4, 1)


def test_gates_aer_lacks_are_decomposed():
    theta = ParameterVector("t", 1)
    inner = QuantumCircuit(2, name="entangle")
    inner.ry(theta[0], 0)
    inner.cx(0, 1)
    circuit = QuantumCircuit(2)
    circuit.append(inner.to_gate(), [0, 1])
    values = torch.tensor([[0.4], [2.0]], dtype=torch.float64)
    out = backends.get("aer").expval(circuit, values, ["ZZ", "IZ"])
    reference = Reference(circuit, values, ["ZZ", "IZ"]).values
    np.testing.assert_allclose(out.numpy(), reference, atol=1e-9)


def test_spsa_option_is_seeded():
    circuit = layered()
    values = torch.rand(2, circuit.num_parameters, dtype=torch.float64)
    grads = []
    for _ in range(2):
        v = values.clone().requires_grad_()
        backend = backends.get("aer", gradient="spsa", gradient_options={"n_samples": 3}, seed=9)
        backend.expval(circuit, v, ["ZII", "IZZ"]).sum().backward()
        grads.append(v.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0


def test_marker_gradients_by_parameter_shift():
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.rzz(x[1], 0, 1)
    backends.add_marker(circuit)
    circuit.reset(0)
    circuit.rx(x[2] + x[0], 0)
    circuit.cx(0, 1)
    backends.add_marker(circuit)
    values = torch.tensor([[0.3, -1.2, 0.8], [2.0, 0.4, -0.5]], dtype=torch.float64)
    values.requires_grad_()
    backends.get("aer").expval_at_markers(circuit, values, ["ZZ", "IZ"]).sum().backward()

    def total(v):  # sum over markers and observables, from prefix circuits
        out = 0.0
        for stop in backends.marker_positions(circuit):
            prefix = circuit.copy_empty_like()
            for instruction in circuit.data[:stop]:
                prefix.append(instruction)
            columns = [list(circuit.parameters).index(p) for p in prefix.parameters]
            out = out + Reference(prefix, v[:, columns], ["ZZ", "IZ"]).values.sum(axis=1)
        return out[:, None]

    expected = finite_difference(total, values.detach().numpy())[:, 0]
    np.testing.assert_allclose(values.grad.numpy(), expected, atol=1e-6)


def test_parameter_shift_skips_slots_and_equals_torch_autograd(aer_runs):
    """W1's cell form on four qubits, read on <Z_i>: the last RZ of every wire cannot change
    them (qrnn._shift_cones), so the backward pass runs 2 rows for each of the other slots;
    the gradient equals the torch engine's autograd. With an X observable every slot runs."""
    qc, _angles = encoding.angle_encoding(4)
    qc.compose(ansatz.hardware_efficient(4, reps=2)[0], inplace=True)
    start = torch.tensor(np.random.default_rng(5).uniform(-3, 3, (3, 28)))
    grad_output = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(3, 4)
    for labels, n_rows in ((["IIIZ", "IIZI", "IZII", "ZIII"], 2 * 24), (["IIIX"], 2 * 28)):
        gradients = []
        for name in ("aer", "torch"):
            values = start.clone().requires_grad_()
            out = backends.get(name).expval(qc, values, labels)
            (out * grad_output[:, : len(labels)]).sum().backward()
            gradients.append(values.grad)
        torch.testing.assert_close(gradients[0], gradients[1], atol=1e-10, rtol=0)
        assert aer_runs[-1]["experiments"] == 3 * n_rows
