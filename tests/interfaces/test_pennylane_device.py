"""The qrnn.torch PennyLane device: a user's QNodes and TorchLayers run unchanged, with the
numbers of default.qubit (exact), Aer (ion-trap noise) and sampling bounds (shots)."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
import torch
from pennylane.exceptions import DeviceError, QuantumFunctionError

from circuits.interop import from_pennylane
from qrnn.backends import get as get_backend
from qrnn.interfaces.pennylane_device import NAME, TorchDevice


def layers(x, w, n):
    """PennyLane's QLSTM demo style: angle embedding, then rotation layers and a CNOT ring."""
    qml.AngleEmbedding(x, wires=range(n))
    for layer in w:
        for q in range(n):
            qml.Rot(*layer[q], wires=q)
        for q in range(n):
            qml.CNOT(wires=[q, (q + 1) % n])


def many_measurements(x, w):
    layers(x, w, 3)
    return (
        qml.expval(qml.Z(0)),
        qml.expval(0.5 * qml.X(1) @ qml.Y(2) - qml.Z(2)),
        qml.var(qml.X(0)),
        qml.probs(wires=[2, 0]),
        qml.expval(qml.Hermitian(np.array([[1.0, 0.5], [0.5, -1.0]]), wires=1)),
    )


@pytest.fixture
def inputs():
    rng = np.random.default_rng(7)
    return rng.uniform(-np.pi, np.pi, (5, 3)), rng.uniform(-np.pi, np.pi, (2, 3, 3))


def test_broadcast_measurements_equal_default_qubit(inputs):
    x, w = inputs
    ours = qml.QNode(many_measurements, TorchDevice(wires=3))(x, w)
    reference = qml.QNode(many_measurements, qml.device("default.qubit", wires=3))(x, w)
    for a, b in zip(ours, reference, strict=True):
        assert isinstance(a, np.ndarray) and a.shape == np.shape(b)
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_state_and_density_matrix_equal_default_qubit(inputs):
    x, w = inputs

    def state(x, w):
        layers(x, w, 3)
        qml.GlobalPhase(0.4)
        return qml.state()

    def reduced(x, w):
        layers(x, w, 3)
        return qml.density_matrix(wires=[1, 2])

    for circuit in (state, reduced):
        ours = qml.QNode(circuit, TorchDevice(wires=3))(x[0], w)
        reference = qml.QNode(circuit, qml.device("default.qubit", wires=3))(x[0], w)
        np.testing.assert_allclose(ours, reference, atol=1e-10)


def test_torch_backprop_gradients_equal_default_qubit(inputs):
    x, w = (torch.tensor(a) for a in inputs)
    grads = []
    for device in (TorchDevice(wires=3), qml.device("default.qubit", wires=3)):
        weights = w.clone().requires_grad_(True)
        qnode = qml.QNode(many_measurements, device, interface="torch", diff_method="backprop")
        out = qnode(x, weights)
        loss = out[0].sum() + out[1].square().sum() + out[2].sum() + out[3][:, 1].sum()
        loss.backward()
        grads.append(weights.grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-9, rtol=0)


def test_the_adjoint_method_differentiates_numpy_parameters(inputs):
    x, w = inputs

    def circuit(w):
        layers(x[1], w, 3)
        return qml.expval(qml.Z(0) @ qml.Z(2)), qml.probs(wires=[1])

    def loss(device, method):
        qnode = qml.QNode(circuit, device, diff_method=method)
        return lambda w: qml.math.hstack(qnode(w))

    weights = qml.numpy.array(w, requires_grad=True)
    ours = qml.jacobian(loss(TorchDevice(wires=3), "adjoint"))(weights)
    reference = qml.jacobian(loss(qml.device("default.qubit", wires=3), "backprop"))(weights)
    np.testing.assert_allclose(ours, reference, atol=1e-9)


def test_a_users_torch_layer_model_trains_unchanged():
    n, reps = 4, 2

    def build(device):
        @qml.qnode(device, interface="torch")
        def qnode(inputs, weights):
            qml.AngleEmbedding(inputs, wires=range(n))
            qml.StronglyEntanglingLayers(weights, wires=range(n))
            return [qml.expval(qml.Z(q)) for q in range(n)]

        torch.manual_seed(3)
        layer = qml.qnn.TorchLayer(qnode, {"weights": (reps, n, 3)})
        return torch.nn.Sequential(torch.nn.Linear(3, n), layer, torch.nn.Linear(n, 1)).double()

    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.randn(8, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    models = [build(TorchDevice(wires=n)), build(qml.device("default.qubit", wires=n))]
    for model in models:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)


def test_shots_sample_within_the_statistical_bound_and_repeat_with_a_seed(inputs):
    x, w = inputs
    shots = 4000

    def circuit(x):
        layers(x, w, 3)
        return qml.expval(qml.Z(0) @ qml.X(1)), qml.counts(wires=[0, 1]), qml.sample(wires=[2])

    def expval(x):
        layers(x, w, 3)
        return qml.expval(qml.Z(0) @ qml.X(1))

    exact = qml.QNode(expval, qml.device("default.qubit", wires=3))(x)
    sampled = qml.set_shots(qml.QNode(circuit, TorchDevice(wires=3, seed=11)), shots=shots)
    expval, counts, samples = sampled(x)
    reference = qml.set_shots(qml.QNode(circuit, qml.device("default.qubit", wires=3)), shots)(x)
    assert expval.shape == (5,) and samples.shape == np.shape(reference[2])
    assert all(sum(c.values()) == shots for c in counts)
    bound = 5 * np.sqrt(np.clip(1 - exact**2, 1e-3, None) / shots)
    assert np.all(np.abs(expval - exact) <= bound)
    again = qml.set_shots(qml.QNode(circuit, TorchDevice(wires=3, seed=11)), shots=shots)(x)
    np.testing.assert_array_equal(again[2], samples)


def noisy_operations(x):
    qml.RY(x, wires=0)
    qml.IsingXX(0.7, wires=[0, 1])
    qml.CNOT(wires=[0, 2])


def noisy_circuit(x):
    noisy_operations(x)
    return qml.expval(qml.Z(1)), qml.expval(qml.Z(0) @ qml.Z(2))


def test_a_qrnn_device_preset_gives_the_numbers_of_aer_with_that_device():
    x = np.array([0.3, -1.2])
    device = TorchDevice(wires=3, qrnn_device="iontrap-10q")
    ours = np.stack(qml.QNode(noisy_circuit, device)(x), axis=-1)  # (2, n_obs)
    imported = from_pennylane(noisy_circuit, x)
    aer = get_backend("aer", device="iontrap-10q")
    reference = aer.expval(imported.circuit, torch.tensor(imported.values), imported.observables)
    np.testing.assert_allclose(ours, reference.numpy(), atol=1e-7)
    ideal = np.stack(qml.QNode(noisy_circuit, qml.device("default.qubit", wires=3))(x), -1)
    assert np.abs(ours - ideal).max() > 1e-3  # the noise is there


def test_noisy_probabilities_carry_the_readout_error_of_the_expectation_values():
    def circuit(x):
        noisy_operations(x)
        return qml.expval(qml.Z(1)), qml.probs(wires=[1]), qml.density_matrix(wires=[1])

    device = TorchDevice(wires=3, qrnn_device="iontrap-10q")
    expval, probs, rho = qml.QNode(circuit, device)(0.4)
    # the Pauli path (readout as an observable rewrite) and the state path (readout channels
    # on measured wires) agree; the state itself has no readout error
    assert probs[0] - probs[1] == pytest.approx(float(expval), abs=1e-10)
    assert np.real(rho[0, 0] - rho[1, 1]) != pytest.approx(float(expval), abs=1e-6)
    assert np.trace(rho).real == pytest.approx(1.0)


def test_the_device_is_named_and_declared_as_a_pennylane_plugin():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads(Path(__file__).parents[2].joinpath("pyproject.toml").read_text())
    plugins = pyproject["project"]["entry-points"]["pennylane.plugins"]
    assert plugins[NAME] == "qrnn.interfaces.pennylane_device:TorchDevice"
    assert TorchDevice(wires=2).name == NAME == "qrnn.torch"


# --- bad input ------------------------------------------------------------------------------


class NoMatrix(qml.operation.Operation):
    """An operation with neither a matrix nor a decomposition."""

    num_wires = 1


def test_an_operation_that_cannot_be_decomposed_is_a_device_error():
    qnode = qml.QNode(lambda: (NoMatrix(wires=0), qml.expval(qml.Z(0)))[1], TorchDevice(wires=1))
    with pytest.raises(DeviceError, match=r"NoMatrix.*not supported with qrnn.torch"):
        qnode()


def test_unsupported_operations_are_decomposed_by_pennylane():
    def circuit():
        qml.CRot(0.1, 0.2, 0.3, wires=[0, 1])  # no Qiskit gate here: PennyLane decomposes it
        qml.DoubleExcitationPlus(0.4, wires=[0, 1, 2, 3])  # no decomposition: its matrix
        qml.QFT(wires=[0, 1, 2])
        return qml.state()

    ours = qml.QNode(circuit, TorchDevice(wires=4))()
    np.testing.assert_allclose(ours, qml.QNode(circuit, qml.device("default.qubit", wires=4))())


def test_an_unsupported_measurement_is_a_device_error():
    qnode = qml.set_shots(
        qml.QNode(lambda: qml.classical_shadow(wires=[0]), TorchDevice(wires=1)), shots=10
    )
    with pytest.raises(DeviceError, match=r"not accepted with finite shots on qrnn\.torch"):
        qnode()
    with pytest.raises(DeviceError, match=r"not accepted for analytic simulation on qrnn\.torch"):
        qml.QNode(lambda: qml.sample(wires=[0]), TorchDevice(wires=1))()


@pytest.mark.parametrize("shots", [0, -5, 2.5])
def test_shots_must_be_positive(shots):
    qnode = qml.QNode(lambda: qml.expval(qml.Z(0)), TorchDevice(wires=1))
    with pytest.raises(ValueError, match="Shots must be a single positive integer"):
        qml.set_shots(qnode, shots=shots)()


def test_backprop_needs_exact_runs_and_torch():
    qnode = qml.set_shots(
        qml.QNode(lambda x: (qml.RX(x, 0), qml.expval(qml.Z(0)))[1], TorchDevice(wires=1),
                  diff_method="backprop"),
        shots=100,
    )  # fmt: skip
    with pytest.raises(QuantumFunctionError, match="does not support backprop"):
        qnode(torch.tensor(0.3, requires_grad=True))
    autograd = qml.QNode(
        lambda x: (qml.RX(x, 0), qml.expval(qml.Z(0)))[1], TorchDevice(wires=1),
        diff_method="backprop",
    )  # fmt: skip
    with pytest.raises(QuantumFunctionError, match="does not support backprop"):
        qml.grad(autograd)(qml.numpy.array(0.3, requires_grad=True))


def test_bad_device_arguments_are_device_errors():
    with pytest.raises(DeviceError, match="qrnn_device='no-such-trap'"):
        TorchDevice(wires=2, qrnn_device="no-such-trap")
    with pytest.raises(DeviceError, match="12 wires do not fit the 10-qubit"):
        TorchDevice(wires=12, qrnn_device="iontrap-10q")
    with pytest.raises(DeviceError, match="seed must be None or an int"):
        TorchDevice(wires=2, seed="7")
    device = TorchDevice(wires=1)
    with pytest.raises(DeviceError, match="has no device option 'max_workers'"):
        device.setup_execution_config(
            qml.devices.ExecutionConfig(device_options={"max_workers": 2})
        )


def test_noisy_shots_sample_the_noisy_distribution_readout_included():
    def circuit(x):
        noisy_operations(x)
        return qml.probs(wires=[0, 1])

    device = TorchDevice(wires=3, qrnn_device="iontrap-10q", seed=5)
    exact = qml.QNode(circuit, device)(np.array([0.4, 2.0]))  # (2, 4)
    shots = 20000
    sampled = qml.set_shots(qml.QNode(circuit, device), shots=shots)(np.array([0.4, 2.0]))
    bound = 5 * np.sqrt(exact * (1 - exact) / shots) + 1e-9
    assert np.all(np.abs(sampled - exact) <= bound)


@pytest.mark.parametrize("backend", ["torch", "aer", "pennylane:default.mixed"])
def test_an_imported_pennylane_circuit_runs_on_every_qrnn_executor(inputs, backend):
    x, w = inputs

    def circuit(x, w):
        layers(x, w, 3)
        return qml.expval(qml.Z(0) @ qml.Y(2)), qml.expval(0.3 * qml.X(1) - qml.Z(2))

    imported = from_pennylane(circuit, x, w)  # values (5, n_params): the broadcast inputs
    reference = np.stack(qml.QNode(circuit, qml.device("default.qubit", wires=3))(x, w), -1)
    out = get_backend(backend).expval(imported.circuit, imported.values, imported.observables)
    np.testing.assert_allclose(out.numpy(), reference, atol=1e-8)
