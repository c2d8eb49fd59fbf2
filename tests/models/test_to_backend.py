"""qrnn.models.to_backend: a model trained with the exact torch engine, scored elsewhere.

References are independent executors: the exact torch engine (``qrnn.sim``, the Kraus engine
for the QRNN) against Qiskit Aer (the QRNN as one dynamic circuit with resets), and, on a noisy
device, Aer's exact density-matrix values against the torch density-matrix engine and against
Aer's own sampled values (within 5 standard errors of a +-1 outcome, ``sqrt((1 - m^2) /
shots)``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from circuits import cells
from qrnn import backends, devices
from qrnn.layer import QuantumLayer
from qrnn.models import QLSTM, QRNN, QReservoir, build, quantum_modules, to_backend

F64 = torch.float64
NOISY = "quantinuum-h1-1"  # has mid-circuit reset, so the QRNN runs there too


def tiny_qlstm() -> QLSTM:
    torch.manual_seed(0)
    return QLSTM(1, 2, batch_first=True, n_qubits=4, reps=1, dtype=F64)


def tiny_qrnn() -> QRNN:
    torch.manual_seed(0)  # 4 data + 1 hidden qubits; input 1 -> Linear(1, 4) -> data angles
    return QRNN(1, 4, batch_first=True, n_qubits=5, reps=1, dtype=F64)


MODELS = {"qlstm": tiny_qlstm, "qrnn": tiny_qrnn}


def windows(batch: int = 3, length: int = 3) -> torch.Tensor:
    """``(batch, length, 1)`` inputs in [0, 1]."""
    return torch.rand(batch, length, 1, generator=torch.Generator().manual_seed(1), dtype=F64)


def outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)[0]


@pytest.mark.parametrize("family", sorted(MODELS))
def test_an_exact_torch_backend_object_is_the_built_in_engine(family):
    model, x = MODELS[family](), windows()
    exact = outputs(model, x)
    engine = backends.get("torch")
    assert to_backend(model, engine) is model
    assert model.backend == "torch"
    assert all(
        m._backend is engine and backends.is_engine(m._backend) for m in quantum_modules(model)
    )
    torch.testing.assert_close(outputs(model, x), exact, atol=0, rtol=0)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_aer_without_noise_matches_the_exact_engine(family):
    model, x = MODELS[family](), windows()
    exact = outputs(model, x)
    to_backend(model, "aer")
    assert all(m.backend == "aer" for m in quantum_modules(model))
    torch.testing.assert_close(outputs(model, x), exact, atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_a_noisy_device_gives_the_same_numbers_on_torch_and_aer(family):
    model, x = MODELS[family](), windows()
    noise_free = outputs(model, x)
    on_torch = outputs(to_backend(model, "torch", device=NOISY), x)
    on_aer = outputs(to_backend(model, "aer", device=NOISY), x)
    torch.testing.assert_close(on_aer, on_torch, atol=1e-6, rtol=0)
    assert (on_aer - noise_free).abs().max() > 1e-4  # the noise is really there


def test_qrnn_with_shots_lies_within_the_statistical_bound():
    model, x = tiny_qrnn(), windows()
    exact = outputs(to_backend(model, "aer", device=NOISY), x)  # Aer density matrix
    shots = 2000
    sampled = outputs(to_backend(model, "aer", device=NOISY, shots=shots, seed=3), x)
    # every output is <Z_q> after one step: a mean of +-1 outcomes
    stderr = ((1 - exact**2).clamp(min=0) / shots).sqrt()
    assert bool(((sampled - exact).abs() <= 5 * stderr + 1e-12).all())
    assert not torch.equal(sampled, exact)


def test_a_qlstm_gate_circuit_with_shots_lies_within_the_statistical_bound():
    gate = cells.qlstm_gate(n_qubits=4, reps=1)
    torch.manual_seed(0)
    layer = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, dtype=F64)
    x = torch.rand(8, 4, generator=torch.Generator().manual_seed(2), dtype=F64) * torch.pi
    exact = outputs(to_backend(layer, "torch", device="ionq-aria-1"), x)
    shots = 2000
    sampled = outputs(to_backend(layer, "aer", device="ionq-aria-1", shots=shots, seed=4), x)
    stderr = ((1 - exact**2).clamp(min=0) / shots).sqrt()
    assert bool(((sampled - exact).abs() <= 5 * stderr + 1e-12).all())


@pytest.mark.parametrize("family", sorted(MODELS))
def test_back_to_torch_restores_the_exact_engine_with_gradients(family):
    model, x = MODELS[family](), windows()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reference = model(x)[0]
    reference.sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    to_backend(model, "aer", device=NOISY, shots=100, seed=0)
    to_backend(model, "torch")
    assert model.backend == "torch"
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    again = model(x)[0]
    again.sum().backward()
    torch.testing.assert_close(again, reference, atol=0, rtol=0)
    for grad, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, grad, atol=1e-12, rtol=0)


def test_a_layer_built_for_aer_compiles_the_engine_when_moved_to_torch():
    gate = cells.qlstm_gate(n_qubits=3, reps=1)
    torch.manual_seed(0)
    on_aer = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, "aer")
    x = torch.rand(2, 3, generator=torch.Generator().manual_seed(0))
    expected = outputs(on_aer, x)
    torch.testing.assert_close(outputs(on_aer.set_backend("torch"), x), expected, atol=1e-6, rtol=0)


def test_a_forecaster_is_moved_with_its_quantum_parts():
    torch.manual_seed(0)
    model = build("qlstm", 1, 1, n_qubits=3, reps=1)
    to_backend(model, "aer", device="ionq-aria-1", shots=10, seed=0)
    layers = quantum_modules(model)
    assert len(layers) == 4  # one circuit per LSTM gate
    assert len({id(layer._backend) for layer in layers}) == 1  # one shared backend object
    assert layers[0]._backend.shots == 10
    with torch.no_grad():
        assert model(windows().float()).shape == (3, 1)


def test_a_device_name_is_sized_to_the_model():
    gate = cells.qlstm_gate(n_qubits=11, reps=1)
    layer = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, "aer")
    to_backend(layer, "aer", device=NOISY)  # presets use 10 qubits by default
    assert layer._backend.device.n_qubits == 11


# -- bad input --------------------------------------------------------------------------------


def test_a_classical_model_has_nothing_to_move():
    with pytest.raises(TypeError, match="LSTM has no quantum parts"):
        to_backend(nn.LSTM(1, 2), "aer")


def test_qrnn_on_a_device_without_mid_circuit_reset_is_refused_before_switching():
    model, x = tiny_qrnn(), windows()
    exact = outputs(model, x)
    with pytest.raises(ValueError, match="mid-circuit reset") as error:
        to_backend(model, "aer", device="ionq-aria-1", shots=100)
    message = str(error.value)
    assert "QRNN resets its data register (qubits 0-3) after every time step" in message
    assert "'ionq-aria-1' does not support it" in message
    assert "quantinuum-h1-1" in message and "ionq-forte-1" not in message
    assert model.backend == "torch" and backends.is_engine(model.cell(0)._backend)
    torch.testing.assert_close(outputs(model, x), exact, atol=0, rtol=0)


def test_qreservoir_is_named_in_the_reset_error():
    with pytest.raises(ValueError, match="QReservoir resets its data register"):
        to_backend(QReservoir(1, 2, n_qubits=3), "torch", device="aqt-ibex-q1")


def test_unknown_device_lists_the_presets():
    with pytest.raises(devices.UnknownDeviceError, match=r"known devices: .*ionq-aria-1"):
        to_backend(tiny_qlstm(), "aer", device="ionq-nope")


def test_shots_outside_the_device_limits():
    with pytest.raises(ValueError, match="outside the limits of device 'ionq-aria-1'"):
        to_backend(tiny_qlstm(), "aer", device="ionq-aria-1", shots=10**6)


def test_a_device_too_small_for_the_model():
    with pytest.raises(ValueError, match="runs 4-qubit circuits but device 'ionq-aria-1' is set"):
        to_backend(tiny_qlstm(), "aer", device=devices.get("ionq-aria-1", n_qubits=3))
    with pytest.raises(ValueError, match="has only 12 qubits"):
        gate = cells.qlstm_gate(n_qubits=13, reps=1)
        layer = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, "aer")
        to_backend(layer, "aer", device="aqt-ibex-q1")


def test_a_backend_object_takes_no_further_options():
    with pytest.raises(TypeError, match=r"give shots= to qrnn\.backends\.get"):
        to_backend(tiny_qlstm(), backends.get("aer"), shots=100)
    with pytest.raises(TypeError, match=r"backend must be a backend name"):
        to_backend(tiny_qlstm(), object())


def test_unknown_backend_name():
    with pytest.raises(backends.BackendError, match="unknown backend 'qiskit'"):
        to_backend(tiny_qlstm(), "qiskit")
