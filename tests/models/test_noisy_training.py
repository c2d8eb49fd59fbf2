"""Models on a noisy device: shots sampled from the torch engine's exact distributions, per
time step, against Aer's dynamic circuit (independent sampler); exact noisy gradients (autograd
through the density matrix) against Aer's parameter-shift; training with shots.

Tiny models (3 qubits: 1 or 2 data + hidden) keep every test to a second or two.
"""

from __future__ import annotations

import copy

import pytest
import torch
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qrnn import backends, data, devices, sim
from qrnn.layer import QuantumLayer
from qrnn.models import QRNN, Forecaster, build, quantum_modules, to_backend
from qrnn.models._recurrent import outputs_only
from qrnn.train import fit

F64 = torch.float64
DEVICE = "iontrap-10q"


def tiny_qrnn(hidden_size: int = 2) -> QRNN:
    torch.manual_seed(0)
    return QRNN(1, hidden_size, batch_first=True, n_qubits=3, reps=1, dtype=F64)


def windows(batch: int = 4, length: int = 3) -> torch.Tensor:
    return torch.rand(batch, length, 1, generator=torch.Generator().manual_seed(1), dtype=F64)


def outputs(model, x) -> torch.Tensor:
    with torch.no_grad():
        return model(x)[0]  # (N, L, hidden_size): <Z> of the data qubits after every step


def test_every_step_with_shots_agrees_with_aer_within_four_standard_errors():
    x, shots = windows(), 4000
    exact = outputs(to_backend(tiny_qrnn(), "torch", device=DEVICE), x)
    on_torch = outputs(to_backend(tiny_qrnn(), "torch", device=DEVICE, shots=shots, seed=1), x)
    on_aer = outputs(to_backend(tiny_qrnn(), "aer", device=DEVICE, shots=shots, seed=2), x)
    # each output is the mean of +-1 outcomes of one step: standard error sqrt((1 - m^2) / N)
    stderr = ((1 - exact**2).clamp(min=0) / shots).sqrt()
    assert exact.shape == on_torch.shape == (4, 3, 2)
    assert bool(((on_torch - exact).abs() <= 4 * stderr + 1e-12).all())
    assert bool(((on_torch - on_aer).abs() <= 4 * 2**0.5 * stderr + 1e-12).all())
    assert not torch.equal(on_torch, exact)
    # seeded: the same seed draws the same shots
    again = outputs(to_backend(tiny_qrnn(), "torch", device=DEVICE, shots=shots, seed=1), x)
    assert torch.equal(again, on_torch)


def test_exact_noisy_gradients_by_autograd_equal_aer_parameter_shift():
    x = windows(batch=2, length=2)
    on_torch = to_backend(tiny_qrnn(), "torch", device=DEVICE)
    on_aer = to_backend(copy.deepcopy(tiny_qrnn()), "aer", device=DEVICE)
    cotangent = torch.randn(2, 2, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    gradients = []
    for model in (on_torch, on_aer):
        (model(x)[0] * cotangent).sum().backward()
        gradients.append(model.cell_l0.weight.grad)
    assert on_torch.cell_l0._backend.supports_autograd  # autograd through the density matrix
    torch.testing.assert_close(gradients[0], gradients[1], atol=1e-7, rtol=0)
    assert gradients[0].abs().max() > 1e-3


def test_fit_with_shots_trains_on_sampled_values():
    """SPSA: two circuit runs per sample (parameter-shift with shots is checked against its
    statistical bound in the backend conformance suite)."""
    gradient = "spsa"
    series = data.load("sine", length=30)
    windowed = data.prepare(series, window=3)
    torch.manual_seed(0)
    model = build("qrnn", 1, 1, hidden_size=1, n_qubits=3, reps=1)
    to_backend(model, "torch", device=DEVICE, shots=200, seed=0, gradient=gradient)
    weight = dict(model.named_parameters())["recurrent.cell_l0.weight"]
    before = weight.detach().clone()
    history = fit(model, windowed, epochs=1, batch_size=32, progress=False)
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
    quantum = quantum_modules(model)[0]
    assert quantum._backend.gradient == gradient and quantum._backend.shots == 200
    weight = dict(model.named_parameters())["recurrent.cell_l0.weight"]
    assert not torch.equal(
        weight, before[[n for n, _ in model.named_parameters()].index("recurrent.cell_l0.weight")]
    )


def test_a_noise_model_on_a_gate_the_device_does_not_have_is_refused():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    with pytest.raises(backends.BackendError, match="error on 'cx', which device 'iontrap-10q'"):
        backends.get("torch", device=DEVICE, noise_model=noise)
    # keyed by the device's native names, it replaces the device's own noise
    native = NoiseModel()
    native.add_all_qubit_quantum_error(depolarizing_error(0.2, 2), ["rxx"])
    backend = backends.get("torch", device=DEVICE, noise_model=native)
    assert backend.noise_model is native


def test_a_density_matrix_that_cannot_fit_is_refused_before_anything_runs(monkeypatch):
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    circuit = QuantumCircuit(14)
    circuit.ry(Parameter("x"), 0)
    for q in range(13):
        circuit.rxx(Parameter(f"w{q:02d}"), q, q + 1)
    layer = QuantumLayer(
        circuit, [circuit.parameters[-1]], list(circuit.parameters)[:-1], ["Z" * 14]
    )
    monkeypatch.setattr(
        "qrnn.sim._footprint.available_memory", lambda device=None: (2**30, "of host memory")
    )
    device = devices.get(DEVICE, n_qubits=14)
    with pytest.raises(sim.SimulationMemoryError, match=r"density matrix of its 14-qubit"):
        to_backend(layer, "torch", device=device)
    assert layer.backend == "torch" and backends.is_engine(layer._backend)  # unchanged


def test_a_batch_of_sequences_binds_the_weights_once_and_equals_rows_one_by_one():
    # under no_grad the weights, equal in every row, are bound once per weight state
    model = to_backend(tiny_qrnn(), "torch", device=DEVICE)
    x = windows(batch=5)

    def run_both():
        with torch.no_grad():
            together = model(x)
            rows = [model(x[k : k + 1]) for k in range(5)]  # one row: nothing is bound
        for part, batch_dim in ((0, 0), (1, 1)):  # output (N, L, 2), h_n (1, N, R, R)
            expected = torch.cat([row[part] for row in rows], dim=batch_dim)
            torch.testing.assert_close(together[part], expected, rtol=0, atol=1e-10)
        return together[0]

    first = run_both()
    with torch.no_grad():
        model.cell_l0.weight.add_(0.1)  # the bind is redone for the new weights
    assert not torch.allclose(run_both(), first)


def test_a_quantum_layer_on_a_noisy_device_binds_its_weights_with_the_same_gradients():
    # the torch engine binds the weights once (Backend.bind); values and gradients equal
    # those of the full value rows through backend.expval (a copy of the weights per sample)
    from qiskit.circuit import ParameterVector, QuantumCircuit

    weights, angles = ParameterVector("w", 5), ParameterVector("x", 2)
    circuit = QuantumCircuit(3)
    circuit.ry(angles[0], 0)
    circuit.ry(angles[1], 2)
    circuit.rxx(weights[0], 0, 1)
    circuit.r(weights[1], weights[2], 1)
    circuit.rxx(weights[3], 1, 2)
    circuit.ry(weights[4] + angles[0], 0)
    backend = backends.get("torch", device=DEVICE)
    torch.manual_seed(4)
    layer = QuantumLayer(circuit, angles, weights, ["ZII", "IIZ", "XXI"], backend=backend)
    layer.double()
    x = torch.rand(6, 2, generator=torch.Generator().manual_seed(5), dtype=F64) * 3
    x.requires_grad_()
    out = layer(x)
    (out * torch.arange(1.0, 4.0, dtype=F64)).sum().backward()

    weight = layer.weight.detach().clone().requires_grad_()
    rows = x.detach().clone().requires_grad_()
    values = torch.cat([weight.expand(6, -1), rows], dim=1)  # circuit order: w..., x...
    expected = backend.expval(circuit, values, layer.observables)
    (expected * torch.arange(1.0, 4.0, dtype=F64)).sum().backward()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.weight.grad, weight.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(x.grad, rows.grad, rtol=0, atol=1e-10)

    bound = backend.bind(circuit, layer.observables, list(weights), list(angles), weight)
    assert torch.autograd.gradcheck(
        lambda w, a: backend.bind(circuit, layer.observables, list(weights), list(angles), w)(a),
        (weight, rows[:2]),
    )
    assert bound is not None
    assert (
        backends.get("torch", device=DEVICE, shots=100).bind(
            circuit, layer.observables, list(weights), list(angles), weight
        )
        is None
    )  # sampled values: the layer passes full value rows


def test_a_memory_model_on_a_noisy_device_binds_its_weights_with_the_same_gradients():
    # the QRNN's sequence with its weights bound once (Backend.bind at the markers), against
    # the value rows through expval_at_markers (a copy of the weights per sample)
    model = to_backend(tiny_qrnn(), "torch", device=DEVICE)
    cell = model.cell_l0
    x = windows()
    populations = torch.arange(1.0, 3.0, dtype=F64)  # any weighting of the hidden state's

    def loss(out, rho):
        return out.sum() + (torch.diagonal(rho, dim1=-2, dim2=-1).real @ populations).sum()

    out, h_n = model(x)
    loss(out, h_n[0]).backward()

    weight = cell.weight.detach().clone().requires_grad_()
    with torch.no_grad():
        angles = cell.angles(x.transpose(0, 1).reshape(-1, 1)).view(3, 4, -1)
    circuit, weight_columns, input_columns = cell._unrolled_circuit(3)
    values = torch.zeros(4, circuit.num_parameters, dtype=F64)
    values[:, input_columns.reshape(-1)] = angles.permute(1, 0, 2).reshape(4, -1)
    values = values.index_copy(1, torch.tensor(weight_columns), weight.expand(4, -1))
    expected, rho = cell._backend.expval_at_markers(
        circuit, values, cell.observables, state_qubits=[2]
    )
    loss(expected, rho).backward()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[0], rho, rtol=0, atol=1e-12)
    torch.testing.assert_close(cell.weight.grad, weight.grad, rtol=0, atol=1e-10)


def test_a_forecaster_reads_only_the_outputs_with_the_values_of_aer():
    # a Forecaster reads the last step's outputs only: the torch engine then makes no final
    # state and reads the last step backwards (``outputs_only``); Aer runs the circuits
    x = windows(batch=8)
    forecaster = Forecaster(tiny_qrnn(), 1).double()
    on_aer = to_backend(copy.deepcopy(forecaster), "aer", device=DEVICE)
    on_torch = to_backend(forecaster, "torch", device=DEVICE)
    with torch.no_grad():
        torch.testing.assert_close(on_torch(x), on_aer(x), atol=1e-8, rtol=0)
        output, h_n = on_torch.recurrent(x)  # called alone: with its final state
        with outputs_only():
            alone, skipped = on_torch.recurrent(x)
    assert h_n.shape == (1, 8, 2, 2) and skipped is None
    torch.testing.assert_close(alone, output, atol=1e-10, rtol=0)
